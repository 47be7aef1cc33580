"""The `smoke` job: prove finished wheels in fresh environments, each against the OpenSSL
version it claims (its provenance record) or the one asked for."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence, Tuple

from builder import progress
from builder.context import RunContext
from builder.errors import BuilderError, InputError
from builder.dependencies import download_dependencies
from builder.platforms import platform_of_wheel
from builder.jobs.openssl import expected_version
from builder.recipes import recipe_for
from builder.repair import static_checks
from builder.report import read_provenance
from builder.smoke import SmokePlan, check_is_wheel, require_passed, smoke_test


@dataclass(frozen=True)
class SmokeOutcome:
    """One wheel's smoke test: `error` is None where it passed, or where it could not run
    here (`not_run` says why; `checks` then says what the static checks proved and `found`
    what they read of each binary)."""

    wheel: Path
    expected: str  # the OpenSSL version it had to report
    seconds: float
    error: Optional[BuilderError] = None
    not_run: Optional[str] = None
    checks: Tuple[str, ...] = ()
    found: Tuple[str, ...] = ()


def smoke_wheels(wheels: Sequence[Path], ctx: RunContext, *, python: Optional[str] = None,
                 openssl: Optional[str] = None, probe: Optional[str] = None
                 ) -> Iterator[SmokeOutcome]:
    """Smoke-test each wheel with `python` (default: this interpreter; for a Windows wheel,
    the pinned Windows CPython of that version, default the newest its tags accept), one
    after another, yielding each outcome as it is known. A wheel nothing here can run (macOS)
    gets the checks that need no interpreter, and its outcome says `not_run`. Raises
    InputError before any test for a path that is not a wheel, and for a wheel with no
    provenance record when `openssl` is not given."""
    for wheel in wheels:
        check_is_wheel(wheel)
    for wheel in wheels:
        record = read_provenance(wheel) or {}
        claimed = openssl or record.get("openssl", {}).get("version")
        if not claimed:
            raise InputError(f"no provenance record beside {wheel.name}; pass --openssl VERSION")
        platform = platform_of_wheel(wheel)
        interpreter = platform.smoke_python(wheel, python, ctx)
        if interpreter.emulated is not None and not interpreter.emulated.runs:
            # Nothing here runs it (a macOS wheel): the checks that need no interpreter.
            with progress.stage(f"{wheel.name}: static checks"):
                try:
                    facts, proved = static_checks(platform, wheel, expected_version(claimed))
                except BuilderError as exc:
                    yield SmokeOutcome(wheel, claimed, 0.0, exc)
                    continue
            yield SmokeOutcome(wheel, claimed, 0.0, not_run=interpreter.emulated.not_run_reason,
                               checks=tuple(proved), found=tuple(f.describe() for f in facts))
            continue
        smoked = record.get("smoke")
        plan = SmokePlan.from_recipe(recipe_for(wheel.name.split("-")[0]), probe=probe or (
            smoked.get("runtime_probe") if isinstance(smoked, dict) else None))
        with progress.stage(f"{wheel.name}: smoke test"), \
                tempfile.TemporaryDirectory(prefix="builder-links-") as links:
            # The wheel's folder may not hold its dependencies (a cibuildwheel test step):
            # they are fetched beside a copy of it, and the wheel installed from there.
            copy = Path(shutil.copy(wheel, links))
            download_dependencies(copy, Path(links), interpreter, ctx)
            result = smoke_test(copy, Path(links), interpreter, expected_version(claimed),
                                ctx, plan)
        try:
            require_passed(result)
        except BuilderError as exc:
            yield SmokeOutcome(wheel, claimed, result.seconds, exc)
        else:
            yield SmokeOutcome(wheel, claimed, result.seconds)
