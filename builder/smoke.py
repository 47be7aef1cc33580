"""The smoke test: install a wheel into a fresh virtualenv with no index, import every
top-level module and assert the OpenSSL version it reports."""

from __future__ import annotations

import json
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from builder import probe
from builder.context import RunContext
from builder.errors import CheckFailed
from builder.interpreters import Interpreter
from builder.runner import call, capture

_SKIP_DIRS = (".dist-info", ".data", ".libs")


@dataclass(frozen=True)
class SmokeResult:
    wheel: str
    python: str
    passed: bool
    expected_openssl: str
    runtime_probe: Optional[str]
    runtime_version: Optional[str]
    embedded_versions: Dict[str, List[str]]
    imported: List[str]
    seconds: float
    log: str
    failures: List[str] = field(default_factory=list)
    shared_openssl_mapped: List[str] = field(default_factory=list)

    def record(self) -> dict:
        return asdict(self)


def top_level_modules(wheel: Path) -> List[str]:
    """Importable top-level names of a wheel, from its file list."""
    names = set()
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            head, _, rest = member.partition("/")
            if head.endswith(_SKIP_DIRS):
                continue
            if rest:
                names.add(head)
            elif head.endswith((".py", ".so")):
                names.add(head.split(".")[0])
    return sorted(n for n in names if n.isidentifier())


def smoke_test(
    wheel: Path,
    find_links: Path,
    interpreter: Interpreter,
    expected_openssl: str,
    ctx: RunContext,
    runtime_probe: Optional[str] = None,
) -> SmokeResult:
    """Run the smoke test; the result says whether it passed (see `require_passed`)."""
    started = time.monotonic()
    log = ctx.log(f"smoke-{wheel.name}")
    modules = top_level_modules(wheel)
    with tempfile.TemporaryDirectory(prefix="builder-smoke-") as scratch:
        venv = Path(scratch) / "venv"
        call([interpreter.executable, "-m", "venv", venv], log=log,
             what=f"creating a virtualenv with {interpreter.describe()}")
        python = venv / "bin" / "python"
        call([python, "-m", "pip", "install", "--no-index", "--no-cache-dir",
              "--disable-pip-version-check", "--find-links", find_links, wheel],
             log=log, what=f"installing {wheel.name} with no index")
        args = [python, "-I", str(Path(probe.__file__)), ",".join(modules)]
        output = capture(args + ([runtime_probe] if runtime_probe else []))
        with open(log, "a") as out:
            out.write(f"$ probe {' '.join(modules)} {runtime_probe or ''}\n{output}\n")
        report = json.loads(output.strip().splitlines()[-1])
    return _judge(wheel, interpreter, expected_openssl, runtime_probe, report, modules,
                  time.monotonic() - started, log)


def _judge(wheel: Path, interpreter: Interpreter, expected: str, runtime_probe: Optional[str],
           report: dict,
           modules: List[str], seconds: float, log: Path) -> SmokeResult:
    failures = [f"import {name} failed: {error}" for name, error in report["errors"].items()]
    runtime_version = None
    if report["runtime_text"] is not None:
        runtime_version = probe.version_of_text(report["runtime_text"])
        if runtime_version != expected:
            failures.append(f"at run time it reports {report['runtime_text']!r}, "
                            f"expected OpenSSL {expected}")
    embedded = {Path(p).name: v for p, v in report["embedded"].items()}
    carrying = {name: v for name, v in embedded.items() if v}
    for name, versions in carrying.items():
        if versions != [expected]:
            failures.append(f"{name} carries OpenSSL {', '.join(versions)}, expected {expected}")
    if runtime_version is None and not carrying:
        failures.append("nothing in the installed package shows which OpenSSL it carries")
    if not modules:
        failures.append("the wheel has no importable top-level module")
    return SmokeResult(
        wheel=wheel.name, python=interpreter.describe(), passed=not failures,
        expected_openssl=expected, runtime_probe=runtime_probe, runtime_version=runtime_version,
        embedded_versions=embedded, imported=report["imported"], seconds=round(seconds, 1),
        log=str(log), failures=failures,
        shared_openssl_mapped=report["shared_openssl_mapped"],
    )


def require_passed(result: SmokeResult) -> None:
    if not result.passed:
        raise CheckFailed(f"smoke test of {result.wheel} failed: {'; '.join(result.failures)}",
                          log=Path(result.log))


