"""The CLI as a user meets it, as a real process: refusals that need a compiler query, a
loopback mirror or a loopback package index."""

import hashlib
import json


from builder.releases import load_table
from tests.conftest import run_builder, shared_tarball
from tests.httpserver import send, serve
from tests.unit.test_cli import assert_one_clear_error


def test_no_upstream_without_mirror_is_bad_input(tmp_path):
    done = run_builder("openssl", "build", "3.0.22", "--no-upstream", "--cache-dir", str(tmp_path))
    assert_one_clear_error(done, 2, "--no-upstream needs a mirror")


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
