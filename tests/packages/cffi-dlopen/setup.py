from setuptools import Extension, setup

setup(ext_modules=[Extension("cffi_dlopen._version", ["cffi_dlopen/_version.c"], libraries=["crypto"])])
