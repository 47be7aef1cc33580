"""What a run builds for: the target platform, decided once from --plat and the host.

Every per-architecture fact lives in `builder.architectures`; every question about the host's
machine goes through `host_arch()`; a platform tag is turned into a policy by
`builder.policy.policy_for` and into a `Target` here, nowhere else.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
import sysconfig
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from builder.architectures import (ARCHITECTURES, CROSS_BUILDS, MACOS_BUILD_HOSTS, MACOS_OLDEST,
                                   WINDOWS_BUILD_HOSTS, Architecture, MacTag, macos_plat,
                                   macos_tag, windows_architecture)
from builder.errors import InputError
from builder.policy import Policy, manylinux_tags, policy_for


def host_arch() -> str:
    """The host's machine as `platform.machine()` names it (x86_64 on Linux, arm64 on a Mac,
    AMD64 on Windows; `machine_architecture` reads each): the one place that asks."""
    return platform.machine()


def architecture(name: str) -> Architecture:
    """The table's entry for `name`; raises InputError for an architecture it lacks."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise InputError(f"the {name} architecture is not known to the builder (known: "
                         f"{', '.join(ARCHITECTURES)})") from None


def host_glibc() -> Optional[Tuple[int, int]]:
    """The glibc this host runs ((2, 36) on Debian 12); None where it is not glibc."""
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):
        return None
    parts = text.split()[-1].split(".") if text.startswith("glibc") else []
    return (int(parts[0]), int(parts[1])) if len(parts) >= 2 else None


@dataclass(frozen=True)
class Target:
    """The platform one run builds for, from --plat (None: the host's own) and the host."""

    os: str  # "linux", "windows" or "macos"
    arch: Architecture  # universal2: its first slice's (aarch64); see `slices`
    libc: str  # "glibc"; "ucrt" for Windows; "libSystem" for macOS
    # The newest glibc the wheel may need (None: the host's); for macOS, the deployment target.
    libc_version: Optional[Tuple[int, int]]
    plat: Optional[str]  # the platform tag asked for (manylinux2014_x86_64), None: the host's
    policy: Optional[Policy]  # auditwheel's policy of `plat`
    cross: bool  # another architecture or OS than the host's: run under emulation (or wine)
    zig: bool  # built with zig (another glibc, architecture or OS), not the host's compiler

    @property
    def rust_triple(self) -> Optional[str]:
        """Rust's name of the target: aarch64-unknown-linux-gnu, x86_64-pc-windows-gnu,
        aarch64-apple-darwin (a universal2 target: its first slice's)."""
        if self.os == "windows":
            return self.arch.windows.rust_triple if self.arch.windows else None
        if self.os == "macos":
            return self.arch.macos.rust_triple if self.arch.macos else None
        return self.arch.rust_triple

    @property
    def macos(self) -> Optional[MacTag]:
        """The macOS tag read (deployment target, architectures); None for other targets."""
        return macos_tag(self.plat) if self.os == "macos" and self.plat else None

    @property
    def slices(self) -> Tuple["Target", ...]:
        """The one-architecture targets a universal2 wheel is built from, each under its own
        tag (macosx_11_0_arm64, macosx_10_13_x86_64); `(self,)` for any other target."""
        tag = self.macos
        if tag is None or len(tag.arches) == 1:
            return (self,)
        return tuple(dataclasses.replace(_macos_target(MacTag(
            macos_plat(tag.minos(a), a.macos.plat_arch), tag.minos(a), (a,),  # type: ignore
            a.macos.plat_arch)), cross=self.cross, zig=self.zig)  # type: ignore
            for a in tag.arches)

    @property
    def emulator(self) -> Tuple[str, ...]:
        """How a Linux wheel's smoke test runs: the qemu programs to look for; empty for
        natively and for Windows (wine)."""
        return self.arch.qemu if self.cross and self.os == "linux" else ()

    @property
    def wheel_platform(self) -> str:
        """The platform tag asked for, or the host's own linux_<arch> (auditwheel then
        chooses the manylinux tag the wheel qualifies for)."""
        return self.plat or f"linux_{self.arch.name}"

    def describe(self) -> str:
        """The target for messages: the platform tag asked for, else `this host (<arch>)`."""
        return self.plat or f"this host ({self.arch.name})"


