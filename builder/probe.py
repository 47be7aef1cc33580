"""Runs inside a smoke-test virtualenv (any CPython 3.6+, standard library only, Linux,
macOS or Windows): imports the wheel's top-level modules and reports, as JSON, the OpenSSL the package
shows, every shared OpenSSL the process loaded beside it (loadwatch.py, copied beside this
script), and whether the interpreter's own ssl still works next to it.

The builder imports it too, for `openssl_versions_in` and `is_binary`, so that the pattern and
what counts as a binary live in one place.
"""

import importlib
import json
import os
import re
import struct
import sys
import sysconfig

# OpenSSL's version text: "OpenSSL 3.0.22 25 Aug 2026", "OpenSSL 1.1.1w  11 Sep 2023".
VERSION_TEXT = re.compile(
    rb"OpenSSL (\d+\.\d+\.\d+[a-z]?)(?:-[0-9A-Za-z.+-]+)? +\d{1,2} [A-Z][a-z]{2} \d{4}"
)


def openssl_versions_in(data):
    """The distinct OpenSSL versions whose version text is embedded in `data` (bytes)."""
    return sorted({m.group(1).decode() for m in VERSION_TEXT.finditer(data)})


def version_of_text(text):
    """The release version (`3.0.22`) in the first OpenSSL version text in `text` (str or bytes);
    None when there is none."""
    match = VERSION_TEXT.search(text.encode() if isinstance(text, str) else text)
    return match.group(1).decode() if match else None


# A DOS header is 64 bytes; e_lfanew, at 0x3C, is the offset of the PE signature.
_DOS_HEADER = 64
_E_LFANEW = 0x3C


# Mach-O's magic numbers: 64- and 32-bit thin files (little-endian, as every Mac since
# Intel writes them) and fat (universal) files, big-endian.
_MACHO_MAGIC = (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe")


def is_binary(data):
    """Whether `data` (bytes: a file's start, through its PE signature for a PE file, see
    `binary_head`) starts an ELF file, a Mach-O file (thin or fat) or a PE image (a Windows
    .exe, .dll or .pyd)."""
    if data[:4] == b"\x7fELF" or data[:4] in _MACHO_MAGIC:
        return True
    if data[:2] != b"MZ" or len(data) < _DOS_HEADER:
        return False
    # Only the two fields that tell a PE image from any file starting with "MZ": reading
    # more of it is pefile's work, and pefile is not in every target interpreter.
    offset = struct.unpack_from("<I", data, _E_LFANEW)[0]
    return data[offset:offset + 4] == b"PE\0\0"


def binary_head(stream):
    """The bytes `is_binary` needs from a binary stream positioned at a file's start: the DOS
    header, and of a file starting with "MZ" everything through its PE signature (up to the
    whole file)."""
    head = stream.read(_DOS_HEADER)
    if head[:2] == b"MZ" and len(head) == _DOS_HEADER:
        end = struct.unpack_from("<I", head, _E_LFANEW)[0] + 4
        head += stream.read(max(0, end - len(head)))
    return head


def _carries_code(path):
    # Extension modules and the libraries bundled beside them: .so (.so.1) files on Linux,
    # .so and .dylib ones on macOS, .pyd and .dll ones, in any case, on Windows.
    name = os.path.basename(path)
    return name.endswith((".so", ".dylib")) or ".so." in name \
        or name.lower().endswith((".pyd", ".dll"))


def _module_files(module):
    paths = list(getattr(module, "__path__", []) or [])
    if not paths:
        return [module.__file__] if getattr(module, "__file__", None) else []
    found = []
    for root in paths:
        for directory, _, names in os.walk(root):
            found.extend(os.path.join(directory, n) for n in names)
    return found


def _runtime_text(probe):
    module_name, _, attribute = probe.partition(":")
    value = importlib.import_module(module_name)
    for part in attribute.split(".") if attribute else []:
        value = getattr(value, part)
    if callable(value):
        value = value()
    return value.decode() if isinstance(value, bytes) else str(value)


def exercise_ssl():
    """Use the interpreter's own ssl beside the package: a context with the default trust
    store, a TLS client over memory BIOs writing its ClientHello. A package whose static
    OpenSSL works on the interpreter's SSL objects crashes here rather than in production."""
    import ssl

    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        client.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    assert hello[:1] == b"\x16", "the interpreter's ssl wrote no TLS handshake record"
    return {"ssl": ssl.OPENSSL_VERSION, "client_hello_bytes": len(hello)}


def _installed_binaries(members):
    """Where pip installed the wheel's binaries outside its importable packages, given as
    paths inside the wheel: `<name>.data/scripts/X` beside the interpreter of a virtualenv
    (or in the bin/ of a --target folder on sys.path), `<name>.data/purelib|platlib/X` and
    any other path (auditwheel's `<name>.scripts/`) in site-packages."""
    found = []
    for member in members:
        parts = member.split("/")
        if parts[0].endswith(".data") and len(parts) > 2 and parts[1] == "scripts":
            candidates = [os.path.join(sysconfig.get_path("scripts"), *parts[2:])]
            candidates += [os.path.join(e, "bin", *parts[2:]) for e in sys.path if e]
        else:
            inside = parts[2:] if parts[0].endswith(".data") and len(parts) > 2 else parts
            roots = [sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
            candidates = [os.path.join(r, *inside) for r in roots + [e for e in sys.path if e]]
        path = next((c for c in candidates if os.path.isfile(c)), None)
        if path is not None:
            found.append(path)
    return found


def main(argv):
    """argv: the JSON report's path, the modules (comma separated), the runtime probe (may be
    empty), the wheel's binaries outside its packages (paths in the wheel, comma separated,
    optional)."""
    # Copied beside this script by the smoke test; -I keeps that folder off sys.path, and it
    # goes last so that it shadows nothing of the package.
    sys.path.append(os.path.dirname(os.path.abspath(__file__)))
    import loadwatch

    watch = loadwatch.LoadWatch()  # before the package is imported
    report_path = argv[0]
    modules = [m for m in argv[1].split(",") if m]
    runtime_probe = argv[2] if len(argv) > 2 else ""
    binaries = [n for n in argv[3].split(",") if n] if len(argv) > 3 else []
    report = {"imported": [], "errors": {}, "embedded": {}, "runtime_text": None,
              "loads": {}, "ssl_exercise": None}
    for name in modules:
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # report every failure, not only the first
            report["errors"][name] = "%s: %s" % (type(exc).__name__, exc)
            continue
        report["imported"].append(name)
        for path in _module_files(module):
            if _carries_code(path):
                with open(path, "rb") as binary:
                    report["embedded"][path] = openssl_versions_in(binary.read())
    # Programs and bundled binaries count as the modules' do: what they carry is read too.
    for path in _installed_binaries(binaries):
        with open(path, "rb") as binary:
            data = binary.read()
        if is_binary(data):
            report["embedded"][path] = openssl_versions_in(data)
    if runtime_probe:
        try:
            report["runtime_text"] = _runtime_text(runtime_probe)
        except Exception as exc:
            report["errors"][runtime_probe] = "%s: %s" % (type(exc).__name__, exc)
    # Observed before the interpreter's own ssl is used below, which maps its OpenSSL.
    report["loads"] = watch.report()
    try:
        report["ssl_exercise"] = exercise_ssl()
    except Exception as exc:
        report["ssl_exercise"] = {"error": "%s: %s" % (type(exc).__name__, exc)}
    print(json.dumps(report, indent=1))
    with open(report_path, "w") as out:
        json.dump(report, out)


if __name__ == "__main__":
    main(sys.argv[1:])
