from setuptools import Extension, setup

setup(ext_modules=[Extension("no_openssl", ["no_openssl.c"])])
