"""What a smoke-test process loads of a shared OpenSSL, observed from inside it.

Runs in the smoke test's interpreter (any CPython 3.6+, standard library only), beside the
import probe and the functional checks. Three observations, because each sees what the others
miss:

- `ctypes.dlopen` audit events (Python 3.8+): every library ctypes opens, by the name asked,
  even one already mapped (a package that opens the very libcrypto `_ssl` uses);
- `ctypes.CDLL` (for Python 3.6 and 3.7, which raise no audit events) and `cffi.FFI.dlopen`
  calls (cffi's in-line ABI mode), when cffi is installed; cffi's out-of-line ABI mode
  opens libraries from C and is seen by the maps alone;
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
    """Whether a library name or path given to dlopen (str, bytes or a path) is a
    libcrypto/libssl."""
    if not name:
        return False
    try:
        name = os.fsdecode(name)
    except TypeError:
        return False
    return bool(_OPENSSL_NAME.match(os.path.basename(name)))


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
        """Installs, for the rest of the process, an audit hook (Python 3.8+) and wrappers
        around ctypes.CDLL and cffi.FFI.dlopen that record OpenSSL names."""
        self.opened = []  # [how, name] of every OpenSSL library opened by name
        if hasattr(sys, "addaudithook"):
            sys.addaudithook(self._audit)
        self._watch_ctypes()  # Python 3.6 and 3.7 raise no audit events
        self._watch_cffi()

    def _record(self, how, name):
        if names_openssl(name):
            entry = [how, os.fsdecode(name)]
            if entry not in self.opened:
                self.opened.append(entry)

    def _audit(self, event, args):
        if event == "ctypes.dlopen" and args:
            self._record("ctypes.dlopen", args[0])

    def _watch_ctypes(self):
        import ctypes

        original = ctypes.CDLL.__init__
        watch = self

        def init(library, name, *args, **kwargs):
            watch._record("ctypes.dlopen", name)
            original(library, name, *args, **kwargs)

        ctypes.CDLL.__init__ = init

    def _watch_cffi(self):
        try:
            import cffi
        except Exception:  # not installed, or broken: nothing of it to watch
            return
        original = cffi.FFI.dlopen
        watch = self

        def dlopen(ffi, name, *args, **kwargs):
            watch._record("cffi.dlopen", name)
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
