"""Session-scoped real builds: each OpenSSL version is compiled once per test run, into one
cache that every end-to-end test shares."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest

from builder.interpreters import discover
from tests.conftest import SHARED, mirror_args, run_builder


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    # The marker in its name is what the build-path check of every wheel looks for, besides
    # the home and scratch directories.
    return tmp_path_factory.mktemp("builder-cache-marker-e2e")


@pytest.fixture(scope="session")
def openssl_prefix(session_cache, openssl_mirror) -> Callable[[str], Path]:
    """`openssl_prefix("3.0.22")`: the static build's prefix, built on first use."""
    built: Dict[str, Path] = {}

    def get(version: str) -> Path:
        if version not in built:
            done = run_builder("openssl", "build", version, *mirror_args(openssl_mirror),
                               "--cache-dir", str(session_cache))
            assert done.returncode == 0, done.stderr
            built[version] = Path(done.stdout.strip().splitlines()[-1])
        return built[version]

    return get


@pytest.fixture
def builder_cli(session_cache, openssl_mirror, openssl_prefix, tmp_path):
    """Run `builder wheel ...` against the shared cache, with a scratch wheelhouse; the
    OpenSSL version is built (once per session) before the command runs."""

    def run(target: str, openssl: str, *extra: str) -> subprocess.CompletedProcess:
        openssl_prefix(openssl)
        return run_builder("wheel", target, "--openssl", openssl, *mirror_args(openssl_mirror),
                           "--cache-dir", str(session_cache),
                           "--wheelhouse", str(tmp_path / "wheelhouse"), *extra, cwd=tmp_path)

    return run


def wheels_in(folder: Path) -> List[Path]:
    return sorted(folder.glob("*.whl")) if folder.is_dir() else []


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


@pytest.fixture(scope="session")
def cryptography_wheelhouse(session_cache, openssl_mirror, openssl_prefix, tmp_path_factory):
    """`cryptography_wheelhouse("3.5.7")`: run once per OpenSSL version in a test run."""
    runs = {}

    def get(openssl):
        if openssl not in runs:
            openssl_prefix(openssl)
            wheelhouse = tmp_path_factory.mktemp(f"wheelhouse-cryptography-{openssl}")
            done = run_builder("wheel", "cryptography==50.0.2", "--openssl", openssl,
                               *mirror_args(openssl_mirror), *offline_crate_args(),
                               "--smoke", "full", "--cache-dir", str(session_cache),
                               "--wheelhouse", str(wheelhouse))
            runs[openssl] = (done, wheelhouse)
        return runs[openssl]

    return get



def built(cryptography_wheelhouse, openssl):
    done, wheelhouse = cryptography_wheelhouse(openssl)
    assert done.returncode == 0, done.stderr[-3000:]
    [wheel] = [w for w in wheels_in(wheelhouse) if w.name.startswith("cryptography-")]
    record = json.loads(Path(f"{wheel}.provenance.json").read_text())
    return wheelhouse, wheel, record
