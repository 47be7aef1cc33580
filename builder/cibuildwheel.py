"""A [tool.cibuildwheel] configuration that does inside cibuildwheel's manylinux containers
what `builder wheel` does here: the pinned static OpenSSL built once per container
(before-all), every build pointed at it (environment), every wheel smoke-tested (test-command).
Generated from the same code the builder uses, so the flags cannot drift apart."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import List

from builder.errors import InputError
from builder.build_env import prefix_env
from builder.platforms.linux import EXCLUDE_OPENSSL
from builder.releases import Release

# A CPython every manylinux image has, new enough to run the builder (the images' own
# /usr/bin/python3 may be 3.6).
CONTAINER_PYTHON = "/opt/python/cp312-cp312/bin/python"
DEFAULT_PREFIX = "/opt/openssl-static"


# A plain absolute directory: what a shell, TOML and cibuildwheel's environment parser all
# read as it is written.
_PLAIN_DIRECTORY = re.compile(r"/(?:[A-Za-z0-9._+-]+/)*[A-Za-z0-9._+-]*")


@dataclass(frozen=True)
class CibuildwheelConfig:
    """The [tool.cibuildwheel] configuration for one OpenSSL release, a way to install the
    builder in the containers, and the static prefix.

    Raises InputError at construction for a prefix that is not a plain absolute directory
    or a builder requirement holding white space or control characters."""

    release: Release
    builder_requirement: str = "builder"  # how pip gets the builder: a name, URL or path
    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not _PLAIN_DIRECTORY.fullmatch(self.prefix) or "/../" in f"{self.prefix}/":
            raise InputError(f"--prefix {self.prefix!r} is refused: give a plain absolute "
                             f"directory (letters, digits, . _ + - and /), such as "
                             f"{DEFAULT_PREFIX}")
        if not self.builder_requirement or any(
                c.isspace() or not c.isprintable() for c in self.builder_requirement):
            raise InputError(f"--builder-requirement {self.builder_requirement!r} is refused: "
                             f"give one requirement, URL or path without white space")

    def before_all(self) -> List[str]:
        # OpenSSL 3's Configure needs perl's IPC::Cmd, which the RHEL-based images lack.
        """The before-all commands, in order: perl's IPC::Cmd where yum is present, the builder
        installed with the containers' CPython 3.12, the static OpenSSL built into the prefix."""
        perl = "if command -v yum >/dev/null; then yum install -y perl-IPC-Cmd; fi"
        install = f"{CONTAINER_PYTHON} -m pip install {shlex.quote(self.builder_requirement)}"
        build = (f"{CONTAINER_PYTHON} -m builder openssl build {self.release.version} "
                 f"--prefix {shlex.quote(self.prefix)}")
        return [perl, install, build]

    def test_command(self) -> str:
        """The test-command: `builder smoke` of each wheel against the pinned release."""
        return f"python -m builder smoke --openssl {self.release.version} {{wheel}}"

    def toml(self) -> str:
        """The configuration as TOML text: [tool.cibuildwheel] (glibc builds only, the smoke test),
        its linux before-all, and the environment pointing every build at the prefix (the same
        variables `prefix_env` gives the builder's own builds)."""
        env = prefix_env(PurePosixPath(self.prefix), EXCLUDE_OPENSSL)
        lines = [
            f"# Static wheels with OpenSSL {self.release.version}, built and checked by builder.",
            "[tool.cibuildwheel]",
            'build-frontend = "build"',
            "# glibc only: the static OpenSSL is built in each manylinux container.",
            'skip = "*-musllinux_*"',
            f"test-requires = [{_quote(self.builder_requirement)}]",
            f"test-command = {_quote(self.test_command())}",
            "",
            "[tool.cibuildwheel.linux]",
            "before-all = [",
            *(f"  {_quote(command)}," for command in self.before_all()),
            "]",
            'environment-pass = ["BUILDER_OPENSSL_MIRROR", "BUILDER_INDEX_URL"]',
            "",
            "[tool.cibuildwheel.linux.environment]",
            *(f"{name} = {_quote(environment_value(value))}" for name, value in env.items()),
        ]
        return "\n".join(lines) + "\n"


def environment_value(value: str) -> str:
    """A value for [tool.cibuildwheel.*.environment]: cibuildwheel puts each inside double
    quotes and evaluates it as bash would ($VAR, $(...), `...`), so those characters and the
    escape character itself are escaped to stand for themselves."""
    return re.sub(r'([\\"$`])', r"\\\1", value)


def _quote(text: str) -> str:
    # JSON strings are TOML basic strings for everything written here.
    return json.dumps(text)
