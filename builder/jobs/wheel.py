"""The `wheel` job: the stages in order, from a WheelRequest to wheels in the wheelhouse."""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from packaging.utils import parse_wheel_filename

from securesystemslib.signer import Signer

from builder import progress
from builder.attest import load_signer, statement, write_attestation
from builder.context import RunContext
from builder.cargo import check_toolchain, rust_version_of_sdist
from builder.compile_cache import Sccache, sccache_server, workspace
from builder.errors import BuilderError, InputError
from builder.dependencies import download_dependencies
from builder.sdist import Sdist, get_sdist, requires_python
from builder.source import PreparedSource, SourceOptions, prepare_source
from builder.wheel_build import BuiltWheel, build_wheel
from builder.interpreters import Interpreter, TargetPython, find_interpreters
from builder.jobs.openssl import OpenSSLRequest, prepare_openssl, request_release
from builder.openssl import OpenSSLBuild
from builder.sdist_facts import refuse_what_cannot_carry_openssl, scan_sdist
from builder.recipes import Recipe, recipe_for
from builder.releases import Release
from builder.platforms import platform_for
from builder.platforms.wheelfiles import with_local_version
from builder.repair import RepairedWheel, repair
from builder.runner import process_alive
from builder.report import make_provenance, provenance_path, summary, write_json_atomically
from builder.sbom import add_sbom, sbom_json
from builder.sources import upstream_locations
from builder.smoke import SmokePlan, SmokeResult, require_passed, smoke_test
from builder.target import Target, resolve_target
from builder.toolchain import Toolchain, require_tools


@dataclass(frozen=True)
class WheelRequest:
    """What `builder wheel` was asked: the sdist (a file, a source tree or NAME[==VERSION]), the
    OpenSSL request, the target interpreters and platform, the wheelhouse, the run-time probe,
    the source options, and whether the package's own test suite runs."""

    target: str
    openssl: OpenSSLRequest = OpenSSLRequest()
    pythons: Tuple[str, ...] = ()  # paths, versions (3.9) or "all"; none: this interpreter
    plat: Optional[str] = None
    wheelhouse: Path = Path("wheelhouse")
    runtime_probe: Optional[str] = None
    source: SourceOptions = SourceOptions()
    full_smoke: bool = False  # also run the package's own test suite
    # Add +openssl<version> to the wheel's version: a local version label, which pip prefers
    # to the plain version that `NAME==VERSION` still names.
    local_version: bool = False
    sign_key: Optional[Path] = None  # PEM private key that signs each wheel's attestation


@dataclass
class WheelResult:
    """What a `wheel` job made: the OpenSSL build used, the published wheels (paths in the
    wheelhouse) and their provenance records (dicts, in the same order)."""

    openssl: OpenSSLBuild
    wheels: List[Path] = field(default_factory=list)
    records: List[dict] = field(default_factory=list)


