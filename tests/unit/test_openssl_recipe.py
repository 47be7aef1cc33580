"""The one recipe (scripts/build_openssl.sh) decides the configure flags; the cache key
follows from them."""

import pytest

from builder.errors import InputError
from builder.openssl import BuildOptions, CacheKey, refuse_configure_arg, recipe_path
from tests.conftest import ROOT


@pytest.mark.parametrize("name", ["build_openssl.sh", "build_openssl.ps1", "configure-flags.txt"])
def test_the_packaged_recipe_is_the_scripts_directory_recipe(name):
    packaged = recipe_path().with_name(name)
    assert packaged.read_bytes() == (ROOT / "scripts" / name).read_bytes()


@pytest.mark.parametrize("name", ["build_openssl.ps1", "configure-flags.txt"])
def test_what_windows_reads_is_a_copy_not_a_link(name):
    # A Windows checkout (core.symlinks off) makes a link a file holding the link's target.
    assert not recipe_path().with_name(name).is_symlink()
    assert not (ROOT / "scripts" / name).is_symlink()


def test_both_recipes_follow_every_condition_of_the_flags_file():
    lines = (ROOT / "scripts" / "configure-flags.txt").read_text().splitlines()
    conditions = {line.split()[1] for line in lines if line.strip() and line[0] != "#"}
    assert conditions == {"always", "unix", "since", "if-known"}
    bash = (ROOT / "scripts" / "build_openssl.sh").read_text()
    powershell = (ROOT / "scripts" / "build_openssl.ps1").read_text()
    for condition in conditions:
        assert f"\n      {condition})" in bash, condition
        assert f'($when -ceq "{condition}")' in powershell, condition


def test_entry_name_shows_the_version():
    key = CacheKey("3.0.22", "a" * 64, (), "b" * 64, "gcc", "x86_64-linux-gnu")
    assert key.entry_name().startswith("openssl-3.0.22-")


# What the builder guarantees cannot be undone by a --configure-arg: refused before any
# download, naming the guarantee.
@pytest.mark.parametrize("arg, guarantee", [
    ("enable-ssl3", "SSLv3"), ("enable-ssl3-method", "SSLv3"), ("enable-ssl2", "SSLv2"),
    ("shared", "static"), ("enable-shared", "static"), ("--shared", "static"),
    ("-shared", "static"), ("no-pic", "position-independent"), ("-no-pic", "position"),
    ("disable-pic", "position"), ("-static", "position"), ("LDFLAGS=-static", "position"),
    ("CFLAGS=-O2 -fno-PIC", "position"), ("-fno-pic", "position"),
    ("zlib-dynamic", "loaded at run time"), ("enable-zlib", "no library but OpenSSL's"),
    ("zlib", "no library but OpenSSL's"), ("enable-zstd-dynamic", "loaded at run time"),
    ("enable-brotli-dynamic", "loaded at run time"), ("enable-zstd", "zstd"),
    ("enable-comp", "compression"), ("enable-module", "no-module"), ("enable-fips", "module"),
    ("fips", "module"),
    ("enable-dynamic-engine", "loaded at run time"),
    ("--prefix=/usr/local", "fixed"), ("--libdir=lib64", "lib/"), ("--openssldir=etc/ssl", "--openssldir DIR"),
    ("--cross-compile-prefix=aarch64-linux-gnu-", "--plat"), ("CC=clang", "toolchain"),
    ("linux-aarch64", "target"), ("mingw64", "target"), ("", "empty"), (" no-idea", "white space"),
])
def test_a_configure_arg_that_defeats_a_guarantee_is_refused(arg, guarantee):
    with pytest.raises(InputError, match="refused|empty") as refused:
        BuildOptions(configure_args=("no-idea", arg))
    assert guarantee in str(refused.value)


@pytest.mark.parametrize("arg", ["no-idea", "disable-ssl3", "no-ssl3-method", "enable-md2",
                                 "enable-ktls", "-DPURIFY", "-O2", "--with-rand-seed=os",
                                 "enable-ec_nistp_64_gcc_128", "threads", "no-asm", "--debug",
                                 "-no-idea", "enable-pic", "no-zlib", "CFLAGS=-O2",
                                 "-fstack-protector-strong"])
def test_configure_args_that_keep_the_guarantees_pass(arg):
    refuse_configure_arg(arg)


@pytest.mark.parametrize("openssldir", ["etc/ssl", "./ssl", "", "/etc/ssl dir", "/etc/$(x)",
                                        "/etc/../tmp"])
def test_openssldir_must_be_a_plain_absolute_directory(openssldir):
    with pytest.raises(InputError, match="absolute directory"):
        BuildOptions(openssldir=openssldir)
