"""What the carried OpenSSL lets through, and what can get at it: no SSLv3 or SSLv2, no
interposition by (or of) another libcrypto in the process, and bit-for-bit rebuilds."""

import ctypes.util
import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest

from builder.repair import build_paths_in
from tests.conftest import FIXTURES, mirror_args, run_builder
from tests.e2e.conftest import (SECOND_ROOT_MARKER, SECOND_ROOT_OPENSSL, built, fresh_venv,
                                python_says, sboms_hold, wheels_in)

pytestmark = pytest.mark.slow

PROBE = "sslfixture:openssl_version"
SSL3, SSL2, TLS1_2 = 0x0300, 0x0002, 0x0303


@pytest.fixture(scope="session")
def fixture_venv(built_once, wheelhouse, tmp_path_factory):
    """`fixture_venv("1.1.1w")`: a virtualenv with the fixture's static wheel for that OpenSSL
    (the wheel test_static_wheels reads too)."""

    def get(version):
        def make():
            done, folder = wheelhouse(str(FIXTURES / "sslfixture"), version,
                                      "--version-probe", PROBE)
            assert done.returncode == 0, done.stderr[-3000:]
            return fresh_venv(tmp_path_factory.mktemp(f"fixture-{version}") / "venv", folder,
                              "sslfixture")

        return built_once(("sslfixture venv", version), make)

    return get


def system_libcrypto():
    name = ctypes.util.find_library("crypto")
    if name is None or not name.startswith("libcrypto.so.3"):
        pytest.fail(f"needs the system's shared libcrypto 3 (found {name}): "
                    f"apt-get install libssl3")
    return name


@pytest.mark.parametrize("version", ["1.1.1w", "3.5.7"])
def test_the_carried_openssl_writes_no_sslv3_or_sslv2_hello_but_a_tls_1_2_one(
        fixture_venv, version):
    python = fixture_venv(version)
    said = python_says(python, "import sslfixture as f; "
                               f"print(f.client_hello({SSL3}), f.client_hello({SSL2}), "
                               f"f.client_hello({TLS1_2}))")
    assert said == "False False True"


def test_a_libcrypto_3_loaded_globally_first_does_not_replace_the_static_1_1_1w(fixture_venv):
    said = python_says(fixture_venv("1.1.1w"), (
        "import ctypes, os\n"
        f"system = ctypes.CDLL({system_libcrypto()!r}, mode=os.RTLD_GLOBAL | os.RTLD_NOW)\n"
        "system.OpenSSL_version.restype = ctypes.c_char_p\n"
        "import sslfixture\n"
        "print(system.OpenSSL_version(0).decode())\n"
        "print(sslfixture.openssl_version())\n"
        "print(sslfixture.sha256(b'abc').hex(), sslfixture.client_hello(0x0303))\n"))
    system, carried, works = said.splitlines()
    assert system.startswith("OpenSSL 3.")  # the other copy really is in the process
    assert carried.startswith("OpenSSL 1.1.1w ")
    assert works == f"{hashlib.sha256(b'abc').hexdigest()} True"


def test_the_wheel_loaded_globally_first_leaves_the_interpreters_ssl_its_own(fixture_venv):
    python = fixture_venv("1.1.1w")
    plain = python_says(python, "import ssl; print(ssl.OPENSSL_VERSION)")
    said = python_says(python, (
        "import os, sys\n"
        "sys.setdlopenflags(os.RTLD_GLOBAL | os.RTLD_NOW)\n"
        "import sslfixture\n"
        "import ssl, hashlib\n"
        "print(ssl.OPENSSL_VERSION)\n"
        "print(hashlib.sha256(b'abc').hexdigest(), hashlib.new('sha3_256', b'abc').hexdigest())\n"
        "context = ssl.create_default_context()\n"
        "client = context.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname='x.test')\n"
        "try:\n"
        "    client.do_handshake()\n"
        "except ssl.SSLWantReadError:\n"
        "    print('hello written')\n"
        "print(sslfixture.openssl_version())\n"))
    version, digests, hello, carried = said.splitlines()
    assert version == plain and not version.startswith("OpenSSL 1.1.1w")
    assert digests == (f"{hashlib.sha256(b'abc').hexdigest()} "
                       f"{hashlib.sha3_256(b'abc').hexdigest()}")
    assert hello == "hello written"
    assert carried.startswith("OpenSSL 1.1.1w ")


