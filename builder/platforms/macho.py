"""Mach-O binaries (.so modules, .dylib libraries; thin or fat), read with macholib: what the
checks of a macOS wheel need to know of each slice of each binary it holds, and the rules
only macOS has (architectures, minos, linked dylibs)."""

from __future__ import annotations

import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import FrozenSet, Iterator, List, Optional, Sequence, Tuple

from macholib import mach_o
from macholib.MachO import MachO
from macholib.SymbolTable import SymbolTable

from builder.architectures import Architecture, MacTag, macho_architecture
from builder.errors import CheckFailed
from builder.platforms.wheelfiles import binary_members
from builder.probe import openssl_versions_in

# The first four bytes of a thin Mach-O file (either byte order, 32 or 64 bits) or of a fat
# one (FAT_MAGIC, FAT_MAGIC_64; Java class files share the first, and are read as what they
# are not: refused as unreadable Mach-O).
_MAGICS = {struct.pack(">I", m) for m in (mach_o.MH_MAGIC, mach_o.MH_MAGIC_64, mach_o.FAT_MAGIC,
                                          mach_o.FAT_MAGIC_64)}
_MAGICS |= {struct.pack("<I", m) for m in (mach_o.MH_MAGIC, mach_o.MH_MAGIC_64)}
_LOADS = {mach_o.LC_LOAD_DYLIB, mach_o.LC_LOAD_WEAK_DYLIB, mach_o.LC_REEXPORT_DYLIB,
          mach_o.LC_LAZY_LOAD_DYLIB, mach_o.LC_LOAD_UPWARD_DYLIB}
# Where macOS keeps its own libraries (libSystem, libiconv, frameworks): in every Mac's dyld
# shared cache, never bundled (delocate's own rule).
SYSTEM_LIBRARY_DIRS = ("/usr/lib/", "/System/Library/")

def is_macho(data: bytes) -> bool:
    """Whether `data` (a file's bytes, or at least its first four) is a Mach-O file, thin or
    fat."""
    return data[:4] in _MAGICS


def wheel_binaries(wheel: Path) -> Iterator[Tuple[str, bytes]]:
    """(member name, bytes) of every Mach-O file in the wheel, in archive order, read once."""
    return binary_members(wheel, is_macho)


@dataclass(frozen=True)
class MachOSlice:
    """One architecture's image inside a (thin or fat) Mach-O file."""

    cpu_type: int  # the header's cputype: 0x0100000C arm64, 0x01000007 x86_64
    minos: Optional[Tuple[int, int]]  # LC_BUILD_VERSION's minos (or LC_VERSION_MIN_MACOSX)
    dylibs: Tuple[str, ...]  # the libraries it loads (LC_LOAD_DYLIB and its kin)
    exported: FrozenSet[str]  # its external defined symbols, without Mach-O's leading `_`
    undefined: FrozenSet[str]  # the symbols it leaves to the process (no leading `_`)
    signed: bool  # it carries a code signature (LC_CODE_SIGNATURE with data)
    executable_stack: bool  # the header asks for an executable stack (MH_ALLOW_STACK_EXECUTION)

    @property
    def architecture(self) -> Optional[Architecture]:
        """The builder's architecture of its cputype; None for one unknown here."""
        return macho_architecture(self.cpu_type)

    def describe(self) -> str:
        """`arm64 (minos 11.0)`, or the raw cputype for an unknown architecture."""
        arch = self.architecture
        name = arch.macos.plat_arch if arch and arch.macos else hex(self.cpu_type)
        return f"{name} (minos {_dotted(self.minos) if self.minos else 'none'})"


@dataclass(frozen=True)
class MachOFacts:
    """What the checks need to know of one Mach-O file inside a wheel."""

    name: str  # path inside the wheel
    needed: Tuple[str, ...]  # the libraries any slice loads
    openssl_versions: Tuple[str, ...]  # versions of the OpenSSL version texts embedded
    exported: FrozenSet[str]  # the external symbols any slice defines (no leading `_`)
    slices: Tuple[MachOSlice, ...]
    fat: bool  # a universal (fat) file

    @property
    def executable_stack(self) -> bool:
        """Whether any slice asks for an executable stack."""
        return any(s.executable_stack for s in self.slices)

    @property
    def undefined(self) -> FrozenSet[str]:
        """The symbols any slice leaves to the process (`-undefined dynamic_lookup`)."""
        return frozenset(n for s in self.slices for n in s.undefined)

    def describe(self) -> str:
        """`name: arm64 (minos 11.0), x86_64 (minos 10.13); OpenSSL 3.0.22`."""
        return (f"{self.name}: {', '.join(s.describe() for s in self.slices)}; "
                f"OpenSSL {', '.join(self.openssl_versions) or 'none'}")


def inspect_wheel(wheel: Path) -> List[MachOFacts]:
    """The facts of every Mach-O file in the wheel. Raises CheckFailed for one macholib cannot
    read."""
    return [inspect_macho(member, data) for member, data in wheel_binaries(wheel)]


