"""The recipe (scripts/build_openssl.sh) run by bash: the configure flags it decides, the
cache key that follows from them, and the tarballs it refuses."""

import dataclasses
import io
import os
import shutil
import tarfile
from pathlib import Path
import subprocess

import pytest


from builder.openssl import INSTALL_PREFIX, BuildOptions, cache_key, configure_args, recipe_options, recipe_path
from builder.releases import load_table
from builder.sources import VerifiedTarball
from builder.toolchain import Toolchain
from tests.conftest import shared_tarball, text_tarball


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


@pytest.mark.parametrize("target", ["mingw", "mingw64", "VC-WIN64A"])
def test_a_windows_target_gets_the_same_flags_but_no_pic(target):
    unix = configure_args(tarball("3.5.7"), BuildOptions(),
                          dataclasses.replace(GCC, openssl_target="linux-aarch64"))
    flags = configure_args(tarball("3.5.7"), BuildOptions(),
                           dataclasses.replace(GCC, openssl_target=target))
    assert "-fPIC" in unix
    assert flags == [target] + [flag for flag in unix[1:] if flag != "-fPIC"]


def print_flags(recipe, prefix="/opt/builder/openssl", env=None):
    return subprocess.run(["bash", str(recipe), "--print-flags", "--tarball",
                           str(shared_tarball("3.0.22")), "3.0.22", prefix],
                          capture_output=True, text=True, env=env)


# BASH_COMPAT=32 makes this bash read the recipe as macOS's /bin/bash 3.2 does.
@pytest.mark.parametrize("compat", ["", "32"], ids=["this bash", "bash 3.2 (macOS)"])
def test_a_prefix_reaches_the_flags_as_given_even_with_an_ampersand(compat):
    env = {**os.environ, "BASH_COMPAT": compat} if compat else None
    done = print_flags(recipe_path(), "/opt/a&b", env)
    assert "--prefix=/opt/a&b" in done.stdout.splitlines(), done.stdout + done.stderr
    assert "--openssldir=/etc/ssl" in done.stdout.splitlines()


@pytest.mark.parametrize("flags_file, refusal", [
    (None, "configure-flags.txt is missing"),
    ("no-shared always\nno-idea sometimes\n", "unknown condition 'sometimes' for no-idea"),
    ("no-module since three\n", "'since three' is not a series"),
])
def test_the_recipe_refuses_a_flags_file_it_cannot_follow(tmp_path, flags_file, refusal):
    recipe = tmp_path / "build_openssl.sh"
    shutil.copyfile(recipe_path(), recipe)
    if flags_file is not None:
        (tmp_path / "configure-flags.txt").write_text(flags_file)
    done = print_flags(recipe)
    assert done.returncode != 0 and refusal in done.stderr and not done.stdout


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


# A stand-in release, so that the recipe runs whole without compiling OpenSSL: its Configure
# records its arguments, its Makefile assembles objects of the target's format with llvm-mc
# and archives them with llvm-ar. libssl's object calls an internal function of libcrypto's.
FAKE_CONFIGURE = r"""#!/usr/bin/env perl
open(my $args, ">", "configure-args.txt") or die; print $args join("\n", @ARGV), "\n";
open(my $mk, ">", "prefix.mk") or die;
for (@ARGV) { print $mk "PREFIX=$1\n" if /^--prefix=(.*)/ }
"""
FAKE_MAKEFILE = """include prefix.mk
build_libs:
\tllvm-mc -triple={triple} -filetype=obj crypto.s -o crypto.o
\tllvm-mc -triple={triple} -filetype=obj ssl.s -o ssl.o
\tllvm-ar rcs libcrypto.a crypto.o
\tllvm-ar rcs libssl.a ssl.o
install_dev:
\tmkdir -p "$(DESTDIR)$(PREFIX)/lib"
\tcp libcrypto.a libssl.a "$(DESTDIR)$(PREFIX)/lib/"
"""
FAKE_CRYPTO = """\t.text
\t.globl\t{u}EVP_sha256
{u}EVP_sha256:
\tcall\t{u}ossl_digest_init
\tret
\t.globl\t{u}ossl_digest_init
{u}ossl_digest_init:
\tret
"""
FAKE_SSL = """\t.text
\t.globl\t{u}SSL_new
{u}SSL_new:
\tcall\t{u}ossl_digest_init
\tcall\t{u}tlsv1_method
\tret
\t.globl\t{u}tlsv1_method
{u}tlsv1_method:
\tret
"""


