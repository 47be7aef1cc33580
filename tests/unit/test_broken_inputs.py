"""A corpus of broken inputs (tests/packages/ holds the broken projects): each is refused
before any download or build, with exit 2 and one sentence naming what is wrong and what to
do, no traceback, nothing written to the wheelhouse."""

import zipfile

import pytest

from tests.conftest import run_main
from tests.unit.test_cli import assert_one_clear_error


def refused(done, cache, *phrases):
    assert_one_clear_error(done, 2, *phrases)
    assert not (cache / "openssl").exists() and not (cache / "downloads").exists()


def wheel(cache_args, *args):
    return run_main("wheel", *args, *cache_args)


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def cache_args(cache, tmp_path):
    return ["--cache-dir", str(cache), "--wheelhouse", str(tmp_path / "wheelhouse")]


# ------------------------------------------------------------ files that are not what they say

def a_wheel(path):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("demo/__init__.py", "")
        archive.writestr("demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    return path


@pytest.mark.parametrize("make", [
    lambda p: (p / "notawheel.whl").write_text("text\n") and p / "notawheel.whl",
    lambda p: a_wheel(p / "foo.whl"),
    lambda p: (zipfile.ZipFile(p / "demo-1.0-py3-none-any.whl", "w").close()
               or p / "demo-1.0-py3-none-any.whl"),
])
def test_smoke_of_something_that_is_not_a_wheel_is_bad_input(make, tmp_path, cache):
    done = run_main("smoke", str(make(tmp_path)), "--openssl", "3.0.22",
                    "--cache-dir", str(cache))
    assert_one_clear_error(done, 2, "is not a wheel")


def test_smoke_of_a_directory_names_the_wheels_in_it(tmp_path, cache):
    done = run_main("smoke", str(tmp_path), "--openssl", "3.0.22", "--cache-dir", str(cache))
    assert_one_clear_error(done, 2, f"{tmp_path} is a directory; give the .whl files in it")


# ------------------------------------------------------------ options

@pytest.mark.parametrize("python", ["/etc/passwd", "/tmp", "python9.9"])
def test_python_that_is_not_an_interpreter_is_bad_input(python, cache, cache_args):
    refused(wheel(cache_args, "scrypt", "--python", python), cache,
            f"--python {python} is not a Python interpreter")


def test_a_wheelhouse_that_is_a_file_is_bad_input(tmp_path, cache):
    (tmp_path / "file").write_text("")
    for wheelhouse in (tmp_path / "file", tmp_path / "file" / "below"):
        done = run_main("wheel", "scrypt", "--cache-dir", str(cache),
                        "--wheelhouse", str(wheelhouse))
        refused(done, cache, f"--wheelhouse {wheelhouse}")


@pytest.mark.parametrize("spec", ["", "  "])
def test_an_empty_openssl_version_is_bad_input(spec, cache, cache_args):
    refused(wheel(cache_args, "scrypt", "--openssl", spec), cache, "--openssl is empty")


@pytest.mark.parametrize("jobs", ["-3", "0", "two"])
def test_jobs_must_be_a_positive_number(jobs, cache, cache_args):
    refused(wheel(cache_args, "scrypt", "--jobs", jobs), cache, "not a positive whole number")


@pytest.mark.parametrize("args, phrase", [
    (["--configure-arg", "enable-ssl3", "--configure-arg", "enable-ssl3-method"], "SSLv3"),
    (["--configure-arg", "shared"], "static"),
    (["--configure-arg=--prefix=/usr"], "the recipe sets --prefix itself"),
    (["--openssldir", "etc/ssl"], "absolute directory"),
])
def test_configure_args_that_defeat_a_guarantee_are_refused_before_any_download(
        args, phrase, cache, cache_args):
    refused(wheel(cache_args, "scrypt", "--openssl", "3.0.22", *args), cache, phrase)
    done = run_main("openssl", "build", "3.0.22", *args, "--cache-dir", str(cache))
    refused(done, cache, phrase)
