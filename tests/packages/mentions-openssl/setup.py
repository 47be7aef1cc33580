# Names OpenSSL's libraries, as many setup scripts do by habit, but calls none of it.
from setuptools import Extension, setup

setup(ext_modules=[Extension("mentions_openssl", ["mentions_openssl.c"],
                             libraries=["ssl", "crypto"])])
