"""The Windows platform: wheels of PE binaries (.pyd), cross-built on Linux with zig for
`x86_64-windows-gnu` (the UCRT), repaired with delvewheel (which must find nothing to graft),
checked with pefile, smoke-tested in python.org's embeddable CPython under wine (win_amd64;
no 32-bit or arm64 Windows CPython is reachable from a Linux host).

On Windows (a native target: `Target.zig` false) the same stages use MSVC from a developer
prompt (builder.platforms.msvc), OpenSSL's PowerShell recipe, and the smoke test runs in a
virtualenv of the target interpreter, whose architecture must be the tag's."""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import parse_wheel_filename

from builder.architectures import ARCHITECTURES, Architecture, windows_architecture
from builder.context import RunContext
from builder.errors import CheckFailed, InputError
from builder.interpreters import (Interpreter, TargetPython, discover, find_interpreter,
                                  find_interpreters)
from builder.openssl import OpenSSLBuild, static_archives
from builder.platforms import pe
from builder.platforms.elf import is_elf
from builder.platforms.msvc import msvc_toolchain, require_msvc_tools
from builder.platforms.pe import PeFacts
from builder.platforms.wheelfiles import platform_binaries, rewrite_wheel, run_repair_tool
from builder.platforms.wine import (EMBEDDABLE, embeddable_for, find_wine, source_for_pyconfig,
                                   windows_python)
from builder.platforms.zig import zig, zig_executable
from builder.cargo import check_rust_target
from builder.recipes import Recipe, recipe_for
from builder.releases import Release
from builder.runner import call, capture
from builder.target import Target, host_os, windows_interpreter_architecture
from builder.toolchain import Toolchain, require_tools

# A shared OpenSSL as a PE import names it: libcrypto-3.dll, libssl-3-x64.dll,
# libcrypto-1_1-x64.dll, and the 1.0 names libeay32.dll, ssleay32.dll.
SHARED_OPENSSL = re.compile(r"^(lib(ssl|crypto)(-[\w.-]+)?|(lib|ssl)eay32)\.dll$", re.IGNORECASE)
# The same names inside a binary's strings: what a LoadLibraryA() would ask for.
_LOADS_ASCII = rb"(?:lib(?:crypto|ssl)(?:-[0-9_]+(?:-x64|-arm64)?)?|(?:lib|ssl)eay32)\.dll"


class _AsciiOrWide:
    """A name pattern found in a binary's 8-bit strings or its UTF-16 ones (LoadLibraryW's
    L"libcrypto-3.dll"): `finditer` yields the matches of both, as 8-bit text."""

    def __init__(self, pattern: bytes) -> None:
        self._ascii = re.compile(rb"(?i)\b" + pattern + rb"\b")

    def finditer(self, data: bytes) -> Iterator["re.Match[bytes]"]:
        yield from self._ascii.finditer(data)
        for start in (0, 1):  # UTF-16LE strings at either alignment
            narrowed = data[start:].decode("utf-16-le", "replace").encode("latin-1", "replace")
            yield from self._ascii.finditer(narrowed)


LOADS_IN_BINARY = _AsciiOrWide(_LOADS_ASCII)

# The names under which Windows loads a binary of a wheel: modules, libraries, programs.
_PE_SUFFIXES = (".pyd", ".dll", ".exe")


