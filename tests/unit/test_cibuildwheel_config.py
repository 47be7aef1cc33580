"""The [tool.cibuildwheel] configuration the builder prints, read by cibuildwheel itself."""

import subprocess
import sys
from pathlib import Path

import pytest

from builder.extension import prefix_env
from tests.conftest import run_builder

cibuildwheel_options = pytest.importorskip(
    "cibuildwheel.options", reason="cibuildwheel needs Python 3.11+")


@pytest.fixture
def project(tmp_path):
    """A project whose pyproject.toml holds the printed configuration."""
    done = run_builder("cibuildwheel-config", "--openssl", "3.0.22")
    assert done.returncode == 0, done.stderr
    (tmp_path / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "example"\nversion = "1.0"\nrequires-python = ">=3.9"\n\n'
        + done.stdout)
    return tmp_path


def options_for(project):
    arguments = cibuildwheel_options.CommandLineArguments.defaults()
    arguments = type(arguments)(**{**vars(arguments), "platform": "linux",
                                   "package_dir": project})
    return cibuildwheel_options.compute_options("linux", arguments, env={})


def test_cibuildwheel_accepts_the_configuration_and_lists_glibc_builds_only(project):
    done = subprocess.run([str(Path(sys.executable).parent / "cibuildwheel"),
                           "--print-build-identifiers", "--platform", "linux", "--archs",
                           "x86_64", str(project)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    identifiers = done.stdout.split()
    assert "cp311-manylinux_x86_64" in identifiers
    assert not [i for i in identifiers if "musllinux" in i]


def test_before_all_builds_the_pinned_openssl_into_the_prefix(project):
    build = options_for(project).build_options("cp311-manylinux_x86_64")
    assert build.before_all.endswith(
        "-m builder openssl build 3.0.22 --prefix /opt/openssl-static")


def test_every_build_is_pointed_at_the_prefix_exactly_as_the_builder_does(project):
    build = options_for(project).build_options("cp311-manylinux_x86_64")
    assert build.environment.as_dictionary(prev_environment={}) == \
        prefix_env(Path("/opt/openssl-static"))


def test_every_wheel_is_smoke_tested_against_the_pinned_version(project):
    build = options_for(project).build_options("cp311-manylinux_x86_64")
    assert build.test_command == "python -m builder smoke --openssl 3.0.22 {wheel}"
    assert build.test_requires == ["builder"]
