"""Wheel files as the platform modules read and make them: the binaries a wheel holds, and the
one wheel a repair tool writes."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple

from builder.errors import BuilderError
from builder.runner import StrPath, call


def binary_members(wheel: Path, is_binary: Callable[[bytes], bool]
                   ) -> Iterator[Tuple[str, bytes]]:
    """(member name, bytes) of every member of the wheel that `is_binary` takes for a binary
    (of the platform's format), in archive order, each read once."""
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            data = archive.read(member)
            if is_binary(data):
                yield member, data


def run_repair_tool(argv: List[StrPath], wheel: Path, outdir: Path, log: Path, tool: str,
                    source_date_epoch: int, path_first: Optional[str] = None) -> Path:
    """Run a repair tool (`argv`, the wheel appended) that writes its wheel into `outdir`, with
    SOURCE_DATE_EPOCH for the repaired wheel's file times (and `path_first` in front of PATH);
    return the one wheel it made. Raises CommandFailed, or BuilderError where it made no
    single wheel."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(source_date_epoch)}
    if path_first is not None:
        env["PATH"] = path_first + os.pathsep + os.environ.get("PATH", "")
    before = set(outdir.glob("*.whl"))
    call([*argv, wheel], log=log, what=f"{tool} of {wheel.name}", env=env)
    made = sorted(set(outdir.glob("*.whl")) - before)
    if len(made) != 1:
        raise BuilderError(f"{tool} of {wheel.name} made {len(made)} wheels", log=log)
    return made[0]
