"""What a smoke-test process loads of a shared OpenSSL, observed from inside it.

Runs in the smoke test's interpreter (any CPython 3.6+, standard library only, Linux, macOS
or Windows), beside the import probe and the functional checks. Three observations, because each
sees what the others miss:

- `ctypes.dlopen` audit events (Python 3.8+): every library ctypes opens, by the name asked,
  even one already loaded (a package that opens the very libcrypto `_ssl` uses);
- `ctypes.CDLL` (for Python 3.6 and 3.7, which raise no audit events) and `cffi.FFI.dlopen`
  calls (cffi's in-line ABI mode), when cffi is installed; cffi's out-of-line ABI mode
  opens libraries from C and is seen by the loaded libraries alone;
- the libraries loaded into the process (`/proc/self/maps` on Linux, dyld's images on macOS,
  the process's modules on Windows): every libcrypto/libssl, however it came. The interpreter's own `ssl`/`hashlib`
  load an OpenSSL of their own (the system's on Linux, the DLLs beside python.exe on
  Windows); those are told apart by a baseline the smoke test takes in a fresh interpreter
  that imports `_ssl` and `_hashlib` alone (`python -S loadwatch.py --baseline`, handed over
  in $BUILDER_INTERPRETER_OPENSSL), and are counted as the interpreter's only while this
  process has imported one of them.

Any libcrypto/libssl the package brings in means it uses a shared OpenSSL at run time, which
no static wheel can serve.
"""

import json
import os
import re
import sys

# Names a shared OpenSSL goes by when opened: libcrypto.so.3, crypto, libssl-3-x64.dll,
# libeay32.dll, /usr/lib/x86_64-linux-gnu/libssl.so.
_OPENSSL_NAME = re.compile(
    r"^(?:lib)?(?:crypto|ssl)(?:$|[-.\d])|^(?:lib|ssl)eay32(?:$|\.)", re.IGNORECASE)
# File names of a loaded libcrypto/libssl. Linux: libcrypto.so.3, libssl.so and auditwheel's
# grafted libssl-ab12cd34.so.3. Windows, whose file names ignore case: libcrypto-3.dll,
# libssl-3-x64.dll, libcrypto-1_1.dll, libeay32.dll, ssleay32.dll (or libssl32.dll), and
# delvewheel's mangled libcrypto-3-x64-ab12cd34.dll.
_LOADED_SO = re.compile(r"^lib(?:ssl|crypto)(?:-.*)?\.so(?:$|\.)")
_LOADED_DLL = re.compile(r"^(?:lib(?:ssl|crypto)|libeay32|ssleay32|libssl32)(?:-.*)?\.dll$",
                         re.IGNORECASE)
# macOS: libcrypto.3.dylib, libssl.dylib, libcrypto.1.1.dylib, delocate's copies alike.
_LOADED_DYLIB = re.compile(r"^lib(?:ssl|crypto)(?:\.[\d.]+)?\.dylib$")
_SEPARATORS = re.compile(r"[\\/]")
INTERPRETER_ENV = "BUILDER_INTERPRETER_OPENSSL"


def _file_name(path):
    # Either separator: the builder reads the paths of a Windows process on a Linux host.
    return _SEPARATORS.split(path)[-1]


def names_openssl(name):
    """Whether a library name or path given to dlopen or LoadLibrary (str, bytes or a path;
    / or \\ separated) is a libcrypto/libssl."""
    if not name:
        return False
    try:
        name = os.fsdecode(name)
    except TypeError:
        return False
    return bool(_OPENSSL_NAME.match(_file_name(name)))


def paths_in_maps(maps_text):
    """The distinct file paths in a /proc/<pid>/maps text, in order of first mapping."""
    found = {}  # a dict keeps the order
    for line in maps_text.splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[-1].startswith("/"):
            found.setdefault(fields[-1])
    return list(found)