def run_wheel(request: WheelRequest, ctx: RunContext) -> WheelResult:
    """Build, repair, smoke-test and publish the wheels `request` asks for; returns them with
    their provenance records. Raises InputError (exit 2) for bad input, CommandFailed or
    CheckFailed (exit 1) for a failed build or check; nothing half-written is kept."""
    # Input first: a bad version, interpreter or target must not cost a download or a build.
    release = request_release(request.openssl)
    check_wheelhouse(request.wheelhouse)
    signer = load_signer(request.sign_key) if request.sign_key else None
    started = _now()
    interpreters = find_interpreters(request.pythons)
    target = resolve_target(request.plat)
    platform = platform_for(target)
    platform.require_build_tools(target)  # and the smoke test's emulator, before any download
    with progress.stage(f"{request.target}: get the sdist"):
        sdist = get_sdist(request.target, ctx)
        progress.say(f"    {sdist.name} {sdist.version} from {sdist.origin}")
        refuse_what_cannot_carry_openssl(sdist.name, scan_sdist(sdist.path))
    interpreters = _supported(interpreters, sdist)
    recipe = recipe_for(sdist.name)
    source_options = request.source
    if target.cross:
        shipped = recipe.patches_for(target.os, sdist.version)
        source_options = dataclasses.replace(source_options,
                                             patches=(*shipped, *source_options.patches))
    rust = preflight(sdist, release, recipe, source_options, target)
    plan = SmokePlan.from_recipe(recipe, probe=request.runtime_probe, full=request.full_smoke,
                                 sdist=sdist.path, version=sdist.version, jobs=ctx.jobs)
    pythons = platform.target_pythons(target, interpreters, request.full_smoke, ctx)
    wheelhouse = request.wheelhouse.resolve()
    wheelhouse.mkdir(parents=True, exist_ok=True)
    real_cache = ctx.cache
    with workspace(ctx.settings.sccache, ctx.cache) as (cache, scratch), \
            _staging(wheelhouse) as staging, \
            sccache_server(ctx.settings.sccache, scratch, [cache, ctx.cache, scratch],
                           ctx.log("sccache")) as sccache:
        ctx = dataclasses.replace(ctx, cache=cache, sccache=sccache)
        # Seen through the workspace, so that compilers that name their cache path (zig's
        # wrappers) are the same files on every machine with --sccache.
        toolchain = platform.toolchain(target, ctx)
        with progress.stage(f"{sdist.name}: prepare the source"):
            source = prepare_source(sdist, scratch, ctx, source_options, rust=rust)
        openssl = prepare_openssl(request.openssl, ctx, release, toolchain, target)
        result = WheelResult(openssl)
        wheels: List[_Wheel] = []
        # Compiles run one after another here; the smoke tests of finished wheels (and their
        # dependency downloads) run beside them in one light lane.
        light = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smoke")
        try:
            for python in pythons:
                interpreter = python.build
                wheel = next((w for w in wheels if w.serves(interpreter)), None)
                if wheel is None:
                    wheel = _build_and_repair(source, openssl, release, python, ctx, scratch,
                                              staging, target, toolchain, len(wheels),
                                              request.local_version)
                    wheels.append(wheel)
                else:
                    progress.say(f"    {wheel.repaired.path.name} serves "
                                 f"{interpreter.describe()} too")
                wheel.smokes.append(light.submit(
                    _dependencies_and_smoke, wheel.repaired.path, staging, python,
                    openssl.version, ctx, plan))
        except BaseException:
            # A failed compile or Ctrl-C: the smoke tests not yet started are dropped.
            light.shutdown(wait=True, cancel_futures=True)
            raise
        light.shutdown(wait=True)
        outcomes = [[future.result() for future in wheel.smokes] for wheel in wheels]
        for _, smoke in (pair for pairs in outcomes for pair in pairs):
            require_passed(smoke)  # every wheel passed on every interpreter, or none is kept
        compiles = _sccache_stats(sccache)
        for wheel, pairs in zip(wheels, outcomes):
            record = make_provenance(wheel.built, wheel.repaired, openssl, pairs[0][1],
                                     [smoke for _, smoke in pairs], toolchain.downloads)
            # Who made the build's isolated environment and the smoke virtualenvs.
            python = wheel.built.python
            record["installer"] = {
                "build": wheel.built.installer,
                # An emulated or Windows interpreter gets pip's --target install.
                "smoke": "pip" if python.emulated is not None
                else ctx.installer.for_version(python.build.version).name}
            if compiles is not None:
                record["sccache"] = compiles
            result.wheels.append(_publish(wheel.repaired.path, record, wheelhouse, signer,
                                          started))
            result.records.append(record)
            for dependency in {d for dependencies, _ in pairs for d in dependencies}:
                if dependency.exists():
                    os.replace(dependency, wheelhouse / dependency.name)
    # With --sccache the run saw the cache through its workspace's link, gone now.
    result.openssl = openssl.seen_from(ctx.cache, real_cache)
    progress.say(summary(result.records, result.openssl, progress.elapsed()))
    return result


