"""OpenSSL's release signatures, checked against the keys that ship with the builder."""

import pytest

from builder.errors import InputError
from builder.signatures import shipped_keys, verify
from tests.conftest import shared_tarball


def signature_of(version):
    return shared_tarball(version).with_name(f"openssl-{version}.tar.gz.asc")


def test_the_keys_ship_inside_the_package():
    names = {k.name for k in shipped_keys()}
    assert names == {"openssl-org-signing-key.asc", "openssl-release-keys.asc"}


def test_without_gpgv_the_signature_check_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InputError, match="needs gpgv: install gpgv"):
        verify(shared_tarball("3.0.22"), signature_of("3.0.22"))