class WindowsPlatform:
    """builder.platforms.Platform for Windows: see that protocol for each method."""

    name = "windows"
    binary_format = "PE"
    shared_openssl = SHARED_OPENSSL
    loads_in_binary = LOADS_IN_BINARY

    def require_build_tools(self, target: Target) -> None:
        """Before any download: perl and make for OpenSSL's Configure, LLVM's objcopy, nm and
        readobj (COFF objects), and wine where the wheel can run here (win_amd64); on
        Windows, MSVC's tools and perl (`require_msvc_tools`) and LLVM's. Raises InputError
        naming the package to install."""
        if not target.zig:
            require_msvc_tools()
            require_tools(["llvm-objcopy", "llvm-nm", "llvm-readobj"])
            return
        require_tools(["perl", "make", "llvm-objcopy", "llvm-nm", "llvm-readobj"])
        if target.arch.windows and target.arch.windows.runs_under_wine:
            find_wine()

    def check_release(self, target: Target, release: Release) -> None:
        """Raise InputError where the OpenSSL release has no mingw target for the
        architecture (arm64's `mingwarm64` arrived in 4.0); with MSVC every release builds."""
        facts = target.arch.windows
        assert facts is not None
        if not target.zig:
            return
        version = tuple(int(n) for n in re.findall(r"\d+", release.version)[:2])
        if version < facts.mingw_openssl_since:
            since = ".".join(map(str, facts.mingw_openssl_since))
            raise InputError(f"OpenSSL {release.version} has no mingw target for "
                             f"{target.arch.name} ({facts.mingw_openssl_target} arrived in "
                             f"{since}): use --openssl {since} or newer for {target.plat}, or "
                             f"build natively on Windows with MSVC "
                             f"({facts.msvc_openssl_target})")

    def check_package(self, package: str, recipe: Recipe, is_rust: bool,
                      target: Target) -> None:
        """Refused for Windows here: every Rust package, since this host's Rust has no mingw
        standard library (`rustup target add` is the remedy named), and even with one its link
        for Windows is not set up here. Raises InputError; natively on Windows they build
        with MSVC."""
        if is_rust and target.zig:
            natively = "natively on Windows, where it builds with MSVC"
            check_rust_target(package, str(target.rust_triple), natively)
            raise InputError(f"{package} is a Rust project: Rust's link for {target.plat} "
                             f"(zig as its linker) is not set up on this host; build it "
                             f"{natively}")

    def check_openssl(self, build: OpenSSLBuild, target: Target) -> None:
        """Every object of the static OpenSSL is a COFF object of the target's machine
        (llvm-readobj's Format): the OpenSSL target comes from the wheel's platform tag, and
        this proves it before any extension links it. Raises CheckFailed with the Win32
        error's sentence otherwise."""
        facts = target.arch.windows
        assert facts is not None
        found = re.findall(r"^Format: (\S+)$", capture(["llvm-readobj", "--file-headers",
                                                         *static_archives(build.lib_dir)]),
                           re.M)
        wrong = sorted(set(found) - {facts.coff_format})
        if not found or wrong:
            raise CheckFailed(
                f"the static OpenSSL in {build.lib_dir} holds {', '.join(wrong) or 'no'} "
                f"objects, not {facts.coff_format} ones for {target.plat}: an extension "
                f"linking "
                f"it would not load in a {target.arch.name} process (\"{pe.WIN32_ERROR}\"); "
                f"remove that build from the cache and build again")

    def join_openssl(self, builds: Sequence[OpenSSLBuild], target: Target,
                     ctx: RunContext) -> OpenSSLBuild:
        """No Windows target has more than one architecture: raises InputError."""
        raise InputError(f"{target.describe()} is built for one architecture")

    def toolchain(self, target: Target, ctx: RunContext) -> Toolchain:
        """zig cc for the target's mingw triple (x86_64-windows-gnu); on Windows, MSVC's cl
        from the developer prompt (`msvc_toolchain`). Raises BuilderError where the pinned
        zig cannot be fetched, InputError where the prompt is missing or builds for another
        architecture."""
        if not target.zig:
            return msvc_toolchain(target.arch.name)
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
        return platform_binaries(wheel, "Windows", pe.is_pe, {"Linux (ELF)": is_elf},
                                 pe.inspect_pe, _PE_SUFFIXES)

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
        name), and every .pyd exporting only PyInit_* and what its recipe's module_exports
        name (functions its Python code calls through ctypes). Raises CheckFailed naming every
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
        package = wheel.split("-")[0]
        broken += pe.export_problems(facts, recipe_for(package).module_exports)
        if broken:
            raise CheckFailed(f"{wheel} {when}: {'; '.join(dict.fromkeys(broken))}")

    def checks_passed(self, facts: Sequence[PeFacts], tag: str) -> List[str]:
        """Machine type, imports and exports, as `check_platform` holds them."""
        return [f"every binary is {', '.join(sorted({f.describe_machine() for f in facts}))} "
                f"as {tag} says",
                "imports only Windows' DLLs and the interpreter's",
                _exports_passed(pe.extra_exports(facts))]

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
        def rename(folder: Path) -> None:
            for name in wrong:
                (folder / name).rename(folder / (name[:-len(".abi3.so")] + ".pyd"))
        rewrite_wheel(wheel, scratch, source_date_epoch, rename)

    def repair_tool(self, wheel: Path, outdir: Path, target: Target, log: Path,
                    ctx: RunContext) -> Path:
        """`delvewheel repair` into `outdir`; returns the wheel it made. A static wheel needs
        no DLL but Windows' and the interpreter's: anything delvewheel grafts is refused.
        Raises CommandFailed, or CheckFailed where it grafted a DLL."""
        call([sys.executable, "-m", "delvewheel", "show", wheel], log=log,
             what=f"delvewheel show of {wheel.name}")
        made = run_repair_tool([sys.executable, "-m", "delvewheel", "repair", "--wheel-dir",
                                outdir], wheel, outdir, log, "delvewheel repair",
                               ctx.settings.source_date_epoch)
        grafted = grafted_dlls(wheel, made)
        if grafted:
            raise CheckFailed(f"delvewheel grafted {', '.join(grafted)} into {wheel.name}: a "
                              f"static wheel needs no DLL but Windows' and the interpreter's; "
                              f"see {log}", log=log)
        return made

    def target_pythons(self, target: Target, interpreters: Sequence[Interpreter],
                       full_smoke: bool, ctx: RunContext) -> List[TargetPython]:
        """For each build interpreter (this host's CPython), the Windows CPython of the same
        version the wheel is built for: python.org's embeddable one under wine for win_amd64;
        for win32 and win_arm64 its headers and import libraries (made from the x64 DLLs'
        exports: the names are the same), and no smoke test. Everything is refused before any
        download: InputError for --smoke full (the package's suite runs natively only), a
        version not pinned, or no wine. On Windows, each interpreter itself, which must be of
        the tag's architecture (`check_native_interpreter`)."""
        if not target.zig:
            for interpreter in interpreters:
                check_native_interpreter(interpreter, target.arch)
            return [TargetPython(interpreter) for interpreter in interpreters]
        if full_smoke:
            raise InputError(f"--smoke full runs the package's test suite natively; for "
                             f"{target.plat} wheels built here use --smoke basic")
        _refuse_before_downloads(target.arch, [i.version[:2] for i in interpreters])
        zig = zig_executable(ctx.store, ctx.settings.index_url)
        return [TargetPython(interpreter, windows_python(
            interpreter, target.arch, ctx.store, ctx.settings.index_url,
            ctx.settings.debian_mirror, zig, ctx.log("windows-python")))
            for interpreter in interpreters]

    def smoke_python(self, wheel: Path, spec: Optional[str], ctx: RunContext) -> TargetPython:
        """The pinned Windows CPython of `spec`'s version (a version such as 3.13, or a host
        interpreter whose version it takes), under wine; by default the newest pinned version
        the wheel's tags accept that a host CPython of the same version can install for.
        Raises, before any download: CheckFailed where a binary of the wheel is of another
        machine type than its tag (the Win32 error); InputError where the wheel cannot run
        here (win32, win_arm64), `spec` names a version its tags refuse, or none is pinned."""
        _, _, _, tags = parse_wheel_filename(wheel.name)
        arch = next((windows_architecture(t.platform) for t in tags
                     if windows_architecture(t.platform)), None)
        if arch is None or arch.windows is None:
            raise InputError(f"{wheel.name} is not tagged for a Windows platform this builder "
                             f"knows ({', '.join(_windows_plats())})")
        wrong = pe.machine_problems(pe.inspect_wheel(wheel), arch, arch.windows.plat)
        if wrong:
            raise CheckFailed(f"{wheel.name} cannot run: {'; '.join(wrong)}")
        if host_os() == "windows":
            native = find_interpreters([spec])[0] if spec else find_interpreter(None)
            check_native_interpreter(native, arch)
            return TargetPython(native)
        if not arch.windows.runs_under_wine:
            raise InputError(f"{wheel.name} cannot be smoke-tested here: no "
                             f"{arch.windows.plat} Windows interpreter on this host")
        if spec is not None:
            build = find_interpreters([spec])[0]
            if not accepts(tags, build.version[:2], arch.windows.plat):  # type: ignore[arg-type]
                raise InputError(f"{wheel.name} does not install in CPython "
                                 f"{build.short_version}; pass --python with a version its "
                                 f"tags accept")
        else:
            accepted = [v for v in sorted(EMBEDDABLE, reverse=True)
                        if accepts(tags, v, arch.windows.plat)]
            hosts = {tuple(i.version[:2]): i for i in discover()}
            build = next((hosts[v] for v in accepted if v in hosts), None)
            if build is None:
                pinned = ", ".join(map(_dotted, EMBEDDABLE))
                raise InputError(f"no pinned Windows CPython ({pinned}) accepts {wheel.name} "
                                 f"with a CPython of the same version on this host; pass "
                                 f"--python VERSION")
        _refuse_before_downloads(arch, [build.version[:2]])  # type: ignore[list-item]
        zig = zig_executable(ctx.store, ctx.settings.index_url)
        return TargetPython(build, windows_python(build, arch, ctx.store, ctx.settings.index_url,
                                                  ctx.settings.debian_mirror, zig,
                                                  ctx.log("windows-python")))

    def venv_python(self, venv: Path) -> Path:
        """The interpreter of a virtualenv made on Windows."""
        return venv / "Scripts" / "python.exe"


