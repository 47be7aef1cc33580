"""Work shared between machines, against real servers on loopback: an OpenSSL build pushed to
a registry is pulled by a fresh cache and gives the same wheel; two cache roots share their
compiles through sccache with Redis and give the same wheel; the warm path with uv and with
pip gives the same wheel."""

import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import mirror_args, run_builder
from tests.e2e.conftest import wheels_in
from tests.servers import redis, registry

pytestmark = pytest.mark.slow


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record_of(wheel: Path) -> dict:
    return json.loads(Path(f"{wheel}.provenance.json").read_text())


@pytest.fixture
def session_scrypt(wheelhouse):
    done, folder = wheelhouse("scrypt", "3.0.22")
    assert done.returncode == 0, done.stderr[-3000:]
    [wheel] = wheels_in(folder)
    return wheel


def test_a_fresh_cache_pulls_the_openssl_build_from_a_registry_and_makes_the_same_wheel(
        session_scrypt, session_cache, openssl_prefix, openssl_mirror, tmp_path):
    prefix = openssl_prefix("3.0.22")
    with registry(tmp_path / "registry") as address:
        location = f"{address}/builder-cache"
        pushed = run_builder("openssl", "build", "3.0.22", "--remote-cache", location,
                             "--remote-cache-push", *mirror_args(openssl_mirror),
                             "--cache-dir", str(session_cache))
        assert pushed.returncode == 0, pushed.stderr[-3000:]
        assert "pushed openssl-openssl-3.0.22-" in pushed.stderr
        fresh = tmp_path / "fresh-cache"
        done = run_builder("wheel", "scrypt", "--openssl", "3.0.22", "--remote-cache", location,
                           *mirror_args(openssl_mirror), "--cache-dir", str(fresh),
                           "--wheelhouse", str(tmp_path / "w"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"build pulled from {location}" in done.stderr and "static build: done" in done.stderr
    [wheel] = wheels_in(tmp_path / "w")
    assert record_of(wheel)["openssl"]["pulled_from"] == location
    # The same archives as the machine that built them, and the same wheel.
    [pulled] = (fresh / "openssl").glob("openssl-3.0.22-*")
    for archive in ("lib/libcrypto.a", "lib/libssl.a"):
        assert digest(pulled / archive) == digest(prefix / archive)
    assert (wheel.name, digest(wheel)) == (session_scrypt.name, digest(session_scrypt))


# The release of the sccache test: the one of the run's four that builds fastest (its two
# builds are the only ones of a release the session has built already).
SCCACHE_OPENSSL = "1.1.1w"


def test_two_cache_roots_share_their_compiles_through_sccache_with_redis(
        wheelhouse, openssl_mirror, tmp_path):
    done, folder = wheelhouse("scrypt", SCCACHE_OPENSSL)
    assert done.returncode == 0, done.stderr[-3000:]
    [without_sccache] = wheels_in(folder)
    with redis(tmp_path / "redis") as url:
        env = {"SCCACHE_REDIS_ENDPOINT": url}
        records = []
        for root in ("first", "second"):
            done = run_builder("wheel", "scrypt", "--openssl", SCCACHE_OPENSSL, "--sccache",
                               *mirror_args(openssl_mirror),
                               "--cache-dir", str(tmp_path / root / "cache"),
                               "--wheelhouse", str(tmp_path / root / "w"), env=env)
            assert done.returncode == 0, done.stderr[-3000:]
            [wheel] = wheels_in(tmp_path / root / "w")
            records.append((wheel, record_of(wheel)["sccache"]))
    (first, cold), (second, warm) = records
    assert cold["compile_requests"] > 500 and cold["cache_misses"] > 500
    # Every compile of the second build (OpenSSL's and scrypt's) came from Redis.
    assert warm["compile_requests"] == cold["compile_requests"]
    assert warm["cache_hits"] == warm["compile_requests"] and warm["cache_misses"] == 0
    # sccache changes no byte: the same wheel as a build without it.
    assert digest(first) == digest(second) == digest(without_sccache)


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_the_warm_path_with_uv_and_with_pip_makes_the_same_wheel(
        session_scrypt, session_cache, openssl_mirror, tmp_path, installer):
    done = run_builder("wheel", "scrypt", "--openssl", "3.0.22", "--installer", installer,
                       *mirror_args(openssl_mirror), "--cache-dir", str(session_cache),
                       "--wheelhouse", str(tmp_path / "w"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "reusing the cached OpenSSL 3.0.22 build" in done.stderr
    [wheel] = wheels_in(tmp_path / "w")
    record = record_of(wheel)
    assert record["installer"] == {"build": installer, "smoke": installer}
    assert record["smoke"]["passed"]
    assert digest(wheel) == digest(session_scrypt)
