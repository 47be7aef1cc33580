"""The Python half loads a shared libcrypto through a helper that builds the name at run time,
as some bindings do for the parts their extension does not cover."""
import ctypes
import ctypes.util

from ._version import version  # noqa: F401


def _lib_path(name):
    return ctypes.util.find_library(name) or "lib%s.so.3" % name


_libcrypto = ctypes.CDLL(_lib_path("crypto"))


def shared_version():
    _libcrypto.OpenSSL_version.restype = ctypes.c_char_p
    return _libcrypto.OpenSSL_version(0).decode()
