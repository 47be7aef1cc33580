"""Who installs packages into the fresh environments of a run: uv where present (it makes a
virtualenv and installs into it in a fraction of pip's time), pip otherwise, or as the
`installer` setting says.

Either way every build and every smoke test gets a fresh, isolated environment: uv makes the
same virtualenvs (`uv venv`), installs with no index where pip would (`--no-index`), and is
given `build --installer uv` for the isolated build environment. uv serves CPython 3.8 and
newer; older interpreters always get pip. Installs for an emulated or Windows interpreter
(`pip install --target` for foreign tags) and dependency downloads stay with pip, which has
`download`.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from builder.errors import InputError
from builder.runner import call

CHOICES = ("auto", "uv", "pip")
# uv makes virtualenvs for CPython 3.8 and newer.
UV_OLDEST_PYTHON = (3, 8)


def find_uv() -> Optional[str]:
    """The uv program: beside this Python (a virtualenv's bin/, where `pip install uv` puts
    it), else the `uv` package's own, else on PATH; None when there is none."""
    beside = shutil.which("uv", path=str(Path(sys.executable).parent))  # uv.exe on Windows
    if beside:
        return beside
    try:
        import uv  # type: ignore[import-not-found]
        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


@dataclass(frozen=True)
class Installer:
    """uv (its program's path) or pip (`uv` None)."""

    uv: Optional[str] = None

    @property
    def name(self) -> str:
        """"uv" or "pip", for messages and the provenance record."""
        return "uv" if self.uv else "pip"

    def serves(self, version: Sequence[int]) -> bool:
        """Whether uv (when chosen) serves an interpreter of `version` (3, 11, ...)."""
        return self.uv is not None and tuple(version[:2]) >= UV_OLDEST_PYTHON

    def for_version(self, version: Sequence[int]) -> "Installer":
        """This installer for an interpreter of `version`: pip where uv does not serve it."""
        return self if self.serves(version) else Installer()

    def make_venv(self, interpreter: Path, venv: Path, log: Path, what: str) -> None:
        """A fresh virtualenv of `interpreter` at `venv`. Raises CommandFailed."""
        if self.uv:
            call([self.uv, "venv", "--quiet", "--no-project", "--python", interpreter, venv],
                 log=log, what=what, env=_uv_env())
        else:
            call([interpreter, "-m", "venv", venv], log=log, what=what)

    def install_command(self, python: Path, args: Sequence[str]) -> List[str]:
        """The command that installs `args` (pip's install options and requirements) into the
        environment of `python`."""
        if self.uv:
            return [self.uv, "pip", "install", "--quiet", "--python", str(python), *args]
        return [str(python), "-m", "pip", "install", "--disable-pip-version-check", *args]

    def install(self, python: Path, args: Sequence[str], log: Path, what: str) -> None:
        """Install `args` into the environment of `python`. Raises CommandFailed."""
        call(self.install_command(python, args), log=log, what=what,
             env=_uv_env() if self.uv else None)

    def build_args(self, index: Optional[str]) -> Tuple[List[str], List[str], Dict[str, str]]:
        """The `python -m build` options that make its isolated environment with this
        installer, the folders to put first on PATH (where `build` finds uv), and the
        variables it needs: no uv configuration file of the project's or the user's, and the
        index pip would use (`index`, the index-url setting where given, else
        $PIP_INDEX_URL)."""
        if not self.uv:
            return [], [], {}
        env = {"UV_NO_CONFIG": "1"}
        chosen = index or os.environ.get("PIP_INDEX_URL")
        if chosen:
            env["UV_DEFAULT_INDEX"] = chosen
        return ["--installer", "uv"], [str(Path(self.uv).parent)], env


def _uv_env() -> dict:
    # uv must not read a project's or the user's uv.toml: the run's choices alone apply.
    return {**os.environ, "UV_NO_CONFIG": "1"}


def choose_installer(choice: str) -> Installer:
    """The installer the `installer` setting asks for: `auto` (uv when found, else pip),
    `uv` (raises InputError when it is not found), `pip`."""
    if choice == "pip":
        return Installer()
    found = find_uv()
    if found is None and choice == "uv":
        raise InputError("installer uv: uv is not installed; pip install uv (into the "
                         "builder's environment), or choose --installer pip")
    return Installer(found)
