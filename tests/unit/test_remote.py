"""The remote store: an entry shared between machines is pulled only when its identity and
its archive's sha256 match, unpacks by the rules of an untrusted tarball, and is otherwise
refused and built here; its archive is the same bytes wherever it is packed. (A directory
backend here; the registry and HTTP backends against real servers in tests/integration/.)"""

import io
import json
import tarfile
from pathlib import Path

import pytest

from builder.cache import Kind, Store
from builder.errors import InputError
from builder.remote import (DirectoryBackend, Facts, HttpBackend, OciBackend, RemoteCache,
                            backend_for, entry_name, identity_json, pack, remote_cache, unpack)
from builder.settings import resolve

IDENTITY = identity_json({"entry": "demo", "version": "1"})


def shared_store(root: Path, remote_dir: Path, push: bool = True) -> Store:
    remote = RemoteCache(DirectoryBackend(remote_dir.as_uri(), remote_dir), push=push)
    return Store(root, remote=remote)


def make_tree(temp: Path, text: str = "archive") -> None:
    (temp / "lib").mkdir()
    (temp / "lib" / "libcrypto.a").write_text(text)
    (temp / "build.json").write_text("{}")


def complete(path: Path) -> bool:
    return (path / "build.json").is_file()


def test_an_entry_made_on_one_machine_is_pulled_whole_on_another(tmp_path, capsys):
    remote = tmp_path / "remote"
    made = shared_store(tmp_path / "a", remote).materialize(
        Kind.OPENSSL, "openssl-1-abc", make_tree, reuse=complete, identity=IDENTITY)
    assert not made.reused and sorted(p.name for p in remote.iterdir()) == [
        "openssl-openssl-1-abc.json", "openssl-openssl-1-abc.tar.gz"]

    def never(temp):
        raise AssertionError("a shared entry was built again")

    pulled = shared_store(tmp_path / "b", remote, push=False).materialize(
        Kind.OPENSSL, "openssl-1-abc", never, reuse=complete, identity=IDENTITY)
    assert pulled.reused and pulled.pulled_from == remote.as_uri()
    assert (pulled.path / "lib" / "libcrypto.a").read_text() == "archive"
    assert "pulled openssl-openssl-1-abc from" in capsys.readouterr().err


def test_an_entry_without_an_identity_is_never_shared(tmp_path):
    remote = tmp_path / "remote"
    shared_store(tmp_path / "a", remote).materialize(Kind.OPENSSL, "local-only", make_tree)
    assert not remote.exists()


def test_pull_only_publishes_nothing_and_push_fills_in_what_the_remote_lacks(tmp_path):
    remote = tmp_path / "remote"
    shared_store(tmp_path / "a", remote, push=False).materialize(
        Kind.TOOLS, "zig-1", make_tree, reuse=complete, identity=IDENTITY)
    assert not remote.exists()
    # The entry is already here: with push on, the remote gets it too.
    shared_store(tmp_path / "a", remote, push=True).materialize(
        Kind.TOOLS, "zig-1", make_tree, reuse=complete, identity=IDENTITY)
    assert (remote / "tools-zig-1.tar.gz").is_file()


@pytest.mark.parametrize("damage, reason", [
    (lambda remote: (remote / "openssl-e.json").write_text(
        Facts("0" * 64, IDENTITY).as_json()), "archive's sha256 is"),
    (lambda remote: (remote / "openssl-e.json").write_text(Facts(
        json.loads((remote / "openssl-e.json").read_text())["sha256"],
        identity_json({"entry": "demo", "version": "2"})).as_json()), "identity differs"),
])
def test_a_remote_entry_that_fails_verification_is_refused_reported_and_built_here(
        tmp_path, capsys, damage, reason):
    remote = tmp_path / "remote"
    shared_store(tmp_path / "a", remote).materialize(
        Kind.OPENSSL, "e", make_tree, reuse=complete, identity=IDENTITY)
    damage(remote)
    entry = shared_store(tmp_path / "b", remote, push=False).materialize(
        Kind.OPENSSL, "e", lambda temp: make_tree(temp, "built here"), reuse=complete,
        identity=IDENTITY)
    assert not entry.reused and entry.pulled_from is None
    assert (entry.path / "lib" / "libcrypto.a").read_text() == "built here"
    err = capsys.readouterr().err
    assert "refused the shared cache entry openssl-e from" in err and reason in err


def evil_archive(path: Path, member: tarfile.TarInfo, data: bytes = b"") -> None:
    with tarfile.open(path, "w:gz") as tar:
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))


