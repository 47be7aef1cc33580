"""The builder's cache, written like a database: every entry is made in a temporary sibling
and renamed into place under a file lock, so a reader never sees a partial entry and a killed
run leaves only temporaries that the next holder of the lock removes."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator, List, Optional, Protocol

from filelock import FileLock

_TEMP_MARK = ".tmp-"
_PROCESS_GROUP = "process-group"


class Kind(Enum):
    """The kinds of entry the cache holds: the folder each kind lives in, and whether its
    entries are directories (else single files)."""

    DOWNLOADS = ("downloads", False)  # verified downloads: tarballs, signatures, packages
    SDISTS = ("sdists", False)  # sdists from the package index
    OPENSSL = ("openssl", True)  # static OpenSSL builds, one per cache key
    TOOLS = ("tools", True)  # zig, `build` frontends, Debian's CPython for emulation
    LOGS = ("logs", True)  # each run's logs
    DEPENDENCIES = ("dependencies", True)  # a day's dependency lookups, by requirements

    @property
    def folder(self) -> str:
        """The name of the kind's folder under the cache root."""
        return self.value[0]

    @property
    def directories(self) -> bool:
        """Whether the kind's entries are directories (else single files)."""
        return self.value[1]


@dataclass(frozen=True)
class Entry:
    """A complete cache entry: where it is, whether it was there already (or pulled), and the
    remote store it was pulled from."""

    path: Path
    reused: bool
    pulled_from: Optional[str] = None


class Remote(Protocol):
    """A store on another machine that shares entries (builder.remote.RemoteCache)."""

    location: str

    def pull(self, kind_folder: str, key: str, identity: str, dest: Path) -> bool:
        """Fill the empty directory `dest` with the verified entry; False when not there."""

    def publish(self, kind_folder: str, key: str, identity: str, entry: Path) -> None:
        """Share the complete local entry, where the remote lacks it and pushing is on."""


@dataclass(frozen=True)
class Store:
    """The cache's entries, by kind and key (a relative path such as `zig-0.15.2` or
    `debian/libc6_2.36_arm64.deb`). Another backend (a remote one) keeps the same protocol:

    `materialize(kind, key, make, reuse=None)` returns `Entry(path, reused)`, the entry's
    local path, complete. It holds the entry's lock (across processes) for the whole call.
    An existing entry that `reuse(path)` accepts (by default: any existing one) is returned
    with `reused=True` and `make` is not called. Otherwise an entry `reuse` refused is
    removed, `make(temp)` fills a fresh temporary (an empty directory for a kind of
    directories; a path to create for a kind of files) and the temporary is renamed to the
    entry's path in one step: `reused=False`. It raises what `make` or `reuse` raise; then
    nothing is published and the temporary is gone. A key that is absolute, climbs out with
    `..` or has a part starting with `.` raises ValueError.

    What a reader may assume: a path an Entry names is complete, never partly written, and
    is replaced only by a later `materialize` whose `reuse` refuses it. Names starting with
    `.` (locks, temporaries) are the store's own. A writer killed inside `make` leaves a
    temporary that the next holder of the lock removes, after stopping the process group
    noted in it (`note_process_group`).

    With a `remote` store, an entry given an `identity` (canonical JSON of everything it
    depends on: builder.remote.identity_json) that is missing here is first pulled from the
    remote (verified against that identity), and one made here is published to it."""

    root: Path
    remote: Optional[Remote] = None

    def path(self, kind: Kind, key: str = "") -> Path:
        """Where the entry `key` of `kind` is or would be; the kind's folder without a key.
        Raises ValueError for a key that is not a plain relative path."""
        parts = PurePosixPath(key).parts
        if PurePosixPath(key).is_absolute() or any(p.startswith(".") for p in parts):
            raise ValueError(f"cache key {key!r} is not a plain relative path")
        return self.root.joinpath(kind.folder, *parts)

    def materialize(self, kind: Kind, key: str, make: Callable[[Path], None], *,
                    reuse: Optional[Callable[[Path], bool]] = None,
                    identity: Optional[str] = None) -> Entry:
        """The entry `key` of `kind`, reused, pulled or made now: see the class's protocol."""
        entry = self.path(kind, key)
        remote = self.remote if identity is not None and kind.directories else None
        with _locked(entry):
            if entry.exists():
                if reuse is None or reuse(entry):
                    if remote is not None:
                        remote.publish(kind.folder, key, identity, entry)
                    return Entry(entry, reused=True)
                _remove(entry)
            if remote is not None and _publish_pulled(entry, kind, key, identity, remote,
                                                      reuse):
                return Entry(entry, reused=True, pulled_from=remote.location)
            _publish(entry, make, directory=kind.directories)
            if remote is not None:
                remote.publish(kind.folder, key, identity, entry)
        return Entry(entry, reused=False)

    def discard(self, kind: Kind, key: str) -> None:
        """Remove the entry `key` of `kind` and its lock file, for an entry no run asks for
        again (its key names a past day): removed under its lock, never while it is made."""
        entry = self.path(kind, key)
        with _locked(entry):
            _remove(entry)
        _remove(entry.parent / f".{entry.name}.lock")

    def entries(self, kind: Kind, pattern: str) -> List[Path]:
        """The complete entries of `kind` whose names match the glob `pattern`, sorted."""
        folder = self.path(kind)
        found = folder.glob(pattern) if folder.is_dir() else []
        return sorted(p for p in found if not p.name.startswith("."))


@contextmanager
def _locked(entry: Path) -> Iterator[None]:
    """Hold the lock of one cache entry; clear what killed runs left behind for it."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(entry.parent / f".{entry.name}.lock")):
        for stale in entry.parent.glob(f".{entry.name}{_TEMP_MARK}*"):
            _stop_processes_of(stale)
            _remove(stale)
        yield


def _publish(entry: Path, make: Callable[[Path], None], *, directory: bool) -> None:
    """Run `make` on a temporary inside a private sibling directory; rename it to `entry`.
    On any failure (Ctrl-C included) the private directory is removed."""
    private = temp_sibling(entry, directory=True)
    temp = private / entry.name
    try:
        if directory:
            temp.mkdir()
        make(temp)
        os.replace(temp, entry)
    finally:
        _remove(private)


def _publish_pulled(entry: Path, kind: Kind, key: str, identity: str, remote: Remote,
                    reuse: Optional[Callable[[Path], bool]]) -> bool:
    """Pull the entry from `remote` into a temporary and rename it into place when `reuse`
    accepts it as complete; whether it was."""
    private = temp_sibling(entry, directory=True)
    temp = private / entry.name
    try:
        temp.mkdir()
        if not remote.pull(kind.folder, key, identity, temp):
            return False
        if reuse is not None and not reuse(temp):
            from builder import progress
            progress.warn(f"refused the shared cache entry {kind.folder}-{key} from "
                          f"{remote.location}: it is incomplete; building it here instead")
            return False
        os.replace(temp, entry)
        return True
    finally:
        _remove(private)


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
    """A fresh temporary path next to `entry`, on the same filesystem, for a later rename;
    the next holder of `entry`'s lock removes it if it is left behind."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{entry.name}{_TEMP_MARK}"
    if directory:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=entry.parent))
    fd, name = tempfile.mkstemp(prefix=prefix, dir=entry.parent)
    os.close(fd)
    return Path(name)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
