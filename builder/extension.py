"""The extension build: get the target's sdist and build a wheel from it with `build`
(PEP 517), against the static OpenSSL prefix and nothing else."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import sys
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from auditwheel.tools import dir2zip, zip2dir
from auditwheel.wheeltools import rewrite_record
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename
from packaging.version import InvalidVersion, Version

from builder import progress
from builder.context import RunContext
from builder.cache import Kind
from builder.cargo import CargoOptions, fetch_crates, offline_env, prepare_sources
from builder.platforms.qemu import EmulatedPython
from builder.errors import BuilderError, CommandFailed, InputError
from builder.fetch import Expected, cached_download, sha256_file
from builder.index import SDIST_SUFFIXES, index_files
from builder.interpreters import TargetPython, build_frontend
from builder.link_proof import LinkAudit, compiler_env
from builder.openssl import INSTALL_PREFIX, OpenSSLBuild
from builder.recipes import DEFAULT as DEFAULT_RECIPE, Recipe
from builder.runner import call
from builder.platforms import platform_for
from builder.target import Target
from builder.toolchain import Toolchain

_INDEX_ADVICE = "check --index-url or give a local sdist"


@dataclass(frozen=True)
class Sdist:
    name: str
    version: str
    path: Path
    sha256: str
    origin: str


@dataclass(frozen=True)
class SourceOptions:
    """Changes to the unpacked sdist before it is built."""

    patches: Tuple[Path, ...] = ()
    cargo: CargoOptions = CargoOptions()


@dataclass(frozen=True)
class BuiltWheel:
    path: Path
    sdist: Sdist
    python: TargetPython  # built by python.build, for python.emulated where cross-built
    log: Path
    source_changes: Dict[str, object]  # patches applied, crates used: for the provenance
    link_audit: Optional[LinkAudit] = None  # what its compiler and linker were seen to use


# ---------------------------------------------------------------- what the user asked for

def get_sdist(target: str, ctx: RunContext) -> Sdist:
    """`target` is a local sdist, a local source tree, or NAME[==VERSION] on the index."""
    path = Path(target)
    if path.is_file() and target.endswith(SDIST_SUFFIXES):
        return _local_sdist(path)
    if path.is_file():
        kind = "a wheel, already built (`builder smoke` tests one)" if target.endswith(".whl") \
            else "not an sdist (NAME-VERSION.tar.gz or .zip)"
        raise InputError(f"{target} is {kind}; give an sdist, a source directory or a name on "
                         f"the package index")
    if path.is_dir():
        return _sdist_from_tree(path, ctx)
    if os.sep in target or target.endswith(SDIST_SUFFIXES):
        raise InputError(f"{target} does not exist; give a PyPI project name, an sdist file "
                         f"or a source directory")
    return _index_sdist(target, ctx, ctx.settings.index_url)


def requires_python(sdist: Path) -> Optional[SpecifierSet]:
    """The sdist's Requires-Python (from its PKG-INFO); None where it names none."""
    try:
        if sdist.name.endswith(".zip"):
            with zipfile.ZipFile(sdist) as archive:
                name = next(n for n in archive.namelist() if n.count("/") == 1
                            and n.endswith("/PKG-INFO"))
                text = archive.read(name).decode("utf-8", "replace")
        else:
            with tarfile.open(sdist) as archive:
                member = next(m for m in archive.getmembers() if m.name.count("/") == 1
                              and m.name.endswith("/PKG-INFO"))
                text = archive.extractfile(member).read().decode(  # type: ignore[union-attr]
                    "utf-8", "replace")
    except (StopIteration, OSError, tarfile.TarError, zipfile.BadZipFile):
        return None
    found = re.search(r"^Requires-Python:\s*(.+)$", text, re.M)
    try:
        return SpecifierSet(found.group(1).strip()) if found else None
    except InvalidSpecifier:
        return None


