"""The `wheel` job: the stages in order, from a Request to wheels in the wheelhouse."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

from builder import progress
from builder.context import RunContext
from builder.cargo import check_toolchain, rust_version_of_sdist
from builder.extension import (Sdist, SourceOptions, build_wheel, download_dependencies,
                               get_sdist, prepare_source)
from builder.interpreters import find_interpreter
from builder.openssl import BuildOptions, OpenSSLBuild, build_openssl
from builder.recipes import Recipe, recipe_for
from builder.releases import Release, load_table
from builder.repair import repair
from builder.report import make_provenance, provenance_path, summary, write_json_atomically
from builder.smoke import SmokePlan, require_passed, smoke_test
from builder.sources import fetch_openssl
from builder.toolchain import Toolchain, for_platform, native, require_tools


@dataclass(frozen=True)
class OpenSSLRequest:
    spec: Optional[str] = None  # a version, a series, or None for the newest LTS
    mirrors: Tuple[str, ...] = ()
    upstream: bool = True  # False: only the mirrors (hosts that cannot reach openssl.org)
    local_source: Optional[Path] = None
    options: BuildOptions = BuildOptions()


@dataclass(frozen=True)
class WheelRequest:
    target: str
    openssl: OpenSSLRequest = OpenSSLRequest()
    python: Optional[str] = None
    plat: Optional[str] = None
    wheelhouse: Path = Path("wheelhouse")
    index_url: Optional[str] = None
    runtime_probe: Optional[str] = None
    source: SourceOptions = SourceOptions()
    full_smoke: bool = False  # also run the package's own test suite


@dataclass
class WheelResult:
    openssl: OpenSSLBuild
    wheels: List[Path] = field(default_factory=list)
    records: List[dict] = field(default_factory=list)


def resolve_release(spec: Optional[str]) -> Release:
    table = load_table()
    release = table.resolve(spec)
    for warning in table.warnings_for(release):
        progress.warn(warning)
    return release


def prepare_openssl(request: OpenSSLRequest, ctx: RunContext,
                    release: Optional[Release] = None,
                    toolchain: Optional[Toolchain] = None) -> OpenSSLBuild:
    """Fetch, verify and build (or reuse) the pinned OpenSSL."""
    release = release or resolve_release(request.spec)
    toolchain = toolchain or native()
    with progress.stage(f"OpenSSL {release.version}: fetch and verify"):
        tarball = fetch_openssl(release, ctx.cache, mirrors=request.mirrors,
                                upstream=request.upstream, local_source=request.local_source)
        how = "reusing the verified" if tarball.reused else "verified"
        origin = "" if tarball.origin == str(tarball.path) else f", from {tarball.origin}"
        progress.say(f"    {how} {tarball.path} (sha256 {release.sha256[:16]}...{origin})")
    with progress.stage(f"OpenSSL {release.version}: static build"):
        return build_openssl(tarball, toolchain, ctx, request.options)


def run_wheel(request: WheelRequest, ctx: RunContext) -> WheelResult:
    # Input first: a bad version, interpreter or target must not cost a download or a build.
    release = resolve_release(request.openssl.spec)
    interpreter = find_interpreter(request.python)
    with progress.stage(f"{request.target}: get the sdist"):
        sdist = get_sdist(request.target, ctx, request.index_url)
        progress.say(f"    {sdist.name} {sdist.version} from {sdist.origin}")
    recipe = recipe_for(sdist.name)
    toolchain = for_platform(request.plat, ctx.cache)
    preflight(sdist, release, recipe, request.source)
    plan = SmokePlan.from_recipe(recipe, probe=request.runtime_probe, full=request.full_smoke,
                                 sdist=sdist.path, version=sdist.version, jobs=ctx.jobs)
    wheelhouse = request.wheelhouse.resolve()
    wheelhouse.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="builder-") as scratch, \
            _staging(wheelhouse) as staging:
        with progress.stage(f"{sdist.name}: prepare the source"):
            source = prepare_source(sdist, Path(scratch), ctx, request.source)
        openssl = prepare_openssl(request.openssl, ctx, release, toolchain)
        result = WheelResult(openssl)
        with progress.stage(f"{sdist.name}: build the wheel with {interpreter.describe()}"):
            built = build_wheel(source, openssl, interpreter, ctx, Path(scratch) / "dist",
                                toolchain)
        with progress.stage(f"{built.path.name}: repair and check"):
            repaired = repair(built.path, openssl, ctx, staging, request.plat)
        with progress.stage(f"{repaired.path.name}: dependencies"):
            dependencies = download_dependencies(repaired.path, staging, interpreter, ctx)
            progress.say(f"    {', '.join(d.name for d in dependencies) or 'none needed'}")
        with progress.stage(f"{repaired.path.name}: smoke test"):
            smoke = smoke_test(repaired.path, staging, interpreter, openssl.version, ctx, plan)
            require_passed(smoke)
        record = make_provenance(built, repaired, openssl, smoke)
        result.wheels.append(_publish(repaired.path, record, wheelhouse))
        result.records.append(record)
        for dependency in dependencies:
            os.replace(dependency, wheelhouse / dependency.name)
    progress.say(summary(result.records, openssl, progress.elapsed()))
    return result


def preflight(sdist: Sdist, release: Release, recipe: Recipe, source: SourceOptions) -> None:
    """Everything that can be refused before a compile: the (package, OpenSSL) pair, the
    tools the build needs, the Rust version a Rust sdist names."""
    recipe.check_openssl(sdist.version, release.version)
    require_tools([*recipe.tools, *(["patch"] if source.patches else [])])
    is_rust, rust_version = rust_version_of_sdist(sdist.path)
    if is_rust:
        progress.say(f"    {check_toolchain(f'{sdist.name} {sdist.version}', rust_version)}"
                     f" (needs {rust_version or 'any'})")


@contextmanager
def _staging(wheelhouse: Path) -> Iterator[Path]:
    """A hidden directory inside the wheelhouse (same filesystem, so publishing is a rename)
    that pip's --find-links never lists; removed however the run ends."""
    path = Path(tempfile.mkdtemp(prefix=".staging-", dir=wheelhouse))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _publish(staged: Path, record: dict, wheelhouse: Path) -> Path:
    """Record first, then the wheel: every wheel visible in the wheelhouse has its record."""
    final = wheelhouse / staged.name
    write_json_atomically(provenance_path(final), record)
    os.replace(staged, final)
    progress.say(f"    {final}")
    return final