def host_os(sys_platform: str = sys.platform) -> str:
    """The builder's name of the host's OS, from `sys_platform` (sys.platform): linux, macos
    or windows; any other is returned as it is (freebsd14, cygwin)."""
    if sys_platform.startswith("linux"):
        return "linux"
    return {"darwin": "macos", "win32": "windows"}.get(sys_platform, sys_platform)


def machine_architecture(machine: str) -> Architecture:
    """The table's architecture of a host machine name as `platform.machine()` gives it on
    each OS: x86_64 and aarch64 (Linux), arm64 (macOS), AMD64, ARM64 and x86 (Windows).
    Raises InputError for one the table lacks."""
    spelled = {"amd64": "x86_64", "arm64": "aarch64", "x86": "i686", "i386": "i686"}
    return architecture(spelled.get(machine.lower(), machine))


def windows_interpreter_architecture(sysconfig_platform: str) -> Architecture:
    """The architecture of a Windows CPython from its sysconfig platform (win-amd64, win32,
    win-arm64): what its wheels are built for, whatever the shell or the machine. Raises
    InputError for any other platform."""
    found = next((a for a in ARCHITECTURES.values()
                  if a.windows and a.windows.sysconfig_platform == sysconfig_platform), None)
    if found is None:
        raise InputError(f"{sysconfig_platform} is not the platform of a Windows CPython the "
                         f"builder builds for (win-amd64, win32, win-arm64)")
    return found


def default_macos_tag(arch: Architecture) -> MacTag:
    """The macOS tag a Mac builds for without --plat: its architecture at cibuildwheel's
    default deployment target (10.13 for x86_64, 11.0 for arm64)."""
    assert arch.macos is not None
    tag = macos_tag(macos_plat(max(MACOS_OLDEST, arch.macos.first_macos), arch.macos.plat_arch))
    assert tag is not None
    return tag


def host_target(sys_platform: str = sys.platform, machine: Optional[str] = None,
                interpreter_platform: Optional[str] = None) -> Target:
    """The host's own platform, built with its own compiler and run natively: on Linux its
    glibc; on a Mac its architecture at the default deployment target (`default_macos_tag`);
    on Windows the architecture of the interpreter running the builder
    (`interpreter_platform`, default sysconfig.get_platform()). Raises InputError for a host
    the builder does not build on."""
    os_name = host_os(sys_platform)
    if os_name in ("macos", "windows"):
        return native_target(os_name, None, machine or host_arch(),
                             interpreter_platform or sysconfig.get_platform())
    return Target("linux", architecture(machine or host_arch()), "glibc", host_glibc(), None,
                  None, cross=False, zig=False)


def native_target(os_name: str, plat: Optional[str], machine: str,
                  interpreter_platform: str = "") -> Target:
    """The Target of --plat `plat` (None: the host's own) on a Mac (`os_name` macos) or a
    Windows machine (windows), built with the host's own compiler (Apple's clang; MSVC) and
    run natively.

    A Mac builds the macOS tags that hold its architecture (`machine`, platform.machine():
    arm64 builds macosx_11_0_arm64 and universal2). Windows builds win_amd64, win32 and
    win_arm64; without `plat`, the tag of the interpreter running the builder
    (`interpreter_platform`, sysconfig's win-amd64), never the machine's. Raises InputError
    for any other tag, naming where it is built."""
    host = machine_architecture(machine)
    if os_name == "macos":
        tag = default_macos_tag(host) if plat is None else macos_tag(plat)
        if tag is None:
            raise InputError(f"--plat {plat} is not built on a Mac: a Mac builds macOS wheels "
                             f"(macosx_X_Y_arm64, _x86_64, _universal2); build manylinux and "
                             f"Windows wheels on a Linux x86_64 host")
        check_macos(tag, native=True)
        if host not in tag.arches:
            slice_name = host.macos.plat_arch if host.macos else host.name
            raise InputError(f"--plat {tag.plat} holds no {slice_name} slice, so this Mac "
                             f"cannot run it: build it on a Mac of its architecture, build "
                             f"universal2, or cross-build it on a Linux x86_64 host")
        return dataclasses.replace(_macos_target(tag), cross=False, zig=False)
    if os_name == "windows":
        if plat is None:
            arch = windows_interpreter_architecture(interpreter_platform)
        else:
            found = windows_architecture(plat)
            if found is None:
                raise InputError(f"--plat {plat} is not built on Windows: Windows builds "
                                 f"win_amd64, win32 and win_arm64; build manylinux and macOS "
                                 f"wheels on a Linux x86_64 host")
            arch = found
        assert arch.windows is not None
        return Target("windows", arch, "ucrt", None, arch.windows.plat, None, cross=False,
                      zig=False)
    raise InputError(f"the builder does not build on {os_name}")


