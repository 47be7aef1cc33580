"""Wheels for servers with an older glibc than this host's, built right here with zig."""

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from builder.platforms.qemu import emulated_python
from builder.platforms.elf import inspect_wheel
from tests.conftest import FIXTURES, run_builder
from tests.e2e.conftest import AARCH64_OPENSSL, cpython, offline_crate_args, wheels_in


pytestmark = pytest.mark.slow


def highest_glibc(wheel):
    versions = [tuple(int(n) for n in re.findall(r"\d+", name))
                for elf in inspect_wheel(wheel) for name, _ in elf.versions_needed
                if name.startswith("GLIBC_2")]
    return max(versions)


def record_of(wheel):
    return json.loads(Path(f"{wheel}.provenance.json").read_text())


@pytest.mark.parametrize("plat,ceiling", [("manylinux2014_x86_64", (2, 17)),
                                           ("manylinux_2_28_x86_64", (2, 28))])
def test_scrypt_for_an_old_glibc_needs_at_most_that_glibc(builder_cli, tmp_path, plat, ceiling):
    done = builder_cli("scrypt", "3.0.22", "--plat", plat)
    assert done.returncode == 0, done.stderr[-3000:]
    [wheel] = wheels_in(tmp_path / "wheelhouse")
    assert f"manylinux_{ceiling[0]}_{ceiling[1]}_x86_64" in wheel.name
    assert highest_glibc(wheel) <= ceiling
    record = record_of(wheel)
    # Every manylinux tag shares manylinux2014's OpenSSL build (glibc 2.17), as pyca's do.
    assert record["openssl"]["target"] == "x86_64-linux-gnu.2.17"
    assert record["openssl"]["compiler"].startswith("zig ")
    assert record["smoke"]["passed"]
    assert record["smoke"]["embedded_versions"] == {
        name: ["3.0.22"] for name in record["smoke"]["embedded_versions"]}


@pytest.mark.parametrize("plat,ceiling", [("manylinux2014_x86_64", (2, 17)),
                                           ("manylinux_2_28_x86_64", (2, 28))])
def test_fixture_for_an_old_glibc_reports_the_pinned_openssl(builder_cli, tmp_path, plat,
                                                             ceiling):
    done = builder_cli(str(FIXTURES / "sslfixture"), "3.0.22", "--plat", plat,
                       "--version-probe", "sslfixture:openssl_version")
    assert done.returncode == 0, done.stderr[-3000:]
    [wheel] = wheels_in(tmp_path / "wheelhouse")
    assert f"manylinux_{ceiling[0]}_{ceiling[1]}_x86_64" in wheel.name
    assert highest_glibc(wheel) <= ceiling
    for elf in inspect_wheel(wheel):
        assert not [n for n in elf.needed if "libssl" in n or "libcrypto" in n]
    assert record_of(wheel)["smoke"]["runtime_version"] == "3.0.22"


def test_cpython_3_8_headers_build_with_zig_though_its_glibc_lacks_crypt_h(builder_cli,
                                                                          tmp_path):
    done = builder_cli(str(FIXTURES / "sslfixture"), "3.0.22", "--plat", "manylinux2014_x86_64",
                       "--version-probe", "sslfixture:openssl_version",
                       "--python", str(cpython("3.8")))
    assert done.returncode == 0, done.stderr[-3000:]
    [wheel] = wheels_in(tmp_path / "wheelhouse")
    assert wheel.name.startswith("sslfixture-1.0-cp38-cp38-manylinux")
    assert highest_glibc(wheel) <= (2, 17)
    assert record_of(wheel)["smoke"]["runtime_version"] == "3.0.22"


def test_fixture_for_manylinux2014_aarch64_runs_under_emulation(builder_cli, tmp_path,
                                                                 session_cache):
    done = builder_cli(str(FIXTURES / "sslfixture"), AARCH64_OPENSSL, "--plat",
                       "manylinux2014_aarch64", "--version-probe", "sslfixture:openssl_version",
                       "--python", str(cpython("3.11")))
    assert done.returncode == 0, done.stderr[-3000:]
    [wheel] = wheels_in(tmp_path / "wheelhouse")
    assert wheel.name.endswith("manylinux_2_17_aarch64.whl")
    assert highest_glibc(wheel) <= (2, 17)
    for elf in inspect_wheel(wheel):
        assert elf.machine == "EM_AARCH64"
        assert not [n for n in elf.needed if "libssl" in n or "libcrypto" in n]
    record = record_of(wheel)
    assert record["openssl"]["target"] == "aarch64-linux-gnu.2.17"
    assert "under qemu-aarch64" in record["smoke"]["python"]
    assert record["smoke"]["runtime_version"] == AARCH64_OPENSSL
    # And it computes: SHA-256 through the wheel's own OpenSSL, on the emulated CPU.
    target = emulated_python("aarch64", session_cache)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--target",
                    str(site), *target.pip_target_args(), str(wheel)], check=True)
    digest = subprocess.run([*target.command(), "-c",
                             "import sslfixture; print(sslfixture.sha256(b'abc').hex())"],
                            env={**os.environ, "PYTHONPATH": str(site)}, check=True,
                            capture_output=True, text=True).stdout.strip()
    assert digest == hashlib.sha256(b"abc").hexdigest()


def test_old_glibc_builds_of_openssl_never_reuse_the_native_one(openssl_prefix, session_cache):
    native = openssl_prefix("3.0.22")
    done = run_builder("openssl", "build", "3.0.22", "--plat", "manylinux2014_x86_64",
                       "--cache-dir", str(session_cache))
    assert done.returncode == 0, done.stderr
    old = Path(done.stdout.strip())
    assert old != native
    assert json.loads((old / "build.json").read_text())["key"]["target"] == \
        "x86_64-linux-gnu.2.17"


def test_cryptography_for_manylinux2014_links_rust_through_the_same_toolchain(
        builder_cli, tmp_path):
    done = builder_cli("cryptography==50.0.2", "3.0.22", "--plat", "manylinux2014_x86_64",
                       *offline_crate_args())
    assert done.returncode == 0, done.stderr[-3000:]
    [wheel] = [w for w in wheels_in(tmp_path / "wheelhouse") if w.name.startswith("crypto")]
    assert "-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64" in wheel.name
    assert highest_glibc(wheel) <= (2, 17)
    for elf in inspect_wheel(wheel):
        assert not [n for n in elf.needed if "libssl" in n or "libcrypto" in n]
    versions = record_of(wheel)["smoke"]["checks"]["alone"]["versions"]
    assert versions["runtime"].startswith("OpenSSL 3.0.22 ")
    assert versions["compiled"].startswith("OpenSSL 3.0.22 ")
