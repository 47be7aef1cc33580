"""The Python half opens a shared libcrypto with cffi's ABI mode, the name assembled at run
time (oscrypto-style loading)."""
import cffi

from ._version import version  # noqa: F401

_ffi = cffi.FFI()
_ffi.cdef("const char *OpenSSL_version(int type);")
_libcrypto = _ffi.dlopen(".".join(["libcrypto", "so", "3"]))


def shared_version():
    return _ffi.string(_libcrypto.OpenSSL_version(0)).decode()
