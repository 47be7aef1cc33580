"""The [tool.cibuildwheel] configuration the builder prints, read by the cibuildwheel
program."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cibuildwheel_project, run_builder


@pytest.fixture
def project(tmp_path):
    """A project whose pyproject.toml holds the printed configuration."""
    done = run_builder("cibuildwheel-config", "--openssl", "3.0.22")
    assert done.returncode == 0, done.stderr
    return cibuildwheel_project(tmp_path, done.stdout)


def test_cibuildwheel_accepts_the_configuration_and_lists_glibc_builds_only(project):
    done = subprocess.run([str(Path(sys.executable).parent / "cibuildwheel"),
                           "--print-build-identifiers", "--platform", "linux", "--archs",
                           "x86_64", str(project)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    identifiers = done.stdout.split()
    assert "cp311-manylinux_x86_64" in identifiers
    assert not [i for i in identifiers if "musllinux" in i]
