from setuptools import Extension, setup

setup(ext_modules=[Extension("ssl_objects", ["ssl_objects.c"], libraries=["ssl", "crypto"])])
