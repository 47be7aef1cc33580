"""Target Python interpreters: what they are, and a `build` frontend each can run."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Dict, FrozenSet, List, Optional, Sequence, Tuple

from builder import progress
from builder.cache import Kind
from builder.context import RunContext
from builder.errors import BuilderError, InputError
from builder.installer import Installer
from builder.runner import call, capture

if TYPE_CHECKING:
    from typing import Union

    from builder.platforms.macpython import MacPython
    from builder.platforms.qemu import EmulatedPython
    from builder.platforms.wine import WindowsPython

_QUERY = (
    "import json, sys, sysconfig; print(json.dumps({"
    "'executable': sys.executable, 'version': list(sys.version_info[:3]), "
    "'implementation': sys.implementation.name, 'platform': sysconfig.get_platform()}))"
)


@dataclass(frozen=True)
class Interpreter:
    """A Python interpreter as it answers about itself: its sys.executable, version (major, minor,
    micro), implementation name and sysconfig platform."""

    executable: Path
    version: Tuple[int, int, int]
    implementation: str
    platform: str

    @property
    def short_version(self) -> str:
        """`major.minor`, such as `3.11`."""
        return f"{self.version[0]}.{self.version[1]}"

    def describe(self) -> str:
        """The interpreter for messages: `cpython 3.11.4 (/usr/bin/python3.11)`."""
        return f"{self.implementation} {'.'.join(map(str, self.version))} ({self.executable})"


@dataclass(frozen=True)
class TargetPython:
    """The interpreter a wheel is for, and the one that builds it: one and the same for the
    host's platform; for another (an architecture under qemu, Windows under wine), the host's
    CPython of that version builds (and pip installs) for the foreign one, which runs the smoke
    test where it can run here at all (a macOS one never does)."""

    build: Interpreter
    emulated: Optional[Union[EmulatedPython, WindowsPython, MacPython]] = None

    @property
    def short_version(self) -> str:
        """The target interpreter's `major.minor`: the emulated one's, else the build
        interpreter's."""
        return self.emulated.short_version if self.emulated else self.build.short_version

    def describe(self) -> str:
        """The target interpreter for messages: the emulated one's description, else the build
        interpreter's."""
        return self.emulated.describe() if self.emulated else self.build.describe()

    @property
    def label(self) -> str:
        """A short name for log files: py3.11, or py3.11-aarch64 under emulation,
        py3.13-win_amd64 for Windows."""
        arch = f"-{getattr(self.emulated, 'plat', self.emulated.arch)}" if self.emulated else ""
        return f"py{self.short_version}{arch}"


def pip_target_args(version: Tuple[int, int], platforms: Sequence[str]) -> List[str]:
    """pip options that choose the wheels CPython `version` installs on `platforms` (wheel
    platform tags) instead of the host's: binary wheels of its own ABI, abi3 or none."""
    dotted, nodot = f"{version[0]}.{version[1]}", f"{version[0]}{version[1]}"
    return ["--only-binary", ":all:", *(arg for p in platforms for arg in ("--platform", p)),
            "--python-version", dotted, "--implementation", "cp",
            "--abi", f"cp{nodot}", "--abi", "abi3", "--abi", "none"]


def include_dir(interpreter: Interpreter) -> Path:
    """The directory of the interpreter's C headers (sysconfig's `include` path: Python.h,
    pyconfig.h). Raises CommandFailed where the interpreter cannot answer."""
    return Path(capture([interpreter.executable, "-c",
                         "import sysconfig; print(sysconfig.get_paths()['include'])"]).strip())


def find_interpreter(spec: Optional[str]) -> Interpreter:
    """--python PATH (or a command on PATH); the running interpreter when not given.

    Raises InputError when `spec` names no executable file, or one that does not answer as a
    Python interpreter (`/bin/true`, a text file)."""
    executable = spec or sys.executable
    advice = ("give the path of a CPython (such as /usr/bin/python3.11) or a version such as "
              "3.11")
    found = shutil.which(executable)
    if found is None or not os.path.isfile(found):
        raise InputError(f"--python {executable} is not a Python interpreter (no executable "
                         f"file of that name); {advice}")
    try:
        data = json.loads(capture([found, "-c", _QUERY]))
        return Interpreter(
            executable=Path(data["executable"]),
            version=tuple(int(n) for n in data["version"]),  # type: ignore[arg-type]
            implementation=str(data["implementation"]),
            platform=str(data["platform"]),
        )
    except (BuilderError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"--python {executable} is not a Python interpreter (it does not "
                         f"answer as one); {advice}") from exc


def find_interpreters(specs: Sequence[str]) -> List[Interpreter]:
    """--python, repeatable: paths, commands, versions like 3.9, or `all` (every CPython on
    this machine). None given: the running interpreter. Oldest first, without duplicates
    (one per minor version, the first found). Raises InputError when `all` or a version finds
    no CPython, or a path or command is not a Python interpreter."""
    if not specs:
        return [find_interpreter(None)]
    found: Dict[Tuple[int, int], Interpreter] = {}
    for spec in specs:
        if spec == "all":
            chosen = discover()
            if not chosen:
                raise InputError("--python all found no CPython on PATH or under pyenv")
        elif re.fullmatch(r"\d+\.\d+", spec):
            chosen = [i for i in discover() if i.short_version == spec][:1]
            if not chosen:
                raise InputError(f"--python {spec}: no CPython {spec} on PATH, under pyenv or "
                                 f"in /opt/python; pass its path instead")
        else:
            chosen = [find_interpreter(spec)]
        for interpreter in chosen:
            found.setdefault(interpreter.version[:2], interpreter)  # type: ignore[index]
    return sorted(found.values(), key=lambda i: i.version)


