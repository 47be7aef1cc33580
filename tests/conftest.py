"""Shared test material: ../shared/ beside the project (real upstream tarballs), served over
loopback HTTP as an OpenSSL mirror when it exists."""

from __future__ import annotations

import io
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import warnings
from pathlib import Path
from typing import Iterator, List, Mapping, Optional

import pytest

from tests.httpserver import serve

pytest_plugins = ["pytester"]  # tests/unit/test_guard.py runs a test session in this process

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SHARED_OPENSSL = SHARED / "openssl"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# The tiers: tests/unit/ runs no process and opens no socket (its conftest fails any test
# that does); tests/integration/ runs processes, compilers and loopback servers; tests/e2e/
# makes real builds. The last two are `slow`, so that `-m "not slow"` is the unit tier.
SLOW_TIERS = [Path(__file__).resolve().parent / tier for tier in ("integration", "e2e")]


def pytest_addoption(parser):
    parser.addoption("--build-ahead", action="store_true",
                     help="build every OpenSSL of the end-to-end tests' session cache "
                          "(tests/e2e/conftest.py: SESSION_BUILDS) one after another from the "
                          "first end-to-end test on, beside the tests (for a run of the whole "
                          "tier)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(tier in item.path.parents for tier in SLOW_TIERS):
            item.add_marker(pytest.mark.slow)


def run_root(tmp_path_factory) -> Path:
    """The folder every worker of this test run shares: pytest's base temporary folder, or,
    under pytest-xdist (`-n 2`), the parent of the workers' own base folders."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


# The commands that make a big compile, one that keeps every core busy: OpenSSL's parallel
# make (the recipe's `make -jN build_libs`; its `make install_dev` copies files), and
# cargo's builds of cryptography (maturin runs `cargo rustc`; `cargo metadata` reads).
BIG_COMPILES = {"make": "*\\ -j*", "cargo": "*\\ build\\ *|*\\ rustc\\ *"}

# The variable a compile holding the slot passes on: a process that has it goes straight on.
SLOT_HELD = "BUILDER_TESTS_COMPILE_SLOT"

_ONE_AT_A_TIME = """#!/bin/sh
# A big compile of this test run ({name} {pattern}) waits for any other to end: two test
# workers share the machine's cores, and one such compile already uses them all. Any other
# {name} command, and one started by a compile that holds the slot (make's own recursion),
# goes straight on. flock -o: only flock holds the lock, not what the compile leaves running.
if [ -z "${held}" ]; then
  case " $* " in {pattern}) {held}=held exec {flock} -o {lock} {real} "$@";; esac
