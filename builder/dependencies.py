"""The wheels a built wheel needs at install time, fetched beside it so that the wheelhouse
alone installs it.

The lookup is cached for the day it was made (UTC), keyed by what decides its answer: the
wheel's requirements (Requires-Dist), the interpreter's version and the tags it is for, and
the index. A wheel that requires nothing needs no lookup at all."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path
from typing import List, Optional, Sequence

from builder.cache import Kind
from builder.context import RunContext
from builder.interpreters import TargetPython, build_frontend
from builder.runner import call


def requirements(wheel: Path) -> List[str]:
    """The wheel's Requires-Dist lines (its METADATA), in order; empty for none."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist()
                    if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(name).decode("utf-8", "replace"))
    return metadata.get_all("Requires-Dist") or []


def lookup_key(required: Sequence[str], version: Sequence[int], for_target: Sequence[str],
               index: Optional[str], day: dt.date) -> str:
    """The cache key of one dependency lookup: `deps-<day>-<digest>`."""
    blob = json.dumps({"requires": list(required), "python": list(version[:2]),
                       "target": list(for_target), "index": index}, sort_keys=True)
    return f"deps-{day.isoformat()}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def download_dependencies(wheel: Path, dest: Path, python: TargetPython, ctx: RunContext,
                          today: Optional[dt.date] = None) -> List[Path]:
    """Put the wheels `wheel` needs at install time beside it, so that the wheelhouse alone
    installs it (`pip install --no-index --find-links`). Returns the ones added.

    pip downloads into a cache entry (today's lookup for these requirements), never into
    `dest`: other wheels may arrive there meanwhile, and must not be taken for
    dependencies."""
    required = requirements(wheel)
    if not required:
        return []
    for_target = python.emulated.pip_target_args() if python.emulated is not None else []
    # The index-url setting, where one was given; else pip's own configuration decides.
    given = "index-url" in ctx.settings.origins
    index = ["--index-url", ctx.settings.index_url] if given else []
    key = lookup_key(required, python.build.version, for_target,
                     ctx.settings.index_url if given else None,
                     today or dt.datetime.now(dt.timezone.utc).date())

    def look_up(temp: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="builder-dependencies-") as private:
            call([build_frontend(python.build, ctx), "-m", "pip", "download",
                  "--disable-pip-version-check", "--only-binary", ":all:", *index, *for_target,
                  "--dest", private, wheel],
                 log=ctx.log(f"dependencies-{wheel.name}"),
                 what=f"fetching the dependencies of {wheel.name}")
            for path in Path(private).glob("*.whl"):
                if path.name != wheel.name:
                    shutil.move(str(path), str(temp / path.name))

    entry = ctx.store.materialize(Kind.DEPENDENCIES, key, look_up)
    added = []
    for path in sorted(entry.path.glob("*.whl")):
        if not (dest / path.name).exists():
            # Whole or not at all: a smoke test may read the folder meanwhile.
            partial = dest / f".{path.name}.part"
            shutil.copyfile(path, partial)
            os.replace(partial, dest / path.name)
            added.append(dest / path.name)
    return added
