"""Native Windows builds with MSVC, in a Visual Studio developer prompt (a windows-latest
GitHub Actions runner with ilammy/msvc-dev-cmd): the decisions of that path, pure functions of
the architecture table, the environment and PATH. OpenSSL is built there by the PowerShell
recipe (scripts/build_openssl.ps1, packaged as builder/recipe/build_openssl.ps1), which reads
the Configure flags from the same file as the bash recipe."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PureWindowsPath
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from builder.architectures import ARCHITECTURES, WindowsFacts
from builder.errors import InputError
from builder.openssl import DEFAULT_OPENSSLDIR, BuildOptions
from builder.runner import capture
from builder.sources import VerifiedTarball
from builder.target import architecture
from builder.toolchain import Toolchain, first_on_path

Which = Callable[[str], Optional[str]]

DEV_PROMPT = "run from a Visual Studio developer prompt (in GitHub Actions: ilammy/msvc-dev-cmd)"
# The variables a developer prompt sets (VsDevCmd.bat): MSVC's own version, Visual Studio's,
# and the architecture cl builds for (x64, x86, arm64).
TOOLS_VERSION, VS_VERSION, TARGET_ARCH = "VCToolsVersion", "VSCMD_VER", "VSCMD_ARG_TGT_ARCH"
# PowerShell reads these as single quotes too; inside a single-quoted string each is doubled.
_SINGLE_QUOTES = re.compile("(['\u2018\u2019\u201a\u201b])")


def ps1_recipe_path() -> Path:
    """The PowerShell recipe, shipped inside the package (scripts/build_openssl.ps1 in the
    repo), with configure-flags.txt beside it."""
    return Path(str(resources.files("builder").joinpath("recipe/build_openssl.ps1")))


def _windows_facts(arch_name: str) -> WindowsFacts:
    arch = architecture(arch_name)
    if arch.windows is None:
        known = ", ".join(a.name for a in ARCHITECTURES.values() if a.windows)
        raise InputError(f"the builder makes no Windows wheels for {arch_name} (it does for "
                         f"{known})")
    return arch.windows


def configure_target(arch_name: str) -> str:
    """OpenSSL's ./Configure target for MSVC on `arch_name` (as ARCHITECTURES names it):
    VC-WIN64A for x86_64, VC-WIN32 for i686, VC-WIN64-ARM for aarch64. Raises InputError for
    an architecture unknown to the builder or with no Windows facts."""
    return _windows_facts(arch_name).msvc_openssl_target


def dev_prompt_arch(arch_name: str) -> str:
    """The developer prompt's argument (vcvarsall.bat's, ilammy/msvc-dev-cmd's `arch`) that
    builds for `arch_name` on an x64 machine: amd64, amd64_x86, amd64_arm64. Raises
    InputError as `configure_target` does."""
    msvc = _windows_facts(arch_name).msvc_arch
    return "amd64" if msvc == "x64" else f"amd64_{msvc}"


def require_msvc_tools(which: Which = shutil.which) -> None:
    """Raise InputError, in one sentence saying what to do, where a tool of the native build
    is not on PATH (`which(name)` is None): cl, and nmake or jom, come with a Visual Studio
    developer prompt; perl with Strawberry Perl. nasm is optional (without it OpenSSL is
    built no-asm), so it is never asked for."""
    missing = [name for name in ("cl",) if which(name) is None]
    if which("nmake") is None and which("jom") is None:
        missing.append("nmake (or jom)")
    advice = [f"{' and '.join(missing)}: {DEV_PROMPT}"] if missing else []
    if which("perl") is None:
        advice.append("perl: install Strawberry Perl (https://strawberryperl.com) and put its "
                      "perl first on PATH")
    if advice:
        raise InputError(f"missing tools for building OpenSSL with MSVC ({'; '.join(advice)}); "
                         f"nasm is optional, without it OpenSSL is built without assembly")


def msvc_toolchain(arch_name: str, environ: Mapping[str, str] = os.environ) -> Toolchain:
    """The Toolchain of MSVC's cl building for `arch_name`, from the variables a developer
    prompt sets, so no process is started: identity `MSVC <VCToolsVersion> (Visual Studio
    <VSCMD_VER>)`, triple `<arch>-pc-windows-msvc` (LLVM's and Rust's spelling), the
    Configure target of `configure_target`, and LLVM's nm and objcopy (they read MSVC's
    objects). Raises InputError where a variable is missing (not a developer prompt) or the
    prompt builds for another architecture (VSCMD_ARG_TGT_ARCH) than `arch_name`."""
    facts = _windows_facts(arch_name)
    unset = [name for name in (TOOLS_VERSION, VS_VERSION, TARGET_ARCH) if not environ.get(name)]
    if unset:
        raise InputError(f"MSVC is not set up ({', '.join(unset)} unset): {DEV_PROMPT}")
    if environ[TARGET_ARCH].lower() != facts.msvc_arch:
        raise InputError(f"the developer prompt builds for {environ[TARGET_ARCH]}, not for "
                         f"{arch_name}: open it with {dev_prompt_arch(arch_name)} (vcvarsall.bat's "
                         f"argument, ilammy/msvc-dev-cmd's arch)")
    return Toolchain(
        cc="cl",
        identity=f"MSVC {environ[TOOLS_VERSION]} (Visual Studio {environ[VS_VERSION]})",
        triple=f"{arch_name}-pc-windows-msvc",
        exclude_libs=False,  # a DLL exports only what is marked dllexport
        openssl_target=facts.msvc_openssl_target,
        objcopy="llvm-objcopy",
        nm="llvm-nm",
        link_map=False,  # link.exe writes no GNU link map
        symbol_prefix="_" if facts.leading_underscore else "",
        linker="msvc",
    )


# The prefix OpenSSL is configured with for MSVC: installed elsewhere (nmake's DESTDIR), so
# that what it compiles in names no directory of the build host, as INSTALL_PREFIX on Linux.
# Under Program Files, which only administrators may create folders in: OpenSSL compiles its
# modules' folder in (MODULESDIR), and any user may make one under C:\ itself.
MSVC_INSTALL_PREFIX = r"C:\Program Files\builder\openssl"
# OpenSSL's own OPENSSLDIR for its VC-* targets (openssl.cnf, the trust store's directory).
MSVC_OPENSSLDIR = r"C:\Program Files\Common Files\SSL"


def installed_under(destdir: Path, prefix: str = MSVC_INSTALL_PREFIX) -> Path:
    """Where `nmake install_dev DESTDIR=destdir` puts a build configured with `prefix`: the
    prefix without its drive, under `destdir` (C:/builder/openssl -> destdir/builder/openssl)."""
    return destdir.joinpath(*PureWindowsPath(prefix).parts[1:])


@dataclass(frozen=True)
class PowerShellRecipe:
    """build_openssl.ps1 (the `builder.openssl.OpenSSLRecipe` for MSVC, natively on Windows):
    configured for MSVC_INSTALL_PREFIX and installed by DESTDIR, with OpenSSL's VC-* default
    OPENSSLDIR unless the user chose one. Its commands raise InputError where neither pwsh
    nor powershell is on PATH."""

    def file(self) -> Path:
        return ps1_recipe_path()

    def tools(self) -> List[str]:
        return ["perl"]  # nmake or jom come with the developer prompt: require_msvc_tools

    def configure_args(self, tarball: VerifiedTarball, options: BuildOptions,
                       toolchain: Toolchain) -> List[str]:
        with tempfile.TemporaryDirectory(prefix="builder-flags-") as workdir:
            return capture(self._command(tarball, options, toolchain, 1,
                                         workdir=Path(workdir), print_flags=True)).splitlines()

    def build_command(self, tarball: VerifiedTarball, options: BuildOptions,
                      toolchain: Toolchain, jobs: int, scratch: Path) -> Tuple[List[str], Path]:
        command = self._command(tarball, options, toolchain, jobs, workdir=scratch / "src",
                                destdir=scratch / "dest")
        return command, installed_under(scratch / "dest")

    def _command(self, tarball: VerifiedTarball, options: BuildOptions,
                 toolchain: Toolchain, jobs: int, **where: object) -> List[str]:
        powershell = first_on_path(["pwsh", "powershell"])
        if powershell is None:
            raise InputError("neither pwsh nor powershell is on PATH: install PowerShell 7 "
                             "(winget install Microsoft.PowerShell)")
        openssldir = (MSVC_OPENSSLDIR if options.openssldir == DEFAULT_OPENSSLDIR
                      else options.openssldir)
        return ps1_command(powershell, ps1_recipe_path(), tarball.release.version,
                           MSVC_INSTALL_PREFIX, tarball.release.sha256, tarball.path,
                           str(toolchain.openssl_target), jobs, options.configure_args,
                           openssldir=openssldir, namespace=options.namespace,
                           **where)  # type: ignore[arg-type]


# What a static libcrypto needs of Windows (OpenSSL's own VC link list: the CryptoAPI engine,
# sockets, the registry, the event log and the screen of its RAND seeding).
OPENSSL_SYSTEM_LIBRARIES = ("crypt32.lib", "ws2_32.lib", "advapi32.lib", "user32.lib",
                            "gdi32.lib")


def msvc_link_env(prefix: Path, symbol_prefix: str, environ: Mapping[str, str] = os.environ
                  ) -> Dict[str, str]:
    """$LINK, which link.exe reads before its command line on every link: the static prefix's
    libcrypto.lib by its path (a bare name would be looked for in a setup.py's /LIBPATH
    first, where another OpenSSL's import library may be) and the Windows libraries it needs,
    and OpenSSL_version (its version text) kept in each module, as `-lcrypto -u
    OpenSSL_version` do on Linux; the user's own $LINK follows. For a build whose links are
    all extensions (setuptools), not one that links programs too (cargo's build scripts),
    which need no OpenSSL."""
    own = environ.get("LINK", "")
    words = [f'"{prefix / "lib" / "libcrypto.lib"}"', *OPENSSL_SYSTEM_LIBRARIES,
             f"/INCLUDE:{symbol_prefix}OpenSSL_version", own]
    return {"LINK": " ".join(filter(None, words))}


def msvc_search_env(prefix: Path, environ: Mapping[str, str] = os.environ) -> Dict[str, str]:
    """$INCLUDE and $LIB with the static prefix first, then what the developer prompt set:
    where cl and link.exe look for headers and libraries (setuptools, the cc crate and
    openssl-sys all leave them to these); and $CL, whose options cl reads before its command
    line, naming the prefix's headers first, before any /I a setup.py adds (scrypt's names
    C:/Program Files/OpenSSL/include, where GitHub's Windows images have an OpenSSL)."""
    def first(name: str, path: Path) -> str:
        return ";".join(filter(None, [str(path), environ.get(name, "")]))
    include = prefix / "include"
    return {"INCLUDE": first("INCLUDE", include), "LIB": first("LIB", prefix / "lib"),
            "CL": " ".join(filter(None, [f'/I"{include}"', environ.get("CL", "")]))}


def powershell_literal(text: str) -> str:
    """`text` as a PowerShell single-quoted string, in which nothing is expanded."""
    return "'" + _SINGLE_QUOTES.sub(r"\1\1", text) + "'"


def ps1_command(powershell: str, script: Path, version: str, prefix: str,
                sha256: Optional[str], tarball: Optional[Path], target: str, jobs: int,
                configure_args: Sequence[str] = (), *, openssldir: Optional[str] = None,
                namespace: bool = True, destdir: Optional[Path] = None,
                workdir: Optional[Path] = None, print_flags: bool = False) -> List[str]:
    """The command (for runner.call) that runs the PowerShell recipe `script` with
    `powershell` (pwsh or powershell): options, then `-Command` and one line of PowerShell.
    Not `-File`, which hands each value over as one string and so cannot pass a list
    (-ConfigureArg); every value is a single-quoted literal, and the line ends in
    `exit $LASTEXITCODE`, so that the recipe's exit code is the command's. `sha256`,
    `tarball`, `openssldir`, `destdir` and `workdir` are passed where given; `print_flags`
    asks for the ./Configure arguments alone. Raises InputError for a `target` that is no
    MSVC Configure target of the table, or `jobs` below 1."""
    targets = [a.windows.msvc_openssl_target for a in ARCHITECTURES.values() if a.windows]
    if target not in targets:
        raise InputError(f"{target} is not an MSVC Configure target ({', '.join(targets)})")
    if jobs < 1:
        raise InputError(f"jobs must be 1 or more, not {jobs}")
    words = ["&", powershell_literal(str(script)),
             "-Version", powershell_literal(version), "-Prefix", powershell_literal(prefix),
             "-Target", powershell_literal(target), "-Jobs", powershell_literal(str(jobs))]
    given = {"-Sha256": sha256, "-Tarball": str(tarball) if tarball else None,
             "-OpenSSLDir": openssldir, "-DestDir": str(destdir) if destdir else None,
             "-WorkDir": str(workdir) if workdir else None}
    for name, value in given.items():
        if value:
            words += [name, powershell_literal(value)]
    if configure_args:
        words += ["-ConfigureArg", ",".join(powershell_literal(a) for a in configure_args)]
    if not namespace:
        words.append("-NoNamespace")
    if print_flags:
        words.append("-PrintFlags")
    return [powershell, "-NoLogo", "-NoProfile", "-NonInteractive", "-ExecutionPolicy",
            "Bypass", "-Command", " ".join(words) + "; exit $LASTEXITCODE"]
