"""Repair a built wheel with the platform's tool (auditwheel on Linux), and check it ourselves
before and after: auditwheel would happily graft the system's libcrypto into the wheel and
call that a success. The rules are the same on every platform; the platform module reads the
binaries and knows its names."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import FrozenSet, List, Mapping, Optional, Sequence, Tuple

from packaging.utils import parse_wheel_filename

from builder.context import RunContext
from builder.errors import CheckFailed, InputError
from builder.build_env import build_host_paths
from builder.link_proof import LinkAudit, prove
from builder.openssl import OpenSSLBuild
from builder.platforms import BinaryFacts, Platform
from builder.target import Target


@dataclass(frozen=True)
class RepairedWheel:
    """A wheel the platform's repair tool made and the builder's checks passed: its path, its
    platform tag, and the facts read from each of its binaries."""

    path: Path
    tag: str  # the platform part, e.g. manylinux_2_34_x86_64
    binaries: Tuple[BinaryFacts, ...]
    checks: Tuple[str, ...] = ()  # what the checks proved, one sentence each
    sbom: Optional[str] = None  # the member holding the builder's SBOM, once written


def problems(platform: Platform, elves: Sequence[BinaryFacts], openssl_version: str,
             openssl_symbols: FrozenSet[str] = frozenset(),
             uses_openssl: Optional[Mapping[str, bool]] = None) -> List[str]:
    """Every way the wheel's binaries (extension modules, executables, bundled libraries
    alike) break the static-wheel rules; empty when they hold.

    `openssl_symbols`: the globals the static OpenSSL defines; a binary exporting any of them
    could be interposed by (or hijack) another libcrypto in the process, and one leaving any
    of them undefined would take them from the process at run time.
    `uses_openssl`: for the binaries this build linked, whether the linker took OpenSSL objects
    (link_proof); such a binary must carry exactly the pinned version text, any other none.
    A binary not in it (a library auditwheel grafted, or a wheel built elsewhere) is held to
    what it carries: no version text, or exactly the pinned one."""
    uses = dict(uses_openssl or {})
    found = []
    for elf in elves:
        shared = [n for n in elf.needed if platform.shared_openssl.search(n)]
        if shared:
            found.append(f"{elf.name} needs the shared {', '.join(shared)} "
                         f"(it must link the static OpenSSL)")
        leaked = sorted(elf.exported & openssl_symbols)
        if leaked:
            found.append(f"{elf.name} exports {len(leaked)} OpenSSL symbols "
                         f"({', '.join(leaked[:3])}, ...)")
        left = sorted(elf.undefined & openssl_symbols)
        if left:
            found.append(f"{elf.name} leaves {len(left)} OpenSSL symbols undefined "
                         f"({', '.join(left[:3])}, ...): the process would supply them at run "
                         f"time, from whatever libcrypto it has loaded")
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


# A package that opens a shared OpenSSL itself (dlopen, ctypes) at run time: the names it asks
# for, in a Python file's source (in a binary's strings: the platform's `loads_in_binary`).
_LOADS_IN_PYTHON = re.compile(
    r"""(?:find_library|CDLL|cdll\.LoadLibrary|LoadLibrary|dlopen)\(\s*b?['"]"""
    r"""(?:lib)?(?:crypto|ssl|eay32|ssleay32)\b""")


def shared_openssl_loads(platform: Platform, wheel: Path) -> List[str]:
    """Where a wheel's own code loads a shared libcrypto/libssl by name at run time, which no
    static build can serve: `member opens name` or `member loads it with ...`."""
    found = []
    needed = {facts.name: set(facts.needed) for facts in platform.inspect_wheel(wheel)}
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            data = archive.read(member)
            if member in needed:
                names = {m.group(0).decode() for m in platform.loads_in_binary.finditer(data)}
                names -= needed[member]
                found += [f"{member} opens {name}" for name in sorted(names)]
            elif member.endswith((".py", ".pth")):  # a .pth line runs at every start
                match = _LOADS_IN_PYTHON.search(data.decode("utf-8", "replace"))
                if match:
                    found.append(f"{member} loads it with {match.group(0)}...")
    return found


def refuse_shared_openssl_loads(platform: Platform, wheel: Path) -> None:
    """Raise InputError when the wheel's own code loads a shared OpenSSL at run time."""
    loads = shared_openssl_loads(platform, wheel)
    if loads:
        raise InputError(f"{wheel.name} loads a shared OpenSSL at run time ({'; '.join(loads)})"
                         f": a static wheel cannot serve it; build this package against the "
                         f"system's OpenSSL instead")


def refuse_libraries_bringing_openssl(platform: Platform, wheel: Path, scratch: Path,
                                      package: str, log: Path) -> None:
    """Raise InputError, in one sentence, when the wheel needs a library of the build host
    that loads the system's OpenSSL (psycopg2's libpq); the chains go to `log`."""
    found = platform.libraries_bringing_openssl(wheel, scratch)
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


def check_wheel(platform: Platform, wheel: Path, openssl_version: str, when: str,
                openssl_symbols: FrozenSet[str] = frozenset(),
                uses_openssl: Optional[Mapping[str, bool]] = None) -> List[BinaryFacts]:
    """Inspect every binary of the wheel and raise CheckFailed naming every broken rule
    (`problems`); return the facts read."""
    elves = list(platform.inspect_wheel(wheel))
    broken = problems(platform, elves, openssl_version, openssl_symbols, uses_openssl)
    if broken:
        raise CheckFailed(f"{wheel.name} {when}: {'; '.join(broken)}")
    return elves


def checks_passed(platform: Platform, facts: Sequence[BinaryFacts], tag: str,
                  openssl_version: str, symbols_known: bool) -> List[str]:
    """What `check_wheel` and the platform's checks proved of the wheel's binaries, one
    sentence each; the exports of OpenSSL's symbols only where they were known
    (`symbols_known`: a build of this builder, not a wheel from elsewhere)."""
    count = f"{len(facts)} {platform.binary_format} binar{'y' if len(facts) == 1 else 'ies'}"
    found = [f"{count} read",
             "none needs a shared OpenSSL or asks for an executable stack",
             f"every one that carries OpenSSL's version text carries exactly "
             f"{openssl_version}'s"]
    if symbols_known:
        found.append("none exports a symbol the static OpenSSL defines, or leaves one "
                     "undefined")
    return [*found, *platform.checks_passed(facts, tag)]


def static_checks(platform: Platform, wheel: Path, openssl_version: str
                  ) -> Tuple[List[BinaryFacts], List[str]]:
    """The checks that need no interpreter, for a finished wheel (built here or not): the
    static-wheel rules and the platform's, under the wheel's own tag. Returns the facts read
    and what they proved; raises CheckFailed naming every broken rule."""
    facts = check_wheel(platform, wheel, openssl_version, "as published")
    tag = platform_tag(wheel)
    platform.check_platform(facts, tag, "as published", wheel.name)
    return facts, checks_passed(platform, facts, tag, openssl_version, symbols_known=False)


def build_paths_in(wheel: Path, paths: Sequence[Path]) -> List[str]:
    """`member holds /path` for every build-host directory (as bytes, followed by either
    separator: Windows' `\\` or `/`; as given and as its real path) found in any file of the
    wheel, compressed or not; empty when none is."""
    names = {name.rstrip("/\\") for p in paths for name in (str(p), str(Path(p).resolve()))}
    needles = {name + sep: name for name in names if len(name) > 1 for sep in ("/", "\\")}
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


def repair(platform: Platform, wheel: Path, openssl: OpenSSLBuild, ctx: RunContext,
           outdir: Path, target: Target, audit: Optional[LinkAudit] = None) -> RepairedWheel:
    """Prove from the link audit which OpenSSL each binary holds, check, run the platform's
    repair tool (for the host, or --plat), check again. Raises CheckFailed (or InputError for
    a package that cannot carry a static OpenSSL) naming the rule broken; CommandFailed when
    the repair tool fails."""
    symbols = openssl.defined_symbols()
    refuse_shared_openssl_loads(platform, wheel)
    package = wheel.name.split("-")[0]
    log = ctx.log(f"repair-{wheel.name}")
    refuse_libraries_bringing_openssl(platform, wheel, outdir.parent / f"needed-{outdir.name}",
                                      package, log)
    uses = None
    # The link maps are ELF linkers' (GNU ld, lld): a PE binary is matched to no link and held
    # to its own version text, imports and exports (zig's COFF linker writes no map).
    if audit is not None:
        uses = prove(wheel, audit, openssl, outdir.parent, ctx.log(f"link-proof-{wheel.name}"))
    facts = check_wheel(platform, wheel, openssl.version, "before repair", symbols, uses)
    if target.plat:
        platform.check_platform(facts, target.plat, f"cannot be {target.plat}", wheel.name)
    made = platform.repair_tool(wheel, outdir, target, log, ctx)
    facts = check_wheel(platform, made, openssl.version, "after repair", symbols, uses)
    # The cache as the build saw it (with --sccache, a link to it) and as it is.
    check_no_build_paths(made, [*(path for path, _ in build_host_paths(outdir.parent, ctx.cache)),
                                ctx.settings.cache_dir])
    tag = platform_tag(made)
    platform.check_platform(facts, tag, "after repair", made.name)
    if target.plat:
        platform.check_tag_within(tag, target.plat, made.name)
    proved = checks_passed(platform, facts, tag, openssl.version, symbols_known=True)
    proved.append("names no directory of the build host")
    return RepairedWheel(made, tag, tuple(facts), tuple(proved))


def platform_tag(wheel: Path) -> str:
    """The platform part of a wheel's file name: manylinux_2_17_x86_64.manylinux2014_x86_64."""
    _, _, _, tags = parse_wheel_filename(wheel.name)
    return ".".join(sorted({tag.platform for tag in tags}, key=wheel.name.index))
