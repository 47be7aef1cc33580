"""The recipe (scripts/build_openssl.sh) run by bash: the configure flags it decides, the
cache key that follows from them, and the tarballs it refuses."""

import dataclasses
import io
import tarfile
from pathlib import Path
import subprocess

import pytest


from builder.openssl import INSTALL_PREFIX, BuildOptions, cache_key, configure_args, recipe_options, recipe_path
from builder.releases import load_table
from builder.sources import VerifiedTarball
from builder.toolchain import Toolchain
from tests.conftest import shared_tarball


GCC = Toolchain(cc="cc", identity="cc (Debian 12.2.0-14) 12.2.0", triple="x86_64-linux-gnu")


def tarball(version):
    return VerifiedTarball(load_table().get(version), shared_tarball(version), "test", False)


@pytest.mark.parametrize("version", ["1.1.1w", "3.0.22", "3.5.7", "4.0.2"])
def test_every_build_is_static_pic_without_ssl3_compression_or_tests(version):
    flags = configure_args(tarball(version), BuildOptions(), GCC)
    assert flags[:5] == ["no-shared", "-fPIC", "no-ssl3", "no-comp", "no-tests"]
    assert f"--prefix={INSTALL_PREFIX}" in flags and "--libdir=lib" in flags
    assert "--openssldir=/etc/ssl" in flags


def test_1_1_1_has_no_module_option_and_knows_neither_apps_nor_docs():
    flags = configure_args(tarball("1.1.1w"), BuildOptions(), GCC)
    assert not {"no-module", "no-apps", "no-docs"} & set(flags)


def test_3_0_builds_providers_into_libcrypto_but_knows_no_apps_option():
    flags = configure_args(tarball("3.0.22"), BuildOptions(), GCC)
    assert "no-module" in flags
    assert "no-apps" not in flags and "no-docs" not in flags


@pytest.mark.parametrize("version", ["3.5.7", "4.0.2"])
def test_newer_releases_also_skip_apps_and_docs(version):
    flags = configure_args(tarball(version), BuildOptions(), GCC)
    assert {"no-module", "no-apps", "no-docs"} <= set(flags)


def test_openssldir_and_extra_configure_args_reach_the_flags():
    options = BuildOptions(openssldir="/etc/pki/tls", configure_args=("no-idea", "-DPURIFY"))
    flags = configure_args(tarball("3.0.22"), options, GCC)
    assert "--openssldir=/etc/pki/tls" in flags
    assert flags[-2:] == ["no-idea", "-DPURIFY"]


def test_a_cross_build_names_its_configure_target_first():
    cross = dataclasses.replace(GCC, openssl_target="linux-aarch64")
    flags = configure_args(tarball("3.0.22"), BuildOptions(), cross)
    assert flags[:2] == ["linux-aarch64", "no-shared"]


def test_cache_key_of_a_cross_build_differs_from_the_native_one():
    cross = dataclasses.replace(GCC, openssl_target="linux-aarch64")
    native = cache_key(tarball("3.0.22"), GCC, BuildOptions())
    assert cache_key(tarball("3.0.22"), cross, BuildOptions()).digest() != native.digest()


def test_without_namespace_the_recipe_is_told_and_the_key_differs():
    plain = BuildOptions(namespace=False)
    assert "--no-namespace" in recipe_options(plain, GCC)
    assert "--no-namespace" not in recipe_options(BuildOptions(), GCC)
    assert cache_key(tarball("3.0.22"), GCC, plain).digest() != \
        cache_key(tarball("3.0.22"), GCC, BuildOptions()).digest()


def test_cache_key_holds_the_fixed_prefix_and_every_other_flag_but_no_cache_path():
    key = cache_key(tarball("3.0.22"), GCC, BuildOptions())
    assert f"--prefix={INSTALL_PREFIX}" in key.flags
    assert "no-module" in key.flags


def test_cache_key_changes_with_each_thing_a_build_depends_on():
    key = cache_key(tarball("3.0.22"), GCC, BuildOptions())
    changes = dict(version="3.0.21", sha256="0" * 64, flags=key.flags + ("no-idea",),
                   recipe="1" * 64, compiler="clang 16", target="aarch64-linux-gnu",
                   namespace="")
    digests = {dataclasses.replace(key, **{name: value}).digest()
               for name, value in changes.items()}
    assert key.digest() not in digests and len(digests) == len(changes)


