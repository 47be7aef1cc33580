"""What a smoke-test process loads of a shared OpenSSL, observed from inside it.

Runs in the smoke test's interpreter (any CPython 3.6+, standard library only), beside the
import probe and the functional checks. Three observations, because each sees what the others
miss:

- `ctypes.dlopen` audit events (Python 3.8+): every library ctypes opens, by the name asked,
  even one already mapped (a package that opens the very libcrypto `_ssl` uses);
- `cffi.FFI.dlopen` calls (cffi's in-line ABI mode), when cffi is installed;
- `/proc/self/maps`: every libcrypto/libssl mapped into the process, however it came. The
  interpreter's own `ssl`/`hashlib` map the system's OpenSSL; those mappings are told apart by
  a baseline the smoke test takes in a fresh interpreter that imports `_ssl` and `_hashlib`
  alone (`BASELINE`, handed over in $BUILDER_INTERPRETER_OPENSSL), and are counted as the
  interpreter's only while this process has imported one of them.

Any libcrypto/libssl the package brings in means it uses a shared OpenSSL at run time, which
no static wheel can serve.
"""

import os
import re
import sys

# Names a shared OpenSSL goes by when opened: libcrypto.so.3, crypto, libssl-3-x64.dll,
# libeay32.dll, /usr/lib/x86_64-linux-gnu/libssl.so.
_OPENSSL_NAME = re.compile(
    r"^(?:lib)?(?:crypto|ssl)(?:$|[-.\d])|^(?:lib|ssl)eay32(?:$|\.)", re.IGNORECASE)
# libcrypto.so.3, libssl.so, and auditwheel's grafted libssl-ab12cd34.so.3.
_MAPPED_OPENSSL = re.compile(r"/lib(?:ssl|crypto)(?:-[^/]*)?\.so(?:$|\.)")
# Run by the smoke test with the same interpreter: what its own ssl and hashlib map.
# An interpreter built without OpenSSL has neither module: then it maps none.
BASELINE = ("import importlib\n"
            "for name in ('_ssl', '_hashlib'):\n"
            "    try:\n        importlib.import_module(name)\n"
            "    except ImportError:\n        pass\n"
            "print(open('/proc/self/maps').read())\n")
INTERPRETER_ENV = "BUILDER_INTERPRETER_OPENSSL"


def names_openssl(name):
    """Whether a library name or path given to dlopen is a libcrypto/libssl."""
    return bool(name) and bool(_OPENSSL_NAME.match(os.path.basename(str(name))))


def mapped_openssl(maps_text):
    """The distinct libcrypto/libssl paths in a /proc/<pid>/maps text."""
    found = set()
    for line in maps_text.splitlines():
        fields = line.split()
        if len(fields) >= 6 and _MAPPED_OPENSSL.search(fields[-1]):
            found.add(os.path.realpath(fields[-1]))
    return sorted(found)


class LoadWatch:
    """Start watching at construction, before the package is imported; `report()` after."""

    def __init__(self):
        self.opened = []  # [how, name] of every OpenSSL library opened by name
        if hasattr(sys, "addaudithook"):
            sys.addaudithook(self._audit)
        self._watch_cffi()

    def _audit(self, event, args):
        if event == "ctypes.dlopen" and args and names_openssl(args[0]):
            self.opened.append(["ctypes.dlopen", str(args[0])])

    def _watch_cffi(self):
        try:
            import cffi
        except Exception:  # not installed, or broken: nothing of it to watch
            return
        original = cffi.FFI.dlopen
        watch = self

        def dlopen(ffi, name, *args, **kwargs):
            if names_openssl(name):
                watch.opened.append(["cffi.dlopen", str(name)])
            return original(ffi, name, *args, **kwargs)

        cffi.FFI.dlopen = dlopen

    def report(self):
        """{"opened": [[how, name]], "mapped": [paths], "interpreter": [paths],
        "foreign": [paths]}: `foreign` are mapped libcrypto/libssl that the interpreter's own
        ssl/hashlib do not explain."""
        try:
            with open("/proc/self/maps") as maps:
                mapped = mapped_openssl(maps.read())
        except OSError:  # not Linux: only the dlopen observations count
            mapped = []
        interpreter = []
        if "_ssl" in sys.modules or "_hashlib" in sys.modules:
            interpreter = [p for p in os.environ.get(INTERPRETER_ENV, "").split(os.pathsep) if p]
        return {"opened": list(self.opened), "mapped": mapped, "interpreter": interpreter,
                "foreign": [path for path in mapped if path not in interpreter]}


def problems(report):
    """Sentences for every shared OpenSSL the package brought in; empty when none."""
    found = ["%s(%r)" % (how, name) for how, name in report.get("opened", [])]
    found += ["%s is mapped" % path for path in report.get("foreign", [])]
    return found
