"""No false pass: a wheel is published only when it provably carries exactly the pinned
OpenSSL and nothing else. Each kind of fault, with the input that showed it and another of the
same kind (the broken projects are in tests/packages/)."""

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from builder.platforms.elf import inspect_wheel
from tests.conftest import PACKAGES, run_builder
from tests.e2e.conftest import fresh_venv, python_says, wheels_in
from tests.unit.test_cli import assert_one_clear_error

pytestmark = pytest.mark.slow


def refused_before_openssl(done, cache, *phrases):
    assert_one_clear_error(done, 2, *phrases)
    assert not (cache / "openssl").exists()


# ------------------------------------------------ packages from the index that cannot carry one

@pytest.mark.parametrize("package, phrases", [
    ("crcmod==1.7", ["crcmod does not use OpenSSL", "build it with pip"]),
    ("pyOpenSSL", ["uses the OpenSSL of cryptography: build cryptography"]),
    ("pyotp", ["builds no extension module (pure Python)"]),
    ("sslkeylog", ["takes OpenSSL objects out of the interpreter's own ssl module",
                   "_sslkeylog.c:"]),
    ("sslpsk==1.0.0", ["takes OpenSSL objects out of the interpreter's own ssl module",
                       "sslpsk/_sslpsk.c:"]),
])
def test_a_package_from_the_index_that_cannot_carry_its_own_openssl_is_refused_up_front(
        package, phrases, tmp_path):
    cache = tmp_path / "cache"
    done = run_builder("wheel", package, "--openssl", "3.0.22", "--cache-dir", str(cache),
                       "--wheelhouse", str(tmp_path / "wheelhouse"))
    refused_before_openssl(done, cache, *phrases)
    assert wheels_in(tmp_path / "wheelhouse") == []


# ------------------------------------------------ a shared OpenSSL loaded at run time

@pytest.mark.parametrize("package, how", [
    ("loads-libcrypto", "ctypes.dlopen('libcrypto.so.3')"),  # the name built by a helper
    ("cffi-dlopen", "cffi.dlopen('libcrypto.so.3')"),  # oscrypto-style ABI-mode loading
])
def test_a_package_that_loads_a_shared_openssl_at_run_time_is_refused_by_the_smoke_test(
        package, how, builder_cli, tmp_path):
    done = builder_cli(str(PACKAGES / package), "3.0.22")
    assert_one_clear_error(done, 2, "loads a shared OpenSSL at run time", how,
                           "build this package against the system's OpenSSL")
    assert wheels_in(tmp_path / "wheelhouse") == []


def test_every_smoke_test_records_what_the_process_loaded_and_the_ssl_beside_it(wheelhouse):
    done, folder = wheelhouse("scrypt", "3.0.22")  # the wheel test_static_wheels reads
    assert done.returncode == 0, done.stderr[-3000:]
    [wheel] = [w for w in wheels_in(folder) if w.name.startswith("scrypt-")]
    smoke = json.loads(wheel.with_name(wheel.name + ".provenance.json").read_text())["smoke"]
    assert smoke["loads"]["probe"]["opened"] == [] and smoke["loads"]["probe"]["foreign"] == []
    assert smoke["shared_openssl_loads"] == []
    assert smoke["ssl_beside"]["client_hello_bytes"] > 0


def test_a_crash_of_the_interpreters_ssl_beside_the_package_fails_the_run(builder_cli, tmp_path):
    # What the source scan cannot see: the package hooks ssl at import and hands its objects
    # to the static copy. The smoke test uses ssl beside it, so the crash happens here.
    done = builder_cli(str(PACKAGES / "ssl-crash"), "3.0.22")
    assert_one_clear_error(done, 1, "smoke test", "killed by SIGSEGV")
    assert wheels_in(tmp_path / "wheelhouse") == []


# ------------------------------------------------ OpenSSL objects and headers from elsewhere

def test_objects_from_a_second_libcrypto_in_the_link_are_refused_from_the_linker_map(
        builder_cli, tmp_path):
    system_archive = Path("/usr/lib/x86_64-linux-gnu/libcrypto.a")
    if not system_archive.is_file():
        pytest.fail(f"this test needs {system_archive} (apt-get install libssl-dev)")
    done = builder_cli(str(PACKAGES / "second-libcrypto"), "3.0.22")
    assert_one_clear_error(done, 1, "links OpenSSL from elsewhere than the pinned build",
                           f"{system_archive}(libcrypto-lib-")
    assert wheels_in(tmp_path / "wheelhouse") == []