def _windows_modules():
    import ctypes
    from ctypes import wintypes

    # A private handle: argtypes set on the shared ctypes.windll.kernel32 would change the
    # calls of the package under test. Without them 64-bit handles are truncated to int.
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.GetCurrentProcess.argtypes = []
    kernel32.GetCurrentProcess.restype = wintypes.HANDLE
    kernel32.K32EnumProcessModules.argtypes = [
        wintypes.HANDLE, ctypes.POINTER(wintypes.HMODULE), wintypes.DWORD,
        ctypes.POINTER(wintypes.DWORD)]
    kernel32.K32EnumProcessModules.restype = wintypes.BOOL
    kernel32.GetModuleFileNameW.argtypes = [wintypes.HMODULE, wintypes.LPWSTR, wintypes.DWORD]
    kernel32.GetModuleFileNameW.restype = wintypes.DWORD
    process = kernel32.GetCurrentProcess()
    size = ctypes.sizeof(wintypes.HMODULE)
    count = 256
    while True:
        modules = (wintypes.HMODULE * count)()
        needed = wintypes.DWORD()
        if not kernel32.K32EnumProcessModules(process, modules, ctypes.sizeof(modules),
                                              ctypes.byref(needed)):
            raise ctypes.WinError(ctypes.get_last_error())
        if needed.value <= ctypes.sizeof(modules):
            break
        count = needed.value // size + 32  # room for what loads meanwhile
    name = ctypes.create_unicode_buffer(32768)  # the longest path Windows knows
    found = []
    for module in modules[:needed.value // size]:
        if kernel32.GetModuleFileNameW(module, name, len(name)):
            found.append(name.value)
    return found


def _dyld_images():
    import ctypes

    # A private handle on the process's own symbols (dyld's functions are in libSystem).
    dyld = ctypes.CDLL(None)
    dyld._dyld_image_count.restype = ctypes.c_uint32
    dyld._dyld_get_image_name.argtypes = [ctypes.c_uint32]
    dyld._dyld_get_image_name.restype = ctypes.c_char_p
    names = (dyld._dyld_get_image_name(i) for i in range(dyld._dyld_image_count()))
    return [os.path.realpath(os.fsdecode(name)) for name in names if name]


def loaded_libraries():
    """The paths (str) of the files loaded into this process: on Windows every module (the
    executable, its DLLs and the .pyd extension modules), on macOS every image dyld loaded,
    elsewhere every file /proc/self/maps shows; symbolic links resolved. Raises OSError
    where none can be read (another OS)."""
    if os.name == "nt":
        return _windows_modules()
    if sys.platform == "darwin":
        return _dyld_images()
    with open("/proc/self/maps") as maps:
        return [os.path.realpath(path) for path in paths_in_maps(maps.read())]


def openssl_among(paths):
    """The distinct libcrypto/libssl among file paths (Linux, macOS or Windows ones, on any
    host), sorted."""
    return sorted({path for path in paths if _LOADED_SO.match(_file_name(path))
                   or _LOADED_DLL.match(_file_name(path))
                   or _LOADED_DYLIB.match(_file_name(path))})


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
        "foreign": [paths]}: `mapped` are the libcrypto/libssl loaded into the process,
        `foreign` those of them that the interpreter's own ssl/hashlib do not explain."""
        try:
            mapped = openssl_among(loaded_libraries())
        except OSError:  # neither Linux nor Windows: only the dlopen observations count
            mapped = []
        interpreter = []
        if "_ssl" in sys.modules or "_hashlib" in sys.modules:
            interpreter = json.loads(os.environ.get(INTERPRETER_ENV) or "[]")
        # Windows paths ignore case; normcase leaves POSIX paths as they are.
        own = {os.path.normcase(path) for path in interpreter}
        return {"opened": list(self.opened), "mapped": mapped, "interpreter": interpreter,
                "foreign": [path for path in mapped if os.path.normcase(path) not in own]}


def problems(report):
    """Sentences for every shared OpenSSL the package brought in; empty when none."""
    found = ["%s(%r)" % (how, name) for how, name in report.get("opened", [])]
    found += ["%s is mapped" % path for path in report.get("foreign", [])]
    return found


def baseline():
    """What the interpreter's own ssl and hashlib load: import `_ssl` and `_hashlib` (an
    interpreter built without OpenSSL has neither) and return `loaded_libraries()`. Raises
    OSError where the loaded libraries cannot be read."""
    import importlib

    for name in ("_ssl", "_hashlib"):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    return loaded_libraries()


if __name__ == "__main__":
    # The smoke test runs `python -S loadwatch.py --baseline` (-S: nothing the wheel
    # installed runs) and reads the JSON list on stdout; JSON keeps it ASCII whatever the
    # console's code page.
    if sys.argv[1:] != ["--baseline"]:
        sys.exit("usage: python -S loadwatch.py --baseline")
    print(json.dumps(baseline()))
