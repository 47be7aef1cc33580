# Two extension modules, one of which uses OpenSSL: only that one may hold any of it.
from setuptools import Extension, setup

setup(ext_modules=[
    Extension("mixed_modules._digest", ["mixed_modules/_digest.c"], libraries=["crypto"]),
    Extension("mixed_modules._plain", ["mixed_modules/_plain.c"], libraries=["crypto"]),
])
