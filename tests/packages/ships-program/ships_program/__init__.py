"""Runs the program the wheel installed beside the interpreter."""
import os
import subprocess
import sys
import sysconfig


def openssl_version():
    program = os.path.join(sysconfig.get_path("scripts"), "openssl-version")
    return subprocess.run([program], stdout=subprocess.PIPE, check=True,
                          universal_newlines=True).stdout.strip()
