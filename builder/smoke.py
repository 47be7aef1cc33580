"""The smoke test: install a wheel into a fresh virtualenv with no index, import every
top-level module and assert the OpenSSL version it reports."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from builder import loadwatch, probe
from builder.context import RunContext
from typing import TYPE_CHECKING
from builder.errors import CheckFailed, CommandFailed, InputError
from builder.sdist import unpack_sdist
from builder.installer import Installer
from builder.interpreters import (Interpreter, TargetPython, build_frontend, upgrade_old_pip,
                                  venv_python)
from builder.recipes import Recipe
from builder.runner import call, capture

if TYPE_CHECKING:
    from typing import Union

    from builder.platforms.qemu import EmulatedPython
    from builder.platforms.wine import WindowsPython

    ForeignPython = Union[EmulatedPython, WindowsPython]

_SKIP_DIRS = (".dist-info", ".data", ".libs")
_LOADWATCH = Path(loadwatch.__file__)


@dataclass(frozen=True)
class SmokeResult:
    """The verdict of one smoke test of one wheel with one interpreter: whether it passed and
    every failure, the OpenSSL expected and what the probe read (at run time, and the version
    text embedded in each binary), the modules imported, the shared OpenSSL loads seen, the
    functional checks' and test suite's results, the time taken (seconds) and the log's path.
    `not_run` says why no test ran (no interpreter of the target on this host): then `passed`
    is False and nothing else is claimed."""

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
    # A shared libcrypto/libssl the package opened or mapped (loadwatch.py); empty: none.
    shared_openssl_loads: List[str] = field(default_factory=list)
    loads: Dict[str, dict] = field(default_factory=dict)  # what each process observed
    ssl_beside: Optional[dict] = None  # the interpreter's own ssl, used after the import
    checks: Dict[str, dict] = field(default_factory=dict)  # the recipe's functional checks
    suite: Optional[str] = None  # the closing line of the package's own test suite
    not_run: Optional[str] = None  # why it could not run here; None: it ran

    def record(self) -> dict:
        """The result as the provenance record shows it: every field, as a JSON-ready dict;
        `passed` is null (neither a pass nor a failure) for a test that did not run."""
        return {**asdict(self), **({"passed": None} if self.not_run else {})}


def check_is_wheel(path: Path) -> None:
    """Raise InputError unless `path` is a wheel: a NAME-VERSION-TAGS.whl file name and a zip
    archive holding `<name>.dist-info/WHEEL`."""
    if path.is_dir():
        raise InputError(f"{path} is a directory; give the .whl files in it ({path}/*.whl)")
    if not path.is_file():
        raise InputError(f"{path} does not exist (or is not a file); give a .whl file")
    try:
        parse_wheel_filename(path.name)
    except InvalidWheelFilename as exc:
        raise InputError(f"{path.name} is not a wheel: its name is not "
                         f"NAME-VERSION-PYTHON-ABI-PLATFORM.whl ({exc})") from exc
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path.name} is not a wheel: it is not a zip archive") from exc
    if not any(n.count("/") == 1 and n.endswith(".dist-info/WHEEL") for n in names):
        raise InputError(f"{path.name} is not a wheel: it holds no .dist-info/WHEEL")


def binaries_outside_packages(wheel: Path) -> List[str]:
    """The binaries (ELF or PE files) of a wheel that importing its packages does not reach,
    as paths in the wheel: programs (`.data/scripts/`), auditwheel's `<name>.scripts/` to
    which it moves programs that need grafted libraries, and the like."""
    modules = set(top_level_modules(wheel))
    found = []
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            head = member.split("/")[0]
            inside = member.split("/")[2:] if head.endswith(".data") else member.split("/")
            if head.endswith((".dist-info", ".libs")) or not inside or inside[0] in modules:
                continue
            with archive.open(member) as data:
                if probe.is_binary(probe.binary_head(data)):
                    found.append(member)
    return found


def top_level_modules(wheel: Path) -> List[str]:
    """Importable top-level names of a wheel, from its file list (`.data/purelib/` and
    `.data/platlib/` included)."""
    names = set()
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            head, _, rest = member.partition("/")
            if head.endswith(".data") and rest.startswith(("purelib/", "platlib/")):
                head, _, rest = rest.partition("/")[2].partition("/")
            elif head.endswith(_SKIP_DIRS):
                continue
            if rest:
                names.add(head)
            elif head.endswith((".py", ".so", ".pyd")):
                names.add(head.split(".")[0])
    return sorted(n for n in names if n.isidentifier())


@dataclass(frozen=True)
class SmokePlan:
    """What the smoke test runs beyond importing: from the package's recipe and the CLI."""

    runtime_probe: Optional[str] = None
    checks: Optional[str] = None  # builder/checks/<name>.py
    suite_requirements: Tuple[str, ...] = ()  # empty: the package's own suite is not run
    suite_command: Tuple[str, ...] = ()
    suite_sdist: Optional[Path] = None

    @classmethod
    def from_recipe(cls, recipe: Recipe, *, probe: Optional[str] = None, full: bool = False,
                    sdist: Optional[Path] = None, version: str = "", jobs: int = 1
                    ) -> "SmokePlan":
        """The plan for a package: its recipe's probe (or `probe`, given on the command line) and
        checks; with `full`, its own test suite from `sdist` (`{version}` and `{jobs}` filled in).
        Raises InputError when `full` is asked and the recipe names no test suite."""
        if full and not recipe.test_command:
            raise InputError(f"--smoke full: the builder knows no test suite of {recipe.name}; "
                             f"use --smoke basic")
        fill = {"version": version, "jobs": str(jobs)}
        return cls(
            runtime_probe=probe or recipe.runtime_probe,
            checks=recipe.checks,
            suite_requirements=tuple(r.format(**fill) for r in recipe.test_requirements)
            if full else (),
            suite_command=tuple(c.format(**fill) for c in recipe.test_command) if full else (),
            suite_sdist=sdist if full else None,
        )


