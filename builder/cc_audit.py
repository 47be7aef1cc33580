"""The compiler wrapper every extension build goes through (run by the builder's own
interpreter, isolated, with the builder's runner for its processes): it records what the
linker itself says it linked, and which headers each compile read, so that the builder can
prove which OpenSSL a binary holds.

usage: python cc_audit.py AUDIT_DIR REAL_COMPILER_JSON [compiler arguments...]

REAL_COMPILER_JSON is the real compiler's command as a JSON list (`["ccache", "gcc"]`), or
an object `{"command": [...], "link_map": false}` for a linker that prints no map (Apple's):
its links are recorded without a trace.

- A link gets `-Wl,--print-map` (GNU ld and lld, zig's included, print the link map: every
  archive member taken, as `archive(member)`), kept as AUDIT_DIR/link-*.json with the
  output's path and sha256. When the link took an OpenSSL object but not the one that
  defines OpenSSL_version, it is linked again with `-Wl,-u,OpenSSL_version`, so every binary
  that uses OpenSSL carries its version text and a binary that uses none carries no OpenSSL.
- A compile (also one that compiles and links in one step) gets `-MD` and a dependency file
  of the wrapper's, or keeps the one it asked for (`-MMD` becomes `-MD`, so that system
  headers are listed too): the headers it read, kept with the directory it ran in as
  AUDIT_DIR/deps-*.json.
- Queries (versions, search paths, `-fsyntax-only`) and preprocessing run unchanged.

Exit status: the real compiler's.
"""

import hashlib
import json
import os
import re
import sys
import uuid

# Run as a script with -I -S: the builder's runner is found beside this file.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from builder.runner import outcome, passthrough  # noqa: E402

# An archive member in a link map, as GNU ld and lld both write it: /path/libcrypto.a(x.o).
# The archive's path starts a word (the lookbehind): a try at every character of a map's long
# symbol names made reading the map of a Rust cdylib's link take seconds.
_MEMBER = re.compile(
    r"(?<![^\s()])(?P<archive>[^\s()]+\.(?:a|rlib|lib))\((?P<member>[^\s()/]+)\)")
# A shared library the link read: GNU ld's "LOAD /path/libssl.so", lld's path in its map.
_SHARED = re.compile(r"(?:^|\s)(?P<path>[^\s()]*/lib(?:crypto|ssl)\.so(?:\.[\d.]+)?)(?=[\s:]|$)",
                     re.M)
# OpenSSL's unified build names its objects after the library they go into:
# libcrypto-lib-ts_asn1.o, and for 3.x's providers inside libcrypto.a libdefault-lib-*.o,
# libcommon-lib-*.o, liblegacy-lib-*.o.
_OPENSSL_MEMBER = re.compile(
    r"^lib(?:crypto|ssl|common|default|legacy|fips)-(?:lib|shlib)-.+\.o$")
_VERSION_OBJECT = re.compile(r"cversion\.o(bj)?$")
# Build systems ask the compiler and linker who they are (meson asks `cc -Wl,--version`):
# such commands run unchanged, their output untouched.
_QUERIES = {"-E", "-S", "-M", "-MM", "-dumpversion", "-dumpmachine", "-dumpfullversion",
            "-dumpspecs", "--version", "-print-search-dirs", "-print-prog-name",
            "-Wl,--version", "-Wl,-v", "-Wl,-V", "--help", "-fsyntax-only", "-###"}
_SOURCES = (".c", ".cc", ".cpp", ".cxx", ".c++", ".C", ".m", ".mm", ".s", ".S", ".sx")
# Options whose value is the next argument (so that it is not taken for an input file).
_WITH_VALUE = {"-o", "-I", "-L", "-l", "-x", "-include", "-imacros", "-isystem", "-idirafter",
               "-iquote", "-MF", "-MT", "-MQ", "-Xlinker", "-target", "--target", "-arch",
               "-isysroot", "-D", "-U", "-u", "-z", "-T"}


def members(trace):
    """[(archive, member)] of every archive member a link map names, each once."""
    found = {}
    for match in _MEMBER.finditer(trace):
        found[(match.group("archive"), match.group("member"))] = None
    return list(found)


def shared_openssl(trace):
    """Every shared libcrypto/libssl path a link map names."""
    return sorted({m.group("path") for m in _SHARED.finditer(trace)})


