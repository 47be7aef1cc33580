"""Per-architecture facts, in one table: how each tool of the build spells an architecture."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple


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

    @property
    def cargo_linker_variable(self) -> str:
        """The environment variable that names the linker cargo uses for this target."""
        return f"CARGO_TARGET_{(self.rust_triple or self.name).upper().replace('-', '_')}_LINKER"


# The architectures the builder knows. x86_64 and aarch64 are built (aarch64 cross-built from
# x86_64 with zig, smoke-tested under qemu); the others are known to the ELF checks only.
ARCHITECTURES: Dict[str, Architecture] = {arch.name: arch for arch in (
    Architecture("x86_64", "EM_X86_64", "linux-x86_64", "x86_64-linux-gnu",
                 "x86_64-unknown-linux-gnu", "amd64", ("qemu-x86_64-static", "qemu-x86_64")),
    Architecture("aarch64", "EM_AARCH64", "linux-aarch64", "aarch64-linux-gnu",
                 "aarch64-unknown-linux-gnu", "arm64", ("qemu-aarch64-static", "qemu-aarch64")),
    Architecture("i686", "EM_386"),
    Architecture("armv7l", "EM_ARM"),
    Architecture("ppc64le", "EM_PPC64"),
    Architecture("s390x", "EM_S390"),
    Architecture("riscv64", "EM_RISCV"),
)}

# What zig cross-builds from each host architecture (its OpenSSL and Rust targets included).
CROSS_BUILDS: Dict[str, Tuple[str, ...]] = {"x86_64": ("aarch64",)}
