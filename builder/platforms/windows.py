"""The Windows platform: wheels of PE binaries (.pyd), cross-built on Linux with zig for
`x86_64-windows-gnu` (the UCRT), repaired with delvewheel (which must find nothing to graft),
checked with pefile, smoke-tested in python.org's embeddable CPython under wine (win_amd64;
no 32-bit or arm64 Windows CPython is reachable from a Linux host)."""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
import zipfile
import zlib
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from auditwheel.tools import dir2zip, zip2dir
from auditwheel.wheeltools import rewrite_record
from packaging.tags import Tag
from packaging.utils import parse_wheel_filename

from builder.architectures import windows_architecture
from builder.context import RunContext
from builder.errors import BuilderError, CheckFailed, InputError
from builder.interpreters import Interpreter, TargetPython, discover, find_interpreters
from builder.openssl import OpenSSLBuild
from builder.platforms import pe
from builder.platforms.elf import is_elf
from builder.platforms.pe import PeFacts
from builder.platforms.wine import EMBEDDABLE, find_wine, windows_python
from builder.platforms.zig import zig, zig_executable
from builder.releases import Release
from builder.runner import call, capture
from builder.target import Target
from builder.toolchain import Toolchain, require_tools

# A shared OpenSSL as a PE import names it: libcrypto-3.dll, libssl-3-x64.dll,
# libcrypto-1_1-x64.dll, and the 1.0 names libeay32.dll, ssleay32.dll.
SHARED_OPENSSL = re.compile(r"^(lib(ssl|crypto)(-[\w.-]+)?|(lib|ssl)eay32)\.dll$", re.IGNORECASE)
# The same names inside a binary's strings: what a LoadLibrary() would ask for.
LOADS_IN_BINARY = re.compile(rb"(?i)\b(?:lib(?:crypto|ssl)(?:-[0-9_]+(?:-x64|-arm64)?)?"
                             rb"|(?:lib|ssl)eay32)\.dll\b")

# The names under which Windows loads a binary of a wheel: modules, libraries, programs.
_PE_SUFFIXES = (".pyd", ".dll", ".exe")
# The first OpenSSL release with a mingw target for arm64 (`mingwarm64`).
_MINGW_ARM64_SINCE = (4, 0)


