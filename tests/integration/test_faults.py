"""Faults of the machine a user can run into: each ends in one clear line, nothing half-
written."""

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_builder, shared_tarball


@pytest.fixture
def small_disk(tmp_path):
    """A 40 MB filesystem: room for a tarball, not for its unpacked source."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"this machine does not allow mounting a small filesystem "
                    f"({done.stderr.strip()})")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_during_the_openssl_build_is_one_clear_error_and_leaves_nothing(small_disk):
    cache = small_disk / "cache"
    done = run_builder("openssl", "build", "3.0.22",
                       "--openssl-source", str(shared_tarball("3.0.22")),
                       "--cache-dir", str(cache))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "the disk is full" in done.stderr.splitlines()[-2] + done.stderr.splitlines()[-1]
    entries = os.listdir(cache / "openssl") if (cache / "openssl").exists() else []
    assert [e for e in entries if not e.endswith(".lock")] == []


def tools_path(tmp_path: Path, without: str) -> str:
    """A PATH holding this host's build tools except one."""
    folder = tmp_path / f"path-without-{without}"
    folder.mkdir()
    for tool in ("cc", "gcc", "perl", "make", "tar", "gzip", "nm", "objcopy", "ar", "cargo",
                 "rustc", "bash", "sh", "patch", "ld", "as", "swig"):
        found = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True,
                               text=True).stdout.strip()
        if found and tool != without:
            (folder / tool).symlink_to(found)
    return str(folder)


@pytest.mark.parametrize("tool,package", [("perl", "apt-get install perl"),
                                          ("make", "apt-get install make"),
                                          ("cc", "apt-get install gcc")])
def test_a_missing_build_tool_is_refused_up_front_naming_its_package(tmp_path, tool, package):
    done = run_builder("wheel", "scrypt==0.9.4", "--openssl", "3.0.22", "--cache-dir",
                       str(tmp_path / "cache"), env={"PATH": tools_path(tmp_path, tool)})
    assert done.returncode == 2, done.stderr
    assert package in done.stderr.splitlines()[-1]
    assert not (tmp_path / "cache" / "sdists").exists()
    assert not (tmp_path / "cache" / "downloads").exists()


def test_missing_rust_for_a_rust_sdist_is_refused_up_front(tmp_path):
    from tests.unit.test_recipes_and_preflight import fake_sdist

    sdist = fake_sdist(tmp_path, "cryptography", "50.0.2",
                       '[workspace.package]\nrust-version = "1.83.0"\n')
    done = run_builder("wheel", str(sdist), "--openssl", "3.0.22", "--cache-dir",
                       str(tmp_path / "cache"), env={"PATH": tools_path(tmp_path, "cargo")})
    assert done.returncode == 2, done.stderr
    assert "cargo: install Rust" in done.stderr
    assert not (tmp_path / "cache" / "downloads").exists()


def test_missing_swig_for_m2crypto_is_refused_up_front_naming_its_package(tmp_path):
    from tests.unit.test_recipes_and_preflight import fake_sdist

    sdist = fake_sdist(tmp_path, "m2crypto", "0.51.0")
    done = run_builder("wheel", str(sdist), "--openssl", "3.0.22", "--cache-dir",
                       str(tmp_path / "cache"), env={"PATH": tools_path(tmp_path, "swig")})
    assert done.returncode == 2, done.stderr
    assert "swig: install swig (apt-get install swig" in done.stderr
    assert not (tmp_path / "cache" / "downloads").exists()