def smoke_test(
    wheel: Path,
    find_links: Path,
    python: TargetPython,
    expected_openssl: str,
    ctx: RunContext,
    plan: SmokePlan = SmokePlan(),
) -> SmokeResult:
    """Run the smoke test; the result says whether it passed (see `require_passed`).
    Raises CommandFailed where the wheel cannot even be installed.

    With `python.emulated` (a wheel for another architecture or OS) the wheel is installed for
    that interpreter by this host's pip (`--target`) and run under emulation or wine; where
    that interpreter cannot run here, nothing runs and the result says why (`not_run`)."""
    started = time.monotonic()
    log = ctx.log(f"smoke-{wheel.name}-{python.label}")
    modules = top_level_modules(wheel)
    if python.emulated is not None and not python.emulated.runs:
        return SmokeResult(wheel=wheel.name, python=python.describe(), passed=False,
                           expected_openssl=expected_openssl, runtime_probe=plan.runtime_probe,
                           runtime_version=None, embedded_versions={}, imported=[],
                           seconds=0.0, log=str(log), not_run=python.emulated.not_run_reason)
    with tempfile.TemporaryDirectory(prefix="builder-smoke-") as scratch_dir:
        scratch = Path(scratch_dir)
        if python.emulated is None:
            installed = _fresh_venv(scratch / "venv", wheel, find_links, python.build, log,
                                    ctx.installer.for_version(python.build.version))
        else:
            installed = _emulated_install(scratch / "site", wheel, find_links, python.build,
                                          python.emulated, log, ctx)
        installed = _with_interpreter_openssl(installed, scratch)
        report = _probe(installed, scratch, modules, plan.runtime_probe, log,
                        binaries_outside_packages(wheel))
        checks, failures = _run_checks(installed, plan.checks, expected_openssl, scratch, log)
        report["loads_of_checks"] = [c.get("loads", {}) for c in checks.values()]
        suite = None
        if plan.suite_sdist is not None:
            suite, suite_failures = _run_suite(installed, plan, scratch, log,
                                               ctx.installer.for_version(python.build.version))
            failures += suite_failures
    result = _judge(wheel, python.describe(), expected_openssl, plan.runtime_probe, report, modules,
                    time.monotonic() - started, log, failures)
    return dataclasses.replace(result, checks=checks, suite=suite)


