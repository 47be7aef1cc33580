"""Shared test material: ../shared/ beside the project (real upstream tarballs), served over
loopback HTTP as an OpenSSL mirror when it exists."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

from tests.httpserver import serve

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SHARED_OPENSSL = SHARED / "openssl"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def shared_tarball(version: str) -> Path:
    path = SHARED_OPENSSL / f"openssl-{version}.tar.gz"
    if not path.is_file():
        pytest.fail(f"this test needs {path} (the project's shared test material); "
                    f"put the upstream tarball there")
    return path


@pytest.fixture(scope="session")
def openssl_mirror() -> Iterator[Optional[str]]:
    """URL of a loopback mirror of ../shared/openssl/, or None (then upstream is used)."""
    if not SHARED_OPENSSL.is_dir():
        yield None
        return
    with serve(SHARED_OPENSSL) as url:
        yield url


def run_builder(*args: str, cwd: Optional[Path] = None,
                env: Optional[dict] = None) -> subprocess.CompletedProcess:
    """The CLI as a user runs it: a real process, CI=true, output captured."""
    full_env = {**os.environ, "CI": "true"}
    full_env.pop("BUILDER_OPENSSL_MIRROR", None)  # each test names its own mirrors
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "builder", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


def mirror_args(mirror: Optional[str]) -> List[str]:
    return ["--mirror", mirror] if mirror else []


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
