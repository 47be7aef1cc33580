"""PE binaries (.pyd, .dll, .exe), read with pefile: what the checks of a Windows wheel need to
know of each binary it holds, and the rules only Windows has (machine type, imported DLLs)."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import FrozenSet, Iterable, Iterator, List, Optional, Sequence, Tuple

import pefile
from packaging.tags import Tag
from delvewheel import _dll_list

from builder.architectures import Architecture, pe_architecture
from builder.errors import CheckFailed
from builder.platforms.wheelfiles import binary_members
from builder.probe import is_binary, openssl_versions_in

_PE32_PLUS = 0x20B  # IMAGE_NT_OPTIONAL_HDR64_MAGIC

# What Windows itself says when a process loads a DLL of another machine type; every Python
# user who met it met it as `ImportError: DLL load failed while importing _ssl`.
WIN32_ERROR = "%1 is not a valid Win32 application"


def is_pe(data: bytes) -> bool:
    """Whether `data` (a file's bytes) is a PE image (.pyd, .dll, .exe): the smoke test's
    own test, which the target interpreter runs too, less ELF."""
    return data[:2] == b"MZ" and is_binary(data)


def wheel_binaries(wheel: Path) -> Iterator[Tuple[str, bytes]]:
    """(member name, bytes) of every PE file in the wheel, in archive order, read once."""
    return binary_members(wheel, is_pe)


@dataclass(frozen=True)
class PeFacts:
    """What the checks need to know of one PE file inside a wheel."""

    name: str  # path inside the wheel
    needed: Tuple[str, ...]  # the DLLs it imports (delay-loaded too), as its tables name them
    openssl_versions: Tuple[str, ...]  # versions of the OpenSSL version texts embedded
    exported: FrozenSet[str]  # the names its export table lists
    machine: int  # the PE header's Machine: 0x8664 x86-64, 0x14c i386, 0xaa64 arm64
    pe32_plus: bool  # PE32+ (64-bit) rather than PE32
    executable_stack: bool = False  # a Linux notion: a PE file has no such header
    # A PE link leaves nothing to the process: every import names its DLL.
    undefined: FrozenSet[str] = frozenset()

    @property
    def architecture(self) -> Optional[Architecture]:
        """The builder's architecture of its machine type; None for one unknown here."""
        return pe_architecture(self.machine)

    def describe(self) -> str:
        """`name: PE32+ x86_64; OpenSSL 3.0.22`."""
        return (f"{self.name}: {self.describe_machine()}; "
                f"OpenSSL {', '.join(self.openssl_versions) or 'none'}")

    def describe_machine(self) -> str:
        """`PE32+ x86_64`, `PE32 i686`, or the raw machine number for an unknown one."""
        arch = self.architecture
        return f"{'PE32+' if self.pe32_plus else 'PE32'} " \
               f"{arch.name if arch else hex(self.machine)}"


def inspect_wheel(wheel: Path) -> List[PeFacts]:
    """The facts of every PE file in the wheel. Raises CheckFailed for one pefile cannot read."""
    return [inspect_pe(member, data) for member, data in wheel_binaries(wheel)]


def inspect_pe(name: str, data: bytes) -> PeFacts:
    """The facts of one PE file (`name`: its path inside the wheel), from its headers, import
    and delay-import directories and export directory. Raises CheckFailed for bytes pefile cannot read."""
    try:
        pe = pefile.PE(data=data, fast_load=True)
        pe.parse_data_directories(directories=[
            pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"],
            pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT"],
            pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXPORT"]])
    except pefile.PEFormatError as exc:
        raise CheckFailed(f"{name} is not a readable PE file ({exc})") from exc
    # Delay-loaded DLLs are loaded all the same, at their first call.
    needed = tuple(dict.fromkeys(
        entry.dll.decode("ascii", "replace")
        for entry in [*getattr(pe, "DIRECTORY_ENTRY_IMPORT", []),
                      *getattr(pe, "DIRECTORY_ENTRY_DELAY_IMPORT", [])]))
    exports = getattr(pe, "DIRECTORY_ENTRY_EXPORT", None)
    exported = frozenset(s.name.decode("ascii", "replace")
                         for s in (exports.symbols if exports else []) if s.name)
    return PeFacts(name, needed, tuple(openssl_versions_in(data)), exported,
                   pe.FILE_HEADER.Machine, pe.OPTIONAL_HEADER.Magic == _PE32_PLUS)


def machine_problems(facts: Sequence[PeFacts], arch: Architecture, plat: str) -> List[str]:
    """Every binary of another machine type than the wheel's platform tag (`plat`, of `arch`)
    asks for: Windows refuses to load it with the Win32 error. Empty when all match."""
    assert arch.windows is not None
    wanted = arch.windows.pe_machine
    return [f"{f.name} is {f.describe_machine()}, but a {plat} wheel runs in a {arch.name} "
            f"process, where Windows refuses to load it (\"{WIN32_ERROR}\", the \"DLL load "
            f"failed\" ImportError); build it for {arch.name}, with the OpenSSL of that "
            f"architecture" for f in facts if f.machine != wanted]


def is_system_dll(name: str, arch: Architecture) -> bool:
    """Whether a DLL comes with Windows itself (the UCRT's api-ms-win-crt-* included), by
    delvewheel's own list of system DLLs for that machine type."""
    lowered = name.lower()
    assert arch.windows is not None
    machine = _dll_list.MachineType.machine_field_to_type(arch.windows.pe_machine)
    names = _dll_list.ignore_names.get(machine, set()) if machine else set()
    return lowered in names or any(pattern.fullmatch(lowered) and "python" not in pattern.pattern
                                   for pattern in _dll_list.ignore_regexes)


# An interpreter's own DLL: python313.dll, python3.dll (abi3), python313t.dll.
_PYTHON_DLL = re.compile(r"python3\d*t?\.dll", re.IGNORECASE)


def interpreter_dlls(tags: Iterable[Tag]) -> FrozenSet[str]:
    """The DLLs (lower case) the interpreters a wheel's tags name load for its modules: the
    stable ABI's python3.dll for abi3, pythonXY.dll for cpXY, and the Visual C++ runtime
    python.org ships beside each (delvewheel's own data, by ABI and platform)."""
    found = set()
    for tag in tags:
        if tag.abi == "abi3":
            found.add("python3.dll")
            table, key = _dll_list.ignore_abi3, f"{tag.interpreter}-{tag.platform}"
        elif tag.abi.startswith("cp"):
            found.add(f"python{tag.abi[2:]}.dll")
            table, key = _dll_list.ignore_by_abi_platform, f"{tag.abi}-{tag.platform}"
        else:
            continue
        found.update(n for pattern, names in table.items() if re.fullmatch(pattern, key)
                     for n in names)
    return frozenset(found)


def import_problems(facts: Sequence[PeFacts], arch: Architecture,
                    tags: Iterable[Tag]) -> List[str]:
    """Every DLL a binary imports beyond those of the interpreters the wheel's `tags` name
    (`interpreter_dlls`) and Windows' own (delvewheel's list, the UCRT included): a static
    wheel needs nothing else, a libcrypto/libssl DLL would be the system's, not the pinned
    one, and another interpreter's DLL fails to load (an abi3 module importing python313.dll
    runs on 3.13 alone). Empty when none is."""
    tags = list(tags)
    allowed = interpreter_dlls(tags)
    found = []
    for f in facts:
        for name in f.needed:
            if name.lower() in allowed or is_system_dll(name, arch):
                continue
            if _PYTHON_DLL.fullmatch(name):
                wanted = ", ".join(sorted(n for n in allowed if _PYTHON_DLL.fullmatch(n)))
                found.append(f"{f.name} imports {name}, but the wheel's tags name interpreters "
                             f"that load {wanted or 'no python DLL'}: an abi3 module must use "
                             f"the stable ABI alone (define Py_LIMITED_API) and import "
                             f"python3.dll")
            else:
                found.append(f"{f.name} imports {name}, which neither Windows nor the "
                             f"interpreter provides")
    return found


def extra_exports(facts: Sequence[PeFacts], allowed: Sequence[str] = ()) -> List[str]:
    """The names extension modules (.pyd) export besides PyInit_* and the fnmatch patterns
    `allowed` (a recipe's module_exports), sorted."""
    return sorted({n for f in facts if f.name.lower().endswith(".pyd") for n in f.exported
                   if not n.startswith("PyInit_")
                   and not any(fnmatch.fnmatchcase(n, p) for p in allowed)})


def export_problems(facts: Sequence[PeFacts], allowed: Sequence[str] = ()) -> List[str]:
    """Every extension module (.pyd) that exports more than its PyInit_* function and the
    names `allowed` (fnmatch patterns: functions the package's own Python code calls through
    ctypes): OpenSSL's functions must stay inside it. Empty when none does."""
    found = []
    for f in facts:
        extra = extra_exports([f], allowed)
        if extra:
            found.append(f"{f.name} exports {len(extra)} name{'s' * (len(extra) != 1)} "
                         f"besides PyInit_* "
                         f"({', '.join(extra[:3])}, ...)")
    return found
