"""What differs from one operating system to another, behind one small protocol: one module per
platform (`linux.py` today; `windows.py` and `macos.py` beside it), chosen from the Target.

The stages (build, repair, smoke) ask the platform; they never test the OS themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, List, Optional, Pattern, Protocol, Sequence, Tuple

from builder.context import RunContext
from builder.interpreters import Interpreter
from builder.platforms.qemu import EmulatedPython
from builder.errors import InputError
from builder.openssl import OpenSSLBuild
from builder.target import Target
from builder.toolchain import Toolchain


class BinaryFacts(Protocol):
    """What the static-wheel rules read of one binary, whatever its format."""

    name: str  # path inside the wheel
    needed: Tuple[str, ...]  # shared libraries it names
    openssl_versions: Tuple[str, ...]  # versions of the OpenSSL version texts it carries
    executable_stack: bool
    exported: frozenset  # the symbols it exports


class Platform(Protocol):
    """One operating system's way of building, repairing, checking and running a wheel."""

    name: str  # "linux"
    binary_format: str  # "ELF"
    shared_openssl: Pattern[str]  # a needed library that is a shared OpenSSL
    loads_in_binary: Pattern[bytes]  # a shared OpenSSL's file name inside a binary

    def require_build_tools(self, target: Target) -> None:
        """Raise InputError, before any download, naming the package of a missing tool."""

    def toolchain(self, target: Target, ctx: RunContext) -> Toolchain:
        """The compiler (and its tools) that builds for `target`."""

    def hide_openssl_flags(self, build: OpenSSLBuild, toolchain: Optional[Toolchain],
                           scratch: Path) -> str:
        """Link flags that keep OpenSSL's symbols out of each extension's exports."""

    def wheel_binaries(self, wheel: Path) -> Iterator[Tuple[str, bytes]]:
        """(member, bytes) of every binary of this platform's format in the wheel."""

    def is_binary(self, data: bytes) -> bool:
        """Whether a file's bytes are a binary of this platform's format."""

    def inspect_wheel(self, wheel: Path) -> Sequence[BinaryFacts]:
        """The facts of every binary in the wheel; raises CheckFailed for an unreadable one."""

    def libraries_bringing_openssl(self, wheel: Path, scratch: Path
                                   ) -> List[Tuple[str, str, List[str]]]:
        """(binary, library of the build host it needs, chain to a shared OpenSSL)."""

    def check_platform(self, facts: Sequence[BinaryFacts], tag: str, when: str,
                       wheel: str) -> None:
        """Raise CheckFailed where a binary needs more than the platform tag allows."""

    def check_tag_within(self, tag: str, plat: str, wheel: str) -> None:
        """Raise CheckFailed where the repaired wheel's tag exceeds the one asked for."""

    def repair_tool(self, wheel: Path, outdir: Path, target: Target, log: Path,
                    source_date_epoch: int) -> Path:
        """Run the platform's repair tool; return the one wheel it made in `outdir`."""

    def emulated_python(self, target: Target, interpreters: Sequence[Interpreter],
                        full_smoke: bool, ctx: RunContext) -> Optional[EmulatedPython]:
        """The interpreter a wheel for another architecture is built for and runs in; None
        for the host's architecture."""

    def venv_python(self, venv: Path) -> Path:
        """The interpreter inside a virtualenv made on this platform."""


def host() -> Platform:
    """The platform of this host: where virtualenvs are made and smoke tests run."""
    from builder.target import host_target
    return platform_for(host_target())


def platform_for(target: Target) -> Platform:
    """The platform module of the target's OS. Raises InputError for one not built here."""
    if target.os == "linux":
        from builder.platforms.linux import LINUX
        return LINUX
    raise InputError(f"{target.os} wheels are not built by this builder yet")
