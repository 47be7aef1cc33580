"""What the user sees while a run goes on: one line per stage with elapsed time, byte counts
for downloads. In CI (CI=true) or without a terminal only the stage lines are printed."""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from typing import IO, Iterator, Optional

from tqdm import tqdm

_started = time.monotonic()


def _stream() -> IO[str]:
    return sys.stderr


def interactive() -> bool:
    """Whether standard error is a terminal outside CI ($CI is not 1, true or yes): download bars
    are drawn only then."""
    return _stream().isatty() and os.environ.get("CI", "").lower() not in ("1", "true", "yes")


def elapsed() -> str:
    """The time since the builder started, formatted: `12.3s`, or `4m05s` from a minute on."""
    return _format_seconds(time.monotonic() - _started)


def _format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def say(message: str) -> None:
    """Print `message` on standard error, prefixed with the time since the builder started."""
    print(f"[{elapsed():>6}] {message}", file=_stream(), flush=True)


def warn(message: str) -> None:
    """Print `warning: message` on standard error."""
    print(f"warning: {message}", file=_stream(), flush=True)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Print `==> name`, then how long it took."""
    say(f"==> {name}")
    start = time.monotonic()
    yield
    say(f"    {name}: done in {_format_seconds(time.monotonic() - start)}")


class ByteProgress:
    """Byte counter for one download; a bar on a terminal, a closing line otherwise."""

    def __init__(self, label: str, total: Optional[int]) -> None:
        self.label = label
        self.count = 0
        self.start = time.monotonic()
        self._bar = (
            tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                 file=_stream(), leave=False)
            if interactive() else None
        )

    def update(self, n: int) -> None:
        """Count `n` more bytes downloaded (and advance the bar on a terminal)."""
        self.count += n
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        """Remove the bar and print the download's size (MB), duration and rate (MB/s)."""
        if self._bar is not None:
            self._bar.close()
        seconds = max(time.monotonic() - self.start, 1e-6)
        say(f"    {self.label}: {self.count / 1e6:.1f} MB in {_format_seconds(seconds)} "
            f"({self.count / 1e6 / seconds:.1f} MB/s)")
