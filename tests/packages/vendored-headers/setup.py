from setuptools import Extension, setup

setup(ext_modules=[Extension("vendored_headers", ["vendored_headers.c"],
                             libraries=["crypto"])])
