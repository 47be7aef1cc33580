"""The record of a compiler and its build tools, and the refusal of missing ones; each
platform module (builder/platforms/) chooses and makes its toolchains."""

from __future__ import annotations

import glob
import os
import re
import shutil
from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Tuple

from builder.errors import InputError

# What to install when a tool is missing (Debian/Ubuntu names; the RHEL ones are alike).
PACKAGES: Dict[str, str] = {
    "cc": "a C compiler (apt-get install gcc / dnf install gcc)",
    "perl": "perl (apt-get install perl / dnf install perl-core)",
    "make": "make (apt-get install make / dnf install make)",
    "cargo": "Rust (rustup, or apt-get install cargo rustc / dnf install cargo rustc)",
    "rustc": "Rust (rustup, or apt-get install cargo rustc / dnf install cargo rustc)",
    "patch": "patch (apt-get install patch / dnf install patch)",
    "objcopy": "binutils (apt-get install binutils / dnf install binutils)",
    "nm": "binutils (apt-get install binutils / dnf install binutils)",
    "llvm-objcopy": "llvm (apt-get install llvm / dnf install llvm)",
    "llvm-nm": "llvm (apt-get install llvm / dnf install llvm)",
    "llvm-readobj": "llvm (apt-get install llvm / dnf install llvm)",
    "aarch64-linux-gnu-objcopy": "llvm (apt-get install llvm / dnf install llvm) or "
                                 "binutils-aarch64-linux-gnu",
    "swig": "swig (apt-get install swig / dnf install swig)",
}
for _tool in ("llvm-lipo", "llvm-otool", "llvm-install-name-tool"):
    PACKAGES[_tool] = "llvm (apt-get install llvm / dnf install llvm)"
for _tool in ("llvm-objcopy", "llvm-nm", "llvm-readobj", "llvm-lipo"):
    PACKAGES[_tool] += "; on a Mac: brew install llvm"
# Where Debian and Ubuntu keep LLVM's tools that have no link on PATH (llvm-lipo,
# llvm-otool, llvm-install-name-tool): /usr/lib/llvm-<major>/bin; and Homebrew's LLVM on a
# Mac, which it keeps off PATH (Apple silicon, then Intel).
_LLVM_DIRS = ("/usr/lib/llvm-*/bin", "/opt/homebrew/opt/llvm*/bin", "/usr/local/opt/llvm*/bin")


@dataclass(frozen=True)
class Toolchain:
    """A C compiler and what it sets beside it; its identity is part of every cache key."""

    cc: str
    identity: str  # first line of `cc --version`: part of every cache key
    triple: str  # `cc -dumpmachine`, e.g. x86_64-linux-gnu; with the glibc for zig targets
    tools: Tuple[Tuple[str, str], ...] = ()  # AR, RANLIB and the rest it sets beside CC
    exclude_libs: bool = True  # the linker knows --exclude-libs (lld does not)
    openssl_target: Optional[str] = None  # ./Configure target of a cross build
    objcopy: str = "objcopy"  # renames symbols in the target's objects
    nm: str = "nm"  # GNU nm reads any ELF; objcopy only the host's architectures
    ldflags: str = ""  # what every link of an extension needs besides (zig's old glibc)
    symbol_prefix: str = ""  # what the target puts before every C name: `_` on i386 Windows
    # The linker prints a link map (-Wl,--print-map: GNU ld, lld); zig's COFF and Mach-O
    # linkers print none, so the links that took OpenSSL objects cannot be told apart.
    link_map: bool = True
    # The compiler of OpenSSL's own objects where it differs from the extension's (macOS:
    # everything OpenSSL defines compiled hidden, since zig's Mach-O linker cannot limit a
    # module's exports); None: `cc`.
    openssl_cc: Optional[str] = None
    # Whose linker links the extensions: "gnu" (GNU ld, lld, zig's), "apple" (ld64, on a
    # Mac) or "msvc" (link.exe, which reads its options from $LINK, not from LDFLAGS).
    linker: str = "gnu"
    # What was downloaded to make it, (file name, sha256): zig's wheel; for the provenance.
    downloads: Tuple[Tuple[str, str], ...] = ()

    def env(self) -> Dict[str, str]:
        """The variables that make build systems use this toolchain."""
        return {"CC": self.cc, "OBJCOPY": self.objcopy, "NM": self.nm, **dict(self.tools)}

    def openssl_env(self) -> Dict[str, str]:
        """The variables that make OpenSSL's build use this toolchain (`openssl_cc` as CC)."""
        return {**self.env(), "CC": self.openssl_cc or self.cc}


def first_on_path(names: Iterable[str]) -> Optional[str]:
    """The path of the first of `names` found (on PATH, or as a path itself); None when none
    is."""
    return next(filter(None, map(shutil.which, names)), None)


def llvm_tool(name: str) -> str:
    """The path of one of LLVM's tools (llvm-lipo): on PATH, else in the newest
    /usr/lib/llvm-N/bin (Homebrew's opt/llvm*/bin on a Mac). Raises InputError naming the
    package to install."""
    found = shutil.which(name)
    if found:
        return found
    folders = sorted((d for pattern in _LLVM_DIRS for d in glob.glob(pattern)),
                     key=lambda d: int(re.sub(r"\D", "", d) or 0))
    for folder in reversed(folders):
        path = os.path.join(folder, name)
        if os.access(path, os.X_OK):
            return path
    raise InputError(f"missing build tools ({name}: install {PACKAGES.get(name, 'llvm')})")


def require_tools(names: Iterable[str]) -> None:
    """Raise InputError up front, naming the package to install, when a build tool is not on
    PATH."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        wanted = "; ".join(f"{n}: install {PACKAGES.get(n, n)}" for n in missing)
        raise InputError(f"missing build tools ({wanted})")