def _sccache_stats(sccache: Optional[Sccache]) -> Optional[Dict[str, object]]:
    """The run's compiles through sccache (its own statistics, `Sccache.stats`), said and
    returned; None without it."""
    if sccache is None:
        return None
    try:
        stats = sccache.stats()
    except BuilderError as exc:  # the wheels are built and proven; the count is extra
        progress.warn(f"sccache's statistics could not be read ({exc})")
        return None
    reasons = stats["not_cached"]
    uncached = ", ".join(f"{n} for {why}" for why, n in reasons.items())  # type: ignore
    progress.say(f"    sccache: {stats['compile_requests']} compile requests, "
                 f"{stats['cache_hits']} cache hits, {stats['cache_misses']} misses"
                 + (f"; not cacheable: {uncached}" if uncached else ""))
    return stats


@dataclass
class _Wheel:
    """A built and repaired wheel, and the smoke tests of every interpreter it serves."""

    built: BuiltWheel
    repaired: RepairedWheel
    smokes: List["Future[Tuple[List[Path], SmokeResult]]"] = field(default_factory=list)

    def serves(self, interpreter: Interpreter) -> bool:
        """An abi3 wheel serves newer interpreters too, but one built below 3.11 not those
        3.11 and newer: code compiled only for 3.11+ (pyca's floors) would be missing."""
        floor = abi3_floor(self.repaired.path)
        if floor is None:
            return False
        version = tuple(interpreter.version[:2])
        return version >= floor and (floor >= (3, 11) or version < (3, 11))


def abi3_floor(wheel: Path) -> Optional[Tuple[int, int]]:
    """(3, 11) for a cp311-abi3 wheel; None for a wheel of one interpreter."""
    _, _, _, tags = parse_wheel_filename(wheel.name)
    floors = [(int(t.interpreter[2]), int(t.interpreter[3:])) for t in tags
              if t.abi == "abi3" and t.interpreter.startswith("cp")]
    return min(floors) if floors else None


def _build_and_repair(source: PreparedSource, openssl: OpenSSLBuild, release: Release,
                      python: TargetPython, ctx: RunContext, scratch: Path, staging: Path,
                      target: Target, toolchain: Toolchain, number: int,
                      local_version: bool = False) -> _Wheel:
    name = source.sdist.name
    with progress.stage(f"{name}: build the wheel with {python.build.describe()}"):
        built = build_wheel(source, openssl, python, ctx, scratch / f"dist-{number}",
                            target, toolchain, recipe_for(source.sdist.name))
    with progress.stage(f"{built.path.name}: repair and check"):
        # Repaired alone, then moved beside the others: the light lane downloads into staging.
        repaired = repair(platform_for(target), built.path, openssl, ctx,
                          scratch / f"repaired-{number}", target, built.link_audit)
        epoch = ctx.settings.source_date_epoch
        if local_version:
            repaired = dataclasses.replace(repaired, path=with_local_version(
                repaired.path, f"openssl{openssl.version}", scratch, epoch))
        document = sbom_json(repaired.path.name, openssl, upstream_locations(release)[0], epoch)
        member = add_sbom(repaired.path, document, scratch, epoch)
        moved = Path(shutil.move(str(repaired.path), str(staging / repaired.path.name)))
    return _Wheel(built, dataclasses.replace(repaired, path=moved, sbom=member))


def _dependencies_and_smoke(wheel: Path, staging: Path, python: TargetPython,
                            expected: str, ctx: RunContext, plan: SmokePlan
                            ) -> Tuple[List[Path], SmokeResult]:
    with progress.stage(f"{wheel.name}: dependencies and smoke test with {python.describe()}"):
        dependencies = download_dependencies(wheel, staging, python, ctx)
        if dependencies:
            progress.say(f"    dependencies: {', '.join(d.name for d in dependencies)}")
        return dependencies, smoke_test(wheel, staging, python, expected, ctx, plan)


# The oldest target interpreter: Python 3.6's bundled pip 18.1 cannot set up the isolated
# build environments of `build` (it installs pip releases that no longer run on 3.6).
OLDEST_TARGET = (3, 7)


