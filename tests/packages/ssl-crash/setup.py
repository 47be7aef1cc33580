from setuptools import Extension, setup

setup(ext_modules=[Extension("ssl_crash._hook", ["ssl_crash/_hook.c"], libraries=["ssl", "crypto"])])
