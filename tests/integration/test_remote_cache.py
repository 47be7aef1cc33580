"""The remote store against real servers on loopback: a registry (docker-registry, through
ORAS) shares an entry between two cache roots, a tampered blob is refused and the entry built
here, an unreachable registry costs one warning, and a directory filled by pushing is served
read-only over plain HTTP."""

from pathlib import Path

import pytest

from builder.cache import Kind, Store
from builder.remote import identity_json, remote_cache
from tests.httpserver import serve
from tests.servers import registry

IDENTITY = identity_json({"entry": "demo", "fields": ["a", "b"]})


def make_tree(temp: Path, text: str = "made on the first machine") -> None:
    (temp / "lib").mkdir()
    (temp / "lib" / "libcrypto.a").write_text(text)
    (temp / "build.json").write_text("{}")


def never(temp: Path) -> None:
    raise AssertionError("a shared entry was built again")


def complete(path: Path) -> bool:
    return (path / "build.json").is_file()


@pytest.fixture
def repository(tmp_path):
    with registry(tmp_path / "registry") as address:
        yield f"{address}/builder-cache", tmp_path / "registry" / "data"


def materialize(root: Path, location: str, push: bool, make=make_tree, key="openssl-1-abc"):
    store = Store(root, remote=remote_cache(location, push))
    return store.materialize(Kind.OPENSSL, key, make, reuse=complete, identity=IDENTITY)


def test_a_registry_shares_an_entry_between_two_cache_roots(repository, tmp_path, capsys):
    location, _ = repository
    made = materialize(tmp_path / "a", location, push=True)
    assert not made.reused and "pushed openssl-openssl-1-abc" in capsys.readouterr().err
    pulled = materialize(tmp_path / "b", location, push=False, make=never)
    assert pulled.reused and pulled.pulled_from == location
    assert (pulled.path / "lib" / "libcrypto.a").read_text() == "made on the first machine"
    # Pull-only: what the second machine makes is not pushed.
    materialize(tmp_path / "b", location, push=False, key="openssl-2-def")
    assert "pushed" not in capsys.readouterr().err


def test_a_tampered_registry_blob_is_refused_and_the_entry_built_here(
        repository, tmp_path, capsys):
    location, data = repository
    materialize(tmp_path / "a", location, push=True)
    # Someone with access to the registry's storage changes the archive's bytes (the one
    # blob that is gzip).
    [archive] = [p for p in data.rglob("data")
                 if p.is_file() and p.read_bytes()[:2] == b"\x1f\x8b"]
    archive.write_bytes(archive.read_bytes()[:-40] + b"\0" * 40)
    entry = materialize(tmp_path / "b", location, push=False,
                        make=lambda temp: make_tree(temp, "built here"))
    assert not entry.reused and entry.pulled_from is None
    assert (entry.path / "lib" / "libcrypto.a").read_text() == "built here"
    err = capsys.readouterr().err
    assert "refused the shared cache entry openssl-openssl-1-abc" in err
    assert "sha256" in err


def test_an_unreachable_registry_costs_one_warning_and_a_local_build(tmp_path, capsys):
    remote = remote_cache("127.0.0.1:9/builder-cache", push=True)
    store = Store(tmp_path, remote=remote)
    first = store.materialize(Kind.OPENSSL, "one", make_tree, reuse=complete,
                              identity=IDENTITY)
    second = store.materialize(Kind.TOOLS, "two", make_tree, reuse=complete,
                               identity=IDENTITY)
    assert not first.reused and not second.reused
    err = capsys.readouterr().err
    assert err.count("warning:") == 1
    assert "the remote cache 127.0.0.1:9/builder-cache is not usable" in err


def test_a_pushed_directory_serves_as_a_read_only_http_mirror(tmp_path, capsys):
    folder = tmp_path / "mirror"
    materialize(tmp_path / "a", folder.as_uri(), push=True)
    with serve(folder) as url:
        pulled = materialize(tmp_path / "b", url, push=False, make=never)
        assert pulled.pulled_from == url
        # A mirror without the entry: built here, nothing said.
        absent = materialize(tmp_path / "b", url, push=False, key="openssl-9-zzz")
        assert not absent.reused
    assert "warning" not in capsys.readouterr().err


def test_a_registry_that_asks_for_a_login_is_a_miss_without_one_and_shared_with_one(
        tmp_path, capsys, monkeypatch):
    with registry(tmp_path / "registry", login=("ci", "s3cret-token")) as address:
        location = f"{address}/builder-cache"
        # No credentials: reading is denied (401), as a registry denies an entry that does
        # not exist yet, so it is a miss with one warning; the push is then tried and, denied
        # too, gives the remote up for the run. The entry is built here both times.
        store = Store(tmp_path / "a", remote=remote_cache(location, push=True))
        for key in ("openssl-1-abc", "openssl-2-def"):
            entry = store.materialize(Kind.OPENSSL, key, make_tree, reuse=complete,
                                      identity=IDENTITY)
            assert not entry.reused
        err = capsys.readouterr().err
        assert err.count("denied reading") == 1 and err.count("is not usable") == 1
        assert "pushed" not in err
        # With the credentials in the environment: pushed from one root, pulled into another.
        monkeypatch.setenv("BUILDER_REMOTE_CACHE_USERNAME", "ci")
        monkeypatch.setenv("BUILDER_REMOTE_CACHE_PASSWORD", "s3cret-token")
        materialize(tmp_path / "c", location, push=True)
        pulled = materialize(tmp_path / "d", location, push=False, make=never)
        assert pulled.reused and pulled.pulled_from == location
        err = capsys.readouterr().err
        assert "pushed openssl-openssl-1-abc" in err and "warning" not in err
        assert "s3cret-token" not in err