def _supported(interpreters: List[Interpreter], sdist: Sdist) -> List[Interpreter]:
    """The interpreters the package's Requires-Python admits; each other one is skipped with
    a line saying why."""
    requires = requires_python(sdist.path)
    chosen = []
    for interpreter in interpreters:
        version = ".".join(map(str, interpreter.version))
        if tuple(interpreter.version[:2]) < OLDEST_TARGET:
            progress.say(f"    skipping {interpreter.describe()}: the builder builds for CPython "
                         f"{'.'.join(map(str, OLDEST_TARGET))} and newer (PEP 517 isolated "
                         f"builds need a newer pip than that interpreter bundles)")
        elif requires is not None and not requires.contains(version, prereleases=True):
            progress.say(f"    skipping {interpreter.describe()}: {sdist.name} {sdist.version} "
                         f"requires Python {requires}")
        else:
            chosen.append(interpreter)
    if not chosen:
        raise InputError(f"none of the chosen interpreters can build {sdist.name} "
                         f"{sdist.version} (see the lines above); pass --python with CPython "
                         f"{'.'.join(map(str, OLDEST_TARGET))}+ that meets its Requires-Python "
                         f"({requires or 'any'})")
    return chosen


def preflight(sdist: Sdist, release: Release, recipe: Recipe, source: SourceOptions,
              target: Target) -> bool:
    """Everything that can be refused before a compile: the (package, OpenSSL) pair, the
    release for the target, the tools the build needs, the Rust version a Rust sdist names,
    and what the target's platform refuses of the package. Returns whether the sdist is a
    Rust project (`rust_version_of_sdist`). Raises InputError naming what to change or
    install."""
    recipe.check_openssl(sdist.version, release.version)
    platform = platform_for(target)
    platform.check_release(target, release)
    require_tools([*recipe.tools, *(["patch"] if source.patches else [])])
    is_rust, rust_version = rust_version_of_sdist(sdist.path)
    package = f"{sdist.name} {sdist.version}"
    if is_rust:
        progress.say(f"    {check_toolchain(package, rust_version)}"
                     f" (needs {rust_version or 'any'})")
    platform.check_package(package, recipe, is_rust, target)
    return is_rust


def _now() -> str:
    """The time as RFC 3339 says it, in UTC: 2026-12-01T07:05:00Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def check_wheelhouse(wheelhouse: Path) -> None:
    """Raise InputError unless the wheelhouse is a directory, or can be made as one: its
    nearest existing ancestor a writable directory."""
    if wheelhouse.exists() and not wheelhouse.is_dir():
        raise InputError(f"--wheelhouse {wheelhouse} exists and is not a directory; name a "
                         f"directory (new or existing)")
    existing = wheelhouse.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"--wheelhouse {wheelhouse} cannot be made: {existing} is not a "
                         f"writable directory")


@contextmanager
def _staging(wheelhouse: Path) -> Iterator[Path]:
    """A hidden directory inside the wheelhouse (same filesystem, so publishing is a rename)
    that pip's --find-links never lists; removed however the run ends, and by the next run
    when a killed one could not."""
    for stale in wheelhouse.glob(".staging-*-*"):
        if not _alive(stale.name.split("-")[1]):
            shutil.rmtree(stale, ignore_errors=True)
    path = Path(tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-", dir=wheelhouse))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _alive(pid: str) -> bool:
    try:
        return process_alive(int(pid))
    except ValueError:
        return True  # not ours to judge: leave it


def _publish(staged: Path, record: dict, wheelhouse: Path, signer: Optional[Signer],
             started: str) -> Path:
    """Record and attestation first (signed by `signer`, where given), then the wheel: every
    wheel visible in the wheelhouse has both."""
    final = wheelhouse / staged.name
    write_json_atomically(provenance_path(final), record)
    write_attestation(final, statement(staged, record, started, _now()), signer)
    if signer is None:
        progress.say(f"    {final.name}: attestation unsigned (pass --sign-key to sign it)")
    os.replace(staged, final)
    progress.say(f"    {final}")
    return final