def inspect_macho(name: str, data: bytes) -> MachOFacts:
    """The facts of one Mach-O file (`name`: its path inside the wheel), every slice read.
    Raises CheckFailed for bytes macholib cannot read."""
    with tempfile.TemporaryDirectory(prefix="builder-macho-") as folder:
        path = Path(folder) / "binary"
        path.write_bytes(data)
        try:
            macho = MachO(str(path))
            slices = tuple(_slice(macho, header) for header in macho.headers)
        except (ValueError, struct.error, KeyError, IndexError, AttributeError) as exc:
            # (AttributeError: macholib's symbol table needs LC_DYSYMTAB, which a debug-info
            # file lacks)
            raise CheckFailed(f"{name} is not a readable Mach-O file ({exc})") from exc
    return MachOFacts(
        name=name,
        needed=tuple(dict.fromkeys(d for s in slices for d in s.dylibs)),
        openssl_versions=tuple(openssl_versions_in(data)),
        exported=frozenset(n for s in slices for n in s.exported),
        slices=slices,
        fat=macho.fat is not None,
    )


def _slice(macho: MachO, header) -> MachOSlice:  # type: ignore[no-untyped-def]
    dylibs, minos, signed = [], None, False
    for command, body, data in header.commands:
        if command.cmd in _LOADS:
            dylibs.append(data.rstrip(b"\0").decode("utf-8", "replace"))
        elif command.cmd == mach_o.LC_BUILD_VERSION:
            minos = _version(body.minos)
        elif command.cmd == mach_o.LC_VERSION_MIN_MACOSX:
            minos = _version(body.version)
        elif command.cmd == mach_o.LC_CODE_SIGNATURE:
            signed = body.datasize > 0
    table = SymbolTable(macho, header)
    exported = frozenset(_unprefixed(n.decode("utf-8", "replace")) for _, n in table.extdefsyms)
    undefined = frozenset(_unprefixed(n.decode("utf-8", "replace")) for _, n in table.undefsyms)
    return MachOSlice(header.header.cputype, minos, tuple(dylibs), exported, undefined, signed,
                      bool(header.header.flags & mach_o.MH_ALLOW_STACK_EXECUTION))


def _version(packed: int) -> Tuple[int, int]:
    """A Mach-O version number (xxxx.yy.zz as 16.8.8 bits) as (major, minor)."""
    return packed >> 16, (packed >> 8) & 0xFF


def _unprefixed(name: str) -> str:
    return name[1:] if name.startswith("_") else name


def _dotted(version: Tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def architecture_problems(facts: Sequence[MachOFacts], tag: MacTag, exact: bool = True
                          ) -> List[str]:
    """Where a binary lacks a slice of the tag's architectures (or, `exact`: holds any other
    or one of an unknown cputype: a wheel under a single tag), or a slice of those
    architectures needs a newer macOS than the tag allows for it (`MacTag.minos`), or carries
    no minos at all. A wheel of several tags (maturin's x86_64.arm64.universal2) is read
    with `exact` off, tag by tag: a Mac loads the slice it runs."""
    wanted = {a.name for a in tag.arches}
    found = []
    for binary in facts:
        have = [s.architecture for s in binary.slices]
        names = {a.name for a in have if a is not None}
        described = ", ".join(s.describe() for s in binary.slices)
        if not wanted <= names or (exact and (None in have or names != wanted)):
            found.append(f"{binary.name} holds {described}, not "
                         f"{' + '.join(a.macos.plat_arch for a in tag.arches)} "  # type: ignore
                         f"as {tag.plat} says: a Mac would refuse to load it "
                         f"(\"incompatible architecture\")")
            continue
        for piece in binary.slices:
            arch = piece.architecture
            if arch is None or arch.name not in wanted:
                continue
            limit = tag.minos(arch)
            if piece.minos is None or piece.minos > limit:
                found.append(f"{binary.name}'s {piece.describe()} needs a newer macOS than "
                             f"{_dotted(limit)}, which {tag.plat} promises; build with "
                             f"that deployment target")
    return found


def library_problems(facts: Sequence[MachOFacts]) -> List[str]:
    """Where a binary loads a library that is not macOS's own (anything outside /usr/lib and
    /System/Library: Homebrew's /opt/homebrew, /usr/local, a bundled @rpath one): a static
    wheel needs none. A shared OpenSSL, even the system's, is refused by the common rules."""
    found = []
    for binary in facts:
        extra = [d for d in binary.needed if not d.startswith(SYSTEM_LIBRARY_DIRS)]
        if extra:
            found.append(f"{binary.name} loads {', '.join(extra)}: a static wheel loads only "
                         f"macOS's own libraries ({', '.join(SYSTEM_LIBRARY_DIRS)})")
    return found


def export_problems(facts: Sequence[MachOFacts], suffixes: Sequence[str] = (".so",)
                    ) -> List[str]:
    """Where an extension module (a binary named `<name>.<tags>.so`, or `<name>.so`) does not
    export its PyInit_<name>: Python could not import it (CPython 3.8's headers mark no
    visibility, so a module compiled -fvisibility=hidden hides it)."""
    found = []
    for binary in facts:
        base = PurePosixPath(binary.name).name
        if not base.endswith(tuple(suffixes)) or base.startswith("lib"):
            continue
        wanted = f"PyInit_{base.split('.')[0]}"
        if wanted not in binary.exported:
            found.append(f"{binary.name} does not export {wanted}: Python cannot import it")
    return found


def signature_problems(facts: Sequence[MachOFacts]) -> List[str]:
    """Where an arm64 slice carries no code signature: macOS on Apple silicon kills a process
    that maps unsigned arm64 code (an ad-hoc signature suffices)."""
    return [f"{binary.name}'s {piece.describe()} carries no code signature: Apple silicon "
            f"refuses to run it"
            for binary in facts for piece in binary.slices
            if piece.architecture is not None and piece.architecture.name == "aarch64"
            and not piece.signed]
