# Links a second OpenSSL by naming the system's static archive (Debian: libssl-dev) as an
# object: the linker takes the objects it asks for from there before the pinned archive.
from setuptools import Extension, setup

setup(ext_modules=[Extension("second_libcrypto", ["second_libcrypto.c"],
                             extra_objects=["/usr/lib/x86_64-linux-gnu/libcrypto.a"])])
