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


@pytest.mark.parametrize("pyproject, message", [
    ("tool = 1\n", None),  # no [tool.builder]: builder.toml (absent) and defaults apply
    ("[tool]\nbuilder = 5\n", r"\[tool.builder\] must be a table"),
    ("[tool]\nbuilder = [1]\n", r"\[tool.builder\] must be a table"),
])
def test_a_projects_tool_table_of_the_wrong_shape_is_refused_or_ignored(tmp_path, pyproject,
                                                                        message):
    (tmp_path / "pyproject.toml").write_text(pyproject)
    if message is None:
        assert resolve({}, {}, tmp_path, tmp_path).origins == {}
    else:
        with pytest.raises(InputError, match=message):
            resolve({}, {}, tmp_path, tmp_path)


@pytest.mark.parametrize("text, message", [
    ("openssl-mirror = 5\n", "openssl-mirror 5 .* is not a URL or a list of URLs"),
    ('cache-dir = ""\n', "cache-dir '' .* is not a directory path"),
    ('cargo-vendor = "  "\n', "cargo-vendor '  ' .* is not a directory path"),
    ("[tool.builder]\njobs = 2\n", r"unknown setting tool \(builder.toml takes its keys at"),
])
def test_file_values_of_the_wrong_type_or_empty_paths_are_refused(tmp_path, text, message):
    (tmp_path / "builder.toml").write_text(text)
    with pytest.raises(InputError, match=message):
        resolve({}, {}, tmp_path)


@pytest.mark.parametrize("value", ["²", "٣", "1e3", " "])
def test_only_ascii_digits_make_a_number(tmp_path, value):
    if not value.strip():
        assert resolve({}, {"BUILDER_JOBS": value}, tmp_path).origins == {}
        return
    with pytest.raises(InputError, match="is not a positive whole number"):
        resolve({}, {"BUILDER_JOBS": value}, tmp_path)


def test_a_cache_dir_that_is_a_file_is_refused_naming_where_it_came_from(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(InputError, match=r"cache-dir .*afile \(from --cache-dir\) is not a "
                                         r"directory"):
        resolve({"cache-dir": str(tmp_path / "afile")}, {}, tmp_path)
