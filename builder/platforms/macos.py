"""The macOS platform: wheels of Mach-O binaries, cross-built on Linux with zig for
`aarch64-macos.11.0` / `x86_64-macos.10.13` (universal2: both, joined by llvm-lipo), repaired
with delocate (which must find nothing to bundle) through LLVM's tools, checked with
macholib. Nothing on a Linux host runs a Mach-O file: the smoke test says `not run`, and the
checks that did run say what they proved.

On a Mac (a native target: `Target.zig` false) the same stages use Apple's clang and SDK
(`apple_clang`), the host's lipo and delocate's own calls of Apple's tools, and the smoke test
runs in a virtualenv as on Linux."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from packaging.utils import parse_wheel_filename

from builder.architectures import MacTag, macos_tag
from builder.cache import Kind, Store
from builder.context import RunContext
from builder.errors import CheckFailed, InputError
from builder.build_env import host_cc
from builder.cargo import check_rust_target
from builder.interpreters import Interpreter, TargetPython, find_interpreter, find_interpreters
from builder.openssl import OpenSSLBuild, join_builds, static_archives
from builder.platforms import macho
from builder.platforms.elf import is_elf
from builder.platforms.macho import MachOFacts
from builder.platforms.macpython import MacPython, mac_python, pyconfig_for
from builder.platforms.pe import is_pe
from builder.platforms.wheelfiles import platform_binaries, run_repair_tool
from builder.platforms.zig import MACOS_LDFLAGS, zig
from builder.recipes import Recipe
from builder.releases import Release
from builder.runner import capture
from builder.target import Target, host_os
from builder.toolchain import Toolchain, llvm_tool, require_tools

# A shared OpenSSL as a load command names it: /opt/homebrew/opt/openssl@3/lib/libssl.3.dylib,
# @rpath/libcrypto.1.1.dylib, libcrypto.dylib.
SHARED_OPENSSL = re.compile(r"(?:^|/)lib(?:ssl|crypto)(?:\.[\d.]+)?\.dylib$")
LOADS_IN_BINARY = re.compile(rb"lib(?:ssl|crypto)(?:\.[0-9.]+)?\.dylib")
# The names under which macOS loads a binary of a wheel: modules and libraries.
_MACHO_SUFFIXES = (".so", ".dylib")
# delocate calls Apple's tools by name; on Linux, LLVM's stand in (shims in the cache, put in
# front of PATH for delocate alone). `otool -m` (no member names) is Apple's alone, and
# codesign can only be asked to verify here: a static wheel gives delocate nothing to rewrite
# or sign, and a request to sign fails loudly.
_SHIMS = {
    "otool": '#!/bin/sh\nfor a in "$@"; do shift; [ "$a" = -m ] || set -- "$@" "$a"; done\n'
             'exec "{llvm-otool}" "$@"\n',
    "install_name_tool": '#!/bin/sh\nexec "{llvm-install-name-tool}" "$@"\n',
    "lipo": '#!/bin/sh\nexec "{llvm-lipo}" "$@"\n',
    "codesign": '#!/bin/sh\necho "codesign $*: no codesign on this host; a static wheel '
                'needs no re-signing" >&2\nexit 1\n',
}
_SHIM_TOOLS = ("llvm-otool", "llvm-install-name-tool", "llvm-lipo")


class MacOSPlatform:
    """builder.platforms.Platform for macOS: see that protocol for each method."""

    name = "macos"
    binary_format = "Mach-O"
    shared_openssl = SHARED_OPENSSL
    loads_in_binary = LOADS_IN_BINARY

    def require_build_tools(self, target: Target) -> None:
        """Before any download: perl and make for OpenSSL's Configure, LLVM's objcopy, nm and
        readobj (Mach-O objects); on Linux LLVM's lipo, otool and install-name-tool
        (universal2 files, delocate), on a Mac the C compiler and Apple's lipo. Raises
        InputError naming the package to install."""
        if not target.zig:  # LLVM is Homebrew's, off PATH: found where it is (llvm_tool)
            require_tools(["perl", "make", host_cc().split()[0], "lipo"])
            for tool in ("llvm-objcopy", "llvm-nm", "llvm-readobj"):
                llvm_tool(tool)
            return
        require_tools(["perl", "make", "llvm-objcopy", "llvm-nm", "llvm-readobj"])
        for tool in _SHIM_TOOLS:
            llvm_tool(tool)

    def check_release(self, target: Target, release: Release) -> None:
        """Every release the table lists has the darwin64 targets: nothing to refuse."""

    def check_package(self, package: str, recipe: Recipe, is_rust: bool,
                      target: Target) -> None:
        """Rust packages are refused for macOS on Linux: Rust's link for Apple targets (zig as
        its linker, Apple's standard libraries) is not set up there. Raises InputError;
        natively on a Mac they build, each slice with its own Rust target."""
        if not target.zig:
            if is_rust:  # maturin and setuptools-rust build universal2 from both targets
                for part in target.slices:
                    check_rust_target(package, str(part.rust_triple))
            return
        if is_rust:
            raise InputError(f"{package} is a Rust project: Rust's link for {target.plat} (zig "
                             f"as its linker, Rust's Apple standard libraries) is not set up "
                             f"on this host; build it natively on a Mac, where it builds with "
                             f"Apple's clang")

    def check_openssl(self, build: OpenSSLBuild, target: Target) -> None:
        """Every object of the static OpenSSL is a Mach-O object of the tag's architectures
        (llvm-readobj's Format; both, for universal2): the OpenSSL target comes from the
        tag, and this proves it before any extension links it. Raises CheckFailed."""
        tag = _tag(target)
        wanted = {a.macos.readobj_format for a in tag.arches}  # type: ignore[union-attr]
        found = set(re.findall(r"^Format: (.+)$", capture([llvm_tool("llvm-readobj"),
                                                            "--file-headers",
                                                            *static_archives(build.lib_dir)]),
                               re.M))
        if found != wanted:
            raise CheckFailed(
                f"the static OpenSSL in {build.lib_dir} holds {', '.join(sorted(found)) or 'no'}"
                f" objects, not {', '.join(sorted(wanted))} ones for {target.plat}: an "
                f"extension linking it would not load on such a Mac; remove that build from "
                f"the cache and build again")

    def join_openssl(self, builds: Sequence[OpenSSLBuild], target: Target,
                     ctx: RunContext) -> OpenSSLBuild:
        """universal2's OpenSSL: each architecture's archives joined by lipo (as pyca's infra
        joins them on a Mac; on Linux, LLVM's), in the cache. Raises what openssl.join_builds
        raises, and InputError where llvm-lipo is missing."""
        lipo = llvm_tool("llvm-lipo") if target.zig else "lipo"
        return join_builds(builds, [lipo, "-create"], ctx)

    def toolchain(self, target: Target, ctx: RunContext) -> Toolchain:
        """zig cc for the tag's architecture and deployment target (aarch64-macos.11.0);
        for universal2, both in turn joined by llvm-lipo; on a Mac, Apple's clang
        (`apple_clang`). Raises BuilderError where the pinned zig cannot be fetched,
        InputError where llvm-lipo (or, on a Mac, the compiler) is missing."""
        if not target.zig:
            return apple_clang(target)
        return zig(ctx.store, ctx.settings.index_url, target)

    def hide_openssl_flags(self, build: OpenSSLBuild, toolchain: Optional[Toolchain],
                           scratch: Path) -> str:
        """With zig, none: every OpenSSL object is compiled -fvisibility=hidden (zig's Mach-O
        linker has no exported-symbols list). With Apple's linker, every global OpenSSL
        defines is made private to the module by an unexported-symbols list written into
        `scratch` (what --exclude-libs does on Linux). The checks prove what a module
        exports either way."""
        if toolchain is None or toolchain.linker != "apple":
            return ""
        return unexported_symbols_flag(build.defined_symbols(), scratch)

    def inspect_wheel(self, wheel: Path) -> List[MachOFacts]:
        """The facts of every Mach-O file in the wheel (macholib). Raises CheckFailed for one
        it cannot read, for a Linux or Windows binary (a compile that escaped zig) and for a
        Mach-O file macOS would not load by its name (only .so and .dylib)."""
        return platform_binaries(wheel, "macOS", macho.is_macho,
                                 {"Linux (ELF)": is_elf, "Windows (PE)": is_pe},
                                 macho.inspect_macho, _MACHO_SUFFIXES)

    def wheel_binaries(self, wheel: Path):  # type: ignore[no-untyped-def]
        """(member, bytes) of every Mach-O file in the wheel, in archive order."""
        return macho.wheel_binaries(wheel)

    def is_binary(self, data: bytes) -> bool:
        """Whether `data` starts a Mach-O file, thin or fat."""
        return macho.is_macho(data)

    def libraries_bringing_openssl(self, wheel: Path, scratch: Path
                                   ) -> List[Tuple[str, str, List[str]]]:
        """None to follow: every library that is not macOS's own is refused outright
        (`check_platform`)."""
        return []

    def check_platform(self, facts: Sequence[MachOFacts], tag: str, when: str,
                       wheel: str) -> None:
        """Every binary holds the tag's architectures (exactly, under a single tag), each slice
        no newer than the tag's macOS (arm64: 11.0 at least), loads only macOS's own
        libraries (/usr/lib, /System/Library), a module exports its PyInit_<name>, and every
        arm64 slice is signed; that no OpenSSL symbol leaves a module is the common rules'
        (from the build's own symbol list). Raises CheckFailed naming every violation."""
        broken: List[str] = []
        parts = tag.split(".")
        for part in parts:
            read = macos_tag(part)
            if read is None:
                broken.append(f"{part} is not a macOS platform tag")
                continue
            broken += macho.architecture_problems(facts, read, exact=len(parts) == 1)
        broken += macho.library_problems(facts)
        broken += macho.export_problems(facts)
        broken += macho.signature_problems(facts)
        if broken:
            raise CheckFailed(f"{wheel} {when}: {'; '.join(dict.fromkeys(broken))}")

    def checks_passed(self, facts: Sequence[MachOFacts], tag: str) -> List[str]:
        """Architectures and minos, libraries, exports and signatures, as `check_platform`
        holds them; the signature's presence only (codesign verifies it on a Mac)."""
        slices = sorted({s.describe() for f in facts for s in f.slices})
        libraries = sorted({d for f in facts for d in f.needed})
        found = [f"every binary holds {', '.join(slices)}, as {tag} allows",
                 f"loads only macOS's own libraries ({', '.join(libraries)})",
                 "every extension module exports its PyInit_<name>"]
        if any(s.architecture and s.architecture.name == "aarch64"
               for f in facts for s in f.slices):
            found.append("every arm64 slice carries a code signature (its validity is "
                         "verified by codesign on a Mac, not here)")
        return found

    def check_tag_within(self, tag: str, plat: str, wheel: str) -> None:
        """The repaired wheel is tagged exactly the platform asked for. Raises CheckFailed."""
        if tag != plat:
            raise CheckFailed(f"{wheel} was tagged {tag}, not the {plat} asked for")

    def finish_build(self, wheel: Path, scratch: Path, source_date_epoch: int) -> None:
        """Nothing to correct: macOS names modules as Linux does (`.abi3.so`,
        `.cpython-313-darwin.so`, from the target's suffix)."""

    def repair_tool(self, wheel: Path, outdir: Path, target: Target, log: Path,
                    ctx: RunContext) -> Path:
        """`delocate-wheel --require-archs` into `outdir`, through LLVM's tools, with the tag's
        deployment target (delocate then keeps the tag); returns the wheel it made. A static
        wheel needs no library but macOS's own: anything delocate bundles is refused. Raises
        CommandFailed, or CheckFailed where it bundled a library."""
        tag = _tag(target)
        archs = ",".join(a.macos.plat_arch for a in tag.arches)  # type: ignore[union-attr]
        # On a Mac delocate calls Apple's own tools; on Linux, LLVM's through the shims.
        shims = str(delocate_shims(ctx.store)) if target.zig else None
        made = run_repair_tool(
            [sys.executable, "-m", "delocate.cmd.delocate_wheel", "--require-archs", archs,
             "-w", outdir, "-v"], wheel, outdir, log, "delocate-wheel",
            ctx.settings.source_date_epoch, path_first=shims,
            env={"MACOSX_DEPLOYMENT_TARGET": f"{tag.macos[0]}.{tag.macos[1]}"})
        bundled = bundled_libraries(wheel, made)
        if bundled:
            raise CheckFailed(f"delocate bundled {', '.join(bundled)} into {wheel.name}: a "
                              f"static wheel needs no library but macOS's own; see {log}",
                              log=log)
        return made

    def target_pythons(self, target: Target, interpreters: Sequence[Interpreter],
                       full_smoke: bool, ctx: RunContext) -> List[TargetPython]:
        """For each build interpreter (this host's CPython), the macOS CPython of the same
        version the wheel is built for: its headers (see builder.platforms.macpython), and no
        smoke test (nothing runs Mach-O here); on a Mac, each interpreter itself, which runs
        the smoke test. Raises InputError, before any download, for --smoke full and a
        version whose headers are not pinned (on Linux), and for an interpreter that is not
        a macOS one (on a Mac)."""
        if not target.zig:
            for interpreter in interpreters:
                check_native_interpreter(interpreter, target)
            return [TargetPython(interpreter) for interpreter in interpreters]
        if full_smoke:
            raise InputError(f"--smoke full runs the package's test suite natively; for "
                             f"{target.plat} wheels built here use --smoke basic")
        tag = _tag(target)
        for interpreter in interpreters:  # every one refused before any is fetched
            for arch in tag.arches:
                pyconfig_for(interpreter.version[:2], arch)  # type: ignore[arg-type]
        return [TargetPython(interpreter, mac_python(interpreter, tag, ctx))
                for interpreter in interpreters]

    def smoke_python(self, wheel: Path, spec: Optional[str], ctx: RunContext) -> TargetPython:
        """A macOS CPython of `spec`'s version (default: this interpreter's) that cannot run
        here: the smoke test of a macOS wheel is its static checks and `not run`. On a Mac,
        `spec` (a path, command or version; default this interpreter) itself, run natively.
        Raises InputError for a wheel with no macOS tag this builder knows."""
        if host_os() == "macos":
            return TargetPython(find_interpreters([spec])[0] if spec else find_interpreter(None))
        _, _, _, tags = parse_wheel_filename(wheel.name)
        read = next((macos_tag(t.platform) for t in tags if macos_tag(t.platform)), None)
        if read is None:
            raise InputError(f"{wheel.name} is not tagged for a macOS platform this builder "
                             f"knows (macosx_X_Y_arm64, _x86_64, _universal2)")
        build = find_interpreters([spec] if spec else [])[0]
        return TargetPython(build, MacPython(build.version[:2], read))  # type: ignore[arg-type]

    def venv_python(self, venv: Path) -> Path:
        """The interpreter of a virtualenv made on macOS."""
        return venv / "bin" / "python"


def apple_clang(target: Target) -> Toolchain:
    """The host's C compiler ($CC or cc: Apple's clang) on a Mac, for the tag's architectures
    and deployment target: as cibuildwheel sets them, MACOSX_DEPLOYMENT_TARGET (the tag's
    version; clang raises it to 11.0 for arm64 itself), ARCHFLAGS (`-arch arm64`, both for
    universal2: setuptools passes them to every compile) and _PYTHON_HOST_PLATFORM (the tag
    setuptools writes); OpenSSL's Configure target of a single architecture; LLVM's nm and
    objcopy, which rename OpenSSL's internals as on Linux. Raises InputError for a compiler or
    LLVM tool that is missing, CommandFailed where the compiler does not answer
    `--version`."""
    tag = _tag(target)
    cc = host_cc()
    if shutil.which(cc.split()[0]) is None:
        raise InputError(f"no C compiler: {cc.split()[0]} is not on PATH; install Xcode's "
                         f"command line tools (xcode-select --install) or set CC")
    identity = capture([*cc.split(), "--version"]).splitlines()[0].strip()
    return apple_toolchain(tag, cc, identity, llvm_tool("llvm-objcopy"), llvm_tool("llvm-nm"))


def apple_toolchain(tag: MacTag, cc: str, identity: str, objcopy: str, nm: str) -> Toolchain:
    """The Toolchain of `apple_clang` from what it found: the compiler's command and the first
    line of its `--version`, LLVM's objcopy and nm (paths)."""
    deployment = f"{tag.macos[0]}.{tag.macos[1]}"
    return Toolchain(
        cc=cc,
        identity=identity,
        # The deployment target of each slice is part of the cache key.
        triple=" + ".join(f"{a.macos.plat_arch}-apple-macos"  # type: ignore[union-attr]
                          f"{'.'.join(map(str, tag.minos(a)))}" for a in tag.arches),
        tools=(("MACOSX_DEPLOYMENT_TARGET", deployment),
               ("ARCHFLAGS", " ".join(f"-arch {a.macos.plat_arch}"  # type: ignore[union-attr]
                                      for a in tag.arches)),
               ("_PYTHON_HOST_PLATFORM", f"macosx-{deployment}-{tag.name}")),
        exclude_libs=False,
        openssl_target=tag.arches[0].macos.openssl_target  # type: ignore[union-attr]
        if len(tag.arches) == 1 else None,
        objcopy=objcopy,
        nm=nm,
        symbol_prefix="_",  # Mach-O spells every C name with a leading `_`
        link_map=False,  # Apple's linker writes its map to a file (-map), not GNU's
        linker="apple",
        ldflags=APPLE_LDFLAGS,
    )


# Every link of an extension on a Mac (LDSHARED is the audit wrapper's `cc -shared`, not
# Python's `-bundle -undefined dynamic_lookup`): CPython's symbols are the process's, as
# zig's links say too; and -S, since ld64 would otherwise keep a debug map naming every object
# file of the build folder (for dsymutil), a build host's path in the wheel.
APPLE_LDFLAGS = f"{MACOS_LDFLAGS} -Wl,-S"


def unexported_symbols_flag(symbols: Iterable[str], scratch: Path) -> str:
    """Apple's linker flag that keeps every one of `symbols` (C names, as the build's symbol
    list has them) out of a module's exports: `-unexported_symbols_list` naming a file
    written into `scratch`, each name with Mach-O's leading `_`."""
    listing = scratch / "openssl-unexported.txt"
    listing.write_text("".join(f"_{name}\n" for name in sorted(symbols)))
    return f"-Wl,-unexported_symbols_list,{listing}"


def check_native_interpreter(interpreter: Interpreter, target: Target) -> None:
    """Raise InputError where a Mac's interpreter cannot build and run the wheel of `target`:
    one that is not a macOS CPython (its sysconfig platform is not macosx-*)."""
    if not interpreter.platform.startswith("macosx-"):
        raise InputError(f"{interpreter.describe()} is a {interpreter.platform} interpreter, "
                         f"not a macOS one; pass --python with a macOS CPython for "
                         f"{target.plat}")


def _tag(target: Target) -> MacTag:
    tag = target.macos
    if tag is None:
        raise InputError(f"{target.describe()} is not a macOS target")
    return tag


def delocate_shims(store: Store) -> Path:
    """The folder of otool, install_name_tool, lipo and codesign stand-ins that run LLVM's
    tools, in the cache (never on the user's PATH), keyed by their text. Raises InputError
    where one of LLVM's tools is missing."""
    tools = {name: llvm_tool(name) for name in _SHIM_TOOLS}
    texts = {}
    for shim, text in _SHIMS.items():
        for name, path in tools.items():
            text = text.replace("{" + name + "}", path)
        texts[shim] = text
    digest = hashlib.sha256(json.dumps(texts, sort_keys=True).encode()).hexdigest()[:12]
    return store.materialize(Kind.TOOLS, f"delocate-shims-{digest}",
                             lambda temp: _write_shims(temp, texts),
                             reuse=lambda path: (path / "otool").exists()).path


def _write_shims(temp: Path, texts: Dict[str, str]) -> None:
    for name, text in texts.items():
        (temp / name).write_text(text)
        (temp / name).chmod(0o755)


def bundled_libraries(built: Path, repaired: Path) -> List[str]:
    """The libraries the repaired wheel holds that the built one did not: what delocate
    bundled (into `<package>/.dylibs/`)."""
    def libraries(wheel: Path) -> set:
        with zipfile.ZipFile(wheel) as archive:
            return {n for n in archive.namelist() if n.endswith(".dylib")}
    return sorted(libraries(repaired) - libraries(built))


MACOS = MacOSPlatform()