class WindowsPlatform:
    """builder.platforms.Platform for Windows: see that protocol for each method."""

    name = "windows"
    binary_format = "PE"
    shared_openssl = SHARED_OPENSSL
    loads_in_binary = LOADS_IN_BINARY

    def require_build_tools(self, target: Target) -> None:
        """Before any download: perl and make for OpenSSL's Configure, LLVM's objcopy, nm and
        readobj (COFF objects), and wine where the wheel can run here (win_amd64). Raises InputError
        naming the package to install."""
        require_tools(["perl", "make", "llvm-objcopy", "llvm-nm", "llvm-readobj"])
        if target.arch.name == "x86_64":
            find_wine()

    def check_release(self, target: Target, release: Release) -> None:
        """Raise InputError where the OpenSSL release has no mingw target for the
        architecture (arm64 before 4.0)."""
        assert target.arch.windows is not None
        version = tuple(int(n) for n in re.findall(r"\d+", release.version)[:2])
        if target.arch.windows.mingw_openssl_target == "mingwarm64" and \
                version < _MINGW_ARM64_SINCE:
            raise InputError(f"OpenSSL {release.version} has no mingw target for arm64 "
                             f"(mingwarm64 arrived in 4.0): use --openssl 4.0 or newer for "
                             f"{target.plat}, or build natively on Windows with MSVC "
                             f"(VC-WIN64-ARM)")

    def check_openssl(self, build: OpenSSLBuild, target: Target) -> None:
        """Every object of the static OpenSSL is a COFF object of the target's machine
        (llvm-readobj's Format): the OpenSSL target comes from the wheel's platform tag, and
        this proves it before any extension links it. Raises CheckFailed with the Win32
        error's sentence otherwise."""
        facts = target.arch.windows
        assert facts is not None
        archives = [build.lib_dir / name for name in ("libcrypto.a", "libssl.a")]
        found = re.findall(r"^Format: (\S+)$", capture(["llvm-readobj", "--file-headers",
                                                         *archives]), re.M)
        wrong = sorted(set(found) - {facts.coff_format})
        if not found or wrong:
            raise CheckFailed(
                f"the static OpenSSL in {build.lib_dir} holds {', '.join(wrong) or 'no'} "
                f"objects, not {facts.coff_format} ones for {target.plat}: an extension "
                f"linking "
                f"it would not load in a {target.arch.name} process (\"{pe.WIN32_ERROR}\"); "
                f"remove that build from the cache and build again")

    def toolchain(self, target: Target, ctx: RunContext) -> Toolchain:
        """zig cc for the target's mingw triple (x86_64-windows-gnu). Raises BuilderError
        where the pinned zig cannot be fetched."""
        return zig(ctx.store, ctx.settings.index_url, target)

    def hide_openssl_flags(self, build: OpenSSLBuild, toolchain: Optional[Toolchain],
                           scratch: Path) -> str:
        """None needed: a DLL exports only what is marked dllexport (PyInit_*), and the
        checks prove it."""
        return ""

    def inspect_wheel(self, wheel: Path) -> List[PeFacts]:
        """The facts of every PE file in the wheel (pefile). Raises CheckFailed for one it
        cannot read, for a Linux binary (ELF: a compile that escaped zig) and for a PE file
        Windows would not load by its name (only .pyd, .dll and .exe)."""
        misplaced = []
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                data = archive.read(member)
                if is_elf(data):
                    misplaced.append(f"{member} is a Linux (ELF) binary")
                elif pe.is_pe(data) and not member.lower().endswith(_PE_SUFFIXES):
                    misplaced.append(f"{member} is a Windows binary not named "
                                     f"{', '.join(_PE_SUFFIXES)}")
        if misplaced:
            raise CheckFailed(f"{wheel.name} is no Windows wheel as built: "
                              f"{'; '.join(misplaced)}")
        return pe.inspect_wheel(wheel)

    def wheel_binaries(self, wheel: Path):  # type: ignore[no-untyped-def]
        """(member, bytes) of every PE file in the wheel, in archive order."""
        return pe.wheel_binaries(wheel)

    def is_binary(self, data: bytes) -> bool:
        """Whether `data` starts a PE file."""
        return pe.is_pe(data)

    def libraries_bringing_openssl(self, wheel: Path, scratch: Path
                                   ) -> List[Tuple[str, str, List[str]]]:
        """None to follow: every DLL a binary imports beyond Windows' own and the
        interpreter's is refused outright (`check_platform`)."""
        return []

    def check_platform(self, facts: Sequence[PeFacts], tag: str, when: str,
                       wheel: str) -> None:
        """Every binary of the tag's machine type (else the Win32 error), importing only
        Windows' DLLs and those of the interpreters the wheel's tags name (`wheel`: its file
        name), and every .pyd exporting only PyInit_*. Raises CheckFailed naming every
        violation."""
        broken: List[str] = []
        _, _, _, tags = parse_wheel_filename(wheel)
        for part in tag.split("."):
            arch = windows_architecture(part)
            if arch is None:
                broken.append(f"{part} is not a Windows platform tag")
                continue
            broken += pe.machine_problems(facts, arch, part)
            broken += pe.import_problems(facts, arch, tags)
        broken += pe.export_problems(facts)
        if broken:
            raise CheckFailed(f"{wheel} {when}: {'; '.join(dict.fromkeys(broken))}")

    def check_tag_within(self, tag: str, plat: str, wheel: str) -> None:
        """The repaired wheel is tagged exactly the platform asked for. Raises CheckFailed."""
        if tag != plat:
            raise CheckFailed(f"{wheel} was tagged {tag}, not the {plat} asked for")

    def finish_build(self, wheel: Path, scratch: Path, source_date_epoch: int) -> None:
        """setuptools names an abi3 module by the build host's suffix (`name.abi3.so`);
        Windows imports `name.pyd`: such modules are renamed in the wheel (RECORD rewritten
        with auditwheel's tools)."""
        with zipfile.ZipFile(wheel) as archive:
            wrong = [n for n in archive.namelist()
                     if n.endswith(".abi3.so") and pe.is_pe(archive.read(n))]
        if not wrong:
            return
        folder = scratch / f"renamed-{wheel.stem}"
        zip2dir(wheel, folder)
        for name in wrong:
            (folder / name).rename(folder / (name[:-len(".abi3.so")] + ".pyd"))
        rewrite_record(folder)
        when = dt.datetime.fromtimestamp(source_date_epoch, tz=dt.timezone.utc)
        dir2zip(folder, wheel, zlib.Z_DEFAULT_COMPRESSION, when)

    def repair_tool(self, wheel: Path, outdir: Path, target: Target, log: Path,
                    source_date_epoch: int) -> Path:
        """`delvewheel repair` into `outdir`; returns the wheel it made. A static wheel needs
        no DLL but Windows' and the interpreter's: anything delvewheel grafts is refused.
        Raises CommandFailed, or CheckFailed where it grafted a DLL."""
        call([sys.executable, "-m", "delvewheel", "show", wheel], log=log,
             what=f"delvewheel show of {wheel.name}")
        before = set(outdir.glob("*.whl"))
        call([sys.executable, "-m", "delvewheel", "repair", "--wheel-dir", outdir, wheel],
             log=log, what=f"delvewheel repair of {wheel.name}",
             env=_tool_env(source_date_epoch))
        made = sorted(set(outdir.glob("*.whl")) - before)
        if len(made) != 1:
            raise BuilderError(f"delvewheel repair of {wheel.name} made {len(made)} wheels",
                               log=log)
        grafted = grafted_dlls(wheel, made[0])
        if grafted:
            raise CheckFailed(f"delvewheel grafted {', '.join(grafted)} into {wheel.name}: a "
                              f"static wheel needs no DLL but Windows' and the interpreter's; "
                              f"see {log}", log=log)
        return made[0]

    def target_pythons(self, target: Target, interpreters: Sequence[Interpreter],
                       full_smoke: bool, ctx: RunContext) -> List[TargetPython]:
        """For each build interpreter (this host's CPython), the Windows CPython of the same
        version the wheel is built for: python.org's embeddable one under wine for win_amd64;
        for win32 and win_arm64 the headers and import libraries alone (made from the x64
        DLL's exports: the names are the same), and no smoke test. Raises InputError for
        --smoke full (the package's suite runs natively only) or a version not pinned."""
        if full_smoke:
            raise InputError(f"--smoke full runs the package's test suite natively; for "
                             f"{target.plat} wheels built here use --smoke basic")
        zig = zig_executable(ctx.store, ctx.settings.index_url)
        return [TargetPython(interpreter, windows_python(
            interpreter, target.arch, ctx.store, ctx.settings.index_url,
            ctx.settings.debian_mirror, zig)) for interpreter in interpreters]

    def smoke_python(self, wheel: Path, spec: Optional[str], ctx: RunContext) -> TargetPython:
        """The pinned Windows CPython of `spec`'s version (a version such as 3.13, or a host
        interpreter whose version it takes), under wine; by default the newest pinned version
        the wheel's tags accept that a host CPython of the same version can install for.
        Raises InputError where there is none; CheckFailed where a binary of the wheel is of
        another machine type than its tag (the Win32 error, before anything runs)."""
        _, _, _, tags = parse_wheel_filename(wheel.name)
        arch = next((windows_architecture(t.platform) for t in tags
                     if windows_architecture(t.platform)), None)
        if arch is None:
            raise InputError(f"{wheel.name} is not tagged for a Windows platform")
        assert arch.windows is not None
        wrong = pe.machine_problems(pe.inspect_wheel(wheel), arch, arch.windows.plat)
        if wrong:
            raise CheckFailed(f"{wheel.name} cannot run: {'; '.join(wrong)}")
        if spec is not None:
            build = find_interpreters([spec])[0]
        else:
            accepted = [v for v in sorted(EMBEDDABLE, reverse=True)
                        if any(_accepts(t, v) for t in tags)]
            hosts = {tuple(i.version[:2]): i for i in discover()}
            build = next((hosts[v] for v in accepted if v in hosts), None)
            if build is None:
                pinned = ", ".join(map(_dotted, EMBEDDABLE))
                raise InputError(f"no pinned Windows CPython ({pinned}) accepts {wheel.name} "
                                 f"with a CPython of the same version on this host; pass "
                                 f"--python VERSION")
        zig = zig_executable(ctx.store, ctx.settings.index_url)
        return TargetPython(build, windows_python(build, arch, ctx.store, ctx.settings.index_url,
                                                  ctx.settings.debian_mirror, zig))

    def venv_python(self, venv: Path) -> Path:
        """The interpreter of a virtualenv made on Windows."""
        return venv / "Scripts" / "python.exe"


def _dotted(version: Tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def _accepts(tag: Tag, version: Tuple[int, int]) -> bool:
    """Whether CPython `version` installs a wheel of `tag` (cp313-cp313, cp311-abi3, py3-none)."""
    nodot = f"{version[0]}{version[1]}"
    if tag.abi == "abi3" and tag.interpreter.startswith("cp"):
        return version >= (int(tag.interpreter[2]), int(tag.interpreter[3:]))
    return tag.interpreter in (f"cp{nodot}", "py3", f"py{nodot}")


def grafted_dlls(built: Path, repaired: Path) -> List[str]:
    """The DLLs the repaired wheel holds that the built one did not: what delvewheel grafted
    (into `<name>.libs/`, or beside the modules of a namespace package)."""
    def dlls(wheel: Path) -> set:
        with zipfile.ZipFile(wheel) as archive:
            return {n for n in archive.namelist() if n.lower().endswith(".dll")}
    return sorted(dlls(repaired) - dlls(built))


def _tool_env(source_date_epoch: int) -> dict:
    return {**os.environ, "SOURCE_DATE_EPOCH": str(source_date_epoch)}


WINDOWS = WindowsPlatform()
