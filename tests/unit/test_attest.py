"""Each wheel's provenance as an in-toto Statement with a SLSA v1 predicate, in a DSSE envelope:
signed with the team's key it verifies offline with that key, and fails with another key, for
a changed wheel, or unsigned."""

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption, PrivateFormat,
                                                          PublicFormat)

from builder.attest import (SLSA_PROVENANCE, attestation_path, load_public_key, load_signer,
                            statement, verify_attestation, write_attestation)
from builder.errors import CheckFailed, InputError

RECORD = {
    "package": "scrypt", "version": "0.9.4", "tag": "manylinux_2_17_x86_64", "plat": None,
    "python": "cpython 3.13.0 (/usr/bin/python3.13)", "compiler": "gcc 12",
    "sdist": {"source": "https://files.example/scrypt-0.9.4.tar.gz", "sha256": "a" * 64,
              "patches": [{"file": "fix.patch", "sha256": "b" * 64}],
              "crates": [{"name": "pyo3", "version": "0.25.1", "sha256": "d" * 64}]},
    "toolchain_downloads": [{"file": "ziglang-0.15.2.whl", "sha256": "e" * 64}],
    "openssl": {"version": "3.5.9", "configure_args": ["no-shared", "no-ssl3"],
                "cache_key": "0123456789abcdef", "source": "https://www.openssl.org/source/x",
                "tarball_sha256": "c" * 64},
}


def keypair(folder, name):
    key = ed25519.Ed25519PrivateKey.generate()
    private, public = folder / f"{name}.pem", folder / f"{name}.pub.pem"
    private.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(Encoding.PEM,
                                                     PublicFormat.SubjectPublicKeyInfo))
    return private, public


@pytest.fixture
def wheel(tmp_path):
    path = tmp_path / "scrypt-0.9.4-cp313-cp313-manylinux_2_17_x86_64.whl"
    path.write_bytes(b"wheel bytes")
    return path


def attest(wheel, private=None):
    made = statement(wheel, RECORD, "2026-12-01T07:00:00Z", "2026-12-01T07:05:00Z")
    return write_attestation(wheel, made, load_signer(private) if private else None)


def test_the_statement_names_the_wheel_and_what_it_was_built_from(wheel):
    made = statement(wheel, RECORD, "2026-12-01T07:00:00Z", "2026-12-01T07:05:00Z")
    assert made["predicateType"] == SLSA_PROVENANCE
    [subject] = made["subject"]
    assert subject["name"] == wheel.name and len(subject["digest"]["sha256"]) == 64
    definition = made["predicate"]["buildDefinition"]
    assert definition["externalParameters"]["openssl"] == "3.5.9"
    assert definition["externalParameters"]["configure_args"] == ["no-shared", "no-ssl3"]
    names = {d["name"]: d["digest"]["sha256"] for d in definition["resolvedDependencies"]}
    assert names == {"sdist": "a" * 64, "openssl-3.5.9.tar.gz": "c" * 64,
                     "patch fix.patch": "b" * 64, "ziglang-0.15.2.whl": "e" * 64,
                     "crate pyo3 0.25.1": "d" * 64}
    assert made["predicate"]["runDetails"]["metadata"]["startedOn"] == "2026-12-01T07:00:00Z"


def test_a_signed_attestation_verifies_with_the_teams_key(wheel, tmp_path):
    private, public = keypair(tmp_path, "team")
    attest(wheel, private)
    envelope = json.loads(attestation_path(wheel).read_text())
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    assert "signed by key" in verify_attestation(wheel, load_public_key(public))


def test_another_key_a_changed_wheel_or_no_signature_fails(wheel, tmp_path):
    private, public = keypair(tmp_path, "team")
    _, other = keypair(tmp_path, "other")
    attest(wheel, private)
    with pytest.raises(CheckFailed, match="is not signed by key"):
        verify_attestation(wheel, load_public_key(other))
    wheel.write_bytes(b"changed bytes")
    with pytest.raises(CheckFailed, match="changed since its provenance was signed"):
        verify_attestation(wheel, load_public_key(public))
    attest(wheel)
    with pytest.raises(CheckFailed, match="provenance is unsigned"):
        verify_attestation(wheel, load_public_key(public))
    attestation_path(wheel).unlink()
    with pytest.raises(CheckFailed, match="has no attestation"):
        verify_attestation(wheel, load_public_key(public))


def test_a_file_that_holds_no_key_is_refused(tmp_path):
    (tmp_path / "key.pem").write_text("not a key\n")
    with pytest.raises(InputError, match="not an unencrypted PEM private key"):
        load_signer(tmp_path / "key.pem")
    with pytest.raises(InputError, match="not a PEM public key"):
        load_public_key(tmp_path / "key.pem")


def test_the_crates_cargo_lock_pins_are_read_with_their_checksums(tmp_path):
    from builder.source import locked_crates
    (tmp_path / "Cargo.lock").write_text(
        'version = 4\n\n[[package]]\nname = "pyo3"\nversion = "0.25.1"\n'
        'source = "registry+https://github.com/rust-lang/crates.io-index"\n'
        f'checksum = "{"d" * 64}"\n\n[[package]]\nname = "cryptography-rust"\n'
        'version = "0.1.0"\n')
    assert locked_crates(tmp_path / "Cargo.lock") == [
        {"name": "pyo3", "version": "0.25.1", "sha256": "d" * 64}]
