"""The content-addressed cache, written like a database: every entry is made in a temporary
sibling and renamed into place under a file lock, so a reader never sees a partial entry and a
killed run leaves only temporaries that the next holder of the lock removes."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import platformdirs
from filelock import FileLock

CACHE_ENV = "BUILDER_CACHE_DIR"
_TEMP_MARK = ".tmp-"
_PROCESS_GROUP = "process-group"


def cache_root(explicit: Optional[str] = None) -> Path:
    """--cache-dir, else $BUILDER_CACHE_DIR, else the platform's user cache directory."""
    chosen = explicit or os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("builder")
    root = Path(chosen).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextmanager
def locked(entry: Path) -> Iterator[None]:
    """Hold the lock of one cache entry; clear what killed runs left behind for it."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(entry.parent / f".{entry.name}.lock")):
        for stale in entry.parent.glob(f".{entry.name}{_TEMP_MARK}*"):
            _stop_processes_of(stale)
            _remove(stale)
        yield


def note_process_group(scratch: Path, pgid: int) -> None:
    """Record the process group working in `scratch`, so that after a SIGKILL of the builder
    the next holder of the lock can stop its orphans (make and the compilers) too."""
    (scratch / _PROCESS_GROUP).write_text(str(pgid))


def _stop_processes_of(stale: Path) -> None:
    try:
        pgid = int((stale / _PROCESS_GROUP).read_text())
        # Only a group whose leader still works in this very directory: never a reused pid.
        leader = Path(f"/proc/{pgid}/cmdline").read_bytes().replace(b"\0", b" ")
    except (OSError, ValueError):
        return
    if str(stale).encode() in leader:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass


def temp_sibling(entry: Path, *, directory: bool) -> Path:
    """A fresh temporary path next to `entry`, on the same filesystem, for a later rename."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{entry.name}{_TEMP_MARK}"
    if directory:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=entry.parent))
    fd, name = tempfile.mkstemp(prefix=prefix, dir=entry.parent)
    os.close(fd)
    return Path(name)


@contextmanager
def publishing(entry: Path, *, directory: bool) -> Iterator[Path]:
    """Yield a temporary path; when the block succeeds, rename it to `entry` atomically.

    On any failure (Ctrl-C included) the temporary is removed and `entry` is untouched.
    """
    temp = temp_sibling(entry, directory=directory)
    try:
        yield temp
        if directory and entry.exists():
            _remove(entry)  # a directory cannot be renamed over a non-empty one
        os.replace(temp, entry)
    except BaseException:
        _remove(temp)
        raise


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
