"""Per-architecture facts, in one table: how each tool of the build spells an architecture,
on Linux and on Windows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple


@dataclass(frozen=True)
class WindowsFacts:
    """How Windows and its tools spell one architecture."""

    plat: str  # the wheel platform tag: win_amd64
    sysconfig_platform: str  # sysconfig.get_platform() of a CPython for it: win-amd64
    pe_machine: int  # the PE header's Machine (IMAGE_FILE_MACHINE_*): 0x8664
    zig_triple: str  # zig's target, with the UCRT: x86_64-windows-gnu
    mingw_openssl_target: Optional[str]  # ./Configure target for mingw (zig); None: none yet
    msvc_openssl_target: str  # ./Configure target for MSVC (natively on Windows): VC-WIN64A
    dlltool_machine: str  # llvm-dlltool -m: i386:x86-64
    rust_triple: str  # Rust's target for the mingw toolchain: x86_64-pc-windows-gnu
    leading_underscore: bool = False  # C symbols carry a leading `_` in COFF (i386 only)
    bits: int = 64  # pointer size: CPython's MS_WIN64 (PE32+) or MS_WIN32 alone (PE32)
    mingw_openssl_since: Tuple[int, int] = (1, 0)  # the first OpenSSL with that mingw target
    runs_under_wine: bool = False  # a Windows CPython of it is pinned and runs here (x64 only)
    msvc_arch: str = ""  # MSVC's (VSCMD_ARG_TGT_ARCH, setup-python's architecture): x64
    coff_format: str = ""  # a COFF object's format as llvm-readobj names it: COFF-x86-64


@dataclass(frozen=True)
class Architecture:
    """One CPU architecture, as each tool of the build spells it."""

    name: str  # as `uname -m` and wheel platform tags spell it: x86_64, aarch64
    elf_machine: str  # ELF e_machine, in pyelftools' names: EM_X86_64
    openssl_target: Optional[str] = None  # OpenSSL's ./Configure target, where cross-built
    gnu_triple: Optional[str] = None  # Debian's multiarch and zig's target: aarch64-linux-gnu
    rust_triple: Optional[str] = None  # aarch64-unknown-linux-gnu
    debian_arch: Optional[str] = None  # Debian's architecture name: arm64
    qemu: Tuple[str, ...] = ()  # qemu user-mode emulators that run it, preferred first
    windows: Optional[WindowsFacts] = None  # None: no Windows wheels for it

    @property
    def cargo_linker_variable(self) -> str:
        """The environment variable that names the linker cargo uses for this target."""
        return f"CARGO_TARGET_{(self.rust_triple or self.name).upper().replace('-', '_')}_LINKER"


# The architectures the builder knows. x86_64 and aarch64 are built for Linux (aarch64
# cross-built from x86_64 with zig, smoke-tested under qemu); x86_64, i686 and aarch64 for
# Windows (win_amd64, win32, win_arm64); the others are known to the ELF checks only.
# OpenSSL's mingw targets: `mingw64` and `mingw` in every release, `mingwarm64` from 4.0.
ARCHITECTURES: Dict[str, Architecture] = {arch.name: arch for arch in (
    Architecture("x86_64", "EM_X86_64", "linux-x86_64", "x86_64-linux-gnu",
                 "x86_64-unknown-linux-gnu", "amd64", ("qemu-x86_64-static", "qemu-x86_64"),
                 WindowsFacts("win_amd64", "win-amd64", 0x8664, "x86_64-windows-gnu", "mingw64",
                              "VC-WIN64A", "i386:x86-64", "x86_64-pc-windows-gnu",
                              msvc_arch="x64", coff_format="COFF-x86-64",
                              runs_under_wine=True)),
    Architecture("aarch64", "EM_AARCH64", "linux-aarch64", "aarch64-linux-gnu",
                 "aarch64-unknown-linux-gnu", "arm64", ("qemu-aarch64-static", "qemu-aarch64"),
                 WindowsFacts("win_arm64", "win-arm64", 0xAA64, "aarch64-windows-gnu",
                              "mingwarm64", "VC-WIN64-ARM", "arm64",
                              "aarch64-pc-windows-gnullvm", msvc_arch="arm64",
                              coff_format="COFF-ARM64", mingw_openssl_since=(4, 0))),
    Architecture("i686", "EM_386", windows=WindowsFacts(
        "win32", "win32", 0x14C, "x86-windows-gnu", "mingw", "VC-WIN32", "i386",
        "i686-pc-windows-gnu", leading_underscore=True, bits=32, msvc_arch="x86",
        coff_format="COFF-i386")),
    Architecture("armv7l", "EM_ARM"),
    Architecture("ppc64le", "EM_PPC64"),
    Architecture("s390x", "EM_S390"),
    Architecture("riscv64", "EM_RISCV"),
)}

# What zig cross-builds from each host architecture (its OpenSSL and Rust targets included).
CROSS_BUILDS: Dict[str, Tuple[str, ...]] = {"x86_64": ("aarch64",)}
# The host architectures that build Windows wheels (zig, wine and the pinned CPython are x64).
WINDOWS_BUILD_HOSTS: Tuple[str, ...] = ("x86_64",)


def windows_architecture(plat: str) -> Optional[Architecture]:
    """The architecture of a Windows platform tag (win_amd64, win32, win_arm64); None for
    any other tag."""
    return next((a for a in ARCHITECTURES.values() if a.windows and a.windows.plat == plat), None)


def pe_architecture(machine: int) -> Optional[Architecture]:
    """The architecture of a PE header's Machine value (0x8664); None for one unknown here."""
    return next((a for a in ARCHITECTURES.values()
                 if a.windows and a.windows.pe_machine == machine), None)
