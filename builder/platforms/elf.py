"""ELF binaries, read with pyelftools: what the checks of a Linux wheel need to know of each
shared object and executable it holds."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, FrozenSet, Iterator, List, Tuple

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection, GNUVerSymSection

from builder.errors import CheckFailed
from builder.platforms.wheelfiles import binary_members
from builder.probe import openssl_versions_in

MAGIC = b"\x7fELF"
_PT_GNU_STACK = "PT_GNU_STACK"
_PF_X = 0x1


def is_elf(data: bytes) -> bool:
    """Whether `data` (a file's bytes, or at least its first four) is an ELF file."""
    return data[:4] == MAGIC


def wheel_binaries(wheel: Path) -> Iterator[Tuple[str, bytes]]:
    """(member name, bytes) of every ELF file in the wheel, in archive order, read once."""
    return binary_members(wheel, is_elf)


@dataclass(frozen=True)
class ElfFacts:
    """What the checks need to know of one ELF file inside a wheel."""

    name: str  # path inside the wheel
    needed: Tuple[str, ...]
    openssl_versions: Tuple[str, ...]  # versions of the OpenSSL version texts embedded
    executable_stack: bool
    is_extension: bool  # exports a PyInit_* function
    exported: FrozenSet[str] = frozenset()  # defined dynamic symbols
    undefined: FrozenSet[str] = frozenset()  # dynamic symbols it leaves to the process
    # Symbol versions it needs ("GLIBC_2.17"), each with the undefined symbols that need it.
    versions_needed: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    machine: str = ""  # ELF e_machine, e.g. EM_AARCH64


    def describe(self) -> str:
        """`name: EM_X86_64, GLIBC_2.17 at most; OpenSSL 3.5.7`."""
        glibc = [n for n, _ in self.versions_needed if n.startswith("GLIBC_")]
        newest = max(glibc, key=lambda n: tuple(int(p) for p in n[6:].split(".")
                                                if p.isdigit()), default=None)
        return (f"{self.name}: {self.machine}{f', {newest} at most' if newest else ''}; "
                f"OpenSSL {', '.join(self.openssl_versions) or 'none'}")


def inspect_wheel(wheel: Path) -> List[ElfFacts]:
    """The facts of every ELF file in the wheel. Raises CheckFailed for one pyelftools cannot
    read."""
    return [inspect_elf(member, data) for member, data in wheel_binaries(wheel)]


def inspect_elf(name: str, data: bytes) -> ElfFacts:
    """The facts of one ELF file (`name`: its path inside the wheel). Raises CheckFailed for
    bytes pyelftools cannot read."""
    try:
        elf = ELFFile(io.BytesIO(data))
        needed = []
        exported: FrozenSet[str] = frozenset()
        undefined: FrozenSet[str] = frozenset()
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                needed += [t.needed for t in section.iter_tags() if t.entry.d_tag == "DT_NEEDED"]
            if section.name == ".dynsym":
                exported = frozenset(
                    s.name for s in section.iter_symbols()
                    if s.name and s["st_shndx"] != "SHN_UNDEF"
                    and s["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK")
                )
                undefined = frozenset(s.name for s in section.iter_symbols()
                                      if s.name and s["st_shndx"] == "SHN_UNDEF")
        stack = [seg for seg in elf.iter_segments() if seg["p_type"] == _PT_GNU_STACK]
        versions_needed = _versions_needed(elf)
    except ELFError as exc:
        raise CheckFailed(f"{name} is not a readable ELF file ({exc})") from exc
    # Without a PT_GNU_STACK header the loader gives the process an executable stack.
    executable_stack = not stack or bool(stack[0]["p_flags"] & _PF_X)
    exports_init = any(n.startswith("PyInit_") for n in exported)
    return ElfFacts(name, tuple(needed), tuple(openssl_versions_in(data)), executable_stack,
                    exports_init, exported, undefined, versions_needed, str(elf["e_machine"]))


def _versions_needed(elf: ELFFile) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
    verneed = elf.get_section_by_name(".gnu.version_r")
    versym = elf.get_section_by_name(".gnu.version")
    dynsym = elf.get_section_by_name(".dynsym")
    if not isinstance(verneed, GNUVerNeedSection):
        return ()
    names = {aux.entry["vna_other"]: aux.name
             for _, auxiliaries in verneed.iter_versions() for aux in auxiliaries}
    users: Dict[str, List[str]] = {name: [] for name in names.values()}
    if isinstance(versym, GNUVerSymSection) and dynsym is not None:
        for index, symbol in enumerate(dynsym.iter_symbols()):  # type: ignore[attr-defined]
            ndx = versym.get_symbol(index).entry["ndx"]
            if symbol["st_shndx"] == "SHN_UNDEF" and isinstance(ndx, int) \
                    and (ndx & 0x7FFF) in names:
                users[names[ndx & 0x7FFF]].append(symbol.name)
    return tuple((name, tuple(sorted(users[name]))) for name in sorted(users))
