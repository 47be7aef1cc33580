"""Session-scoped real builds: each OpenSSL version is compiled once per test run, into one
cache that every end-to-end test shares, and each wheel that several tests read is built once
(`built_once`, `wheelhouse`). Under pytest-xdist the workers share both: the cache is in the
run's common folder, and `built_once` keeps its results there."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, TypeVar

import zipfile

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from filelock import FileLock, Timeout

from builder.interpreters import discover
from builder.sbom import SBOM_NAME
from tests.conftest import SHARED, builder_env, mirror_args, run_builder, run_root

T = TypeVar("T")


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    # The marker in its name is what the build-path check of every wheel looks for, besides
    # the home and scratch directories. The builder's own locks make the workers' runs on it
    # safe: a build one of them started is waited for, then reused, by the other.
    folder = run_root(tmp_path_factory) / "builder-cache-marker-e2e"
    folder.mkdir(exist_ok=True)
    return folder


# In the path of the second cache root: no byte of any wheel may hold it.
SECOND_ROOT_MARKER = "cache-root-7f3a9c"
# The release compiled in the second cache root: the quickest of the session's native builds
# to compile (about 60% of 3.0's time). Those tests are about the cache and its processes,
# not about a release. No test compiles a 3.x release in two cache roots: what 3.x compiles
# in beyond 1.1.1w (MODULESDIR) comes from the fixed INSTALL_PREFIX, not from the root, and a
# 3.0.22 wheel made in another root from a pulled build has the session's bytes (test_sharing).
SECOND_ROOT_OPENSSL = "1.1.1w"


@pytest.fixture(scope="session")
def second_cache(tmp_path_factory) -> Path:
    """A second cache root, empty at first: the fault tests build in it (killed runs, runs at
    once, SECOND_ROOT_OPENSSL among them), then the reproducibility test builds there again what it
    builds in the session cache. `pytest_collection_modifyitems` runs the fault tests before
    the others that use it, all on one worker under pytest-xdist."""
    return tmp_path_factory.mktemp(SECOND_ROOT_MARKER)


# First: pytest-xdist's own hook of this name adds each test's group to its id, and must
# see the groups set here.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """The fault tests need `second_cache` empty when they start: every other test that uses
    it runs after all of them, whatever the order of the files on the command line; under
    pytest-xdist (`--dist loadgroup`) all of them run on one worker, in that order."""
    def uses_second_cache(item) -> bool:
        return "second_cache" in getattr(item, "fixturenames", ())

    def after_the_fault_tests(item) -> bool:
        return uses_second_cache(item) and \
            not item.nodeid.split("::")[0].endswith("test_faults.py")
    items[:] = sorted(items, key=after_the_fault_tests)  # stable: the order otherwise stays
    for item in items:
        if uses_second_cache(item):
            item.add_marker(pytest.mark.xdist_group("second_cache"))


def pytest_runtest_setup(item):
    """A test of the second cache root (`xdist_group`) run by a pytest-xdist worker must be
    in its group, which `--dist loadgroup` keeps on one worker by adding the group to the
    test's id. Where it is not (another --dist; pytest 9.2, whose ids xdist cannot change
    so), it could run beside the others of its group on the other worker: it fails here."""
    if item.get_closest_marker("xdist_group") and os.environ.get("PYTEST_XDIST_WORKER") \
            and "@" not in item.nodeid.rsplit("::", 1)[-1]:
        pytest.fail("pytest-xdist did not keep this test in its group: run the tests with "
                    "--dist loadgroup and the test extra's pytest (pip install -e '.[test]'; "
                    f"this is {pytest.__version__}), or without -n", pytrace=False)


@pytest.fixture(scope="session")
def built_once(tmp_path_factory) -> Callable[[tuple, Callable[[], T]], T]:
    """`built_once(key, make)`: `make()` on the first call with `key` in a test run, its
    result on every later one, in every worker of the run. Everything expensive the
    end-to-end tests share (an OpenSSL build, a `builder wheel` run, a virtualenv) is made
    through it, once. `key` is a tuple of strings; the result must pickle (it is kept in the
    run's common folder, under a lock per key, for the other workers). A `make()` that
    raises keeps nothing: the next call tries again."""
    folder = run_root(tmp_path_factory) / "built-once"
    folder.mkdir(exist_ok=True)
    made: Dict[tuple, object] = {}

    def get(key: tuple, make: Callable[[], T]) -> T:
        if key not in made:
            name = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:24]
            kept = folder / f"{name}.pickle"
            with FileLock(str(folder / f"{name}.lock")):
                if kept.is_file():
                    made[key] = pickle.loads(kept.read_bytes())
                else:
                    made[key] = make()
                    writing = kept.with_suffix(f".{os.getpid()}.part")
                    writing.write_bytes(pickle.dumps(made[key]))
                    os.replace(writing, kept)
        return made[key]  # type: ignore[return-value]

    return get


@pytest.fixture(scope="session")
def openssl_prefix(built_once, session_cache, openssl_mirror) -> Callable[[str], Path]:
    """`openssl_prefix("3.0.22")`: the static build's prefix, built on first use."""

    def get(version: str) -> Path:
        def make() -> Path:
            done = run_builder("openssl", "build", version, *mirror_args(openssl_mirror),
                               "--cache-dir", str(session_cache))
            assert done.returncode == 0, done.stderr
            return Path(done.stdout.strip().splitlines()[-1])

        return built_once(("openssl", version), make)

    return get


# aarch64 and win32 are built with the release of the run's four that builds fastest (1.1.1
# has their targets too): which release it is is no part of what they prove.
AARCH64_OPENSSL = "1.1.1w"
WIN32_OPENSSL = "1.1.1w"

# Every OpenSSL build the end-to-end tests read from the session cache: (release, --plat or
# None for this host), in about the order the tests (files in alphabetical order) first
# need them. universal2 joins the two macOS builds.
SESSION_BUILDS = (
    ("3.5.7", None), ("3.0.22", None), ("1.1.1w", None), ("4.0.2", None),
    ("3.0.22", "macosx_11_0_arm64"), ("3.0.22", "macosx_10_13_x86_64"),
    ("3.0.22", "manylinux2014_x86_64"), (AARCH64_OPENSSL, "manylinux2014_aarch64"),
    ("3.0.22", "win_amd64"), (WIN32_OPENSSL, "win32"), ("4.0.2", "win_arm64"),
)


@pytest.fixture(scope="session", autouse=True)
def builds_ahead(request, session_cache, openssl_mirror, tmp_path_factory):
    """With --build-ahead, one worker of the run starts `builder openssl build` for each of
    SESSION_BUILDS in turn, in a thread, as the first end-to-end test starts: the machine's
    cores compile from the start while the tests run what needs one core, and a test that
    needs a build waits for it on the builder's own lock of that cache entry (or finds it
    done). These are the builds the tests would start themselves, with the same arguments
    and cache, so their keys are the same. A build that fails here is left to the test that
    needs it, which builds it again and shows why. At the end of the run, one still going
    is interrupted (SIGINT: the builder keeps no partial entry)."""
    if not request.config.getoption("--build-ahead"):
        yield
        return
    claim = FileLock(str(run_root(tmp_path_factory) / "builds-ahead.lock"))
    try:
        claim.acquire(timeout=0)
    except Timeout:  # the other worker builds ahead
        yield
        return
    # The environment as it is now (the compile stand-ins first on PATH): the tests of this
    # worker change os.environ for a while, and no build may start with their changes.
    env = builder_env()
    stopping = threading.Event()
    guard = threading.Lock()  # a build starts, or the run stops, never both at once
    current: Optional[subprocess.Popen] = None

    def build_all() -> None:
        nonlocal current
        for version, plat in SESSION_BUILDS:
            command = [sys.executable, "-m", "builder", "openssl", "build", version,
                       *(["--plat", plat] if plat else []), *mirror_args(openssl_mirror),
                       "--cache-dir", str(session_cache)]
            with guard:
                if stopping.is_set():
                    return
                current = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            current.wait()

    thread = threading.Thread(target=build_all, name="builds-ahead", daemon=True)
    thread.start()
    try:
        yield
    finally:
        with guard:
            stopping.set()
            if current is not None and current.poll() is None:
                current.send_signal(signal.SIGINT)
        thread.join()
        claim.release()


@pytest.fixture(scope="session")
def wheelhouse(built_once, session_cache, openssl_mirror, openssl_prefix, tmp_path_factory):
    """`wheelhouse(target, openssl, *args)`: `builder wheel TARGET --openssl OPENSSL ARGS...`
    against the shared cache, run once per test run for the same arguments (in that order);
    (the finished process, its wheelhouse). The tests that read the same wheels share it."""

    def get(target: str, openssl: str, *args: str) -> Tuple[subprocess.CompletedProcess, Path]:
        def make():
            openssl_prefix(openssl)
            name = Path(target).name.split("==")[0]
            folder = tmp_path_factory.mktemp(f"wheel-{name}-{openssl}")
            done = run_builder("wheel", target, "--openssl", openssl,
                               *mirror_args(openssl_mirror), "--cache-dir", str(session_cache),
                               "--wheelhouse", str(folder / "wheelhouse"), *args, cwd=folder)
            sboms_hold(folder / "wheelhouse")
            return done, folder / "wheelhouse"

        return built_once(("wheel", target, openssl, *args), make)

    return get


@pytest.fixture
def builder_cli(session_cache, openssl_mirror, openssl_prefix, tmp_path):
    """Run `builder wheel ...` against the shared cache, with a scratch wheelhouse; the
    OpenSSL version is built (once per session) before the command runs."""

    def run(target: str, openssl: str, *extra: str) -> subprocess.CompletedProcess:
        openssl_prefix(openssl)
        done = run_builder("wheel", target, "--openssl", openssl, *mirror_args(openssl_mirror),
                           "--cache-dir", str(session_cache),
                           "--wheelhouse", str(tmp_path / "wheelhouse"), *extra, cwd=tmp_path)
        sboms_hold(tmp_path / "wheelhouse")
        return done

    return run


def wheels_in(folder: Path) -> List[Path]:
    return sorted(folder.glob("*.whl")) if folder.is_dir() else []


def sboms_hold(folder: Path) -> None:
    """Every wheel of ours in `folder` (one with a provenance record) carries the builder's SBOM
    (valid CycloneDX 1.5 by the library's own validator, naming the OpenSSL the record names)
    and has its attestation beside it."""
    for wheel in wheels_in(folder):
        record = Path(f"{wheel}.provenance.json")
        if not record.is_file():
            continue  # a dependency fetched beside it
        version = json.loads(record.read_text())["openssl"]["version"]
        with zipfile.ZipFile(wheel) as archive:
            [member] = [n for n in archive.namelist() if n.endswith(f"/sboms/{SBOM_NAME}")]
            text = archive.read(member).decode()
        errors = JsonStrictValidator(SchemaVersion.V1_5).validate_str(text)
        assert errors is None, f"{wheel.name}: {errors}"
        [openssl] = [c for c in json.loads(text)["components"] if c["name"] == "openssl"]
        assert openssl["version"] == version, f"{wheel.name}: SBOM names {openssl['version']}"
        assert Path(f"{wheel}.intoto.jsonl").is_file(), f"{wheel.name} has no attestation"


def fresh_venv(folder: Path, wheelhouse: Path, package: str) -> Path:
    """A new virtualenv with `package` installed from the wheelhouse alone."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    python = folder / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-index", "--no-cache-dir",
                    "--find-links", str(wheelhouse), package], check=True)
    return python


def python_says(python: Path, code: str, env: Optional[dict] = None) -> str:
    return subprocess.run([str(python), "-c", code], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


def other_python() -> Path:
    """A CPython 3.9+ other than the one running the tests (PATH first, then pyenv's)."""
    mine = f"{sys.version_info[0]}.{sys.version_info[1]}"
    candidates = [shutil.which(f"python3.{minor}") for minor in range(9, 14)]
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/3.*/bin/python3"))
    for candidate in filter(None, candidates):
        done = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True)
        version = done.stdout.strip()
        if done.returncode == 0 and version != mine and tuple(map(int, version.split("."))) >= (3, 9):
            return Path(candidate)
    pytest.fail(f"this test needs a CPython 3.9+ other than {mine} on PATH or under pyenv")


def cpython(version: str) -> Path:
    """A CPython of this minor version (e.g. "3.11"): the running one, else the one the
    builder's own discovery finds (PATH, pyenv, /opt/python)."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        return Path(sys.executable)
    for interpreter in discover():
        if interpreter.short_version == version:
            return interpreter.executable
    pytest.fail(f"this test needs a CPython {version} on PATH or under pyenv")


CRATES = SHARED / "crates" / "cryptography-50.0.2"


def offline_crate_args(relock=True):
    if not (CRATES / "vendor").is_dir():
        pytest.fail(f"needs {CRATES} (a cargo directory source in the shared test material): "
                    f"crates.io is not reachable from this machine")
    args = ["--cargo-vendor", str(CRATES / "vendor"),
            "--patch", str(CRATES / "cargo-toml-debian-crates.patch")]
    return args + (["--cargo-relock"] if relock else [])


# cryptography 50.0.2 is built once per OpenSSL version. Its own test suite (--smoke full)
# runs for one version; the run of 3.0.22 is the one with three interpreters (a lower-floor
# abi3 wheel for 3.10, and a cp311-abi3 one proven on 3.11 and 3.12).
CRYPTOGRAPHY_SUITE_OPENSSL = "3.5.7"
CRYPTOGRAPHY_MANY_PYTHONS_OPENSSL = "3.0.22"
CRYPTOGRAPHY_PYTHONS = ("3.10", "3.11", "3.12")


def cryptography_args(openssl: str) -> List[str]:
    args = offline_crate_args()
    if openssl == CRYPTOGRAPHY_SUITE_OPENSSL:
        args += ["--smoke", "full"]
    if openssl == CRYPTOGRAPHY_MANY_PYTHONS_OPENSSL:
        args += [arg for v in CRYPTOGRAPHY_PYTHONS for arg in ("--python", str(cpython(v)))]
    return args


@pytest.fixture(scope="session")
def cryptography_wheelhouse(wheelhouse):
    """`cryptography_wheelhouse("3.5.7")`: (the run, its wheelhouse), once per OpenSSL
    version in a test run."""

    def get(openssl):
        return wheelhouse("cryptography==50.0.2", openssl, *cryptography_args(openssl))

    return get


def abi3_floor(wheel: Path) -> Tuple[int, int]:
    """(3, 11) for cryptography-...-cp311-abi3-...whl."""
    tag = wheel.name.split("-")[2]
    return int(tag[2]), int(tag[3:])


def built(cryptography_wheelhouse, openssl):
    """The run's wheel for the interpreter running the tests (the one pip installs here: the
    highest abi3 floor not above it), and its provenance record."""
    done, wheelhouse = cryptography_wheelhouse(openssl)
    assert done.returncode == 0, done.stderr[-3000:]
    wheels = [w for w in wheels_in(wheelhouse) if w.name.startswith("cryptography-")]
    [wheel] = [w for w in wheels if abi3_floor(w) == max(
        abi3_floor(w) for w in wheels if abi3_floor(w) <= sys.version_info[:2])]
    record = json.loads(Path(f"{wheel}.provenance.json").read_text())
    return wheelhouse, wheel, record
