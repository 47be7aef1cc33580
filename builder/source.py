"""The unpacked sdist, with the asked-for changes made before any compile: patches, crates
from a vendor directory, links a recipe asks for."""

from __future__ import annotations

import filecmp
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
import sys
from typing import Dict, List, Tuple


from builder.context import RunContext
from builder.cargo import CargoOptions, fetch_crates, offline_env, prepare_sources
from builder.errors import CommandFailed, InputError
from builder.fetch import sha256_file
from builder.runner import call
from builder.sdist import Sdist, unpack_sdist

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on older Pythons only
    import tomli as tomllib


@dataclass(frozen=True)
class SourceOptions:
    """Changes to the unpacked sdist before it is built."""

    patches: Tuple[Path, ...] = ()
    cargo: CargoOptions = CargoOptions()


@dataclass(frozen=True)
class PreparedSource:
    """An unpacked sdist with the asked-for changes made, ready to build."""

    sdist: Sdist
    path: Path
    env: Dict[str, str]  # what the build needs beyond the OpenSSL settings (cargo)
    changes: Dict[str, object]  # patches applied, crates used: for the provenance
    rust: bool  # the sdist is a Rust project (cargo.rust_version_of_sdist)


def prepare_source(sdist: Sdist, scratch: Path, ctx: RunContext,
                   options: SourceOptions = SourceOptions(), *, rust: bool
                   ) -> PreparedSource:
    """Unpack the sdist into a fresh directory, apply patches, point cargo at the crates.
    `rust`: whether the sdist is a Rust project, as the preflight found it.

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
    if (source / "Cargo.lock").is_file():
        changes["crates"] = locked_crates(source / "Cargo.lock")
    return PreparedSource(sdist, source, env, changes, rust)


def locked_crates(lock: Path) -> List[Dict[str, str]]:
    """The registry crates a Cargo.lock pins (read with the TOML library): name, version and
    the sha256 `checksum` cargo verifies each download against; a path or git dependency
    (no checksum) is left out."""
    with open(lock, "rb") as data:
        packages = tomllib.load(data).get("package", [])
    return [{"name": p["name"], "version": p["version"], "sha256": p["checksum"]}
            for p in packages if p.get("checksum")]


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


def link_into_source(source: Path, inside: str, target: Path) -> None:
    """A link at `inside` (relative to the unpacked source) to a part of the static prefix;
    refused when `inside` would leave the source directory."""
    link = (source / inside)
    if not str(link.resolve()).startswith(str(source.resolve()) + os.sep):
        raise InputError(f"the recipe's source link {inside} leaves the source directory")
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or _same_copy(link, target):
        return  # made for an earlier interpreter's build of this source
    try:
        link.symlink_to(target, target_is_directory=target.is_dir())
    except OSError:  # Windows without the right to make links: a copy serves alike
        if link.exists():
            raise
        if target.is_dir():
            shutil.copytree(target, link)
        else:
            shutil.copyfile(target, link)


def _same_copy(link: Path, target: Path) -> bool:
    """Whether `link` is a copy of `target` (a file of the same bytes, or a folder whose
    files are), as `link_into_source` makes where links cannot be made."""
    if link.is_file() and target.is_file():
        return filecmp.cmp(link, target, shallow=False)
    if not (link.is_dir() and target.is_dir()):
        return False
    compared = filecmp.dircmp(link, target)
    pending = [compared]
    while pending:
        level = pending.pop()
        _, mismatch, errors = filecmp.cmpfiles(level.left, level.right, level.common_files,
                                               shallow=False)
        if level.left_only or level.right_only or mismatch or errors or level.funny_files:
            return False
        pending.extend(level.subdirs.values())
    return True
