"""Per-architecture facts, in one table: how each tool of the build spells an architecture,
on Linux, on Windows and on macOS."""

from __future__ import annotations

from dataclasses import dataclass
import re
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
class MacFacts:
    """How macOS and its tools spell one architecture."""

    plat_arch: str  # in wheel platform tags, lipo and delocate: arm64
    zig_arch: str  # zig's target CPU (aarch64-macos.11.0)
    openssl_target: str  # ./Configure target: darwin64-arm64-cc
    cpu_type: int  # the Mach-O header's cputype (CPU_TYPE_ARM64): 0x0100000C
    readobj_format: str  # an object's format as llvm-readobj names it: Mach-O arm64
    first_macos: Tuple[int, int]  # the first macOS release that runs it: (11, 0) for arm64
    rust_triple: str  # aarch64-apple-darwin


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
    macos: Optional[MacFacts] = None  # None: no macOS wheels for it

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
                              runs_under_wine=True),
                 MacFacts("x86_64", "x86_64", "darwin64-x86_64-cc", 0x01000007,
                          "Mach-O 64-bit x86-64", (10, 4), "x86_64-apple-darwin")),
    Architecture("aarch64", "EM_AARCH64", "linux-aarch64", "aarch64-linux-gnu",
                 "aarch64-unknown-linux-gnu", "arm64", ("qemu-aarch64-static", "qemu-aarch64"),
                 WindowsFacts("win_arm64", "win-arm64", 0xAA64, "aarch64-windows-gnu",
                              "mingwarm64", "VC-WIN64-ARM", "arm64",
                              "aarch64-pc-windows-gnullvm", msvc_arch="arm64",
                              coff_format="COFF-ARM64", mingw_openssl_since=(4, 0)),
                 MacFacts("arm64", "aarch64", "darwin64-arm64-cc", 0x0100000C, "Mach-O arm64",
                          (11, 0), "aarch64-apple-darwin")),
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
# The host architectures that build macOS wheels (zig, from the package index, is x86_64).
MACOS_BUILD_HOSTS: Tuple[str, ...] = ("x86_64",)
# universal2: both macOS architectures in one fat file, as python.org's installers are.
UNIVERSAL2 = ("aarch64", "x86_64")
# zig links macOS objects for this release and newer (its bundled libSystem.tbd and headers).
MACOS_OLDEST = (10, 13)
_MACOS_TAG = re.compile(r"macosx_(\d+)_(\d+)_(\w+)")


def windows_architecture(plat: str) -> Optional[Architecture]:
    """The architecture of a Windows platform tag (win_amd64, win32, win_arm64); None for
    any other tag."""
    return next((a for a in ARCHITECTURES.values() if a.windows and a.windows.plat == plat), None)


def pe_architecture(machine: int) -> Optional[Architecture]:
    """The architecture of a PE header's Machine value (0x8664); None for one unknown here."""
    return next((a for a in ARCHITECTURES.values()
                 if a.windows and a.windows.pe_machine == machine), None)


@dataclass(frozen=True)
class MacTag:
    """A macOS platform tag read: the deployment target it names and its architectures (one,
    or both for universal2)."""

    plat: str  # macosx_11_0_arm64
    macos: Tuple[int, int]  # the deployment target the tag names: (11, 0)
    arches: Tuple[Architecture, ...]  # universal2: aarch64 and x86_64
    name: str = ""  # the tag's own architecture part: arm64, x86_64, universal2

    def minos(self, arch: Architecture) -> Tuple[int, int]:
        """The newest `minos` a slice of `arch` may carry under this tag: the tag's version,
        but never below the first macOS of that architecture (arm64 slices of a
        macosx_10_13_universal2 wheel are for 11.0: pip and delocate read them so)."""
        assert arch.macos is not None
        return max(self.macos, arch.macos.first_macos)


def macos_tag(plat: str) -> Optional[MacTag]:
    """The macOS tag `plat` names (macosx_11_0_arm64, macosx_10_13_x86_64,
    macosx_10_13_universal2); None for a tag that is not macOS's or names an architecture the
    table lacks (intel, ppc)."""
    match = _MACOS_TAG.fullmatch(plat)
    if match is None:
        return None
    major, minor, name = int(match.group(1)), int(match.group(2)), match.group(3)
    names = UNIVERSAL2 if name == "universal2" else tuple(
        a.name for a in ARCHITECTURES.values() if a.macos and a.macos.plat_arch == name)
    if not names:
        return None
    return MacTag(plat, (major, minor), tuple(ARCHITECTURES[n] for n in names), name)


def macos_plat(macos: Tuple[int, int], arch: str) -> str:
    """The platform tag of a deployment target and architecture (plat_arch or universal2):
    macosx_11_0_arm64. From 11 on, only the major version counts (pip's rule)."""
    minor = 0 if macos[0] >= 11 else macos[1]
    return f"macosx_{macos[0]}_{minor}_{arch}"


def macho_architecture(cpu_type: int) -> Optional[Architecture]:
    """The architecture of a Mach-O header's cputype; None for one unknown here."""
    return next((a for a in ARCHITECTURES.values()
                 if a.macos and a.macos.cpu_type == cpu_type), None)