fi
exec {real} "$@"
"""


def write_compile_stand_ins(folder: Path, lock: Path) -> bool:
    """Stand-ins for `make` and `cargo` in `folder` (to put first on PATH) that run the real
    program, a big compile (`BIG_COMPILES`) only while holding `lock` by util-linux's
    flock(1). False, with nothing written, where flock or both programs are missing."""
    flock = shutil.which("flock")
    if flock is None:
        return False
    written = False
    for name, pattern in BIG_COMPILES.items():
        real = shutil.which(name)
        if real is None:
            continue  # the test that needs it says so (the builder's own preflight)
        stand_in = folder / name
        stand_in.write_text(_ONE_AT_A_TIME.format(
            name=name, pattern=pattern, held=SLOT_HELD, real=shlex.quote(real),
            flock=shlex.quote(flock), lock=shlex.quote(str(lock))))
        stand_in.chmod(0o755)
        written = True
    return written


@pytest.fixture(scope="session", autouse=True)
def one_big_compile_at_a_time(tmp_path_factory) -> Iterator[None]:
    """Every process the tests start finds `make` and `cargo` first in a folder of stand-ins
    (`write_compile_stand_ins`) that hold one lock file of the run (any worker) around a big
    compile. They change nothing but when a compile starts: the same program, arguments and
    environment (plus BUILDER_TESTS_COMPILE_SLOT), and its exit status (128+N for one killed
    by signal N, as flock(1) reports it). Without flock(1) the tests run as they are, with a
    warning (compiles of two workers may then overlap)."""
    folder = tmp_path_factory.mktemp("one-compile-at-a-time")
    if not write_compile_stand_ins(folder, run_root(tmp_path_factory) / "big-compile.lock"):
        warnings.warn("no flock(1) (apt-get install util-linux) or no make and cargo: the "
                      "compiles of two test workers may overlap")
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', os.defpath)}")
        yield


def shared_tarball(version: str) -> Path:
    path = SHARED_OPENSSL / f"openssl-{version}.tar.gz"
    if not path.is_file():
        pytest.fail(f"this test needs {path} (the project's shared test material); "
                    f"put the upstream tarball there")
    return path


def text_tarball(path: Path, files: Mapping[str, str]) -> Path:
    """A .tar.gz at `path` holding each member of `files` (name inside: text)."""
    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            archive.addfile(info, io.BytesIO(text.encode()))
    return path


@pytest.fixture(scope="session")
def openssl_mirror() -> Iterator[Optional[str]]:
    """URL of a loopback mirror of ../shared/openssl/, or None (then upstream is used)."""
    if not SHARED_OPENSSL.is_dir():
        yield None
        return
    with serve(SHARED_OPENSSL) as url:
        yield url


def builder_env(env: Optional[Mapping[str, str]] = None) -> dict:
    """The environment of a builder process the tests start: this one's, CI=true, no
    BUILDER_OPENSSL_MIRROR (each test names its own mirrors), then `env`."""
    full_env = {**os.environ, "CI": "true"}
    full_env.pop("BUILDER_OPENSSL_MIRROR", None)
    full_env.update(env or {})
    return full_env


def run_builder(*args: str, cwd: Optional[Path] = None,
                env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """The CLI as a user runs it: a real process, CI=true, output captured."""
    return subprocess.run([sys.executable, "-m", "builder", *args], cwd=cwd,
                          env=builder_env(env), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def run_main(*args: str, cwd: Optional[Path] = None,
             env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """The CLI in this process, as `run_builder` runs it in a new one: `builder.cli.main`
    with CI=true, the mirror variable unset, stdout and stderr captured, and the exit code
    it returns (or argparse's, for --help). The question the builder asks of the running
    interpreter (which Python it is) is answered in this process; every other command it
    would run is run as usual."""
    import contextlib
    import io

    from builder import interpreters
    from builder.cli import main

    real_capture = interpreters.capture

    def capture(args, **kwargs):
        argv = [str(a) for a in args]
        if argv[1:] == ["-c", interpreters._QUERY] and os.path.samefile(argv[0], sys.executable):
            answer = io.StringIO()
            with contextlib.redirect_stdout(answer):
                exec(interpreters._QUERY, {})
            return answer.getvalue()
        return real_capture(args, **kwargs)

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        patch.setattr(interpreters, "capture", capture)
        patch.setenv("CI", "true")
        patch.delenv("BUILDER_OPENSSL_MIRROR", raising=False)
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        if cwd is not None:
            patch.chdir(cwd)
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    return subprocess.CompletedProcess(["builder", *args], code, out.getvalue(),
                                       err.getvalue())


def mirror_args(mirror: Optional[str]) -> List[str]:
    return ["--mirror", mirror] if mirror else []


def cibuildwheel_project(folder: Path, configuration: str) -> Path:
    """`folder` made a project whose pyproject.toml holds the printed [tool.cibuildwheel]
    `configuration`."""
    (folder / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "example"\nversion = "1.0"\nrequires-python = ">=3.9"\n\n'
        + configuration)
    return folder


PACKAGES = Path(__file__).resolve().parent / "packages"


def package_sdist(name: str, folder: Path) -> Path:
    """tests/packages/NAME packed as the sdist `build` would make of it (PKG-INFO from its
    [project] table), without running a build backend."""
    import io
    import tarfile

    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    source = PACKAGES / name
    project = tomllib.loads((source / "pyproject.toml").read_text())["project"]
    base = f"{project['name'].replace('-', '_')}-{project['version']}"
    pkg_info = "".join([f"Metadata-Version: 2.1\nName: {project['name']}\n",
                        f"Version: {project['version']}\n",
                        *(f"Requires-Dist: {r}\n" for r in project.get("dependencies", []))])
    sdist = folder / f"{base}.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        for path in sorted(source.rglob("*")):
            archive.add(path, f"{base}/{path.relative_to(source)}", recursive=False)
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        info.size = len(pkg_info.encode())
        archive.addfile(info, io.BytesIO(pkg_info.encode()))
    return sdist