def test_headers_of_another_openssl_found_first_are_refused(builder_cli, tmp_path):
    done = builder_cli(str(PACKAGES / "vendored-headers"), "3.0.22")
    assert_one_clear_error(done, 1, "read OpenSSL headers from outside the pinned prefix",
                           "openssl/opensslv.h")
    assert wheels_in(tmp_path / "wheelhouse") == []


def test_only_the_modules_that_use_openssl_hold_any_of_it(builder_cli, tmp_path):
    done = builder_cli(str(PACKAGES / "mixed-modules"), "3.0.22")
    assert done.returncode == 0, done.stderr[-3000:]
    [wheel] = wheels_in(tmp_path / "wheelhouse")
    elves = {Path(e.name).name.split(".")[0]: e for e in inspect_wheel(wheel)}
    assert elves["_digest"].openssl_versions == ("3.0.22",)
    assert elves["_plain"].openssl_versions == ()
    with zipfile.ZipFile(wheel) as archive:
        [plain] = [i for i in archive.infolist()
                   if "/_plain." in i.filename and i.filename.endswith(".so")]
    assert plain.file_size < 100_000  # no OpenSSL pulled in by a forced symbol


def test_a_package_whose_binaries_link_no_openssl_is_refused_after_its_build(
        builder_cli, tmp_path):
    # Its setup script names libssl and libcrypto, so only the link shows it uses neither.
    done = builder_cli(str(PACKAGES / "mentions-openssl"), "3.0.22")
    assert_one_clear_error(done, 2, "none of its binaries links OpenSSL", "build it with pip")
    assert wheels_in(tmp_path / "wheelhouse") == []


# ------------------------------------------------ libraries that bring the system's OpenSSL

@pytest.mark.parametrize("package, needs, library", [
    ("psycopg2==2.9.13", "libpq.so.5", "libpq"),  # pg_config: apt-get install libpq-dev
    (str(PACKAGES / "grafts-system-openssl"), "libxmlsec1-openssl.so.1", "libxmlsec1-openssl"),
])
def test_a_library_that_brings_the_system_openssl_is_named_in_one_sentence(
        package, needs, library, builder_cli, tmp_path):
    if package.startswith("psycopg2") and shutil.which("pg_config") is None:
        pytest.fail("this test needs pg_config (apt-get install libpq-dev)")
    done = builder_cli(package, "3.0.22")
    assert_one_clear_error(done, 2, f"needs {needs}, which brings the system's OpenSSL",
                           f"build {library} statically against the pinned OpenSSL first",
                           "against the system's OpenSSL with pip")
    error = next(line for line in done.stderr.splitlines() if line.startswith("error: "))
    assert len(error) < 400 and error.count(";") == 1
    assert wheels_in(tmp_path / "wheelhouse") == []


# ------------------------------------------------ every binary alike: programs too

def test_a_program_in_the_wheel_is_linked_checked_and_smoke_tested_like_a_module(
        builder_cli, tmp_path):
    done = builder_cli(str(PACKAGES / "ships-program"), "3.0.22")
    assert done.returncode == 0, done.stderr[-3000:]
    [wheel] = wheels_in(tmp_path / "wheelhouse")
    [program] = [e for e in inspect_wheel(wheel) if e.name.endswith("/scripts/openssl-version")]
    assert program.openssl_versions == ("3.0.22",) and not program.is_extension
    record = json.loads(wheel.with_name(wheel.name + ".provenance.json").read_text())
    assert record["smoke"]["embedded_versions"]["openssl-version"] == ["3.0.22"]
    python = fresh_venv(tmp_path / "venv", tmp_path / "wheelhouse", "ships-program")
    assert python_says(python, "import ships_program; print(ships_program.openssl_version())"
                       ).startswith("OpenSSL 3.0.22 ")


def test_cryptography_from_the_index_without_a_reachable_registry_names_cargo_vendor(tmp_path):
    # A registry that refuses connections stands for a host that cannot reach crates.io.
    home = tmp_path / "cargo-home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[source.crates-io]\nreplace-with = "dead"\n\n'
        '[source.dead]\nregistry = "sparse+http://127.0.0.1:9/index/"\n\n[net]\nretry = 0\n')
    cache = tmp_path / "cache"
    done = run_builder("wheel", "cryptography==50.0.2", "--openssl", "3.5.7", "--cache-dir",
                       str(cache), "--wheelhouse", str(tmp_path / "wheelhouse"),
                       env={"CARGO_HOME": str(home)})
    refused_before_openssl(done, cache, "cargo cannot download the crates cryptography 50.0.2",
                           "--cargo-vendor DIR")