def require_supported_host(sys_platform: str = sys.platform) -> None:
    """Raise InputError, in one sentence saying what to do, on a host the builder does not
    build on (`sys_platform`: sys.platform): it builds on Linux, macOS and Windows."""
    if host_os(sys_platform) in ("linux", "macos", "windows"):
        return
    raise InputError(f"the builder builds on Linux, macOS and Windows, not on {sys_platform}: "
                     f"run it on one of those (from cygwin or MSYS2, with a Windows CPython); "
                     f"`builder inspect`, `audit` and `index` work on any host")


def resolve_target(plat: Optional[str]) -> Target:
    """The Target of --plat, refused (InputError, before any download) where this host cannot
    build it: musllinux, an unknown tag, an architecture zig does not cross-build to from
    here, a macOS tag below the oldest deployment target (`check_macos`). Windows tags
    (win_amd64, win32, win_arm64) and macOS ones (macosx_11_0_arm64, macosx_10_13_x86_64,
    macosx_10_13_universal2) are cross-built with zig from a Linux x86_64 host. On a Mac or
    a Windows machine, its own platform's tags are built natively (`native_target`). Raises
    InputError on a host the builder does not build on (`require_supported_host`)."""
    require_supported_host()
    if host_os() != "linux":
        return native_target(host_os(), plat, host_arch(), sysconfig.get_platform())
    if plat is None:
        return host_target()
    mac = macos_tag(plat)
    if mac is not None:
        check_macos(mac)
        return _macos_target(mac)
    check_plat(plat)
    windows = windows_architecture(plat)
    if windows is not None:
        return Target("windows", windows, "ucrt", None, plat, None, cross=True, zig=True)
    policy = policy_for(plat)
    if policy is None:  # linux_<host arch>: the host's build, under the tag asked for
        return dataclasses.replace(host_target(), plat=plat)
    arch = architecture(policy.arch)
    wanted = tuple(int(n) for n in policy.glibc.split("."))
    host = host_glibc()
    cross = arch.name != host_arch()
    zig = cross or host is None or wanted < host
    return Target("linux", arch, "glibc", (wanted[0], wanted[1]), plat, policy, cross=cross,
                  zig=zig)


# The glibc of manylinux2014, the oldest tag pyca builds for: the OpenSSL of every newer
# manylinux tag is this one's build.
SHARED_OPENSSL_GLIBC = (2, 17)


def openssl_target(target: Target) -> Target:
    """The target the static OpenSSL is built for: `target` itself, except that a zig-built
    Linux target newer than glibc 2.17 (manylinux_2_28_x86_64) takes manylinux2014's, as
    pyca's wheels do for every manylinux tag. An archive compiled against glibc 2.17's
    headers needs nothing newer, and the link against the wheel's glibc decides each symbol's
    version, so every manylinux tag of an architecture shares one OpenSSL build. An
    architecture manylinux2014 does not know (riscv64, whose glibc begins at 2.27) keeps
    its own."""
    if target.os != "linux" or not target.zig or target.libc_version is None \
            or target.libc_version <= SHARED_OPENSSL_GLIBC:
        return target
    shared = f"manylinux2014_{target.arch.name}"
    policy = policy_for(shared)
    if policy is None:
        return target
    return dataclasses.replace(target, libc_version=SHARED_OPENSSL_GLIBC, plat=shared,
                               policy=policy)


