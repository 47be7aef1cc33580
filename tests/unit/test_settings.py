"""Settings: command line > environment > configuration file > defaults, resolved once."""

from pathlib import Path

import pytest

from builder.errors import InputError
from builder.settings import (DEFAULT_INDEX, DEFAULT_SOURCE_DATE_EPOCH, KEYS, resolve,
                              table_markdown)


def test_defaults_apply_where_nothing_is_set(tmp_path):
    settings = resolve({}, {}, tmp_path)
    assert settings.index_url == DEFAULT_INDEX
    assert settings.source_date_epoch == DEFAULT_SOURCE_DATE_EPOCH
    assert settings.openssl_mirrors == () and settings.jobs >= 1
    assert settings.origins == {}


def test_command_line_beats_environment_beats_builder_toml(tmp_path):
    (tmp_path / "builder.toml").write_text('index-url = "https://file.example/simple"\n'
                                           'jobs = 3\n')
    environ = {"BUILDER_INDEX_URL": "https://env.example/simple", "BUILDER_JOBS": "5"}
    assert resolve({}, {}, tmp_path).index_url == "https://file.example/simple"
    assert resolve({}, environ, tmp_path).index_url == "https://env.example/simple"
    chosen = resolve({"index-url": "https://cli.example/simple/", "jobs": 2}, environ, tmp_path)
    assert (chosen.index_url, chosen.jobs) == ("https://cli.example/simple", 2)
    assert chosen.origins["index-url"] == "--index-url"
    assert resolve({}, environ, tmp_path).origins["jobs"] == "$BUILDER_JOBS"
    assert resolve({}, {}, tmp_path).origins["jobs"] == str(tmp_path / "builder.toml")


def test_mirror_lists_add_up_command_line_first(tmp_path):
    (tmp_path / "builder.toml").write_text('openssl-mirror = "https://file.example/ossl"\n')
    settings = resolve({"openssl-mirror": ["https://cli.example/ossl"]},
                       {"BUILDER_OPENSSL_MIRROR": "https://a.example https://b.example"},
                       tmp_path)
    assert settings.openssl_mirrors == ("https://cli.example/ossl", "https://a.example",
                                        "https://b.example", "https://file.example/ossl")


def test_a_local_projects_tool_builder_table_is_used_before_builder_toml(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.builder]\n'
                                            'cache-dir = "cache"\n')
    (tmp_path / "builder.toml").write_text('cache-dir = "/elsewhere"\n')
    assert resolve({}, {}, tmp_path, project).cache_dir == (project / "cache").resolve()
    assert resolve({}, {}, tmp_path).cache_dir == Path("/elsewhere")
    # A project without the table leaves builder.toml in charge.
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert resolve({}, {}, tmp_path, project).cache_dir == Path("/elsewhere")


@pytest.mark.parametrize("text, message", [
    ("jobs = 0\n", "jobs 0 .*builder.toml.* is not a positive whole number"),
    ("jobs = true\n", "is not a positive whole number"),
    ('index-url = "ftp://x.example/"\n', "is not an http:// or https:// URL"),
    ('openssl-mirror = ["https://ok.example", "mirror"]\n', "is not an http"),
    ("index_url = 'https://x.example'\n", "unknown setting index_url .*known: cache-dir"),
    ("jobs = \n", "is not valid TOML"),
])
def test_a_bad_file_value_is_refused_naming_the_setting_and_the_file(tmp_path, text, message):
    (tmp_path / "builder.toml").write_text(text)
    with pytest.raises(InputError, match=message):
        resolve({}, {}, tmp_path)


@pytest.mark.parametrize("environ, message", [
    ({"SOURCE_DATE_EPOCH": "yesterday"}, r"source-date-epoch 'yesterday' \(from \$SOURCE_DATE"),
    ({"SOURCE_DATE_EPOCH": "0"}, "at least 315532800"),
    ({"BUILDER_JOBS": "-1"}, "is not a positive whole number"),
    ({"BUILDER_INDEX_URL": "pypi.org/simple"}, "is not an http:// or https:// URL"),
])
def test_a_bad_environment_value_is_refused_naming_the_variable(tmp_path, environ, message):
    with pytest.raises(InputError, match=message):
        resolve({}, environ, tmp_path)


def test_the_readme_table_lists_every_key_with_its_variable():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert table_markdown() in readme
    assert len(KEYS) == len({k.env for k in KEYS}) == len({k.name for k in KEYS})


def test_the_jobs_setting_reaches_make_cmake_and_cargo_unless_the_user_chose():
    from builder.build_env import parallelism_env

    assert parallelism_env(3, {}) == {"MAKEFLAGS": "-j3", "CMAKE_BUILD_PARALLEL_LEVEL": "3",
                                      "CARGO_BUILD_JOBS": "3"}
    assert parallelism_env(3, {"MAKEFLAGS": "-j1"}) == {"CMAKE_BUILD_PARALLEL_LEVEL": "3",
                                                        "CARGO_BUILD_JOBS": "3"}
