"""The sdist a run builds: a local file, a local source tree (made into an sdist first) or
NAME[==VERSION] from the package index, verified; and its safe unpacking."""

from __future__ import annotations

import os
import re
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidSdistFilename, canonicalize_name, parse_sdist_filename
from packaging.version import InvalidVersion, Version

from builder import progress
from builder.context import RunContext
from builder.cache import Kind
from builder.errors import BuilderError, InputError
from builder.fetch import Expected, cached_download, sha256_file
from builder.index import SDIST_SUFFIXES, index_files
from builder.runner import call


_INDEX_ADVICE = "check --index-url or give a local sdist"


@dataclass(frozen=True)
class Sdist:
    """The sdist a run builds: its canonical name and version, its path (the user's file, or one
    inside the cache or this run's log folder), its sha256 (hex) and where it came from (a URL,
    the user's file or source tree)."""

    name: str
    version: str
    path: Path
    sha256: str
    origin: str


def get_sdist(target: str, ctx: RunContext) -> Sdist:
    """`target` is a local sdist, a local source tree, or NAME[==VERSION] on the index.

    Raises InputError for a file that is not an sdist, a path that does not exist, a tree
    without pyproject.toml or setup.py, or a name, version or pin the index cannot serve;
    CommandFailed when making an sdist of a tree fails; VerificationError when the index's
    bytes do not match its sha256; BuilderError when the index cannot be reached or gives no
    sha256."""
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


def unpack_sdist(path: Path, dest: Path) -> Path:
    """Unpack safely (no absolute paths, no `..`, no links leaving `dest`); return the
    project directory inside (`dest` itself when the archive has no single top directory).
    Raises InputError for an archive with a member that would leave `dest`."""
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
