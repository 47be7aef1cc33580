from setuptools import Extension, setup

setup(ext_modules=[Extension("loads_libcrypto._version", ["loads_libcrypto/_version.c"], libraries=["crypto"])])
