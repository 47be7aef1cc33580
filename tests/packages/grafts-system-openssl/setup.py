# Links the pinned OpenSSL, and also a library of the build host that itself needs the
# system's libcrypto (xmlsec's OpenSSL backend, Debian: libxmlsec1-dev): auditwheel would
# graft that library and the system's OpenSSL with it.
from setuptools import Extension, setup

setup(ext_modules=[Extension("grafts_system_openssl", ["grafts_system_openssl.c"],
                             libraries=["crypto", "xmlsec1-openssl"])])
