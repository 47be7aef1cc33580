"""What every stage of one run shares: the settings, the cache, the run's log directory."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from builder.cache import Kind, Store
from builder.compile_cache import Sccache
from builder.installer import Installer, choose_installer
from builder.remote import RemoteCache, remote_cache
from builder.settings import Settings

KEEP_RUN_LOGS = 50


@dataclass(frozen=True)
class RunContext:
    """The settings, the cache directory, the remote store and this run's log folder, shared
    by every stage."""

    settings: Settings
    cache: Path  # settings.cache_dir, made
    logs: Path  # this run's log folder, inside the cache
    remote: Optional[RemoteCache] = None  # settings.remote_cache, when set
    sccache: Optional[Sccache] = None  # the run's sccache server, while one runs
    installer: Installer = Installer()  # settings.installer, resolved: uv or pip

    @property
    def jobs(self) -> int:
        """The jobs setting (--jobs): how many parallel jobs a build may run."""
        return self.settings.jobs

    @classmethod
    def create(cls, settings: Settings) -> "RunContext":
        """Make the cache and this run's log folder (the newest runs' logs are kept).
        Raises InputError for a remote cache location that names no store, OSError where the
        cache directory cannot be made."""
        remote = remote_cache(settings.remote_cache, settings.remote_cache_push)
        installer = choose_installer(settings.installer)
        cache = settings.cache_dir
        stamp = time.strftime("%Y%m%d-%H%M%S")
        logs = Store(cache).path(Kind.LOGS, f"{stamp}-{os.getpid()}")
        logs.mkdir(parents=True, exist_ok=True)
        _prune_old_logs(logs.parent)
        return cls(settings=settings, cache=cache, logs=logs, remote=remote,
                   installer=installer)

    @property
    def store(self) -> Store:
        """The cache's entries (`cache` is its root directory), and the remote store's."""
        return Store(self.cache, remote=self.remote)

    def log(self, name: str) -> Path:
        """The path of the log file `name` in this run's log folder (inside the cache);
        not created here."""
        return self.logs / f"{name}.log"


def _prune_old_logs(folder: Path) -> None:
    """Keep the logs of the newest runs; older ones are of no more use than disk."""
    runs = sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.name)
    for old in runs[:-KEEP_RUN_LOGS]:
        shutil.rmtree(old, ignore_errors=True)