def check_native_interpreter(interpreter: Interpreter, arch: Architecture) -> None:
    """Raise InputError, with the Win32 error's sentence, where a Windows interpreter is not
    of `arch` (an x86 CPython for a win_amd64 wheel: the OpenSSL target comes from the
    interpreter, never from the shell or the machine)."""
    assert arch.windows is not None
    if interpreter.platform != arch.windows.sysconfig_platform:
        raise InputError(f"{interpreter.describe()} is a {interpreter.platform} interpreter, "
                         f"not a {arch.windows.sysconfig_platform} one: a {arch.windows.plat} "
                         f"module would not load in it (\"{pe.WIN32_ERROR}\"); pass --python "
                         f"with a {arch.windows.sysconfig_platform} CPython, or --plat "
                         f"{_plat_of(interpreter.platform)} for this one")


def _plat_of(sysconfig_platform: str) -> str:
    try:
        arch = windows_interpreter_architecture(sysconfig_platform)
    except InputError:
        return "<its platform tag>"
    return arch.windows.plat  # type: ignore[union-attr]


def _exports_passed(extra: Sequence[str]) -> str:
    if not extra:
        return "every .pyd exports only PyInit_*"
    shown = ", ".join(extra[:5]) + (", ..." if len(extra) > 5 else "")
    return (f"every .pyd exports only PyInit_* and the functions its recipe lets the "
            f"package's Python code call through ctypes ({shown})")


