"""The CLI as a user meets it: real processes, exit codes, one clear sentence, no traceback."""

import hashlib
import json

import pytest

from builder.releases import load_table
from tests.conftest import run_builder, shared_tarball
from tests.httpserver import send, serve


def assert_one_clear_error(done, code, *phrases):
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    for phrase in phrases:
        assert phrase in errors[0]


@pytest.mark.parametrize("args", [["--help"], ["wheel", "--help"], ["openssl", "--help"],
                                  ["openssl", "list", "--help"], ["openssl", "build", "--help"],
                                  ["smoke", "--help"]])
def test_help_is_there_for_every_command(args):
    done = run_builder(*args)
    assert done.returncode == 0 and "usage: builder" in done.stdout


def test_unknown_openssl_version_is_refused_before_any_download(tmp_path):
    done = run_builder("wheel", "scrypt", "--openssl", "3.0.99", "--cache-dir", str(tmp_path))
    assert_one_clear_error(done, 2, "3.0.99 is not in the release table", "3.0.22")
    assert not (tmp_path / "downloads").exists() and not (tmp_path / "sdists").exists()


def test_unknown_option_is_bad_input():
    assert_one_clear_error(run_builder("wheel", "scrypt", "--frobnicate"), 2, "--frobnicate")


def test_no_upstream_without_mirror_is_bad_input(tmp_path):
    done = run_builder("openssl", "build", "3.0.22", "--no-upstream", "--cache-dir", str(tmp_path))
    assert_one_clear_error(done, 2, "--no-upstream needs a mirror")


def test_openssl_list_shows_series_end_of_life_and_cache_state(tmp_path):
    done = run_builder("openssl", "list", "--cache-dir", str(tmp_path))
    assert done.returncode == 0
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[1:]}
    assert rows["3.0.13"][:4] == ["3.0.13", "3.0", "2026-09-07", "EOL"]
    assert rows["3.5.9"][1:4] == ["3.5", "2030-04-08", "supported"]
    assert rows["4.0.3"][2] == "unknown"
    assert len(rows) == len(load_table().releases)


def test_tampered_tarball_is_refused_with_both_hashes_and_nothing_cached(tmp_path):
    good = shared_tarball("3.0.22").read_bytes()
    tampered = good[:5000] + bytes([good[5000] ^ 0xFF]) + good[5001:]
    route = {"/openssl-3.0.22.tar.gz": lambda request: send(request, 200, tampered)}
    with serve(routes=route) as mirror:
        done = run_builder("openssl", "build", "3.0.22", "--mirror", mirror, "--no-upstream",
                           "--cache-dir", str(tmp_path / "cache"))
    assert_one_clear_error(done, 1, load_table().get("3.0.22").sha256,
                           hashlib.sha256(tampered).hexdigest(), mirror)
    assert [p.name for p in (tmp_path / "cache" / "downloads").iterdir()
            if not p.name.endswith(".lock")] == []
    assert not (tmp_path / "cache" / "openssl").exists()


def simple_index(project_files):
    def page(request):
        name = request.path.strip("/")
        if name not in project_files:
            send(request, 404, b"not found")
            return
        body = json.dumps({"meta": {"api-version": "1.0"}, "name": name,
                           "files": project_files[name]}).encode()
        send(request, 200, body, {"Content-Type": "application/vnd.pypi.simple.v1+json",
                                  "Content-Length": str(len(body))})
    return page


class _AnyPath(dict):
    def __init__(self, handler):
        super().__init__()
        self.handler = handler

    def get(self, path, default=None):
        return self.handler


def test_package_missing_from_the_index_is_bad_input(tmp_path):
    with serve(routes=_AnyPath(simple_index({}))) as index:
        done = run_builder("wheel", "no-such-package", "--openssl", "3.0.22", "--index-url",
                           index, "--cache-dir", str(tmp_path))
    assert_one_clear_error(done, 2, "no-such-package does not exist on the package index")


def test_version_missing_from_the_index_is_bad_input_naming_existing_ones(tmp_path):
    files = [{"filename": "demo-1.0.tar.gz", "url": "demo-1.0.tar.gz",
              "hashes": {"sha256": "0" * 64}}]
    with serve(routes=_AnyPath(simple_index({"demo": files}))) as index:
        done = run_builder("wheel", "demo==2.0", "--openssl", "3.0.22", "--index-url", index,
                           "--cache-dir", str(tmp_path))
    assert_one_clear_error(done, 2, "demo has no sdist of version 2.0", "newest: 1.0")


def test_missing_local_sdist_is_bad_input(tmp_path):
    done = run_builder("wheel", str(tmp_path / "nope-1.0.tar.gz"), "--cache-dir", str(tmp_path))
    assert_one_clear_error(done, 2, "does not exist")


def test_smoke_of_a_missing_wheel_is_bad_input(tmp_path):
    done = run_builder("smoke", str(tmp_path / "x-1.0-py3-none-any.whl"),
                       "--cache-dir", str(tmp_path))
    assert_one_clear_error(done, 2, "does not exist")


def test_not_a_python_interpreter_is_bad_input(tmp_path):
    done = run_builder("wheel", "scrypt", "--python", str(tmp_path / "python9"),
                       "--cache-dir", str(tmp_path))
    assert_one_clear_error(done, 2, "is not a Python interpreter")
