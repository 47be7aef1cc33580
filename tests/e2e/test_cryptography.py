"""cryptography 50.0.2 from its PyPI sdist, offline crates, static OpenSSL 3.0, 3.5 and 4.0,
proven by the functional checks and (with 3.5) by its own test suite."""

import subprocess
import sys

import pytest

from builder.platforms.elf import inspect_wheel
from tests.conftest import mirror_args, run_builder
from tests.e2e.conftest import (CRYPTOGRAPHY_SUITE_OPENSSL, built, fresh_venv,
                                offline_crate_args, python_says, wheels_in)

VERSIONS = ["3.0.22", "3.5.7", "4.0.2"]

pytestmark = pytest.mark.slow

@pytest.mark.parametrize("openssl", VERSIONS)
def test_cryptography_becomes_an_abi3_manylinux_wheel(cryptography_wheelhouse, openssl):
    _, wheel, record = built(cryptography_wheelhouse, openssl)
    assert "-abi3-manylinux" in wheel.name
    assert record["openssl"]["version"] == openssl
    assert record["sdist"]["sha256"] == \
        "7b46165bb56eb4704e2eaaf86f3c940d19154535d9b0ca7d6d590b04060e00d5"


# The suite runs for one OpenSSL version (--smoke full); the others get the functional checks.
@pytest.mark.parametrize("openssl", [CRYPTOGRAPHY_SUITE_OPENSSL])
def test_its_own_test_suite_passes_with_zero_failures(cryptography_wheelhouse, openssl):
    _, _, record = built(cryptography_wheelhouse, openssl)
    suite = record["smoke"]["suite"]
    assert " passed" in suite and "failed" not in suite and "error" not in suite, suite


def interpreter_ssl() -> str:
    """ssl.OPENSSL_VERSION of the interpreter the smoke test ran (the one running the builder)."""
    return subprocess.run([sys.executable, "-c", "import ssl; print(ssl.OPENSSL_VERSION)"],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize("openssl", VERSIONS)
def test_run_time_and_compiled_versions_are_the_pinned_one_even_beside_system_ssl(
        cryptography_wheelhouse, openssl):
    _, _, record = built(cryptography_wheelhouse, openssl)
    for run in ("alone", "system_ssl_first"):
        versions = record["smoke"]["checks"][run]["versions"]
        assert versions["runtime"].startswith(f"OpenSSL {openssl} ")
        assert versions["compiled"].startswith(f"OpenSSL {openssl} ")
    system = record["smoke"]["checks"]["system_ssl_first"]
    # The interpreter's own ssl (the system's libssl, whatever its version: Debian's may be
    # the very release pinned here) was used first, and still works beside the wheel.
    assert system["system_ssl_before"] == interpreter_ssl()
    assert system["system_ssl_after"] == "works"


@pytest.mark.parametrize("openssl", ["3.5.7", "4.0.2"])
def test_post_quantum_keys_work_from_openssl_3_5(cryptography_wheelhouse, openssl):
    _, _, record = built(cryptography_wheelhouse, openssl)
    assert record["smoke"]["checks"]["alone"]["post_quantum"] == "passed"


def test_wheel_needs_no_shared_openssl_and_exports_none_of_its_symbols(
        cryptography_wheelhouse, openssl_prefix):
    _, wheel, _ = built(cryptography_wheelhouse, "3.5.7")
    openssl_symbols = set((openssl_prefix("3.5.7") / "defined-symbols.txt").read_text().split())
    assert len(openssl_symbols) > 5000
    for elf in inspect_wheel(wheel):
        assert not [n for n in elf.needed if "libssl" in n or "libcrypto" in n]
        assert not elf.exported & openssl_symbols


def test_wheelhouse_alone_installs_it_with_no_index(cryptography_wheelhouse, tmp_path):
    wheelhouse, _, _ = built(cryptography_wheelhouse, "3.0.22")
    names = {w.name.split("-")[0] for w in wheels_in(wheelhouse)}
    assert {"cryptography", "cffi", "pycparser"} <= names
    python = fresh_venv(tmp_path / "venv", wheelhouse, "cryptography")
    text = python_says(python, "from cryptography.hazmat.backends.openssl import backend; "
                               "print(backend.openssl_version_text())")
    assert text.startswith("OpenSSL 3.0.22 ")


def test_patch_and_relock_are_recorded_with_the_patch_sha256(cryptography_wheelhouse):
    _, _, record = built(cryptography_wheelhouse, "3.0.22")
    [patch] = record["sdist"]["patches"]
    assert patch["file"] == "cargo-toml-debian-crates.patch" and len(patch["sha256"]) == 64
    assert record["sdist"]["cargo"]["relocked"] is True


def test_crates_that_do_not_satisfy_cargo_lock_are_refused_before_any_compile(
        session_cache, openssl_mirror, tmp_path):
    done = run_builder("wheel", "cryptography==50.0.2", "--openssl", "3.0.22",
                       *mirror_args(openssl_mirror), *offline_crate_args(relock=False),
                       "--cache-dir", str(session_cache), "--wheelhouse", str(tmp_path / "wh"))
    assert done.returncode == 2, done.stderr
    assert "do not satisfy cryptography 50.0.2's Cargo.lock" in done.stderr
    assert "pass --cargo-relock" in done.stderr
    assert "static build" not in done.stderr
