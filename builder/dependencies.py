"""The wheels a built wheel needs at install time, fetched beside it so that the wheelhouse
alone installs it.

The lookup is cached for the day it was made (UTC), keyed by what decides its answer: the
wheel's requirements (Requires-Dist), the interpreter, the tags it is looked up for (another
architecture's or OS's), and the index. A wheel that requires nothing needs no lookup at
all."""

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

from builder.cache import Kind, Store
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


# pip's own settings that change what a lookup finds, when the index-url setting is not given.
_PIP_SOURCES = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CONSTRAINT",
                "PIP_PRE")


def lookup_key(required: Sequence[str], interpreter: str, for_target: Sequence[str],
               index: Optional[str], day: dt.date, pip_env: Optional[dict] = None) -> str:
    """The cache key of one dependency lookup: `deps-<day>-<digest>` of the requirements, the
    interpreter (`Interpreter.describe()`: implementation, version, path, so its ABI and
    platform), the tags it is looked up for, and the index (the setting, else pip's own
    variables in `pip_env`)."""
    blob = json.dumps({"requires": list(required), "python": interpreter,
                       "target": list(for_target), "index": index,
                       "pip": {k: v for k, v in (pip_env or {}).items() if k in _PIP_SOURCES}},
                      sort_keys=True)
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
    day = today or dt.datetime.now(dt.timezone.utc).date()
    key = lookup_key(required, python.build.describe(), for_target,
                     ctx.settings.index_url if given else None, day,
                     None if given else dict(os.environ))

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

    prune_old_lookups(ctx.store, day)
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


def prune_old_lookups(store: Store, today: dt.date) -> None:
    """Remove the cached lookups made before yesterday (UTC): never used again, since a
    lookup's key holds its day. Yesterday's stay, for a run that began before midnight."""
    for entry in store.entries(Kind.DEPENDENCIES, "deps-*"):
        try:
            day = dt.date.fromisoformat(entry.name[len("deps-"):len("deps-YYYY-MM-DD")])
        except ValueError:
            continue
        if (today - day).days > 1:
            store.discard(Kind.DEPENDENCIES, entry.name)