def _local_sdist(path: Path) -> Sdist:
    try:
        name, version = parse_sdist_filename(path.name)
    except InvalidSdistFilename as exc:
        raise InputError(f"{path.name} is not an sdist file name (NAME-VERSION.tar.gz)") from exc
    return Sdist(str(name), str(version), path.resolve(), sha256_file(path), str(path.resolve()))


def _sdist_from_tree(tree: Path, ctx: RunContext) -> Sdist:
    """Build an sdist first, so that the wheel never sees stale objects of the tree."""
    if not ((tree / "pyproject.toml").is_file() or (tree / "setup.py").is_file()):
        raise InputError(f"{tree} has neither pyproject.toml nor setup.py")
    outdir = ctx.logs / "sdist"
    outdir.mkdir(exist_ok=True)
    call([sys.executable, "-m", "build", "--sdist", "--outdir", outdir, tree],
         log=ctx.log(f"sdist-{tree.resolve().name}"), what=f"making an sdist of {tree}")
    made = sorted(outdir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not made:
        raise BuilderError(f"making an sdist of {tree} produced no .tar.gz")
    sdist = _local_sdist(made[-1])
    return Sdist(sdist.name, sdist.version, sdist.path, sdist.sha256, str(tree.resolve()))


def _index_sdist(target: str, ctx: RunContext, index_url: str) -> Sdist:
    try:
        requirement = Requirement(target)
    except InvalidRequirement as exc:
        raise InputError(f"{target!r} is not a package name, NAME==VERSION, an sdist or a "
                         f"directory") from exc
    pinned = _pinned_version(requirement)
    name = canonicalize_name(requirement.name)
    files = index_files(index_url, name, advice=_INDEX_ADVICE)
    versions = {f: v for f in files if not f.yanked and (v := f.version) is not None}
    if pinned is not None:
        chosen = [f for f, v in versions.items() if v == pinned]
        if not chosen:
            known = ", ".join(str(v) for v in sorted(set(versions.values()))[-5:])
            raise InputError(f"{requirement.name} has no sdist of version {pinned} on "
                             f"{index_url} (newest: {known or 'none'})")
    else:
        stable = {f: v for f, v in versions.items() if not v.is_prerelease}
        if not stable:
            raise InputError(f"{requirement.name} has no sdist on {index_url}; give a "
                             f"local sdist or source directory")
        newest = max(stable.values())
        chosen = [f for f, v in stable.items() if v == newest]
    pick = sorted(chosen, key=lambda f: not f.filename.endswith(".tar.gz"))[0]
    if not pick.sha256:
        raise BuilderError(f"{index_url} gives no sha256 for {pick.filename}; cannot verify it")
    expected = Expected(sha256=pick.sha256, gzip=pick.filename.endswith(".gz"))
    got = cached_download(ctx.store, pick.filename, [pick.url], expected,
                          label=pick.filename, advice=_INDEX_ADVICE, kind=Kind.SDISTS)
    if got.reused:
        progress.say(f"    reusing the cached sdist {got.path}")
    return Sdist(str(name), str(pick.version), got.path, pick.sha256, pick.url)


def _pinned_version(requirement: Requirement) -> Optional[Version]:
    specs = list(requirement.specifier)
    if not specs:
        return None
    if len(specs) == 1 and specs[0].operator in ("==", "==="):
        try:
            return Version(specs[0].version)
        except InvalidVersion as exc:
            raise InputError(f"{specs[0].version} is not a version") from exc
    raise InputError(f"give an exact version ({requirement.name}==X.Y) or none, not "
                     f"{requirement.specifier}")


# ---------------------------------------------------------------- the build

def prefix_env(prefix: PurePath, hide: str, *, force_version_text: bool = True) -> Dict[str, str]:
    """How every common build system is pointed at a static OpenSSL prefix: C flags, pkg-config,
    and the variables of openssl-sys (Rust), CMake's FindOpenSSL and setup.py files (M2Crypto
    reads OPENSSL_PATH; without it, it hands SWIG the system's /usr/include/openssl).

    `hide`: the platform's link flags that keep OpenSSL's symbols out of each module's exports.

    `force_version_text`: `-Wl,-u,OpenSSL_version` on every link, where no compiler wrapper
    adds it to just the links that take OpenSSL objects (cibuildwheel's containers)."""
    include, lib = str(prefix / "include"), str(prefix / "lib")
    version_text = " -Wl,-u,OpenSSL_version" if force_version_text else ""
    return {
        "CFLAGS": f"-I{include}",
        "CPPFLAGS": f"-I{include}",
        "LDFLAGS": f"-L{lib} {hide}{version_text} -lcrypto",
        "PKG_CONFIG_PATH": f"{lib}/pkgconfig",
        "OPENSSL_DIR": str(prefix),
        "OPENSSL_ROOT_DIR": str(prefix),
        "OPENSSL_PATH": str(prefix),
        "OPENSSL_INCLUDE_DIR": include,
        "OPENSSL_LIB_DIR": lib,
        "OPENSSL_STATIC": "1",
        # openssl-sys's "vendored" feature would build OpenSSL from its own source instead.
        "OPENSSL_NO_VENDOR": "1",
        "OPENSSL_USE_STATIC_LIBS": "TRUE",
    }


def openssl_env(build: OpenSSLBuild, hide: str, toolchain: Optional[Toolchain] = None
                ) -> Dict[str, str]:
    """How every common build system is pointed at the static prefix, and nothing else.

    The prefix's lib/ holds only static archives, so `-lcrypto` cannot find a shared one.
    OpenSSL's symbols are made local to each extension (`hide`, the platform's flags), so a
    libcrypto already in the process cannot interpose them; `-u OpenSSL_version` links
    OpenSSL's version text into every module, so any wheel can be inspected later.
    """
    # The compiler wrapper (link_proof) adds -u OpenSSL_version to the links that use OpenSSL.
    env = prefix_env(build.prefix, hide, force_version_text=False)
    if toolchain is not None and toolchain.tools:
        # A compiler other than the host's: setuptools must compile and link with it.
        env.update(toolchain.env())
        env["LDFLAGS"] = " ".join(filter(None, [env["LDFLAGS"], toolchain.ldflags]))
    return env


def _host_cc() -> str:
    return os.environ.get("CC") or "cc"


def build_env(build: OpenSSLBuild, hide: str, base: Optional[Dict[str, str]] = None, *,
              toolchain: Optional[Toolchain] = None,
              emulated: Optional[EmulatedPython] = None) -> Dict[str, str]:
    """The user's environment (`base`, default os.environ) with the OpenSSL settings (and,
    for another architecture, the emulated target interpreter's) put in front of theirs."""
    env = dict(os.environ if base is None else base)
    if emulated is not None:
        env = _put_in_front(env, emulated.build_env())
    return _put_in_front(env, openssl_env(build, hide, toolchain))


def build_host_paths(scratch: Path, cache: Path) -> List[Tuple[Path, str]]:
    """The build host's directories that compilers would write into a wheel (debug info,
    __FILE__, panic messages), each with the fixed name it is recorded as instead; the most
    general first, since the last matching -ffile-prefix-map wins (GCC and clang alike)."""
    home = Path.home()
    return [(home, "~"), (cache, "/builder-cache"), (scratch, "/builder")]


def reproducible_paths(scratch: Path, cache: Path, openssl: Optional[OpenSSLBuild] = None,
                       vendor: Optional[Path] = None) -> List[Tuple[Path, str]]:
    """Each build-host directory a build may record, with the fixed name it is recorded as:
    home, cache, build directory, the OpenSSL prefix, cargo's home and a vendor directory."""
    names = build_host_paths(scratch, cache)
    if openssl is not None:
        names.append((openssl.prefix, INSTALL_PREFIX))
    names.append((Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo"), "/cargo"))
    if vendor is not None:
        names.append((vendor.resolve(), "/vendor"))
    return names


def reproducible_env(names: List[Tuple[Path, str]], epoch: int, *, rust: bool = True
                     ) -> Dict[str, str]:
    """What makes two builds of the same inputs byte-identical wherever they run, and keeps
    the build host's paths out of the wheel: fixed file times; `names` recorded under their
    fixed names in C debug info and __FILE__ (-ffile-prefix-map) and, with `rust`, in Rust's
    (--remap-path-prefix, added to $RUSTFLAGS)."""
    env = {"SOURCE_DATE_EPOCH": str(epoch),
           "CFLAGS": " ".join(f"-ffile-prefix-map={old}={new}" for old, new in names)}
    if rust:
        rustflags = " ".join(f"--remap-path-prefix={old}={new}" for old, new in names)
        env["RUSTFLAGS"] = (f"{os.environ['RUSTFLAGS']} {rustflags}"
                            if os.environ.get("RUSTFLAGS") else rustflags)
    return env


def parallelism_env(jobs: int, environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The jobs setting, for the build systems an extension's build runs (make, CMake, cargo),
    each only where the user's environment (`environ`, default os.environ) does not already
    choose."""
    environ = os.environ if environ is None else environ
    wanted = {"MAKEFLAGS": f"-j{jobs}", "CMAKE_BUILD_PARALLEL_LEVEL": str(jobs),
              "CARGO_BUILD_JOBS": str(jobs)}
    return {name: value for name, value in wanted.items() if not environ.get(name)}


def _cargo_config_rustflags(source: Path) -> bool:
    """Whether the sdist's cargo configuration sets rustflags: $RUSTFLAGS would replace them,
    so the builder leaves it unset (and the check of build paths then has the last word)."""
    for config in (source / ".cargo" / "config.toml", source / ".cargo" / "config"):
        if config.is_file() and "rustflags" in config.read_text(errors="replace"):
            progress.warn(f"{config.relative_to(source)} sets rustflags, which $RUSTFLAGS "
                          f"would replace: Rust's paths are not remapped in this build")
            return True
    return False


def _put_in_front(env: Dict[str, str], settings: Dict[str, str]) -> Dict[str, str]:
    env = dict(env)
    for name, value in settings.items():
        if name in ("CFLAGS", "CPPFLAGS", "LDFLAGS") and env.get(name):
            value = f"{value} {env[name]}"
        elif name == "PKG_CONFIG_PATH" and env.get(name):
            value = f"{value}{os.pathsep}{env[name]}"
        env[name] = value
    return env


@dataclass(frozen=True)
class PreparedSource:
    """An unpacked sdist with the asked-for changes made, ready to build."""

    sdist: Sdist
    path: Path
    env: Dict[str, str]  # what the build needs beyond the OpenSSL settings (cargo)
    changes: Dict[str, object]  # patches applied, crates used: for the provenance


def prepare_source(sdist: Sdist, scratch: Path, ctx: RunContext,
                   options: SourceOptions = SourceOptions()) -> PreparedSource:
    """Unpack the sdist into a fresh directory, apply patches, point cargo at the crates.

    Runs before any compile, so that a patch that does not apply or crates that do not
    satisfy Cargo.lock are refused in seconds."""
    source = unpack_sdist(sdist.path, scratch / "src")
    log = ctx.log(f"prepare-{sdist.name}")
    env: Dict[str, str] = {}
    changes: Dict[str, object] = {}
    if options.patches:
        changes["patches"] = [_apply_patch(patch, source, log, sdist) for patch in options.patches]
    if options.cargo.vendor is not None and (source / "Cargo.toml").is_file():
        env = offline_env(options.cargo.vendor, scratch / "cargo-home")
        prepare_sources(source, options.cargo, {**os.environ, **env}, log,
                        f"{sdist.name} {sdist.version}")
        changes["cargo"] = {"vendor": str(options.cargo.vendor),
                            "relocked": options.cargo.relock}
    elif (source / "Cargo.toml").is_file():
        fetch_crates(source, log, f"{sdist.name} {sdist.version}")
    return PreparedSource(sdist, source, env, changes)


def build_wheel(
    source: PreparedSource,
    build: OpenSSLBuild,
    python: TargetPython,
    ctx: RunContext,
    outdir: Path,
    target: Target,
    toolchain: Optional[Toolchain] = None,
    recipe: Recipe = DEFAULT_RECIPE,
) -> BuiltWheel:
    """Build one wheel of the prepared source against the static OpenSSL into `outdir`, with
    `python.build` (for `python.emulated` where the target is another architecture).
    Raises CommandFailed for a failed build, BuilderError where it made no single wheel."""
    sdist = source.sdist
    frontend = build_frontend(python.build, ctx)
    log = ctx.log(f"wheel-{sdist.name}-{python.label}")
    vendor = source.changes.get("cargo", {}).get("vendor")  # type: ignore[union-attr]
    keep_cargo_rustflags = _cargo_config_rustflags(source.path)
    # One record for the whole run: a build may reuse what an earlier one linked (cargo).
    audit = LinkAudit(outdir.parent / "link-audit")
    for inside, part in recipe.source_links:
        _link_into_source(source.path, inside, build.prefix / part)
    native_build = not target.zig
    hide = platform_for(target).hide_openssl_flags(build, toolchain, outdir.parent)
    path_names = reproducible_paths(outdir.parent, ctx.cache, build,
                                    Path(vendor) if vendor else None)
    # The host's compiler as the user gave it ($CC may be `ccache gcc`); zig's wrapper else.
    wrappers = compiler_env(outdir.parent, _host_cc() if native_build else toolchain.cc,
                            target.arch, audit,
                            cxx=os.environ.get("CXX") or "c++" if native_build else None)
    call([frontend, "-m", "build", "--wheel", "--outdir", outdir, source.path],
         log=log, env={**_put_in_front(build_env(build, hide, toolchain=toolchain,
                                                  emulated=python.emulated),
                                        reproducible_env(path_names,
                                                         ctx.settings.source_date_epoch,
                                                         rust=not keep_cargo_rustflags)),
                       **wrappers, **parallelism_env(ctx.jobs), **recipe.build_env(build.prefix),
                       **source.env},
         what=f"building {sdist.name} {sdist.version} for Python {python.short_version}")
    wheels = sorted(outdir.glob("*.whl"))
    if len(wheels) != 1:
        raise BuilderError(f"building {sdist.name} produced {len(wheels)} wheels, expected 1",
                           log=log)
    scrub_metadata_paths(wheels[0], path_names, outdir.parent, ctx.settings.source_date_epoch)
    return BuiltWheel(wheels[0], sdist, python, log, source.changes, audit)


def scrub_metadata_paths(wheel: Path, names: Sequence[Tuple[Path, str]], scratch: Path,
                         epoch: int) -> bool:
    """Rewrite, in the wheel's .dist-info text files only (the SBOM maturin writes names the
    unpacked sdist's directory), each build-host directory to its fixed name, as the compilers
    were told for the binaries (`-ffile-prefix-map`); RECORD is rewritten with auditwheel's
    own tools. Binaries are never touched. Returns whether anything changed."""
    pairs = [(str(old).rstrip("/").encode(), new.encode()) for old, new in names
             if len(str(old).rstrip("/")) > 1]
    with zipfile.ZipFile(wheel) as archive:
        hits = [n for n in archive.namelist() if ".dist-info/" in n and not n.endswith("RECORD")
                and any(old in archive.read(n) for old, _ in pairs)]
    if not hits:
        return False
    folder = scratch / f"scrub-{wheel.stem}"
    zip2dir(wheel, folder)
    for name in hits:
        path = folder / name
        data = path.read_bytes()
        # The longest (most specific) directory first: the cache may lie inside home.
        for old, new in sorted(pairs, key=lambda pair: -len(pair[0])):
            data = data.replace(old, new)
        path.write_bytes(data)
    rewrite_record(folder)
    when = dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc)
    dir2zip(folder, wheel, zlib.Z_DEFAULT_COMPRESSION, when)
    return True


def _link_into_source(source: Path, inside: str, target: Path) -> None:
    """A link at `inside` (relative to the unpacked source) to a part of the static prefix;
    refused when `inside` would leave the source directory."""
    link = (source / inside)
    if not str(link.resolve()).startswith(str(source.resolve()) + os.sep):
        raise InputError(f"the recipe's source link {inside} leaves the source directory")
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(target, target_is_directory=target.is_dir())


def _apply_patch(patch: Path, source: Path, log: Path, sdist: Sdist) -> Dict[str, str]:
    if not patch.is_file():
        raise InputError(f"--patch {patch} does not exist")
    try:
        call(["patch", "-p1", "--batch", "--forward", "-i", patch.resolve()], cwd=source,
             log=log, what=f"applying {patch.name}")
    except CommandFailed as exc:
        raise InputError(f"{patch} does not apply to {sdist.name} {sdist.version}; "
                         f"check that it was made for this version", log=exc.log,
                         tail=exc.tail) from exc
    return {"file": patch.name, "sha256": sha256_file(patch)}


def unpack_sdist(path: Path, dest: Path) -> Path:
    """Unpack safely (no absolute paths, no `..`, no links leaving `dest`); return the
    project directory inside."""
    dest.mkdir(parents=True)
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                _refuse_escape(dest, name, path)
            archive.extractall(dest)
    else:
        with tarfile.open(path) as archive:
            if not hasattr(tarfile, "data_filter"):  # Pythons before the extraction filters
                for member in archive.getmembers():
                    _refuse_escape(dest, member.name, path)
                    if member.issym() or member.islnk():
                        _refuse_escape(dest, str(Path(member.name).parent / member.linkname),
                                       path)
                archive.extractall(dest)
                return _project_dir(dest)
            try:
                archive.extractall(dest, filter="data")
            except tarfile.FilterError as exc:
                raise InputError(f"{path.name} is unsafe to unpack: {exc}") from exc
    return _project_dir(dest)


def _project_dir(dest: Path) -> Path:
    entries = list(dest.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else dest


def _refuse_escape(dest: Path, member: str, archive: Path) -> None:
    target = (dest / member).resolve()
    if not str(target).startswith(str(dest.resolve()) + os.sep):
        raise InputError(f"{archive.name} is unsafe to unpack: {member} leaves the directory")


def download_dependencies(wheel: Path, dest: Path, python: TargetPython, ctx: RunContext
                          ) -> List[Path]:
    """Put the wheels `wheel` needs at install time beside it, so that the wheelhouse alone
    installs it (`pip install --no-index --find-links`). Returns the ones added.

    pip downloads into a private folder first: other wheels may arrive in `dest` meanwhile,
    and must not be taken for dependencies."""
    for_target = python.emulated.pip_target_args() if python.emulated is not None else []
    # The index-url setting, where one was given; else pip's own configuration decides.
    index = (["--index-url", ctx.settings.index_url] if "index-url" in ctx.settings.origins
             else [])
    with tempfile.TemporaryDirectory(prefix=".dependencies-", dir=dest) as private:
        call([build_frontend(python.build, ctx), "-m", "pip", "download",
              "--disable-pip-version-check", "--only-binary", ":all:", *index, *for_target,
              "--dest", private, wheel],
             log=ctx.log(f"dependencies-{wheel.name}"),
             what=f"fetching the dependencies of {wheel.name}")
        added = []
        for path in sorted(Path(private).glob("*.whl")):
            if path.name != wheel.name and not (dest / path.name).exists():
                added.append(Path(shutil.move(str(path), str(dest / path.name))))
    return added