def test_cache_key_of_an_openssldir_change_differs():
    plain = cache_key(tarball("3.0.22"), GCC, BuildOptions())
    rhel = cache_key(tarball("3.0.22"), GCC, BuildOptions(openssldir="/etc/pki/tls"))
    assert plain.digest() != rhel.digest()


def test_recipe_refuses_a_tampered_tarball_before_unpacking(tmp_path):
    bad = tmp_path / "openssl-3.0.22.tar.gz"
    data = bytearray(shared_tarball("3.0.22").read_bytes())
    data[-100] ^= 0xFF
    bad.write_bytes(bytes(data))
    done = subprocess.run(
        ["bash", str(recipe_path()), "--tarball", str(bad), "--sha256",
         load_table().get("3.0.22").sha256, "--workdir", str(tmp_path / "w"),
         "3.0.22", str(tmp_path / "prefix")],
        capture_output=True, text=True)
    assert done.returncode != 0
    assert "sha256 mismatch" in done.stderr
    assert not (tmp_path / "w" / "openssl-3.0.22").exists()


def test_recipe_refuses_a_file_that_is_not_gzip(tmp_path):
    page = tmp_path / "openssl-3.0.22.tar.gz"
    page.write_text("<html>not found</html>")
    done = subprocess.run(["bash", str(recipe_path()), "--tarball", str(page), "3.0.22",
                           str(tmp_path / "prefix")], capture_output=True, text=True)
    assert done.returncode != 0 and "not a gzip file" in done.stderr


def crafted_tarball(path, members):
    """A tarball holding `members`: (name, kind, link target)."""
    with tarfile.open(path, "w:gz") as archive:
        for name, kind, target in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = 1
                archive.addfile(info, io.BytesIO(b"x"))
            else:
                info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                info.linkname = target
                archive.addfile(info)
    return path


CONFIGURE = ("openssl-3.0.99/Configure", "file", None)


@pytest.mark.parametrize("member,refusal", [
    (("openssl-3.0.99/../../escaped", "file", None), "holds an unsafe member"),
    (("/tmp/escaped-absolutely", "file", None), "holds a member outside openssl-3.0.99/"),
    (("escaped-beside", "file", None), "holds a member outside openssl-3.0.99/"),
    (("openssl-3.0.99/etc", "symlink", "/etc"), "holds links"),
    (("openssl-3.0.99/passwd", "hardlink", "/etc/passwd"), "holds links"),
])
def test_recipe_refuses_a_tarball_member_that_could_land_outside_before_unpacking(
        tmp_path, member, refusal):
    tarball = crafted_tarball(tmp_path / "openssl-3.0.99.tar.gz", [CONFIGURE, member])
    work = tmp_path / "deep" / "work"
    done = subprocess.run(["bash", str(recipe_path()), "--tarball", str(tarball),
                           "--workdir", str(work), "3.0.99", str(tmp_path / "prefix")],
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert refusal in done.stderr
    assert not (work / "openssl-3.0.99").exists()  # nothing unpacked at all
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "deep" / "escaped").exists()
    assert not Path("/tmp/escaped-absolutely").exists()


def test_recipe_refuses_a_link_listed_early_in_a_long_tarball(tmp_path):
    # A listing longer than a pipe's buffer: the check must read it all, whatever it finds.
    members = [("openssl-3.0.99/etc", "symlink", "/etc"), CONFIGURE,
               *((f"openssl-3.0.99/file-{n:05d}-{'x' * 60}", "file", None) for n in range(3000))]
    tarball = crafted_tarball(tmp_path / "openssl-3.0.99.tar.gz", members)
    done = subprocess.run(["bash", str(recipe_path()), "--tarball", str(tarball),
                           "--workdir", str(tmp_path / "work"), "3.0.99", str(tmp_path / "p")],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "holds links" in done.stderr
    assert not (tmp_path / "work" / "openssl-3.0.99").exists()
