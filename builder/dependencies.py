"""The wheels a built wheel needs at install time, fetched beside it so that the wheelhouse
alone installs it."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import List


from builder.context import RunContext
from builder.interpreters import TargetPython, build_frontend
from builder.runner import call


def download_dependencies(wheel: Path, dest: Path, python: TargetPython, ctx: RunContext
                          ) -> List[Path]:
    """Put the wheels `wheel` needs at install time beside it, so that the wheelhouse alone
    installs it (`pip install --no-index --find-links`). Returns the ones added.

    pip downloads into a private folder first: other wheels may arrive in `dest` meanwhile,
    and must not be taken for dependencies."""
    for_target = python.emulated.pip_target_args() if python.emulated is not None else []
    # The index-url setting, where one was given; else pip's own configuration decides.
    index = (["--index-url", ctx.settings.index_url] if "index-url" in ctx.settings.origins
             else [])
    with tempfile.TemporaryDirectory(prefix=".dependencies-", dir=dest) as private:
        call([build_frontend(python.build, ctx), "-m", "pip", "download",
              "--disable-pip-version-check", "--only-binary", ":all:", *index, *for_target,
              "--dest", private, wheel],
             log=ctx.log(f"dependencies-{wheel.name}"),
             what=f"fetching the dependencies of {wheel.name}")
        added = []
        for path in sorted(Path(private).glob("*.whl")):
            if path.name != wheel.name and not (dest / path.name).exists():
                added.append(Path(shutil.move(str(path), str(dest / path.name))))
    return added