@dataclass(frozen=True)
class _Installed:
    """An interpreter that has the wheel installed: how to run it isolated from the user's
    site-packages and the current directory."""

    command: Tuple[str, ...]
    env: Optional[Dict[str, str]] = None
    venv_python: Optional[Path] = None  # where more can be installed (the own test suite)


def _fresh_venv(venv: Path, wheel: Path, find_links: Path, interpreter: Interpreter,
                log: Path, installer: Installer) -> _Installed:
    installer.make_venv(interpreter.executable, venv, log,
                        f"creating a virtualenv with {interpreter.describe()} ({installer.name})")
    python = venv_python(venv)
    if not installer.uv:
        upgrade_old_pip(python, log)
    # No cache: a rebuilt wheel of the same name must be the one installed.
    installer.install(python, ["--no-index", "--no-cache" if installer.uv else "--no-cache-dir",
                               "--find-links", str(find_links), str(wheel)],
                      log, f"installing {wheel.name} with no index ({installer.name})")
    return _Installed((str(python), "-I"), venv_python=python)


def _emulated_install(site: Path, wheel: Path, find_links: Path, interpreter: Interpreter,
                      target_python: "ForeignPython", log: Path, ctx: RunContext) -> _Installed:
    # The host's pip installs for the target's tags (neither Debian's minimal CPython nor the
    # embeddable Windows one carries pip); the wheel then runs under emulation or wine.
    call([build_frontend(interpreter, ctx), "-m", "pip", "install", "--no-index", "--no-cache-dir",
          "--disable-pip-version-check", "--target", site,
          *target_python.pip_target_args(), "--find-links", find_links, wheel],
         log=log, what=f"installing {wheel.name} for {target_python.describe()}")
    return _Installed((*target_python.command(), *target_python.installed_flags),
                      env=target_python.installed_env(site, dict(os.environ)))


def _with_interpreter_openssl(python: _Installed, scratch: Path) -> _Installed:
    """The same interpreter, told which libcrypto/libssl its own ssl and hashlib load (a JSON
    list of paths in $BUILDER_INTERPRETER_OPENSSL), so that the watch inside the probe and the
    checks can tell those from the package's. Raises CommandFailed when the interpreter cannot
    run the measurement."""
    script = _isolated_script(_LOADWATCH, scratch)
    # -S: no site-packages, so that nothing the wheel installed (a .pth file) runs here.
    loaded = json.loads(capture([*python.command, "-S", script, "--baseline"], env=python.env))
    env = dict(python.env if python.env is not None else os.environ)
    env[loadwatch.INTERPRETER_ENV] = json.dumps(loadwatch.openssl_among(loaded))
    return dataclasses.replace(python, env=env)


def _isolated_script(source: Path, scratch: Path, *companions: Path) -> Path:
    """A copy in a folder of its own (with the modules it imports): before 3.11 a script's
    directory leads sys.path, and the builder's modules must not shadow the wheel's."""
    folder = scratch / f"run-{source.stem}"
    folder.mkdir()
    for companion in companions:
        shutil.copy(companion, folder)
    return Path(shutil.copy(source, folder))


def _probe(python: _Installed, scratch: Path, modules: List[str],
           runtime_probe: Optional[str], log: Path, binaries: List[str]) -> dict:
    report_path = scratch / "probe.json"
    script = _isolated_script(Path(probe.__file__), scratch, _LOADWATCH)
    call([*python.command, script, report_path, ",".join(modules), runtime_probe or "",
          ",".join(binaries)],
         log=log, cwd=script.parent, env=python.env, what="the import probe of the smoke test")
    return json.loads(report_path.read_text())


