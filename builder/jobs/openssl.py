"""The `openssl` jobs: which release, fetched and verified, built (or reused) as a static
prefix; and the release table with what the cache holds."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from builder import progress
from builder.compile_cache import sccache_server, workspace
from builder.context import RunContext
from builder.errors import InputError
from builder.openssl import (BuildOptions, OpenSSLBuild, build_openssl, copy_prefix, find_cached,
                             tools_needed)
from builder.releases import Release, load_table
from builder.signatures import require_gpgv
from builder.sources import fetch_openssl
from builder.target import Target, host_target, openssl_target, resolve_target
from builder.platforms import platform_for
from builder.toolchain import Toolchain, require_tools


@dataclass(frozen=True)
class OpenSSLRequest:
    """What the user asked of OpenSSL: which release, where its tarball may come from (mirrors,
    upstream, a local file), the build options, and whether OpenSSL's signature is checked
    (and an unlisted release accepted on it alone)."""

    spec: Optional[str] = None  # a version, a series, or None for the newest LTS
    mirrors: Tuple[str, ...] = ()
    upstream: bool = True  # False: only the mirrors (hosts that cannot reach openssl.org)
    local_source: Optional[Path] = None
    options: BuildOptions = BuildOptions()
    verify_signature: bool = False  # also check OpenSSL's .asc against the shipped keys
    allow_unlisted: bool = False  # a version not in the table, on its signature alone


def resolve_release(spec: Optional[str], *, allow_unlisted: bool = False,
                    verify_signature: bool = False) -> Release:
    """The release `spec` names in the release table (builder/data/openssl_releases.toml; None:
    the newest LTS); with `allow_unlisted`, an exact version the table lacks. Warns of an
    end-of-life series or an old patch.

    Raises InputError for a spec the table does not know (and not allowed unlisted), for
    `allow_unlisted` without `verify_signature`, or when `verify_signature` is asked and gpgv
    is missing."""
    table = load_table()
    if verify_signature:
        require_gpgv()
    if allow_unlisted and not verify_signature:
        raise InputError("--allow-unlisted needs --verify-signature: a version the table does "
                         "not list is trusted only through OpenSSL's signature")
    try:
        release = table.resolve(spec)
    except InputError:
        if not (allow_unlisted and spec):
            raise
        release = table.unlisted(spec)
        if not release.sha256:
            progress.warn(f"OpenSSL {release.version} is not in the release table: it is "
                          f"accepted only if OpenSSL's signature of it verifies")
    for warning in table.warnings_for(release):
        progress.warn(warning)
    return release


def request_release(request: OpenSSLRequest) -> Release:
    """The release `request` asks for (`resolve_release`); raises InputError as it does."""
    return resolve_release(request.spec, allow_unlisted=request.allow_unlisted,
                           verify_signature=request.verify_signature)


def prepare_openssl(request: OpenSSLRequest, ctx: RunContext,
                    release: Optional[Release] = None,
                    toolchain: Optional[Toolchain] = None,
                    target: Optional[Target] = None) -> OpenSSLBuild:
    """Fetch, verify and build (or reuse) the pinned OpenSSL for `target` (the host's without
    one; for universal2, one build per architecture joined into one), and prove it is of the
    target's machine. Raises InputError for bad input (a release
    the target cannot build first), VerificationError for wrong bytes, CommandFailed for a
    failed build, CheckFailed for an archive of another machine."""
    release = release or request_release(request)
    target = target or host_target()
    platform = platform_for(target)
    platform.check_release(target, release)
    if len(target.slices) > 1:
        # universal2: each architecture's own build (cached as any other), then joined.
        builds = [prepare_openssl(request, ctx, release, None, part) for part in target.slices]
        with progress.stage(f"OpenSSL {release.version}: join {target.plat}"):
            joined = platform.join_openssl(builds, target, ctx)
        platform.check_openssl(joined, target)
        return joined
    built_for = openssl_target(target)
    if toolchain is None or built_for != target:
        toolchain = platform.toolchain(built_for, ctx)
    require_tools(tools_needed(toolchain, request.options))
    with progress.stage(f"OpenSSL {release.version}: fetch and verify"):
        tarball = fetch_openssl(release, ctx.cache, mirrors=request.mirrors,
                                upstream=request.upstream, local_source=request.local_source,
                                verify_signature=request.verify_signature)
        how = "reusing the verified" if tarball.reused else "verified"
        origin = "" if tarball.origin == str(tarball.path) else f", from {tarball.origin}"
        progress.say(f"    {how} {tarball.path} (sha256 {tarball.release.sha256[:16]}..."
                     f"{origin})")
        if tarball.signature is not None:
            expired = " (a key since expired)" if tarball.signature.key_expired else ""
            progress.say(f"    good signature by {tarball.signature.signer}, key "
                         f"{tarball.signature.fingerprint}{expired}")
    with progress.stage(f"OpenSSL {release.version}: static build"):
        build = build_openssl(tarball, toolchain, ctx, request.options)
    platform.check_openssl(build, target)
    return build


def build_prefix(request: OpenSSLRequest, ctx: RunContext, plat: Optional[str] = None,
                 copy_to: Optional[Path] = None) -> Path:
    """The `openssl build` job: build (or reuse) the static OpenSSL for --plat and return its
    prefix in the cache, or, with `copy_to`, a copy there with pkg-config pointed at it.
    Raises what prepare_openssl raises, and InputError for a `copy_to` that is not empty."""
    with workspace(ctx.settings.sccache, ctx.cache) as (cache, scratch), \
            sccache_server(ctx.settings.sccache, scratch, [cache, ctx.cache],
                           ctx.log("sccache")) as sccache:
        build = prepare_openssl(request, dataclasses.replace(ctx, cache=cache, sccache=sccache),
                                target=resolve_target(plat))
        build = build.seen_from(cache, ctx.cache)  # the workspace is gone with it
    if copy_to is None:
        return build.prefix
    copy_prefix(build, copy_to.resolve())
    return copy_to.resolve()


@dataclass(frozen=True)
class ReleaseRow:
    """One line of `builder openssl list`."""

    version: str
    series: str
    eol: Optional[dt.date]
    supported: bool
    lts: bool
    cached: bool


def release_rows(cache: Path, today: Optional[dt.date] = None) -> List[ReleaseRow]:
    """Every release of the table, newest first, with its series' state on `today` and
    whether the cache holds a build of it."""
    day = today or dt.date.today()
    return [ReleaseRow(r.version, r.series.name, r.series.eol, r.series.supported_on(day),
                       r.series.lts, bool(find_cached(cache, r.version)))
            for r in reversed(load_table().releases)]


def expected_version(spec: str) -> str:
    """The exact version a wheel should report for `spec`: a release or series the table
    knows, or an exact version it does not (a wheel built with --allow-unlisted).
    Raises InputError when `spec` is neither."""
    table = load_table()
    try:
        return table.resolve(spec).version
    except InputError:
        return table.unlisted(spec).version