def discover() -> List[Interpreter]:
    """Every CPython 3 on this machine, one per minor version: PATH first, then pyenv's, then
    the manylinux layout (/opt/python/cp3*), oldest first."""
    candidates: List[str] = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if os.path.basename(folder) != "shims":  # pyenv's shims: its versions are read below
            candidates += sorted(glob.glob(os.path.join(folder, "python3.[0-9]*")))
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates += sorted(glob.glob(os.path.join(pyenv_root, "versions", "3.*", "bin", "python3")))
    candidates += sorted(glob.glob("/opt/python/cp3*/bin/python3"))
    found: Dict[Tuple[int, int], Interpreter] = {}
    seen = set()
    for candidate in candidates:
        real = os.path.realpath(candidate)
        if real in seen or not re.search(r"python3(\.\d+)?$", candidate) or \
                not os.access(real, os.X_OK):
            continue
        seen.add(real)
        try:
            interpreter = find_interpreter(candidate)
        except InputError:
            continue
        if interpreter.implementation == "cpython":
            found.setdefault(interpreter.version[:2], interpreter)  # type: ignore[index]
    return sorted(found.values(), key=lambda i: i.version)


# pip learnt manylinux_x_y tags (PEP 600) in 20.3; Python 3.6 bundles pip 18.1. pip 21.3 is
# the newest that runs on 3.6, and only interpreters that old bundle a pip this old.
_PIP_WITH_PEP_600 = (20, 3)
_PIP_UPGRADE = "pip>=20.3,<22"


def upgrade_old_pip(python: Path, log: Path) -> None:
    """A venv whose bundled pip cannot install a manylinux_x_y wheel (nor skip releases that
    need a newer Python) gets a newer pip from the index first. Raises InputError when
    `python` cannot run, CommandFailed when the pip query or the upgrade fails."""
    text = capture([python, "-m", "pip", "--version"])
    found = re.match(r"pip (\d+)\.(\d+)", text)
    if found and tuple(int(n) for n in found.groups()) < _PIP_WITH_PEP_600:
        call([python, "-m", "pip", "install", "--disable-pip-version-check", "--upgrade",
              _PIP_UPGRADE], log=log,
             what=f"upgrading the virtualenv's {text.split(' from')[0]}")


def build_frontend(interpreter: Interpreter, ctx: RunContext) -> Path:
    """A Python for `interpreter` that can run `python -m build`: itself where `build` is
    installed, else a venv of it in the cache holding `build` (its interpreter's path inside
    the cache). Raises CommandFailed when making that venv fails."""
    try:
        capture([interpreter.executable, "-c", "import build"])
        return interpreter.executable
    except BuilderError:
        pass
    ident = hashlib.sha256(f"{interpreter.executable}{interpreter.version}".encode())
    entry = ctx.store.materialize(
        Kind.TOOLS, f"build-py{interpreter.short_version}-{ident.hexdigest()[:12]}",
        lambda temp: _build_venv(interpreter, temp, ctx),
        reuse=lambda path: venv_python(path).exists())
    # Renaming the venv leaves its script shebangs stale; only `python -m` is used.
    return venv_python(entry.path)


@lru_cache(maxsize=None)
def frontend_options(frontend: Path) -> FrozenSet[str]:
    """The options of `python -m build` this frontend knows (from its --help): an older
    `build` lacks --installer (1.2) and --env-dir (1.6)."""
    return frozenset(re.findall(r"--[a-z][a-z-]+", capture([frontend, "-m", "build", "--help"])))


def build_command(frontend: Path, source: Path, outdir: Path, env_dir: Path,
                  installer: Installer, known: FrozenSet[str], index: Optional[str] = None
                  ) -> "BuildCommand":
    """`python -m build --wheel` of `source` into `outdir`: its isolated environment at
    `env_dir` (a fixed path inside the scratch directory, so that compiles name no random
    directory) and made by `installer` (uv where the frontend can use it; `index` the
    index-url setting where given), as far as the frontend's `build` knows how (`known`: its
    options, `frontend_options`)."""
    args: List[str] = [str(frontend), "-m", "build", "--wheel", "--outdir", str(outdir)]
    if "--env-dir" in known:
        args += ["--env-dir", str(env_dir)]
    if installer.uv and "--installer" in known:
        more, path, env = installer.build_args(index)
        return BuildCommand([*args, *more, str(source)], path, env, "uv")
    return BuildCommand([*args, str(source)], [], {}, "pip")


@dataclass(frozen=True)
class BuildCommand:
    """How one wheel is built: argv, folders to put first on PATH, variables to set, and who
    makes its isolated environment ("uv" or "pip")."""

    argv: List[str]
    path_first: List[str]
    env: Dict[str, str]
    installer: str


def _build_venv(interpreter: Interpreter, temp: Path, ctx: RunContext) -> None:
    """A venv of `interpreter` in `temp` holding the `build` frontend."""
    progress.say(f"    preparing a `build` frontend for {interpreter.describe()}")
    log = ctx.log(f"tools-py{interpreter.short_version}")
    call([interpreter.executable, "-m", "venv", temp], log=log,
         what=f"creating a venv for {interpreter.describe()}")
    upgrade_old_pip(venv_python(temp), log)
    call([venv_python(temp), "-m", "pip", "install", "--quiet", "build"],
         log=log, what="installing the `build` frontend")


def venv_python(venv: Path) -> Path:
    """The interpreter inside a virtualenv made on this host (the host platform's layout)."""
    from builder import platforms  # the platforms import this module's records
    return platforms.host().venv_python(venv)
