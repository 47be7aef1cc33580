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
from builder.probe import (_carries_code, binary_head, is_binary, openssl_versions_in,
                           version_of_text)
from builder.smoke import binaries_outside_packages, top_level_modules


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


def test_a_windows_extension_file_is_a_top_level_module_and_a_dll_is_not(tmp_path):
    wheel = tmp_path / "x.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in ["_cffi_backend.cp313-win_amd64.pyd", "libcrypto-3-x64.dll",
                     "bcrypt/__init__.py", "bcrypt/_bcrypt.pyd", "bcrypt-4.2.0.dist-info/RECORD",
                     "bcrypt.libs/msvcp140-ab12cd34.dll"]:
            archive.writestr(name, "")
    assert top_level_modules(wheel) == ["_cffi_backend", "bcrypt"]


def pe_image(signature_at=0x80, signature=b"PE\0\0", size=0x200):
    """The first bytes of a PE image: "MZ", e_lfanew at 0x3C, the signature where it points."""
    data = bytearray(size)
    data[:2] = b"MZ"
    data[0x3C:0x40] = signature_at.to_bytes(4, "little")
    data[signature_at:signature_at + len(signature)] = signature
    return bytes(data)


@pytest.mark.parametrize("data", [pe_image(), pe_image(signature_at=0x40),
                                  pe_image(signature_at=0x1000, size=0x2000),
                                  b"\x7fELF\x02\x01\x01"])
def test_elf_files_and_pe_images_are_binaries(data):
    assert is_binary(data)


@pytest.mark.parametrize("data", [b"", b"MZ", pe_image()[:0x80], pe_image(signature=b"NE\0\0"),
                                  pe_image(signature_at=0x300), b"MZ is a text" + b" " * 100,
                                  b"#!/bin/sh\n", b"\x7fEL"])
def test_other_bytes_are_not_binaries(data):
    assert not is_binary(data)


def test_the_head_of_a_pe_image_reaches_its_signature_wherever_it_is():
    far = pe_image(signature_at=0x1000, size=0x2000)
    assert binary_head(io.BytesIO(far)) == far[:0x1004]
    assert binary_head(io.BytesIO(b"\x7fELF" + bytes(0x1000))) == b"\x7fELF" + bytes(60)
    assert binary_head(io.BytesIO(b"MZ")) == b"MZ"


def test_programs_outside_the_packages_are_found_as_elf_or_pe(tmp_path):
    wheel = tmp_path / "x.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("tool/__init__.py", "")
        archive.writestr("tool/_native.cp313-win_amd64.pyd", pe_image())
        archive.writestr("tool-1.0.data/scripts/tool.exe", pe_image(signature_at=0x1000,
                                                                    size=0x1100))
        archive.writestr("tool-1.0.data/scripts/tool-linux", b"\x7fELF" + bytes(60))
        archive.writestr("tool-1.0.data/scripts/README", b"MZ, a text" + bytes(100))
        archive.writestr("tool-1.0.data/data/bare-dos.com", pe_image(signature=b"\0\0\0\0"))
        archive.writestr("tool.libs/libcrypto-3-x64-ab12cd34.dll", pe_image())
    assert binaries_outside_packages(wheel) == ["tool-1.0.data/scripts/tool.exe",
                                                "tool-1.0.data/scripts/tool-linux"]


@pytest.mark.parametrize("name,read", [
    ("/venv/site/x/_x.cpython-311-x86_64-linux-gnu.so", True),
    ("/venv/site/x.libs/libfoo-ab12.so.1", True),
    ("C:\\venv\\Lib\\site-packages\\x\\_x.cp313-win_amd64.pyd", True),
    ("C:\\venv\\Lib\\site-packages\\x\\vcruntime140_1.DLL", True),
    ("/venv/site/x/__init__.py", False), ("/venv/site/x/data.sox", False)])
def test_the_probe_reads_extension_modules_and_libraries_of_either_system(name, read):
    assert _carries_code(name) is read


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

