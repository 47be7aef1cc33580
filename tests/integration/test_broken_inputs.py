"""Broken inputs refused by the CLI as a real process, after it has asked the compiler and
the interpreter who they are: each before any download or build, with exit 2 and one
sentence, no traceback, nothing written to the wheelhouse."""

import zipfile

import pytest

from tests.conftest import FIXTURES, package_sdist, run_builder
from tests.unit.test_broken_inputs import a_wheel, refused


def wheel(cache_args, *args):
    return run_builder("wheel", *args, *cache_args)


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def cache_args(cache, tmp_path):
    return ["--cache-dir", str(cache), "--wheelhouse", str(tmp_path / "wheelhouse")]


@pytest.mark.parametrize("package, phrase", [
    ("no-openssl", "no-openssl does not use OpenSSL"),
    ("pure-python", "pure-python builds no extension module"),
    ("uses-cryptography", "uses the OpenSSL of cryptography: build cryptography"),
])
def test_a_package_that_would_carry_no_openssl_is_refused_before_the_openssl_build(
        package, phrase, tmp_path, cache, cache_args):
    done = wheel(cache_args, str(package_sdist(package, tmp_path)), "--openssl", "3.0.22")
    refused(done, cache, phrase)
    assert not (tmp_path / "wheelhouse").exists() or not any((tmp_path / "wheelhouse").iterdir())


def test_a_package_that_calls_openssl_on_the_interpreters_ssl_objects_is_refused(
        tmp_path, cache, cache_args):
    done = wheel(cache_args, str(package_sdist("ssl-objects", tmp_path)), "--openssl", "3.0.22")
    refused(done, cache, "takes OpenSSL objects out of the interpreter's own ssl module",
            "ssl_objects.c:", "with pip")


def test_a_rust_package_whose_crates_cannot_be_downloaded_names_cargo_vendor(
        tmp_path, cache, cache_args):
    # A registry that refuses connections, so that the test does not depend on the network.
    home = tmp_path / "cargo-home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[source.crates-io]\nreplace-with = "dead"\n\n'
        '[source.dead]\nregistry = "sparse+http://127.0.0.1:9/index/"\n\n'
        '[net]\nretry = 0\n')
    done = run_builder("wheel", str(package_sdist("needs-crates", tmp_path)), "--openssl",
                       "3.0.22", *cache_args, env={"CARGO_HOME": str(home)})
    refused(done, cache, "cargo cannot download the crates needs-crates 1.0 needs",
            "--cargo-vendor DIR")


def test_a_wheel_given_as_the_package_is_named_a_wheel(tmp_path, cache, cache_args):
    done = wheel(cache_args, str(a_wheel(tmp_path / "demo-1.0-py3-none-any.whl")))
    refused(done, cache, "is a wheel, already built")


def test_a_wheel_renamed_to_an_sdist_is_named_a_wheel(tmp_path, cache, cache_args):
    done = wheel(cache_args, str(a_wheel(tmp_path / "demo-1.0.tar.gz")), "--openssl", "3.0.22")
    refused(done, cache, "demo-1.0.tar.gz is a wheel, not an sdist")


def test_an_encrypted_zip_is_not_an_sdist(tmp_path, cache, cache_args):
    sdist = tmp_path / "demo-1.0.zip"
    with zipfile.ZipFile(sdist, "w") as archive:
        archive.writestr("demo-1.0/PKG-INFO", "Name: demo\nVersion: 1.0\n")
        archive.writestr("demo-1.0/m.c", "#include <openssl/evp.h>\n")
    data = bytearray(sdist.read_bytes())
    # Mark every member encrypted (general purpose bit 0), as a password-protected zip is.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            data[start + offset] |= 1
            start += 4
    sdist.write_bytes(bytes(data))
    done = wheel(cache_args, str(sdist), "--openssl", "3.0.22")
    refused(done, cache, "cannot be read as an sdist")


def test_a_file_that_is_no_archive_is_not_an_sdist(tmp_path, cache, cache_args):
    (tmp_path / "demo-1.0.tar.gz").write_text("not an archive\n")
    done = wheel(cache_args, str(tmp_path / "demo-1.0.tar.gz"), "--openssl", "3.0.22")
    refused(done, cache, "cannot be read as an sdist")


@pytest.mark.parametrize("plat", ["musllinux_1_2_x86_64", "win_ia64", "macosx_11_0_ppc64",
                                  "manylinux_2_17_riscv64", "linux_aarch64", "nonsense"])
def test_a_platform_tag_this_host_cannot_build_is_refused_listing_the_supported(
        plat, cache, cache_args):
    refused(wheel(cache_args, "scrypt", "--openssl", "3.0.22", "--plat", plat), cache,
            f"--plat {plat} is not supported here", "manylinux_2_17_aarch64")


@pytest.mark.parametrize("python", ["/bin/true"])
def test_python_that_is_not_an_interpreter_is_bad_input(python, cache, cache_args):
    refused(wheel(cache_args, "scrypt", "--python", python), cache,
            f"--python {python} is not a Python interpreter")


@pytest.mark.parametrize("plat,python,phrase", [
    ("macosx_10_9_x86_64", "3.12", "older than the oldest deployment target built here"),
    ("macosx_10_15_arm64", "3.12", "never ran on arm64 (the first is 11.0)"),
    ("macosx_10_13_x86_64", "3.13", "no macOS CPython 3.13 pyconfig.h is pinned for x86_64"),
    ("macosx_10_13_universal2", "3.13", "no macOS CPython 3.13 pyconfig.h is pinned for x86_64"),
])
def test_a_macos_target_that_cannot_be_built_here_is_refused_before_any_download(
        plat, python, phrase, cache, cache_args):
    done = wheel(cache_args, str(FIXTURES / "sslfixture"), "--openssl", "3.0.22", "--plat", plat,
                 "--python", python)
    refused(done, cache, phrase)
    assert not (cache / "downloads").exists() and not (cache / "tools").exists()


@pytest.mark.parametrize("option", [["--rebuild"], ["--verify-key", "team.pub.pem"]])
def test_what_needs_a_wheelhouse_folder_is_refused_for_an_index_url(option, cache, tmp_path):
    done = run_builder("audit", *option, "--cache-dir", str(cache), "http://127.0.0.1:9/simple/")
    refused(done, cache, "give the wheelhouse's folder" if "--verify-key" in option
            else "give its folder, not an index URL")
