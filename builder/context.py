"""What every stage of one run shares: the cache, the run's log directory, the parallelism."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from builder.cache import cache_root


@dataclass(frozen=True)
class RunContext:
    cache: Path
    logs: Path
    jobs: int

    @classmethod
    def create(cls, cache_dir: Optional[str] = None, jobs: Optional[int] = None) -> "RunContext":
        cache = cache_root(cache_dir)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        logs = cache / "logs" / f"{stamp}-{os.getpid()}"
        logs.mkdir(parents=True, exist_ok=True)
        return cls(cache=cache, logs=logs, jobs=jobs or os.cpu_count() or 1)

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"
