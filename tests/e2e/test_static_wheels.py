"""End to end, as a user runs it: real OpenSSL builds fetched over loopback HTTP, real sdists,
real auditwheel, real virtualenvs."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from builder.platforms.elf import inspect_wheel
from tests.conftest import FIXTURES, SLOT_HELD, mirror_args, run_builder
from tests.e2e.conftest import fresh_venv, other_python, python_says, wheels_in

pytestmark = pytest.mark.slow

FIXTURE_PROBE = "sslfixture:openssl_version"


def provenance(wheel):
    return json.loads(wheel.with_name(wheel.name + ".provenance.json").read_text())


def test_openssl_build_installs_static_archives_and_headers_only(openssl_prefix):
    prefix = openssl_prefix("3.0.22")
    libs = sorted(p.name for p in (prefix / "lib").iterdir())
    assert "libcrypto.a" in libs and "libssl.a" in libs
    assert not list((prefix / "lib").rglob("*.so*"))
    assert '"OpenSSL 3.0.22 ' in (prefix / "include/openssl/opensslv.h").read_text()
    assert not (prefix / "bin").exists()


def test_second_openssl_build_reuses_the_cache_and_says_so(openssl_prefix, session_cache,
                                                           openssl_mirror):
    first = openssl_prefix("3.0.22")
    again = run_builder("openssl", "build", "3.0.22", "--cache-dir", str(session_cache),
                        *(["--mirror", openssl_mirror] if openssl_mirror else []))
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == str(first)
    assert "reusing the cached OpenSSL 3.0.22 build" in again.stderr
    assert "reusing the verified" in again.stderr


def test_openssl_build_copies_to_a_chosen_prefix_with_working_pkg_config(
        openssl_prefix, session_cache, tmp_path):
    openssl_prefix("3.0.22")
    target = tmp_path / "opt" / "openssl"
    done = run_builder("openssl", "build", "3.0.22", "--prefix", str(target),
                       "--cache-dir", str(session_cache))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(target)
    assert (target / "lib" / "libcrypto.a").is_file()
    assert f"prefix={target}" in (target / "lib/pkgconfig/libcrypto.pc").read_text()


def test_scrypt_from_pypi_becomes_a_static_manylinux_wheel(wheelhouse):
    done, folder = wheelhouse("scrypt", "3.0.22")
    assert done.returncode == 0, done.stderr
    [wheel] = wheels_in(folder)
    assert "manylinux" in wheel.name
    record = provenance(wheel)
    assert record["openssl"]["version"] == "3.0.22"
    assert record["openssl"]["tarball_sha256"].startswith("67ebca7e50d1")
    assert "no-shared" in record["openssl"]["configure_args"]
    assert record["smoke"]["passed"] and record["wheel_sha256"] == \
        hashlib.sha256(wheel.read_bytes()).hexdigest()
    for elf in inspect_wheel(wheel):
        assert not [n for n in elf.needed if "libcrypto" in n or "libssl" in n]
        assert elf.openssl_versions == ("3.0.22",)


def test_scrypt_wheel_computes_the_rfc_7914_test_vector(wheelhouse, tmp_path):
    done, folder = wheelhouse("scrypt", "3.0.22")
    assert done.returncode == 0
    python = fresh_venv(tmp_path / "venv", folder, "scrypt")
    digest = python_says(python, "import scrypt; print(scrypt.hash(b'password', b'NaCl', "
                                 "N=1024, r=8, p=16).hex())")
    assert digest.startswith("fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731")


@pytest.mark.parametrize("version", ["1.1.1w", "3.5.7"])
def test_fixture_reports_the_pinned_openssl_at_run_time_and_hashes_with_it(
        wheelhouse, tmp_path, version):
    # The wheels test_hardening reads too.
    done, folder = wheelhouse(str(FIXTURES / "sslfixture"), version,
                              "--version-probe", FIXTURE_PROBE)
    assert done.returncode == 0, done.stderr
    [wheel] = wheels_in(folder)
    assert provenance(wheel)["smoke"]["runtime_version"] == version
    python = fresh_venv(tmp_path / "venv", folder, "sslfixture")
    code = "import sslfixture; print(sslfixture.openssl_version()); print(sslfixture.sha256(b'abc').hex())"
    text, digest = python_says(python, code).splitlines()
    assert text.startswith(f"OpenSSL {version} ")
    assert digest == hashlib.sha256(b"abc").hexdigest()


def test_target_that_does_not_compile_fails_with_its_log_and_leaves_no_wheel(
        builder_cli, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(FIXTURES / "sslfixture", broken)
    source = broken / "sslfixture.c"
    source.write_text(source.read_text() + "\nthis is not C;\n")
    done = builder_cli(str(broken), "3.0.22")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "error: building sslfixture 1.0" in done.stderr
    tail = [line for line in done.stderr.splitlines() if line.startswith("  | ")]
    assert any("error" in line for line in tail)  # the compiler's own words, on screen
    log_line = [line for line in done.stderr.splitlines() if line.startswith("full log: ")][0]
    assert "this is not C" in open(log_line[len("full log: "):]).read()
    wheelhouse = tmp_path / "wheelhouse"
    assert not wheelhouse.exists() or list(wheelhouse.iterdir()) == []


def test_smoke_command_proves_a_finished_wheel_and_refuses_a_wrong_expectation(
        wheelhouse, session_cache):
    done, folder = wheelhouse("scrypt", "3.0.22")
    assert done.returncode == 0
    [wheel] = wheels_in(folder)
    ok = run_builder("smoke", str(wheel), "--cache-dir", str(session_cache))
    assert ok.returncode == 0, ok.stderr
    wrong = run_builder("smoke", str(wheel), "--openssl", "3.5.7", "--cache-dir",
                        str(session_cache))
    assert wrong.returncode == 1
    assert "carries OpenSSL 3.0.22, expected 3.5.7" in wrong.stderr


def test_python_option_builds_for_another_interpreter(builder_cli, tmp_path):
    python = other_python()
    done = builder_cli("scrypt", "3.0.22", "--python", str(python))
    assert done.returncode == 0, done.stderr
    [wheel] = wheels_in(tmp_path / "wheelhouse")
    version = python_says(python, "import sys; print('%d%d' % sys.version_info[:2])")
    assert f"-cp{version}-" in wheel.name
    assert provenance(wheel)["smoke"]["passed"]


def test_interrupted_openssl_build_leaves_no_partial_cache_entry(openssl_mirror, tmp_path):
    cache = tmp_path / "cache"
    command = [sys.executable, "-m", "builder", "openssl", "build", "1.1.1w",
               *mirror_args(openssl_mirror), "--cache-dir", str(cache)]
    # Compiling at once, not waiting for the other test worker's compile (tests/conftest.py):
    # the interrupt must land inside the compile.
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "CI": "true", SLOT_HELD: "held"})
    for line in process.stderr:
        if "openssl: build libraries" in line:
            break
    time.sleep(3)  # well inside the compile
    process.send_signal(signal.SIGINT)
    rest = process.stderr.read()
    assert process.wait(timeout=60) == 130, rest
    assert "interrupted" in rest
    leftovers = [p.name for p in (cache / "openssl").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []
    assert (cache / "downloads" / "openssl-1.1.1w.tar.gz").is_file()  # verified, so kept
