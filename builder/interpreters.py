"""Target Python interpreters: what they are, and a `build` frontend each can run."""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

from builder import progress
from builder.cache import locked, publishing
from builder.context import RunContext
from builder.errors import BuilderError, InputError
from builder.runner import call, capture

_QUERY = (
    "import json, sys, sysconfig; print(json.dumps({"
    "'executable': sys.executable, 'version': list(sys.version_info[:3]), "
    "'implementation': sys.implementation.name, 'platform': sysconfig.get_platform()}))"
)


@dataclass(frozen=True)
class Interpreter:
    executable: Path
    version: Tuple[int, int, int]
    implementation: str
    platform: str

    @property
    def short_version(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    def describe(self) -> str:
        return f"{self.implementation} {'.'.join(map(str, self.version))} ({self.executable})"


def find_interpreter(spec: Optional[str]) -> Interpreter:
    """--python PATH (or a command on PATH); the running interpreter when not given."""
    executable = spec or sys.executable
    try:
        data = json.loads(capture([executable, "-c", _QUERY]))
    except (InputError, BuilderError) as exc:
        raise InputError(f"--python {executable} is not a working Python interpreter") from exc
    return Interpreter(
        executable=Path(data["executable"]),
        version=tuple(data["version"]),  # type: ignore[arg-type]
        implementation=data["implementation"],
        platform=data["platform"],
    )


def build_frontend(interpreter: Interpreter, ctx: RunContext) -> Path:
    """A Python for `interpreter` that can run `python -m build`: itself where `build` is
    installed, else a venv of it in the cache holding `build`."""
    try:
        capture([interpreter.executable, "-c", "import build"])
        return interpreter.executable
    except BuilderError:
        pass
    ident = hashlib.sha256(f"{interpreter.executable}{interpreter.version}".encode())
    entry = ctx.cache / "tools" / f"build-py{interpreter.short_version}-{ident.hexdigest()[:12]}"
    python = entry / "bin" / "python"
    with locked(entry):
        if python.exists():
            return python
        progress.say(f"    preparing a `build` frontend for {interpreter.describe()}")
        log = ctx.log(f"tools-py{interpreter.short_version}")
        with publishing(entry, directory=True) as temp:
            call([interpreter.executable, "-m", "venv", temp], log=log,
                 what=f"creating a venv for {interpreter.describe()}")
            call([temp / "bin" / "python", "-m", "pip", "install", "--quiet", "build"],
                 log=log, what="installing the `build` frontend")
        # Renaming the venv leaves its script shebangs stale; only `python -m` is used.
    return python