def is_openssl_object(archive, member):
    """Whether an archive member is OpenSSL's: from an archive named libcrypto.a/libssl.a, or
    named as OpenSSL's build names its objects (what rustc bundles into an .rlib keeps it)."""
    return os.path.basename(archive) in ("libcrypto.a", "libssl.a") \
        or bool(_OPENSSL_MEMBER.match(member))


def _output(args):
    for index, arg in enumerate(args):
        if arg == "-o" and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("-o") and len(arg) > 2:
            return arg[2:]
    return "a.out"


def _sources(args):
    """The source files among the arguments."""
    found, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in _WITH_VALUE:
            skip = True
        elif not arg.startswith("-") and arg.endswith(_SOURCES):
            found.append(arg)
    return found


def _run(real, args, link_map=True):
    done = outcome([*real, *args, *(["-Wl,--print-map"] if link_map else [])], stderr=False)
    return done.returncode, done.stdout


def link(real, audit_dir, args, link_map=True):
    """Link with the map kept (and again with -u OpenSSL_version where needed); record it.
    Without `link_map` the link runs as asked and its record has no trace. Returns the
    linker's exit status."""
    returncode, trace = _run(real, args, link_map)
    openssl = [m for a, m in members(trace) if is_openssl_object(a, m)]
    relinked = False
    if returncode == 0 and openssl and not any(_VERSION_OBJECT.search(m) for m in openssl):
        args = [*args, "-Wl,-u,OpenSSL_version"]
        returncode, trace = _run(real, args, link_map)
        relinked = True
    if returncode != 0:
        sys.stdout.write(trace)  # the linker's own words, for the build log
        return returncode
    output = os.path.abspath(_output(args))
    if not os.path.isfile(output):
        return 0  # nothing was written (a check a build system makes): nothing to record
    with open(output, "rb") as binary:
        digest = hashlib.sha256(binary.read()).hexdigest()
    record = {"output": output, "sha256": digest, "cwd": os.getcwd(), "trace": trace,
              "version_object_added": relinked}
    with open(os.path.join(audit_dir, "link-%s.json" % uuid.uuid4().hex), "w") as out:
        json.dump(record, out)
    return 0


def _dependency_files(args, sources):
    """Where the compiler writes the dependency lists it was asked for with -MD: the -MF
    file, else one per source named after its object."""
    for index, arg in enumerate(args):
        if arg == "-MF" and index + 1 < len(args):
            return [args[index + 1]]
        if arg.startswith("-MF") and len(arg) > 3:
            return [arg[3:]]
    if "-o" in args and len(sources) == 1:
        return [os.path.splitext(_output(args))[0] + ".d"]
    return [os.path.splitext(os.path.basename(s))[0] + ".d" for s in sources]


def compile_(real, audit_dir, args, sources, link_map=True):
    """Compile (or compile and link) with the headers recorded. Returns the exit status."""
    asked = "-MD" in args or "-MMD" in args
    args = ["-MD" if a == "-MMD" else a for a in args]
    if not asked:
        args = [*args, "-MD"]
        if len(sources) == 1:
            args += ["-MF", os.path.join(audit_dir, "deps-%s.d" % uuid.uuid4().hex)]
    linking = "-c" not in args
    returncode = link(real, audit_dir, args, link_map) if linking \
        else passthrough([*real, *args])
    if returncode != 0:
        return returncode
    for path in _dependency_files(args, sources):
        if os.path.exists(path):
            with open(path, errors="replace") as deps:
                record = {"cwd": os.getcwd(), "deps": deps.read()}
            with open(os.path.join(audit_dir, "deps-%s.json" % uuid.uuid4().hex), "w") as out:
                json.dump(record, out)
            if not asked:
                os.remove(path)
    return 0


def main(argv):
    """Returns the exit status; a query runs as the real compiler itself (exec)."""
    audit_dir, real, args = argv[0], json.loads(argv[1]), argv[2:]
    link_map = True
    if isinstance(real, dict):
        real, link_map = real["command"], bool(real.get("link_map", True))
    sources = _sources(args)
    # (exact words: -Wl,--version-script=... is a link option, not the version query)
    query = any(a in _QUERIES or a.startswith("-print-") for a in args)
    if not args or query or args == ["-v"]:
        os.execvp(real[0], [*real, *args])
    if sources:
        return compile_(real, audit_dir, args, sources, link_map)
    if "-c" in args:  # compiling from standard input or an unusual suffix: nothing to record
        return passthrough([*real, *args])
    return link(real, audit_dir, args, link_map)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
