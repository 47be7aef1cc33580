"""What differs from one operating system to another, behind one small protocol: one module per
platform (`linux.py`, `windows.py`, `macos.py`), chosen from the Target.

The stages (build, repair, smoke) ask the platform; they never test the OS themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, List, Match, Optional, Pattern, Protocol, Sequence, Tuple

from builder.context import RunContext
from builder.interpreters import Interpreter, TargetPython
from builder.errors import InputError
from builder.openssl import OpenSSLBuild
from builder.recipes import Recipe
from builder.releases import Release
from builder.target import Target
from builder.toolchain import Toolchain


class NamePattern(Protocol):
    """A compiled pattern, or anything that finds its matches in a binary's bytes alike."""

    def finditer(self, data: bytes) -> Iterator["Match[bytes]"]:
        """Every match in `data`."""


class BinaryFacts(Protocol):
    """What the static-wheel rules read of one binary, whatever its format."""

    name: str  # path inside the wheel
    needed: Tuple[str, ...]  # shared libraries it names
    openssl_versions: Tuple[str, ...]  # versions of the OpenSSL version texts it carries
    executable_stack: bool
    exported: frozenset  # the symbols it exports
    undefined: frozenset  # the symbols it leaves to the process that loads it

    def describe(self) -> str:
        """The binary in one line: its name, machine or architectures (with what it needs
        of the OS) and the OpenSSL version texts it carries."""


class Platform(Protocol):
    """One operating system's way of building, repairing, checking and running a wheel."""

    name: str  # "linux", "windows", "macos"
    binary_format: str  # "ELF", "PE", "Mach-O"
    shared_openssl: Pattern[str]  # a needed library that is a shared OpenSSL
    loads_in_binary: NamePattern  # a shared OpenSSL's file name inside a binary

    def require_build_tools(self, target: Target) -> None:
        """Raise InputError, before any download, naming the package of a missing tool."""

    def check_release(self, target: Target, release: Release) -> None:
        """Raise InputError where this OpenSSL release cannot be built for `target`."""

    def check_package(self, package: str, recipe: Recipe, is_rust: bool,
                      target: Target) -> None:
        """Raise InputError where `package` ("name version") cannot be built for `target`
        here: its recipe's refusal, a Rust package without a way to link for the target."""

    def check_openssl(self, build: OpenSSLBuild, target: Target) -> None:
        """Raise CheckFailed where the static OpenSSL is not of the target's machine."""

    def join_openssl(self, builds: Sequence[OpenSSLBuild], target: Target,
                     ctx: RunContext) -> OpenSSLBuild:
        """One static OpenSSL for a target of several architectures (`Target.slices`, in
        order) made of each one's build; raises InputError where the platform has none."""

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

    def checks_passed(self, facts: Sequence[BinaryFacts], tag: str) -> List[str]:
        """What `check_platform` proved of these binaries under `tag`, one sentence each
        (for the record, and where nothing can run them here)."""

    def check_tag_within(self, tag: str, plat: str, wheel: str) -> None:
        """Raise CheckFailed where the repaired wheel's tag exceeds the one asked for."""

    def finish_build(self, wheel: Path, scratch: Path, source_date_epoch: int) -> None:
        """Correct in place what a cross build names by the build host's ways (a module's
        file suffix)."""

    def repair_tool(self, wheel: Path, outdir: Path, target: Target, log: Path,
                    ctx: RunContext) -> Path:
        """Run the platform's repair tool; return the one wheel it made in `outdir`."""

    def target_pythons(self, target: Target, interpreters: Sequence[Interpreter],
                       full_smoke: bool, ctx: RunContext) -> List[TargetPython]:
        """For each build interpreter (this host's), the interpreter its wheel is for: itself
        for the host's platform, else one of the target's (emulated, or under wine)."""

    def smoke_python(self, wheel: Path, spec: Optional[str], ctx: RunContext) -> TargetPython:
        """The interpreter `builder smoke` tests a finished wheel of this platform with:
        `spec` (a path, command or version) or the default. Raises InputError where there is
        none."""

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
    if target.os == "windows":
        from builder.platforms.windows import WINDOWS
        return WINDOWS
    if target.os == "macos":
        from builder.platforms.macos import MACOS
        return MACOS
    raise InputError(f"{target.os} wheels are not built by this builder yet")


def platform_of_wheel(wheel: Path) -> Platform:
    """The platform a finished wheel is for, from its file name's platform tag (win_* is
    Windows, macosx_* macOS; any other, Linux). Raises InputError for a name that is not a
    wheel's."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename
    try:
        _, _, _, tags = parse_wheel_filename(wheel.name)
    except InvalidWheelFilename as exc:
        raise InputError(f"{wheel.name} is not a wheel's file name ({exc})") from exc
    if any(tag.platform.startswith("win") for tag in tags):
        from builder.platforms.windows import WINDOWS
        return WINDOWS
    if any(tag.platform.startswith("macosx_") for tag in tags):
        from builder.platforms.macos import MACOS
        return MACOS
    return host()