def _run_checks(python: _Installed, checks: Optional[str], expected: str, scratch: Path,
                log: Path) -> Tuple[Dict[str, dict], List[str]]:
    """The recipe's functional checks, alone and after the interpreter's own ssl."""
    if checks is None:
        return {}, []
    folder = Path(__file__).parent / "checks"
    script = _isolated_script(folder / f"{checks}.py", scratch, folder / "harness.py",
                              _LOADWATCH)
    reports: Dict[str, dict] = {}
    failures = []
    for name, extra in (("alone", []), ("system_ssl_first", ["--system-ssl-first"])):
        report_path = scratch / f"checks-{name}.json"
        try:
            call([*python.command, script, expected, report_path, *extra], log=log,
                 cwd=script.parent, env=python.env, what=f"the {checks} functional checks")
            reports[name] = json.loads(report_path.read_text())
        except CommandFailed as exc:
            when = " with the system ssl imported first" if extra else ""
            failures.append(f"functional checks{when} failed: {_last_line(exc.tail)}")
    return reports, failures


def _run_suite(installed: _Installed, plan: SmokePlan, scratch: Path,
               log: Path, installer: Installer) -> Tuple[Optional[str], List[str]]:
    """The package's own test suite, from its sdist, against the installed wheel."""
    assert plan.suite_sdist is not None
    python = installed.venv_python
    if python is None:
        raise InputError("--smoke full needs a native interpreter; under emulation only "
                         "--smoke basic runs")
    installer.install(python, ["--only-binary", ":all:", *plan.suite_requirements], log,
                      "installing the test suite's requirements")
    source = unpack_sdist(plan.suite_sdist, scratch / "suite")
    try:
        tail = call([python, *plan.suite_command], cwd=source, log=log,
                    what="the package's own test suite")
    except CommandFailed as exc:
        return _last_line(exc.tail), [f"its own test suite failed: {_last_line(exc.tail)}"]
    return _last_line(tail), []


def _last_line(lines: List[str]) -> str:
    return next((line.strip() for line in reversed(lines) if line.strip()), "no output")


def _judge(wheel: Path, described: str, expected: str, runtime_probe: Optional[str],
           report: dict, modules: List[str], seconds: float, log: Path,
           failures: List[str]) -> SmokeResult:
    failures = [f"import {name} failed: {error}" for name, error in report["errors"].items()] \
        + failures
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
    exercise = report.get("ssl_exercise") or {}
    if "error" in exercise:
        failures.append(f"the interpreter's own ssl failed beside the package: "
                        f"{exercise['error']}")
    shared = [problem for loads in [report["loads"], *report.get("loads_of_checks", [])]
              for problem in loadwatch.problems(loads)]
    shared = list(dict.fromkeys(shared))
    if shared:
        failures.append(f"it loads a shared OpenSSL at run time: {'; '.join(shared)}")
    return SmokeResult(
        wheel=wheel.name, python=described, passed=not failures,
        expected_openssl=expected, runtime_probe=runtime_probe, runtime_version=runtime_version,
        embedded_versions=embedded, imported=report["imported"], seconds=round(seconds, 1),
        log=str(log), failures=failures, shared_openssl_loads=shared, ssl_beside=exercise,
        loads={"probe": report["loads"], **{f"checks_{i}": loads for i, loads
                                            in enumerate(report.get("loads_of_checks", []))}},
    )


def require_passed(result: SmokeResult) -> None:
    """Raise InputError (exit 2) when the package loads a shared OpenSSL itself: no static
    build can serve it. Raise CheckFailed for any other failure. A test that could not run
    here (`not_run`) is no failure; it is never reported as passed either."""
    if result.not_run is not None:
        return
    if result.shared_openssl_loads:
        raise InputError(f"{result.wheel} loads a shared OpenSSL at run time "
                         f"({'; '.join(result.shared_openssl_loads)}): a static wheel cannot "
                         f"serve it; build this package against the system's OpenSSL instead",
                         log=Path(result.log))
    if not result.passed:
        raise CheckFailed(f"smoke test of {result.wheel} failed: {'; '.join(result.failures)}",
                          log=Path(result.log))