def fake_release(path, version, triple, underscore):
    """openssl-VERSION.tar.gz whose build makes COFF (or ELF) archives for `triple`."""
    name = f"openssl-{version}"
    files = {
        "Configure": FAKE_CONFIGURE,
        "Makefile": FAKE_MAKEFILE.format(triple=triple),
        "crypto.s": FAKE_CRYPTO.format(u=underscore),
        "ssl.s": FAKE_SSL.format(u=underscore),
        "util/libcrypto.num": "EVP_sha256                   1\t3_0_0\tEXIST::FUNCTION:\n",
        "util/libssl.num": "SSL_new                      1\t3_0_0\tEXIST::FUNCTION:\n",
    }
    return text_tarball(path, {f"{name}/{member}": text for member, text in files.items()})


def global_names(archive, nm):
    """Every global name an archive defines or references, as nm lists it."""
    listing = subprocess.run([nm, "-g", "--format=posix", str(archive)], check=True,
                             capture_output=True, text=True).stdout
    return {line.split()[0] for line in listing.splitlines()
            if len(line.split()) >= 2 and not line.endswith(":")}


@pytest.fixture
def llvm_assembler():
    for tool in ("llvm-mc", "llvm-ar"):
        if shutil.which(tool) is None:
            pytest.fail(f"this test needs {tool}: apt-get install llvm")


@pytest.mark.parametrize("tools", [{}, {"NM": "llvm-nm", "OBJCOPY": "llvm-objcopy"}],
                         ids=["binutils", "llvm"])
@pytest.mark.parametrize("target, triple, u", [
    ("mingw", "i686-w64-windows-gnu", "_"),  # i386 COFF: every C name starts with `_`
    ("mingw64", "x86_64-w64-windows-gnu", ""),
])
def test_windows_targets_get_no_pic_and_their_internal_names_renamed_like_c_names(
        tmp_path, llvm_assembler, tools, target, triple, u):
    tarball = fake_release(tmp_path / "openssl-3.0.99.tar.gz", "3.0.99", triple, u)
    # nm's header line of each member names the archive's path: spaces in it are no symbol.
    work, dest = tmp_path / "work", tmp_path / "dest dir"
    done = subprocess.run(
        ["bash", str(recipe_path()), "--tarball", str(tarball), "--target", target,
         "--workdir", str(work), "--destdir", str(dest), "--jobs", "1", "3.0.99", "/opt/x"],
        capture_output=True, text=True, env={**os.environ, **tools})
    assert done.returncode == 0, done.stdout + done.stderr
    configured = (work / "openssl-3.0.99" / "configure-args.txt").read_text().split()
    assert configured[0] == target and "-fPIC" not in configured
    assert "no-shared" in configured and "--prefix=/opt/x" in configured
    lib = dest / "opt" / "x" / "lib"
    nm = tools.get("NM", "nm")
    assert global_names(lib / "libcrypto.a", nm) == {
        f"{u}EVP_sha256", f"{u}builder_ossl_digest_init"}
    # libssl's reference to libcrypto's internal function is renamed alike.
    assert global_names(lib / "libssl.a", nm) == {
        f"{u}SSL_new", f"{u}builder_tlsv1_method", f"{u}builder_ossl_digest_init"}
    assert "renamed 2 internal symbols" in done.stdout
