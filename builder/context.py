"""What every stage of one run shares: the cache (its Store), the run's log directory, the
parallelism."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from builder.cache import Kind, Store, cache_root

KEEP_RUN_LOGS = 50


@dataclass(frozen=True)
class RunContext:
    cache: Path
    logs: Path
    jobs: int

    @classmethod
    def create(cls, cache_dir: Optional[str] = None, jobs: Optional[int] = None) -> "RunContext":
        cache = cache_root(cache_dir)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        logs = Store(cache).path(Kind.LOGS, f"{stamp}-{os.getpid()}")
        logs.mkdir(parents=True, exist_ok=True)
        _prune_old_logs(logs.parent)
        return cls(cache=cache, logs=logs, jobs=jobs or os.cpu_count() or 1)

    @property
    def store(self) -> Store:
        """The cache's entries (`cache` is its root directory)."""
        return Store(self.cache)

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"


def _prune_old_logs(folder: Path) -> None:
    """Keep the logs of the newest runs; older ones are of no more use than disk."""
    runs = sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.name)
    for old in runs[:-KEEP_RUN_LOGS]:
        shutil.rmtree(old, ignore_errors=True)
