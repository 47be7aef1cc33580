"""The two error families every stage raises, and nothing else: the CLI renders them."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence


class BuilderError(Exception):
    """A failed build, repair or smoke test (exit 1)."""

    exit_code = 1

    def __init__(
        self, message: str, *, log: Optional[Path] = None, tail: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        self.log = log
        self.tail = list(tail)


class InputError(BuilderError):
    """Bad input the user can fix: unknown version, missing tool, bad option (exit 2)."""

    exit_code = 2


class CommandFailed(BuilderError):
    """A subprocess exited non-zero; carries its log's path and last lines."""


class VerificationError(BuilderError):
    """Downloaded or given bytes are not the ones the release table names."""


class CheckFailed(BuilderError):
    """A built wheel breaks a rule of the repair stage or fails its smoke test."""


# The exit code of a run whose wheels were built and checked, but whose smoke test could not
# run on this host (a macOS wheel on Linux): no failure, and no pass either.
NOT_RUN_EXIT = 3

DISK_FULL_ADVICE = ("the disk is full: free space, or point --cache-dir, --wheelhouse or "
                    "TMPDIR at a larger filesystem")
_DISK_FULL_TEXT = "No space left on device"


def mentions_full_disk(lines: Sequence[str]) -> bool:
    """Whether any of `lines` (a command's last lines of output) reads "No space left on device"."""
    return any(_DISK_FULL_TEXT in line for line in lines)