def link(name: str, target: str, kind=tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


@pytest.mark.parametrize("member", [
    tarfile.TarInfo("../outside"), tarfile.TarInfo("/etc/passwd-copy"),
    link("lib/escape", "../../../etc"), link("lib/hard", "/etc/passwd", tarfile.LNKTYPE)],
    ids=["dot-dot", "absolute", "symlink out", "hard link out"])
def test_an_archive_leaving_its_entry_is_refused(tmp_path, member):
    archive = tmp_path / "evil.tar.gz"
    evil_archive(archive, member, b"x")
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(InputError, match="cannot be unpacked safely"):
        unpack(archive, dest)
    assert not (tmp_path / "outside").exists()


def test_a_verified_archive_that_leaves_its_entry_is_still_refused(tmp_path, capsys):
    # Right sha256 and identity: the unpacking rules still hold.
    remote = tmp_path / "remote"
    remote.mkdir()
    archive = remote / "openssl-e.tar.gz"
    evil_archive(archive, link("lib", "/etc"))
    from builder.remote import file_sha256
    (remote / "openssl-e.json").write_text(Facts(file_sha256(archive), IDENTITY).as_json())
    entry = shared_store(tmp_path / "b", remote, push=False).materialize(
        Kind.OPENSSL, "e", make_tree, reuse=complete, identity=IDENTITY)
    assert not entry.reused and not entry.path.joinpath("lib").is_symlink()
    assert "refused the shared cache entry" in capsys.readouterr().err


def test_an_archive_is_the_same_bytes_wherever_and_whenever_it_is_packed(tmp_path):
    import os
    for root, when in (("a", 1_000_000), ("b", 2_000_000)):
        tree = tmp_path / root / "deep" / "entry"
        tree.mkdir(parents=True)
        make_tree(tree)
        for path in tree.rglob("*"):
            os.utime(path, (when, when))
    first = pack(tmp_path / "a" / "deep" / "entry", tmp_path / "1.tar.gz")
    second = pack(tmp_path / "b" / "deep" / "entry", tmp_path / "2.tar.gz")
    assert first == second
    assert (tmp_path / "1.tar.gz").read_bytes() == (tmp_path / "2.tar.gz").read_bytes()


@pytest.mark.parametrize("location, backend", [
    ("ghcr.io/my-org/builder-cache", OciBackend),
    ("oci://127.0.0.1:5000/builder-cache", OciBackend),
    ("https://mirror.internal/builder-cache", HttpBackend),
    ("file:///srv/builder-cache", DirectoryBackend)])
def test_the_location_chooses_the_backend(location, backend):
    assert isinstance(backend_for(location), backend)


def test_a_loopback_registry_is_plain_http_and_any_other_https():
    assert backend_for("127.0.0.1:5000/cache").plain_http
    assert backend_for("localhost:5000/cache").plain_http
    assert not backend_for("ghcr.io/org/cache").plain_http


@pytest.mark.parametrize("location, phrase", [
    ("ghcr.io", "not a registry repository"),
    ("ghcr.io/My-Org/Cache", "not a registry repository"),
    ("ftp://host/x", "use oci://HOST/REPOSITORY"),
    ("file://host/x", "file:///absolute/path")])
def test_a_location_that_names_no_store_is_bad_input(location, phrase):
    with pytest.raises(InputError, match=phrase):
        backend_for(location)


def test_push_needs_a_writable_location():
    with pytest.raises(InputError, match="read only"):
        remote_cache("https://mirror.internal/cache", push=True)
    with pytest.raises(InputError, match="needs --remote-cache"):
        remote_cache(None, push=True)
    assert remote_cache(None, push=False) is None


def test_a_name_that_cannot_be_an_oci_tag_is_not_shared():
    assert entry_name("openssl", "openssl-3.0.22-abc") == "openssl-openssl-3.0.22-abc"
    with pytest.raises(ValueError):
        entry_name("tools", "zig-1/wrappers/x")


@pytest.mark.parametrize("text, value", [("1", True), ("yes", True), ("false", False),
                                         ("0", False)])
def test_the_switches_read_from_the_environment(tmp_path, text, value):
    settings = resolve({}, {"BUILDER_REMOTE_CACHE_PUSH": text, "BUILDER_SCCACHE": text,
                            "BUILDER_REMOTE_CACHE": "file:///x"}, tmp_path)
    assert settings.remote_cache_push is value and settings.sccache is value
    assert settings.remote_cache == "file:///x"


def test_a_switch_that_is_neither_true_nor_false_is_bad_input(tmp_path):
    with pytest.raises(InputError, match="true or false"):
        resolve({}, {"BUILDER_SCCACHE": "maybe"}, tmp_path)


def test_any_link_in_a_pulled_archive_is_refused_even_one_that_stays_inside(tmp_path):
    # Chained links that each stay inside can still lead out once extracted in order.
    archive = tmp_path / "links.tar.gz"
    evil_archive(archive, link("x/y/l1", ".."))
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(InputError, match="is a link or a special file"):
        unpack(archive, dest)


@pytest.mark.parametrize("basic", [False, True], ids=["bearer-token", "basic"])
def test_registry_credentials_from_the_environment_win_over_the_docker_configuration(
        monkeypatch, tmp_path, basic):
    import base64

    from builder.remote import _oras_registry
    docker = tmp_path / "docker"
    docker.mkdir()
    (docker / "config.json").write_text(json.dumps({"auths": {"ghcr.io": {
        "auth": base64.b64encode(b"docker-user:docker-token").decode()}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(docker))
    monkeypatch.setenv("BUILDER_REMOTE_CACHE_USERNAME", "ci-bot")
    monkeypatch.setenv("BUILDER_REMOTE_CACHE_PASSWORD", "s3cret")
    registry = _oras_registry("ghcr.io", plain_http=False, basic=basic)
    registry.auth.load_configs(registry.get_container("ghcr.io/org/builder-cache:tag"))
    assert base64.b64decode(registry.auth._basic_auth) == b"ci-bot:s3cret"
    # Without them, `docker login`'s.
    monkeypatch.delenv("BUILDER_REMOTE_CACHE_USERNAME")
    registry = _oras_registry("ghcr.io", plain_http=False, basic=basic)
    registry.auth.load_configs(registry.get_container("ghcr.io/org/builder-cache:tag"))
    assert base64.b64decode(registry.auth._basic_auth) == b"docker-user:docker-token"


def test_a_location_is_said_and_recorded_without_its_credentials(tmp_path):
    from builder.remote import redacted
    assert redacted("https://bot:token@mirror.internal:8443/cache") == \
        "https://mirror.internal:8443/cache"
    assert redacted("ghcr.io/org/cache") == "ghcr.io/org/cache"
    remote = remote_cache("https://bot:token@mirror.internal/cache", push=False)
    assert "token" not in remote.location


def test_a_cached_openssl_build_of_the_older_layout_is_not_reused_or_shared(tmp_path):
    from builder.openssl import RECORD, complete_build
    entry = tmp_path / "openssl-3.0.22-abc"
    (entry / "lib" / "pkgconfig").mkdir(parents=True)
    (entry / RECORD).write_text("{}")
    pc = entry / "lib" / "pkgconfig" / "libcrypto.pc"
    pc.write_text(f"prefix={entry}\nexec_prefix=${{prefix}}\n")
    assert not complete_build(entry)  # names its cache: built again
    pc.write_text("prefix=${pcfiledir}/../..\nexec_prefix=${prefix}\n")
    assert complete_build(entry)


def test_the_command_line_switches_off_what_the_environment_switches_on(tmp_path):
    from builder.cli import build_parser, resolve_settings
    environ = {"BUILDER_REMOTE_CACHE": "file:///x", "BUILDER_REMOTE_CACHE_PUSH": "1",
               "BUILDER_SCCACHE": "1"}
    on = resolve_settings(build_parser().parse_args(["wheel", "scrypt"]), environ, tmp_path)
    assert (on.remote_cache, on.remote_cache_push, on.sccache) == ("file:///x", True, True)
    off = resolve_settings(build_parser().parse_args(
        ["wheel", "scrypt", "--no-remote-cache", "--no-remote-cache-push", "--no-sccache"]),
        environ, tmp_path)
    assert (off.remote_cache, off.remote_cache_push, off.sccache) == (None, False, False)
    assert off.origins["sccache"] == "--sccache"
    # Off, the remote cache takes the environment's push with it (no "push needs a location").
    alone = resolve_settings(build_parser().parse_args(["wheel", "scrypt", "--no-remote-cache"]),
                             environ, tmp_path)
    assert (alone.remote_cache, alone.remote_cache_push) == (None, False)


def test_builder_toml_turns_the_remote_cache_off_with_false(tmp_path):
    (tmp_path / "builder.toml").write_text("remote-cache = false\n")
    assert resolve({}, {}, tmp_path).remote_cache is None


def test_a_token_the_registry_will_not_give_is_a_denial_not_a_dead_remote(capsys, tmp_path):
    """ORAS raises ValueError where no token answers the registry's challenge (its token
    server refused the credentials): a miss with one warning, as a 401 or 403 is."""
    from builder.remote import Denied, OciBackend, RemoteCache

    class NoToken:
        def get_container(self, target):
            import oras.container
            return oras.container.Container(target)

        class auth:
            @staticmethod
            def load_configs(container):
                pass

        def do_request(self, *args, **kwargs):
            raise ValueError("Cannot respond to request for authentication.")

    backend = OciBackend("ghcr.io/org/cache", "ghcr.io/org/cache")
    backend._registry = NoToken()
    with pytest.raises(Denied):
        backend.fetch("openssl-k", tmp_path / "a.tar.gz")
    remote = RemoteCache(backend, push=False)
    (tmp_path / "dest").mkdir()
    assert not remote.pull("openssl", "k", "{}", tmp_path / "dest")
    assert not remote._down and "denied reading openssl-k" in capsys.readouterr().err


def test_no_remote_cache_beside_remote_cache_push_on_the_command_line_is_bad_input(tmp_path):
    from builder.cli import build_parser, resolve_settings
    args = build_parser().parse_args(["wheel", "scrypt", "--no-remote-cache",
                                      "--remote-cache-push"])
    with pytest.raises(InputError, match="give one of them"):
        resolve_settings(args, {}, tmp_path)
