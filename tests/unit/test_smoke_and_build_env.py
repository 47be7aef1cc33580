import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from builder.errors import InputError
from builder.build_env import build_env, openssl_env
from builder.sdist import unpack_sdist
from builder.openssl import CacheKey, OpenSSLBuild
from builder.platforms.linux import EXCLUDE_OPENSSL
from builder.probe import openssl_versions_in, version_of_text
from builder.smoke import top_level_modules


def fake_build(prefix="/cache/openssl/openssl-3.0.22-abc"):
    key = CacheKey("3.0.22", "a" * 64, (), "b" * 64, "gcc", "x86_64-linux-gnu")
    return OpenSSLBuild("3.0.22", Path(prefix), key, (), "a" * 64, "test", False, Path("log"))


def test_top_level_modules_come_from_packages_and_extension_files(tmp_path):
    wheel = tmp_path / "x.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in ["scrypt/__init__.py", "scrypt/scrypt.py",
                     "_scrypt.cpython-311-x86_64-linux-gnu.so", "scrypt-0.9.4.dist-info/RECORD",
                     "scrypt.libs/libfoo.so", "scrypt-0.9.4.data/scripts/x", "distutils-precedence.pth"]:
            archive.writestr(name, "")
    assert top_level_modules(wheel) == ["_scrypt", "scrypt"]


def test_version_text_is_read_from_binary_data():
    blob = b"\0junk OpenSSL 3.5.7 1 Jul 2026\0more OpenSSL 3.5.7 1 Jul 2026\0"
    assert openssl_versions_in(blob) == ["3.5.7"]
    assert version_of_text("OpenSSL 1.1.1w  11 Sep 2023") == "1.1.1w"
    assert version_of_text("LibreSSL 3.8.2") is None


def test_build_sees_only_the_static_prefix_and_hides_openssl_symbols():
    env = openssl_env(fake_build(), EXCLUDE_OPENSSL)
    assert env["CFLAGS"] == "-I/cache/openssl/openssl-3.0.22-abc/include"
    ldflags = env["LDFLAGS"].split()
    assert ldflags[0] == "-L/cache/openssl/openssl-3.0.22-abc/lib"
    assert "-Wl,--exclude-libs,libcrypto.a:libssl.a" in ldflags
    # The compiler wrapper adds it to the links that take OpenSSL objects, and only to those.
    assert "-Wl,-u,OpenSSL_version" not in ldflags
    assert env["OPENSSL_STATIC"] == "1"
    assert env["PKG_CONFIG_PATH"] == "/cache/openssl/openssl-3.0.22-abc/lib/pkgconfig"


def test_users_own_flags_stay_after_the_openssl_ones():
    env = build_env(fake_build(), EXCLUDE_OPENSSL, {"CFLAGS": "-O1", "PATH": "/usr/bin"})
    assert env["CFLAGS"].split() == ["-I/cache/openssl/openssl-3.0.22-abc/include", "-O1"]
    assert env["PATH"] == "/usr/bin"


def _tar_with(tmp_path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    path = tmp_path / "evil-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        archive.addfile(member, io.BytesIO(data) if data else None)
    return path


def test_sdist_with_a_parent_path_is_refused(tmp_path):
    member = tarfile.TarInfo("../escape.txt")
    member.size = 1
    with pytest.raises(InputError, match="unsafe to unpack"):
        unpack_sdist(_tar_with(tmp_path, member, b"x"), tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_sdist_with_a_link_out_of_the_tree_is_refused(tmp_path):
    member = tarfile.TarInfo("evil-1.0/link")
    member.type = tarfile.SYMTYPE
    member.linkname = "/etc/passwd"
    with pytest.raises(InputError, match="unsafe to unpack"):
        unpack_sdist(_tar_with(tmp_path, member), tmp_path / "out")