def _macos_target(tag: MacTag) -> Target:
    return Target("macos", tag.arches[0], "libSystem", tag.macos, tag.plat, None, cross=True,
                  zig=True)


def check_macos(tag: MacTag, native: bool = False) -> None:
    """Raise InputError for a macOS tag this host cannot build: from a Linux host zig does not
    run on (`native`: on a Mac, which builds any), below the oldest deployment target built
    here, or arm64 below 11.0 (no such macOS)."""
    if not native and host_arch() not in MACOS_BUILD_HOSTS:
        raise InputError(f"--plat {tag.plat} is built from an x86_64 Linux host (or natively "
                         f"on a Mac), not from this {host_arch()} one")
    if tag.macos[0] >= 11 and tag.macos[1] != 0:
        # From macOS 11 on, pip's tags name the major release alone.
        raise InputError(f"--plat {tag.plat} names a tag pip never installs (from macOS 11 on "
                         f"the minor version is 0); use macosx_{tag.macos[0]}_0_{tag.name}")
    oldest = "_".join(map(str, MACOS_OLDEST))
    if tag.macos < MACOS_OLDEST:
        raise InputError(f"--plat {tag.plat} is older than the oldest deployment target built "
                         f"here (macOS {'.'.join(map(str, MACOS_OLDEST))}, as cibuildwheel and "
                         f"python.org's CPython 3.12+ use); use macosx_{oldest}_... or newer")
    for arch in tag.arches:
        assert arch.macos is not None
        if len(tag.arches) == 1 and tag.macos < arch.macos.first_macos:
            first = "_".join(map(str, arch.macos.first_macos))
            raise InputError(f"--plat {tag.plat} names a macOS that never ran on "
                             f"{arch.macos.plat_arch} (the first is "
                             f"{'.'.join(map(str, arch.macos.first_macos))}); use "
                             f"macosx_{first}_{arch.macos.plat_arch} or newer")


def supported_plats() -> Tuple[str, ...]:
    """Every --plat this host builds for: manylinux tags (auditwheel's policies and their
    aliases) of the host's architecture, and of those zig cross-builds from it; from an x86_64
    host, the Windows tags too."""
    machine = host_arch()
    arches = [machine, *CROSS_BUILDS.get(machine, ())]
    windows = tuple(a.windows.plat for a in ARCHITECTURES.values()
                    if a.windows and machine in WINDOWS_BUILD_HOSTS)
    return (f"linux_{machine}", *(tag for arch in arches for tag in manylinux_tags(arch)),
            *windows)


def check_plat(plat: str) -> None:
    """Raise InputError for a --plat this host cannot build for, listing what it can."""
    if plat in supported_plats():
        return
    by_arch: Dict[str, List[str]] = {}
    for tag in supported_plats():
        known = policy_for(tag)
        if known is not None and tag.startswith("manylinux_"):
            by_arch.setdefault(known.arch, []).append(known.name)
    ranges = [f"{names[0]}_{arch} to {names[-1]}_{arch}" for arch, names in by_arch.items()]
    windows = [tag for tag in supported_plats() if windows_architecture(tag)]
    also = f", {', '.join(windows)}" if windows else ""
    if host_arch() in MACOS_BUILD_HOSTS:
        also += (", and macosx_X_Y_arm64, macosx_X_Y_x86_64, macosx_X_Y_universal2 (X_Y from "
                 f"{'_'.join(map(str, MACOS_OLDEST))})")
    raise InputError(f"--plat {plat or repr(plat)} is not supported here; this {host_arch()} "
                     f"host builds {' and '.join(ranges)} (and the legacy aliases manylinux1, 2010 "
                     f"and 2014 where auditwheel knows them){also}")
