"""The compiler and build tools for a target; every toolchain quirk belongs here."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import Dict, Iterable

from builder.errors import InputError
from builder.runner import capture

# What to install when a tool is missing (Debian/Ubuntu names; the RHEL ones are alike).
_PACKAGES: Dict[str, str] = {
    "cc": "a C compiler (apt-get install gcc / dnf install gcc)",
    "perl": "perl (apt-get install perl / dnf install perl-core)",
    "make": "make (apt-get install make / dnf install make)",
    "cargo": "Rust (rustup, or apt-get install cargo rustc / dnf install cargo rustc)",
    "rustc": "Rust (rustup, or apt-get install cargo rustc / dnf install cargo rustc)",
    "patch": "patch (apt-get install patch / dnf install patch)",
}


@dataclass(frozen=True)
class Toolchain:
    cc: str
    identity: str  # first line of `cc --version`: part of every cache key
    triple: str  # `cc -dumpmachine`, e.g. x86_64-linux-gnu

    def env(self) -> Dict[str, str]:
        return {"CC": self.cc}


def require_tools(names: Iterable[str]) -> None:
    """Refuse up front, naming the package, when a build tool is not on PATH."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        wanted = "; ".join(f"{n}: install {_PACKAGES.get(n, n)}" for n in missing)
        raise InputError(f"missing build tools ({wanted})")


def native() -> Toolchain:
    """The host's C compiler ($CC or cc), identified for cache keys and provenance."""
    cc = os.environ.get("CC", "cc").split()[0]
    if shutil.which(cc) is None:
        raise InputError(f"no C compiler: {cc} is not on PATH; install {_PACKAGES['cc']} "
                         f"or set CC")
    identity = capture([cc, "--version"]).splitlines()[0].strip()
    triple = capture([cc, "-dumpmachine"]).strip()
    return Toolchain(cc=cc, identity=identity, triple=triple)
