# A wheel whose OpenSSL is in a program (installed from .data/scripts/), as uwsgi's is: the
# program is compiled and linked with the compiler and flags the build was given.
import os
import shlex
import subprocess

from setuptools import Distribution, setup
from distutils.command.build_scripts import build_scripts  # setuptools' own distutils


class BuildProgram(build_scripts):
    def run(self):
        os.makedirs(self.build_dir, exist_ok=True)
        output = os.path.join(self.build_dir, "openssl-version")
        flags = shlex.split(os.environ.get("CFLAGS", ""))
        link = shlex.split(os.environ.get("LDFLAGS", ""))
        subprocess.check_call([*shlex.split(os.environ.get("CC", "cc")), *flags,
                               "program/openssl_version.c", "-o", output, *link, "-lcrypto"])


class PlatformDistribution(Distribution):
    def has_ext_modules(self):
        return True  # a platform wheel: it holds a compiled program


setup(distclass=PlatformDistribution, scripts=["program/openssl_version.c"],
      cmdclass={"build_scripts": BuildProgram})