def _dotted(version: Tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def accepts(tags: Iterable[Tag], version: Tuple[int, int], plat: str) -> bool:
    """Whether CPython `version` (the GIL build) installs a wheel of `tags` on `plat`, by
    packaging's own list of the tags that interpreter supports (cp313-cp313, cp311-abi3 for
    3.11+, py3-none)."""
    nodot = f"cp{version[0]}{version[1]}"
    supported = {*cpython_tags(version, abis=[nodot], platforms=[plat]),
                 *compatible_tags(version, nodot, platforms=[plat])}
    return bool(supported & set(tags))


def _windows_plats() -> List[str]:
    return [a.windows.plat for a in ARCHITECTURES.values() if a.windows]


def _refuse_before_downloads(arch: Architecture, versions: Sequence[Tuple[int, int]]) -> None:
    """What a Windows CPython of each version needs, checked before anything is fetched:
    its pinned distribution and pyconfig.h source, and wine where it runs here. Raises
    InputError."""
    for version in versions:
        embeddable_for(version)
        source_for_pyconfig(version)
    if arch.windows is not None and arch.windows.runs_under_wine:
        find_wine()


def grafted_dlls(built: Path, repaired: Path) -> List[str]:
    """The DLLs the repaired wheel holds that the built one did not: what delvewheel grafted
    (into `<name>.libs/`, or beside the modules of a namespace package)."""
    def dlls(wheel: Path) -> set:
        with zipfile.ZipFile(wheel) as archive:
            return {n for n in archive.namelist() if n.lower().endswith(".dll")}
    return sorted(dlls(repaired) - dlls(built))


WINDOWS = WindowsPlatform()
