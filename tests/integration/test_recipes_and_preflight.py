"""Refusals before any compile that ask the host's compiler and Rust toolchain."""

import subprocess
from pathlib import Path

import pytest

from builder.cargo import check_rust_target, check_toolchain
from builder.errors import InputError
from tests.conftest import run_builder
from tests.unit.test_recipes_and_preflight import fake_sdist


def test_too_old_rust_is_refused_naming_both_versions():
    with pytest.raises(InputError, match="needs Rust 99.0 or newer, this host has rustc"):
        check_toolchain("future-package 1.0", "99.0")


def test_unsupported_pair_ends_with_exit_2_before_openssl_is_fetched(tmp_path):
    sdist = fake_sdist(tmp_path, "cryptography", "50.0.2",
                       '[workspace.package]\nrust-version = "1.83.0"\n')
    done = run_builder("wheel", str(sdist), "--openssl", "1.1.1w", "--cache-dir",
                       str(tmp_path / "cache"), "--wheelhouse", str(tmp_path / "wh"))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "error: cryptography 50.0.2 does not support OpenSSL 1.1.1w" in done.stderr
    assert not (tmp_path / "cache" / "downloads").exists()
    assert not (tmp_path / "cache" / "openssl").exists()


def test_full_smoke_of_a_package_without_a_known_suite_is_bad_input(tmp_path):
    sdist = fake_sdist(tmp_path, "scrypt", "0.9.4")
    done = run_builder("wheel", str(sdist), "--openssl", "3.0.22", "--smoke", "full",
                       "--cache-dir", str(tmp_path / "cache"))
    assert done.returncode == 2
    assert "the builder knows no test suite of scrypt" in done.stderr


def test_no_plat_or_a_plat_the_host_meets_uses_the_host_compiler(tmp_path):
    from builder.context import RunContext
    from builder.settings import resolve
    from builder.target import resolve_target
    from builder.platforms.linux import LINUX

    ctx = RunContext.create(resolve({"cache-dir": str(tmp_path)}, {}, tmp_path))
    for plat in (None, "linux_x86_64", "manylinux_2_36_x86_64"):
        assert LINUX.toolchain(resolve_target(plat), ctx).exclude_libs, plat
    assert not (tmp_path / "tools").exists()  # no zig fetched for these


def test_rust_target_without_its_standard_library_names_the_rustup_command():
    with pytest.raises(InputError, match="rustup target add nonexistent-unknown-linux-gnu"):
        check_rust_target("cryptography 50.0.2", "nonexistent-unknown-linux-gnu")


def _rust_has_std_for(triple):
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True)
    return (Path(sysroot.stdout.strip()) / "lib" / "rustlib" / triple / "lib").is_dir()


@pytest.mark.skipif(_rust_has_std_for("aarch64-unknown-linux-gnu"),
                    reason="this host's Rust can build for aarch64")
def test_rust_sdist_for_aarch64_without_its_standard_library_exits_2_before_any_build(tmp_path):
    sdist = fake_sdist(tmp_path, "cryptography", "50.0.2",
                       '[workspace.package]\nrust-version = "1.83.0"\n')
    done = run_builder("wheel", str(sdist), "--openssl", "3.0.22", "--plat",
                       "manylinux2014_aarch64", "--cache-dir", str(tmp_path / "cache"))
    assert done.returncode == 2, done.stderr
    assert "no standard library for aarch64-unknown-linux-gnu" in done.stderr
    assert "rustup target add aarch64-unknown-linux-gnu" in done.stderr
    assert not (tmp_path / "cache" / "tools").exists()  # refused before zig is fetched
