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
from builder.extension import build_wheel, get_sdist
from builder.interpreters import find_interpreter
from builder.openssl import BuildOptions, OpenSSLBuild, build_openssl
from builder.recipes import recipe_for
from builder.releases import Release, load_table
from builder.repair import repair
from builder.report import make_provenance, provenance_path, summary, write_json_atomically
from builder.smoke import require_passed, smoke_test
from builder.sources import fetch_openssl
from builder.toolchain import native


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
                    release: Optional[Release] = None) -> OpenSSLBuild:
    """Fetch, verify and build (or reuse) the pinned OpenSSL."""
    release = release or resolve_release(request.spec)
    toolchain = native()
    with progress.stage(f"OpenSSL {release.version}: fetch and verify"):
        tarball = fetch_openssl(release, ctx.cache, mirrors=request.mirrors,
                                upstream=request.upstream, local_source=request.local_source)
        how = "reusing the verified" if tarball.reused else f"verified, from {tarball.origin}:"
        progress.say(f"    {how} {tarball.path} (sha256 {release.sha256[:16]}...)")
    with progress.stage(f"OpenSSL {release.version}: static build"):
        return build_openssl(tarball, toolchain, ctx, request.options)


def run_wheel(request: WheelRequest, ctx: RunContext) -> WheelResult:
    # Input first: a bad version, interpreter or target must not cost a download or a build.
    release = resolve_release(request.openssl.spec)
    interpreter = find_interpreter(request.python)
    with progress.stage(f"{request.target}: get the sdist"):
        sdist = get_sdist(request.target, ctx, request.index_url)
        progress.say(f"    {sdist.name} {sdist.version} from {sdist.origin}")
    openssl = prepare_openssl(request.openssl, ctx, release)
    probe = request.runtime_probe or recipe_for(sdist.name).runtime_probe
    wheelhouse = request.wheelhouse.resolve()
    wheelhouse.mkdir(parents=True, exist_ok=True)
    result = WheelResult(openssl)
    with tempfile.TemporaryDirectory(prefix="builder-") as scratch, \
            _staging(wheelhouse) as staging:
        with progress.stage(f"{sdist.name}: build the wheel with {interpreter.describe()}"):
            built = build_wheel(sdist, openssl, interpreter, ctx, Path(scratch))
        with progress.stage(f"{built.path.name}: repair and check"):
            repaired = repair(built.path, openssl.version, ctx, staging, request.plat)
        with progress.stage(f"{repaired.path.name}: smoke test"):
            smoke = smoke_test(repaired.path, staging, interpreter, openssl.version, ctx, probe)
            require_passed(smoke)
        record = make_provenance(built, repaired, openssl, smoke, openssl.key.compiler)
        result.wheels.append(_publish(repaired.path, record, wheelhouse))
        result.records.append(record)
    progress.say(summary(result.records, openssl, progress.elapsed()))
    return result


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


