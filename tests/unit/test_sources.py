import gzip
import hashlib
import os

import pytest

from builder.errors import InputError, VerificationError
from builder.releases import Release, load_table
from builder.sources import fetch_openssl, locations

GOOD = gzip.compress(os.urandom(200_000))
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()


def release(size=len(GOOD)):
    real = load_table().get("3.0.22")
    return Release(version="3.0.22", sha256=GOOD_SHA, size=size, series=real.series)


def downloads(cache):
    """What the download cache holds, temporaries included; lock files aside."""
    folder = cache / "downloads"
    names = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    return [n for n in names if not n.endswith(".lock")]


def test_locations_are_upstream_dir_then_old_dir_then_github_then_mirrors(tmp_path):
    from builder.settings import resolve

    mirrors = resolve({"openssl-mirror": ["http://cli-mirror/"]},
                      {"BUILDER_OPENSSL_MIRROR": "http://env-mirror/pub"}, tmp_path).openssl_mirrors
    assert locations(load_table().get("3.0.13"), mirrors) == [
        "https://www.openssl.org/source/openssl-3.0.13.tar.gz",
        "https://www.openssl.org/source/old/3.0/openssl-3.0.13.tar.gz",
        "https://github.com/openssl/openssl/releases/download/openssl-3.0.13/openssl-3.0.13.tar.gz",
        "http://cli-mirror/openssl-3.0.13.tar.gz",
        "http://env-mirror/pub/openssl-3.0.13.tar.gz",
    ]


def test_github_tag_of_1_1_1_uses_the_old_tag_style():
    urls = locations(load_table().get("1.1.1w"))
    assert urls[1] == "https://www.openssl.org/source/old/1.1.1/openssl-1.1.1w.tar.gz"
    assert urls[2].endswith("/download/OpenSSL_1_1_1w/openssl-1.1.1w.tar.gz")


def test_no_upstream_without_a_mirror_is_refused(monkeypatch):
    monkeypatch.delenv("BUILDER_OPENSSL_MIRROR", raising=False)
    with pytest.raises(InputError, match="--no-upstream needs a mirror"):
        locations(load_table().get("3.0.22"), [], upstream=False)


def test_local_source_is_verified_against_the_table(tmp_path):
    local = tmp_path / "openssl-3.0.22.tar.gz"
    local.write_bytes(gzip.compress(b"not the release"))
    with pytest.raises(VerificationError, match="sha256 mismatch"):
        fetch_openssl(release(size=None), tmp_path / "cache", local_source=local)


def test_missing_local_source_is_bad_input(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        fetch_openssl(release(), tmp_path, local_source=tmp_path / "nope.tar.gz")


def test_a_plain_http_mirror_elsewhere_than_loopback_is_warned_about(capsys):
    from builder.sources import mirror_bases

    mirror_bases(["http://mirror.example/pub", "http://127.0.0.1:8080"])
    warnings = [line for line in capsys.readouterr().err.splitlines() if "plain HTTP" in line]
    assert len(warnings) == 1 and "http://mirror.example/pub" in warnings[0]
