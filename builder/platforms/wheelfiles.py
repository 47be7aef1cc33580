"""Wheel files as the platform modules read and make them: the binaries a wheel holds, and the
one wheel a repair tool writes."""

from __future__ import annotations

import datetime as dt
import os
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, TypeVar

from auditwheel.tools import dir2zip, zip2dir
from auditwheel.wheeltools import rewrite_record

from builder.errors import BuilderError, CheckFailed
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


F = TypeVar("F")


def platform_binaries(wheel: Path, system: str, own: Callable[[bytes], bool],
                      foreign: Mapping[str, Callable[[bytes], bool]],
                      inspect: Callable[[str, bytes], F], suffixes: Sequence[str]) -> List[F]:
    """The facts (`inspect(member, bytes)`) of every binary of the platform's own format in
    the wheel. Raises CheckFailed, naming each, for a binary of another system's format
    (`foreign`: its description, such as "Linux (ELF)", and its test: a compile that escaped
    the cross compiler) and for one the system (`system`: "Windows") would not load by its
    name (any suffix but `suffixes`, in any case)."""
    misplaced, facts = [], []
    tests = [own, *foreign.values()]
    for member, data in binary_members(wheel, lambda data: any(t(data) for t in tests)):
        kind = next((name for name, test in foreign.items() if test(data)), None)
        if kind is not None and not own(data):
            misplaced.append(f"{member} is a {kind} binary")
        elif not member.lower().endswith(tuple(suffixes)):
            misplaced.append(f"{member} is a {system} binary not named {', '.join(suffixes)}")
        else:
            facts.append(inspect(member, data))
    if misplaced:
        raise CheckFailed(f"{wheel.name} is no {system} wheel as built: {'; '.join(misplaced)}")
    return facts


def run_repair_tool(argv: List[StrPath], wheel: Path, outdir: Path, log: Path, tool: str,
                    source_date_epoch: int, path_first: Optional[str] = None,
                    env: Optional[Dict[str, str]] = None) -> Path:
    """Run a repair tool (`argv`, the wheel appended) that writes its wheel into `outdir`, with
    SOURCE_DATE_EPOCH for the repaired wheel's file times (and `path_first` in front of PATH,
    `env` set besides); return the one wheel it made. Raises CommandFailed, or BuilderError
    where it made no single wheel."""
    env = {**os.environ, **(env or {}), "SOURCE_DATE_EPOCH": str(source_date_epoch)}
    if path_first is not None:
        env["PATH"] = path_first + os.pathsep + os.environ.get("PATH", "")
    before = set(outdir.glob("*.whl"))
    call([*argv, wheel], log=log, what=f"{tool} of {wheel.name}", env=env)
    made = sorted(set(outdir.glob("*.whl")) - before)
    if len(made) != 1:
        raise BuilderError(f"{tool} of {wheel.name} made {len(made)} wheels", log=log)
    return made[0]


def rewrite_wheel(wheel: Path, scratch: Path, source_date_epoch: int,
                  change: Callable[[Path], None]) -> None:
    """Change a wheel in place: unpacked into `scratch`, `change(folder)` run on its files,
    RECORD rewritten and the wheel packed again with SOURCE_DATE_EPOCH's file times
    (auditwheel's own tools, as its repair does)."""
    folder = scratch / f"rewrite-{wheel.stem}"
    zip2dir(wheel, folder)
    change(folder)
    rewrite_record(folder)
    when = dt.datetime.fromtimestamp(source_date_epoch, tz=dt.timezone.utc)
    dir2zip(folder, wheel, zlib.Z_DEFAULT_COMPRESSION, when)
