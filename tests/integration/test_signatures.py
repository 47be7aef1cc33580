"""OpenSSL's release signatures, checked by gpgv against the keys that ship with the
builder."""

import dataclasses
import shutil

import pytest

from builder.errors import VerificationError
from builder.releases import load_table
from builder.signatures import verify
from builder.sources import fetch_openssl
from tests.conftest import SHARED_OPENSSL, run_builder, shared_tarball
from tests.httpserver import serve
from tests.unit.test_signatures import signature_of


@pytest.mark.parametrize("version", ["3.0.22", "4.0.2"])
def test_current_releases_verify_against_the_current_signing_key(version):
    good = verify(shared_tarball(version), signature_of(version))
    assert good.signer == "OpenSSL <openssl@openssl.org>" and not good.key_expired


@pytest.mark.parametrize("version", ["1.1.1w", "3.5.7"])
def test_keys_expired_since_still_verify_the_releases_they_signed(version):
    good = verify(shared_tarball(version), signature_of(version))
    assert good.key_expired and good.fingerprint


def test_a_changed_tarball_fails_its_signature(tmp_path):
    tampered = tmp_path / "openssl-3.0.22.tar.gz"
    tampered.write_bytes(shared_tarball("3.0.22").read_bytes() + b"\0")
    with pytest.raises(VerificationError, match="bad signature: the tarball is not what was"):
        verify(tampered, signature_of("3.0.22"))


def test_the_signature_of_another_release_does_not_verify():
    with pytest.raises(VerificationError, match="openssl-3.0.22.tar.gz: signature does not"):
        verify(shared_tarball("3.0.22"), signature_of("4.0.2"))


def test_a_signature_by_a_key_that_is_not_openssls_is_refused(tmp_path, monkeypatch):
    only_current = tmp_path / "keys"
    only_current.mkdir()
    shutil.copy(SHARED_OPENSSL / "keys" / "openssl-org-signing-key.asc", only_current)
    monkeypatch.setattr("builder.signatures.shipped_keys",
                        lambda: sorted(only_current.glob("*.asc")))
    with pytest.raises(VerificationError, match="not one of OpenSSL's release keys"):
        verify(shared_tarball("1.1.1w"), signature_of("1.1.1w"))


def test_a_download_with_verify_signature_fetches_and_keeps_the_good_asc(tmp_path):
    with serve(SHARED_OPENSSL) as url:
        got = fetch_openssl(load_table().get("3.0.22"), tmp_path, mirrors=[url], upstream=False,
                            verify_signature=True)
    assert got.signature is not None and not got.signature.key_expired
    assert (tmp_path / "downloads" / "openssl-3.0.22.tar.gz.asc").is_file()


def test_a_local_source_is_checked_against_the_asc_beside_it(tmp_path):
    got = fetch_openssl(load_table().get("1.1.1w"), tmp_path, verify_signature=True,
                        local_source=shared_tarball("1.1.1w"))
    assert got.signature is not None and got.signature.key_expired


def table_without(version):
    table = load_table()
    return dataclasses.replace(table, releases=tuple(r for r in table.releases
                                                     if r.version != version))


def test_an_unlisted_release_is_taken_on_its_good_signature_alone(tmp_path):
    unlisted = table_without("3.0.22").unlisted("3.0.22")
    assert unlisted.sha256 == ""
    with serve(SHARED_OPENSSL) as url:
        got = fetch_openssl(unlisted, tmp_path, mirrors=[url], upstream=False)
    assert got.signature is not None
    assert got.release.sha256 == load_table().get("3.0.22").sha256
    assert (tmp_path / "downloads" / "openssl-3.0.22.tar.gz").is_file()


def test_an_unlisted_release_with_a_bad_signature_leaves_nothing_in_the_cache(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "openssl-3.0.22.tar.gz").write_bytes(shared_tarball("3.0.22").read_bytes()
                                                   + b"\0")
    shutil.copy(signature_of("3.0.22"), served)
    unlisted = table_without("3.0.22").unlisted("3.0.22")
    with serve(served) as url, pytest.raises(VerificationError, match="bad signature"):
        fetch_openssl(unlisted, tmp_path / "cache", mirrors=[url], upstream=False)
    leftovers = [p.name for p in (tmp_path / "cache" / "downloads").iterdir()
                 if not p.name.endswith(".lock")]
    assert leftovers == []


def test_allow_unlisted_without_verify_signature_is_bad_input(tmp_path):
    done = run_builder("openssl", "build", "3.0.99", "--allow-unlisted",
                       "--cache-dir", str(tmp_path))
    assert done.returncode == 2
    assert "--allow-unlisted needs --verify-signature" in done.stderr


def test_allow_unlisted_needs_an_exact_version(tmp_path):
    done = run_builder("openssl", "build", "3.9", "--allow-unlisted", "--verify-signature",
                       "--cache-dir", str(tmp_path))
    assert done.returncode == 2
    assert "needs an exact release version such as 3.0.23, not 3.9" in done.stderr
