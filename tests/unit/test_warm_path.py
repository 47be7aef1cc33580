"""The warm path's parts: uv or pip as the installer (uv where it serves the interpreter), the
`build` command it gets, the day's dependency lookup keyed by what decides its answer, and the
fixed-path workspace that lets sccache share compiles between runs and machines."""

import datetime as dt
import zipfile
from pathlib import Path

import pytest

from builder.compile_cache import workspace
from builder.dependencies import lookup_key, requirements
from builder.errors import InputError
from builder.installer import Installer, choose_installer
from builder.interpreters import build_command

UV = Installer("/opt/tools/bin/uv")
NEW_BUILD = frozenset({"--wheel", "--outdir", "--installer", "--env-dir"})
OLD_BUILD = frozenset({"--wheel", "--outdir"})


def test_uv_makes_the_venv_and_installs_with_no_index_where_pip_would():
    assert UV.install_command(Path("/v/bin/python"), ["--no-index", "x.whl"]) == [
        "/opt/tools/bin/uv", "pip", "install", "--quiet", "--python", "/v/bin/python",
        "--no-index", "x.whl"]
    assert Installer().install_command(Path("/v/bin/python"), ["x.whl"]) == [
        "/v/bin/python", "-m", "pip", "install", "--disable-pip-version-check", "x.whl"]


@pytest.mark.parametrize("version, name", [((3, 13), "uv"), ((3, 8), "uv"), ((3, 7), "pip"),
                                           ((3, 6), "pip")])
def test_interpreters_uv_does_not_serve_get_pip(version, name):
    assert UV.for_version(version).name == name
    assert Installer().for_version(version).name == "pip"


def test_build_gets_uv_and_a_fixed_environment_directory_where_it_knows_them():
    command = build_command(Path("/py"), Path("/s/src"), Path("/s/dist"), Path("/s/env"),
                            UV, NEW_BUILD, "https://mirror.internal/simple")
    assert command.argv == ["/py", "-m", "build", "--wheel", "--outdir", "/s/dist",
                            "--env-dir", "/s/env", "--installer", "uv", "/s/src"]
    assert command.path_first == ["/opt/tools/bin"] and command.installer == "uv"
    # No uv configuration file applies; the index pip would be given is uv's too.
    assert command.env == {"UV_NO_CONFIG": "1",
                           "UV_DEFAULT_INDEX": "https://mirror.internal/simple"}
    # An older `build` (or pip chosen) gets neither; the build still runs, with pip.
    command = build_command(Path("/py"), Path("/s/src"), Path("/s/dist"), Path("/s/env"),
                            UV, OLD_BUILD)
    assert command.argv == ["/py", "-m", "build", "--wheel", "--outdir", "/s/dist", "/s/src"]
    assert (command.path_first, command.installer) == ([], "pip")
    command = build_command(Path("/py"), Path("/s/src"), Path("/s/dist"), Path("/s/env"),
                            Installer(), NEW_BUILD)
    assert "--installer" not in command.argv and command.installer == "pip"


def test_pip_is_chosen_when_asked_and_uv_asked_for_must_exist(monkeypatch):
    assert choose_installer("pip").name == "pip"
    monkeypatch.setattr("builder.installer.find_uv", lambda: None)
    assert choose_installer("auto").name == "pip"
    with pytest.raises(InputError, match="pip install uv"):
        choose_installer("uv")


def wheel_with(path: Path, requires):
    with zipfile.ZipFile(path, "w") as archive:
        lines = ["Metadata-Version: 2.1", "Name: demo", "Version: 1.0",
                 *(f"Requires-Dist: {r}" for r in requires)]
        archive.writestr("demo-1.0.dist-info/METADATA", "\n".join(lines) + "\n")
    return path


def test_a_lookup_is_keyed_by_requirements_interpreter_target_index_and_day(tmp_path):
    day = dt.date(2026, 12, 1)
    wheel = wheel_with(tmp_path / "demo-1.0-py3-none-any.whl",
                       ["cffi>=1.12; platform_python_implementation != 'PyPy'"])
    required = requirements(wheel)
    assert required == ["cffi>=1.12; platform_python_implementation != 'PyPy'"]
    python = "cpython 3.13.1 (/usr/bin/python3.13)"
    key = lookup_key(required, python, [], None, day, {"HOME": "/root"})
    assert key.startswith("deps-2026-12-01-")
    assert key == lookup_key(required, python, [], None, day)  # other variables are no part
    for other in (lookup_key(["cffi>=2"], python, [], None, day),
                  lookup_key(required, "cpython 3.13.1t (/usr/bin/python3.13t)", [], None, day),
                  lookup_key(required, python, ["--platform", "win_amd64"], None, day),
                  lookup_key(required, python, [], "https://mirror/simple", day),
                  lookup_key(required, python, [], None, day,
                             {"PIP_INDEX_URL": "https://mirror/simple"}),
                  lookup_key(required, python, [], None, day + dt.timedelta(days=1))):
        assert other != key
    assert requirements(wheel_with(tmp_path / "plain-1.0-py3-none-any.whl", [])) == []


def test_the_workspace_is_a_fixed_path_per_slot_linking_the_cache(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    with workspace(True, cache) as (first_cache, first_scratch):
        assert first_cache.resolve() == cache.resolve() and first_scratch.is_dir()
        assert first_cache.parent.name.isdigit()
        # A second run at the same time takes the next slot.
        with workspace(True, cache) as (second_cache, _):
            assert second_cache.parent != first_cache.parent
        slot = first_cache.parent
    assert not slot.exists() and cache.is_dir()
    # The same slot again: the same paths, so the same command lines.
    with workspace(True, cache) as (again, _):
        assert again.parent == slot
    with workspace(False, cache) as (plain_cache, scratch):
        assert plain_cache == cache and scratch.is_dir()


def test_a_workspace_folder_another_user_could_control_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    import os
    base = tmp_path / f"builder-sccache-{os.getuid()}"
    base.mkdir(mode=0o777)
    base.chmod(0o777)  # open to others: anyone could swap the links inside
    with pytest.raises(InputError, match="not a private directory"):
        with workspace(True, tmp_path):
            pass
    base.rmdir()
    base.symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(InputError, match="not a private directory"):
        with workspace(True, tmp_path):
            pass


def test_lookups_older_than_yesterday_are_pruned(tmp_path):
    from builder.cache import Kind, Store
    from builder.dependencies import prune_old_lookups
    store = Store(tmp_path)
    required, python = ["cffi>=1.12"], "cpython 3.12.4 (/usr/bin/python3.12)"
    days = [dt.date(2026, 11, d) for d in (27, 28, 29, 30)]
    for day in days:
        store.materialize(Kind.DEPENDENCIES, lookup_key(required, python, [], None, day),
                          lambda temp: (temp / "cffi-2.0-cp312.whl").write_text("w"))
    prune_old_lookups(store, dt.date(2026, 11, 30))
    kept = [p.name for p in store.entries(Kind.DEPENDENCIES, "deps-*")]
    assert [name[5:15] for name in kept] == ["2026-11-29", "2026-11-30"]
    locks = sorted(p.name for p in store.path(Kind.DEPENDENCIES).glob(".*.lock"))
    assert [name[6:16] for name in locks] == ["2026-11-29", "2026-11-30"]
