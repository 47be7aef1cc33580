"""The cache's Store: entries appear whole or not at all, are reused, and are remade when
their reuse check refuses them."""

from pathlib import Path

import pytest

from builder.cache import Entry, Kind, Store


def names(folder):
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


def test_a_file_entry_is_made_once_then_reused(tmp_path):
    store = Store(tmp_path)
    made = []

    def make(temp):
        made.append(temp)
        temp.write_text("data")

    first = store.materialize(Kind.DOWNLOADS, "a.tar.gz", make)
    second = store.materialize(Kind.DOWNLOADS, "a.tar.gz", make)
    assert first == Entry(tmp_path / "downloads" / "a.tar.gz", reused=False)
    assert second == Entry(first.path, reused=True)
    assert len(made) == 1 and first.path.read_text() == "data"
    assert names(tmp_path / "downloads") == ["a.tar.gz"]


def test_a_directory_entry_is_made_from_an_empty_directory(tmp_path):
    def make(temp):
        assert temp.is_dir() and list(temp.iterdir()) == []
        (temp / "bin").mkdir()

    entry = Store(tmp_path).materialize(Kind.TOOLS, "zig-1/wrappers/x86_64", make)
    assert entry.path == tmp_path / "tools" / "zig-1" / "wrappers" / "x86_64"
    assert (entry.path / "bin").is_dir()


def test_an_entry_its_reuse_check_refuses_is_made_again(tmp_path):
    store = Store(tmp_path)
    store.materialize(Kind.SDISTS, "s.tar.gz", lambda temp: temp.write_text("damaged"))
    entry = store.materialize(Kind.SDISTS, "s.tar.gz", lambda temp: temp.write_text("good"),
                              reuse=lambda path: path.read_text() == "good")
    assert not entry.reused and entry.path.read_text() == "good"


def test_a_failed_make_publishes_nothing_and_leaves_no_temporary(tmp_path):
    def make(temp):
        temp.write_text("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        Store(tmp_path).materialize(Kind.DOWNLOADS, "a.tar.gz", make)
    assert names(tmp_path / "downloads") == []


def test_what_a_killed_writer_left_is_removed_by_the_next_one(tmp_path):
    folder = tmp_path / "openssl"
    (folder / ".openssl-3-abc.tmp-killed" / "src").mkdir(parents=True)
    (folder / ".other.tmp-keep").mkdir()
    Store(tmp_path).materialize(Kind.OPENSSL, "openssl-3-abc", lambda temp: None)
    assert names(folder) == [".other.tmp-keep", "openssl-3-abc"]


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", ".hidden", "a/.lock"])
def test_a_key_that_is_not_a_plain_relative_path_is_refused(tmp_path, key):
    with pytest.raises(ValueError, match="not a plain relative path"):
        Store(tmp_path).path(Kind.DOWNLOADS, key)


def test_entries_lists_complete_entries_only(tmp_path):
    store = Store(tmp_path)
    assert store.entries(Kind.OPENSSL, "openssl-3.0.22-*") == []
    (tmp_path / "openssl" / ".openssl-3.0.22-b.tmp-x").mkdir(parents=True)
    store.materialize(Kind.OPENSSL, "openssl-3.0.22-a", lambda temp: None)
    store.materialize(Kind.OPENSSL, "openssl-3.1.0-a", lambda temp: None)
    assert store.entries(Kind.OPENSSL, "openssl-3.0.22-*") == [tmp_path / "openssl" /
                                                              "openssl-3.0.22-a"]


def test_a_build_seen_through_the_workspace_link_names_the_real_cache_root():
    from builder.openssl import OpenSSLBuild
    build = OpenSSLBuild("3.0.22", Path("/tmp/ws/0/cache/openssl/k"), None, (), "a" * 64, "x",
                         False, Path("/tmp/ws/0/cache/openssl/k/build.log"))
    real = build.seen_from(Path("/tmp/ws/0/cache"), Path("/home/u/.cache/builder"))
    assert real.prefix == Path("/home/u/.cache/builder/openssl/k")
    assert real.log == Path("/home/u/.cache/builder/openssl/k/build.log")
    assert build.seen_from(Path("/elsewhere"), Path("/x")) == build
