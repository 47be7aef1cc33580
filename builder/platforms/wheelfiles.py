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
from packaging.utils import parse_wheel_filename
from packaging.version import Version
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
                  change: Callable[[Path], None], output: Optional[Path] = None) -> Path:
    """Change a wheel: unpacked into `scratch`, `change(folder)` run on its files, RECORD
    rewritten and the wheel packed again with SOURCE_DATE_EPOCH's file times (auditwheel's own
    tools, as its repair does), in place or as `output` (the original then removed). Returns
    the wheel's path."""
    folder = scratch / f"rewrite-{wheel.stem}"
    zip2dir(wheel, folder)
    change(folder)
    rewrite_record(folder)
    when = dt.datetime.fromtimestamp(source_date_epoch, tz=dt.timezone.utc)
    dir2zip(folder, output or wheel, zlib.Z_DEFAULT_COMPRESSION, when)
    if output is not None and output != wheel:
        wheel.unlink()
    return output or wheel


def with_local_version(wheel: Path, label: str, scratch: Path, source_date_epoch: int) -> Path:
    """The wheel with the local version label `label` (`openssl3.5.9`: 50.0.2 becomes
    50.0.2+openssl3.5.9, replacing any label it had), beside it: METADATA's Version, the
    .dist-info folder's name, RECORD and the file name changed together. `pip install
    NAME==50.0.2` still takes it, and prefers it to 50.0.2 itself. Returns the new path."""
    _, version, _, _ = parse_wheel_filename(wheel.name)
    relabelled = Version(f"{version.public}+{label}")
    parts = wheel.name.split("-")
    parts[1] = str(relabelled)

    def relabel(folder: Path) -> None:
        [info] = [p for p in folder.iterdir() if p.name.endswith(".dist-info")]
        project = info.name[:-len(".dist-info")].rsplit("-", 1)[0]
        renamed = info.rename(folder / f"{project}-{relabelled}.dist-info")
        metadata = renamed / "METADATA"
        lines = metadata.read_text("utf-8").split("\n")
        at = next(i for i, line in enumerate(lines) if line.startswith("Version:"))
        lines[at] = f"Version: {relabelled}"
        metadata.write_text("\n".join(lines), "utf-8")
    return rewrite_wheel(wheel, scratch, source_date_epoch, relabel,
                         output=wheel.with_name("-".join(parts)))
