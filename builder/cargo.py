"""Rust sdists: the toolchain they need, and crates from a local directory source for hosts
that cannot reach crates.io (the kind of directory `cargo vendor` makes)."""

from __future__ import annotations

import re
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

from builder.errors import CommandFailed, InputError
from builder.runner import call, capture
from builder.toolchain import require_tools

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on older Pythons only
    import tomli as tomllib



@dataclass(frozen=True)
class CargoOptions:
    """How cargo gets its crates: from the registry (default), or offline from the directory source
    `vendor`, with Cargo.lock re-resolved against it when `relock` is set."""

    vendor: Optional[Path] = None  # a directory source; cargo then runs offline
    relock: bool = False  # re-resolve Cargo.lock offline against `vendor`


def rust_version_of_sdist(sdist: Path) -> Tuple[bool, Optional[str]]:
    """(whether the sdist is a Rust project, the minimum Rust its Cargo.toml names)."""
    if not sdist.name.endswith(".tar.gz"):
        return False, None
    with tarfile.open(sdist) as archive:
        member = next((m for m in archive.getmembers()
                       if m.isfile() and m.name.count("/") == 1
                       and m.name.endswith("/Cargo.toml")), None)
        if member is None:
            return False, None
        data = tomllib.loads(archive.extractfile(member).read().decode())  # type: ignore[union-attr]
    package = data.get("package", {})
    workspace = data.get("workspace", {}).get("package", {})
    found = package.get("rust-version")
    if not isinstance(found, str):  # `rust-version.workspace = true` or absent
        found = workspace.get("rust-version")
    return True, found


def check_toolchain(package: str, minimum: Optional[str]) -> str:
    """Refuse up front when cargo/rustc are missing or older than the package needs; return
    `rustc --version`'s text.

    Raises InputError when cargo or rustc is not on PATH, or rustc is older than `minimum`;
    CommandFailed when `rustc --version` fails."""
    require_tools(["cargo", "rustc"])
    text = capture(["rustc", "--version"]).strip()
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    if minimum and match:
        have = tuple(int(n) for n in match.groups())
        need = tuple(int(n) for n in (minimum.split(".") + ["0", "0"])[:3])
        if have < need:
            raise InputError(f"{package} needs Rust {minimum} or newer, this host has {text}; "
                             f"update Rust (rustup update, or a newer cargo/rustc package)")
    return text


def check_rust_target(package: str, triple: str,
                      elsewhere: str = "on a host of that architecture") -> None:
    """Refuse up front when rustc has no standard library for the target triple (no
    lib/rustlib/<triple>/lib in its sysroot): raises InputError, naming `elsewhere` to
    build instead."""
    sysroot = capture(["rustc", "--print", "sysroot"]).strip()
    if not (Path(sysroot) / "lib" / "rustlib" / triple / "lib").is_dir():
        raise InputError(f"{package} is a Rust project and this Rust has no standard library "
                         f"for {triple}; install it (rustup target add {triple}) or build "
                         f"{elsewhere}")


def vendor_from(chosen: Optional[Path], relock: bool = False,
                origin: str = "--cargo-vendor") -> Optional[Path]:
    """The cargo-vendor setting (--cargo-vendor, $BUILDER_CARGO_VENDOR or the configuration
    file: `origin` names which), resolved; raises InputError where it is not a directory, or
    --cargo-relock has no vendor directory to re-resolve against."""
    if chosen is not None and not chosen.is_dir():
        raise InputError(f"cargo-vendor {chosen} (from {origin}) is not a directory; name "
                         f"the directory `cargo vendor` made")
    if relock and chosen is None:
        raise InputError("--cargo-relock needs --cargo-vendor DIR (or $BUILDER_CARGO_VENDOR)")
    return chosen.resolve() if chosen is not None else None


def offline_env(vendor: Path, cargo_home: Path) -> Dict[str, str]:
    """A private CARGO_HOME whose only source is `vendor`: cargo reads neither the user's
    config nor the network. Writes `cargo_home/config.toml`; returns the variables to set
    (CARGO_HOME, CARGO_NET_OFFLINE)."""
    cargo_home.mkdir(parents=True, exist_ok=True)
    (cargo_home / "config.toml").write_text(
        "[source.crates-io]\n"
        'replace-with = "vendored-sources"\n\n'
        "[source.vendored-sources]\n"
        f"directory = {str(vendor)!r}\n\n"
        "[net]\n"
        "offline = true\n"
    )
    return {"CARGO_HOME": str(cargo_home), "CARGO_NET_OFFLINE": "true"}


def prepare_sources(source: Path, options: CargoOptions, env: Dict[str, str], log: Path,
                    package: str) -> None:
    """Relock against the directory source, or prove that it satisfies Cargo.lock.

    Raises InputError when the crates do not satisfy Cargo.lock (without --cargo-relock);
    CommandFailed when `cargo generate-lockfile` fails."""
    assert options.vendor is not None
    if options.relock:
        (source / "Cargo.lock").unlink(missing_ok=True)
        call(["cargo", "generate-lockfile", "--offline"], cwd=source, env=env, log=log,
             what=f"re-resolving {package}'s Cargo.lock against {options.vendor}")
        return
    try:
        call(["cargo", "metadata", "--offline", "--locked", "--format-version", "1"],
             cwd=source, env=env, log=log, what="checking Cargo.lock against the crates")
    except CommandFailed as exc:
        reason = next((line for line in reversed(exc.tail) if line.strip()), "")
        raise InputError(
            f"the crates in {options.vendor} do not satisfy {package}'s Cargo.lock "
            f"({reason.strip()}); pass --cargo-relock to re-resolve the lock against them",
            log=exc.log) from exc


# What cargo prints when it cannot reach a registry (curl's and cargo's own words).
_UNREACHABLE = re.compile(r"Could not resolve host|failed to download from|Couldn't connect|"
                          r"failed to get `|spurious network error|failed to query replaced "
                          r"source registry|Connection refused|timed out")


def fetch_crates(source: Path, log: Path, package: str) -> None:
    """Download the crates of a Rust sdist with the user's cargo configuration before any
    compile (`cargo fetch`), so that a host that cannot reach the registry is told in seconds.

    Raises InputError naming --cargo-vendor when cargo cannot reach the registry;
    CommandFailed for any other failure of cargo."""
    try:
        call(["cargo", "fetch"], cwd=source, log=log, what=f"fetching the crates of {package}")
    except CommandFailed as exc:
        reason = next((line.strip() for line in exc.tail if _UNREACHABLE.search(line)), None)
        if reason is None:
            raise
        raise InputError(f"cargo cannot download the crates {package} needs ({reason}): "
                         f"pass --cargo-vendor DIR with a directory source (`cargo vendor` "
                         f"makes one) or let this host reach the registry", log=exc.log,
                         tail=exc.tail) from exc
