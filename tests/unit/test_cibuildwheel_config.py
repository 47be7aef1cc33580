"""The [tool.cibuildwheel] configuration the builder prints, read by cibuildwheel itself."""

import json
import shlex
from pathlib import Path

import pytest

from builder.build_env import prefix_env
from builder.platforms.linux import EXCLUDE_OPENSSL
from tests.conftest import cibuildwheel_project, run_main

cibuildwheel_options = pytest.importorskip(
    "cibuildwheel.options", reason="cibuildwheel needs Python 3.11+")


@pytest.fixture
def project(tmp_path):
    """A project whose pyproject.toml holds the printed configuration."""
    done = run_main("cibuildwheel-config", "--openssl", "3.0.22")
    assert done.returncode == 0, done.stderr
    return cibuildwheel_project(tmp_path, done.stdout)


def options_for(project):
    arguments = cibuildwheel_options.CommandLineArguments.defaults()
    arguments = type(arguments)(**{**vars(arguments), "platform": "linux",
                                   "package_dir": project})
    return cibuildwheel_options.compute_options("linux", arguments, env={})


def test_before_all_builds_the_pinned_openssl_into_the_prefix(project):
    build = options_for(project).build_options("cp311-manylinux_x86_64")
    assert build.before_all.endswith(
        "-m builder openssl build 3.0.22 --prefix /opt/openssl-static")


def test_every_build_is_pointed_at_the_prefix_exactly_as_the_builder_does(project):
    build = options_for(project).build_options("cp311-manylinux_x86_64")
    assert build.environment.as_dictionary(prev_environment={}) == \
        prefix_env(Path("/opt/openssl-static"), EXCLUDE_OPENSSL)


def test_every_wheel_is_smoke_tested_against_the_pinned_version(project):
    build = options_for(project).build_options("cp311-manylinux_x86_64")
    assert build.test_command == "python -m builder smoke --openssl 3.0.22 {wheel}"
    assert build.test_requires == ["builder"]


@pytest.mark.parametrize("prefix", ["/opt/ssl$(touch {marker})", "/opt/ssl`touch {marker}`",
                                    "opt/ssl", "relative dir", "/opt/ssl dir", "/opt/a;b",
                                    "/opt/'x'", "/opt/../etc"])
def test_a_prefix_another_tool_would_evaluate_is_refused(prefix, tmp_path):
    marker = tmp_path / "evaluated"
    done = run_main("cibuildwheel-config", "--openssl", "3.0.22",
                    "--prefix", prefix.format(marker=marker))
    assert done.returncode == 2 and "is refused: give a plain absolute directory" in done.stderr
    assert done.stdout == "" and not marker.exists()


@pytest.mark.parametrize("requirement", ["builder @ https://x/b.whl", "builder\n", ""])
def test_a_builder_requirement_with_white_space_is_refused(requirement):
    done = run_main("cibuildwheel-config", "--builder-requirement", requirement)
    assert done.returncode == 2 and "--builder-requirement" in done.stderr


def test_environment_values_reach_cibuildwheel_as_written_whatever_they_hold(tmp_path):
    """The escaping itself, fed hostile text through cibuildwheel's own environment parser:
    nothing is run, nothing expanded."""
    from builder.cibuildwheel import _quote, environment_value
    from cibuildwheel.environment import parse_environment
    from cibuildwheel.options import EnvironmentFormat

    marker = tmp_path / "evaluated"
    hostile = f"-I/opt/a b $(touch {marker}) `touch {marker}` $HOME 'q' \"d\" \\ ;|&"
    written = json.loads(_quote(environment_value(hostile)))  # the TOML string, read back
    line = EnvironmentFormat().format_table({"X": written})  # what cibuildwheel makes of it
    assert parse_environment(line).as_dictionary(prev_environment={}) == {"X": hostile}
    assert not marker.exists()


def test_a_hostile_builder_requirement_stays_one_argument_of_before_all(project):
    from builder.cibuildwheel import CibuildwheelConfig
    from builder.releases import load_table

    config = CibuildwheelConfig(load_table().get("3.0.22"), "builder;touch${IFS}x")
    install = config.before_all()[1]
    assert shlex.split(install)[-1] == "builder;touch${IFS}x"


def test_a_long_hostile_prefix_is_refused_at_once():
    # A pattern that backtracks would take minutes on this; the refusal is immediate.
    done = run_main("cibuildwheel-config", "--prefix",
                    "/opt/openssl-static-prefix-for-cibuildwheel-and-more x")
    assert done.returncode == 2 and "plain absolute directory" in done.stderr