def test_cryptography_ignores_a_libcrypto_3_loaded_globally_first(cryptography_wheelhouse,
                                                                  tmp_path):
    wheelhouse, _, _ = built(cryptography_wheelhouse, "3.0.22")
    python = fresh_venv(tmp_path / "venv", wheelhouse, "cryptography")
    said = python_says(python, (
        "import ctypes, os\n"
        f"ctypes.CDLL({system_libcrypto()!r}, mode=os.RTLD_GLOBAL | os.RTLD_NOW)\n"
        "from cryptography.hazmat.backends.openssl import backend\n"
        "from cryptography.fernet import Fernet\n"
        "f = Fernet(Fernet.generate_key())\n"
        "print(backend.openssl_version_text())\n"
        "print(f.decrypt(f.encrypt(b'ok')).decode())\n"))
    assert said.splitlines()[0].startswith("OpenSSL 3.0.22 ")
    assert said.splitlines()[1] == "ok"


def test_cryptography_loaded_globally_first_leaves_the_interpreters_ssl_its_own(
        cryptography_wheelhouse, tmp_path):
    wheelhouse, _, _ = built(cryptography_wheelhouse, "3.0.22")
    python = fresh_venv(tmp_path / "venv", wheelhouse, "cryptography")
    plain = python_says(python, "import ssl; print(ssl.OPENSSL_VERSION)")
    said = python_says(python, (
        "import os, sys\n"
        "sys.setdlopenflags(os.RTLD_GLOBAL | os.RTLD_NOW)\n"
        "from cryptography.hazmat.bindings._rust import openssl\n"
        "from cryptography.hazmat.backends.openssl import backend\n"
        "import ssl, hashlib\n"
        "print(ssl.OPENSSL_VERSION)\n"
        "print(hashlib.sha256(b'abc').hexdigest())\n"
        "ssl.create_default_context()\n"
        "print(backend.openssl_version_text())\n"))
    version, digest, carried = said.splitlines()
    assert version == plain
    assert digest == hashlib.sha256(b"abc").hexdigest()
    assert carried.startswith("OpenSSL 3.0.22 ")


def test_two_builds_in_different_directories_and_cache_roots_give_byte_identical_wheels(
        session_cache, second_cache, openssl_mirror, openssl_prefix, tmp_path):
    """The second build has a cache of its own, with a marker in its path that no byte of
    either wheel may hold. OpenSSL was built in it apart from the session's build: by the
    fault tests, which run before this test, or now when they are not run."""
    openssl_prefix(SECOND_ROOT_OPENSSL)
    marker = SECOND_ROOT_MARKER
    assert marker in str(second_cache) and marker not in str(session_cache)
    caches = {"first": session_cache, "second/deeper": second_cache}
    digests = []
    for place, cache in caches.items():
        source = tmp_path / place / "sslfixture"
        shutil.copytree(FIXTURES / "sslfixture", source, ignore=shutil.ignore_patterns(
            "*.egg-info", "build", "__pycache__"))
        done = run_builder("wheel", str(source), "--openssl", SECOND_ROOT_OPENSSL,
                           "--version-probe", PROBE, *mirror_args(openssl_mirror),
                           "--cache-dir", str(cache),
                           "--wheelhouse", str(tmp_path / place / "wheelhouse"),
                           cwd=tmp_path / place)
        assert done.returncode == 0, done.stderr[-3000:]
        sboms_hold(tmp_path / place / "wheelhouse")
        [wheel] = wheels_in(tmp_path / place / "wheelhouse")
        assert build_paths_in(wheel, [cache, tmp_path, Path.home()]) == []
        with zipfile.ZipFile(wheel) as archive:
            assert not any(marker.encode() in archive.read(n) for n in archive.namelist())
        digests.append(hashlib.sha256(Path(wheel).read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_a_wheel_of_the_same_name_is_replaced_only_after_the_new_one_passed(
        session_cache, openssl_mirror, openssl_prefix, tmp_path):
    openssl_prefix("3.0.22")
    wheelhouse = tmp_path / "wheelhouse"

    def build(*extra):
        return run_builder("wheel", str(FIXTURES / "sslfixture"), "--openssl", "3.0.22",
                           *mirror_args(openssl_mirror), "--cache-dir", str(session_cache),
                           "--wheelhouse", str(wheelhouse), *extra)

    assert build("--version-probe", PROBE).returncode == 0
    [wheel] = wheels_in(wheelhouse)
    record = Path(f"{wheel}.provenance.json")
    before = (wheel.stat().st_ino, wheel.read_bytes(), record.read_text())
    # The same wheel, but a probe that reports no OpenSSL version: its smoke test fails.
    failed = build("--version-probe", "os:getcwd")
    assert failed.returncode == 1 and "smoke test of sslfixture" in failed.stderr
    assert (wheel.stat().st_ino, wheel.read_bytes(), record.read_text()) == before
    assert build("--version-probe", PROBE).returncode == 0
    assert wheel.stat().st_ino != before[0]  # a new file, renamed into place
    assert wheels_in(wheelhouse) == [wheel]
