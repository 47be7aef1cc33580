"""The CLI as a user meets it, run in this process: exit codes, one clear sentence, no
traceback (tests/integration/test_cli.py runs it as a real process)."""

import pytest

from builder.releases import load_table
from tests.conftest import run_main


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
    done = run_main(*args)
    assert done.returncode == 0 and "usage: builder" in done.stdout


def test_unknown_openssl_version_is_refused_before_any_download(tmp_path):
    done = run_main("wheel", "scrypt", "--openssl", "3.0.99", "--cache-dir", str(tmp_path))
    assert_one_clear_error(done, 2, "3.0.99 is not in the release table", "3.0.22")
    assert not (tmp_path / "downloads").exists() and not (tmp_path / "sdists").exists()


def test_unknown_option_is_bad_input():
    assert_one_clear_error(run_main("wheel", "scrypt", "--frobnicate"), 2, "--frobnicate")


def test_openssl_list_shows_series_end_of_life_and_cache_state(tmp_path):
    done = run_main("openssl", "list", "--cache-dir", str(tmp_path))
    assert done.returncode == 0
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[1:]}
    assert rows["3.0.13"][:4] == ["3.0.13", "3.0", "2026-09-07", "EOL"]
    assert rows["3.5.9"][1:4] == ["3.5", "2030-04-08", "supported"]
    assert rows["4.0.3"][2] == "unknown"
    assert len(rows) == len(load_table().releases)


def test_smoke_of_a_missing_wheel_is_bad_input(tmp_path):
    done = run_main("smoke", str(tmp_path / "x-1.0-py3-none-any.whl"),
                    "--cache-dir", str(tmp_path))
    assert_one_clear_error(done, 2, "does not exist")


def test_not_a_python_interpreter_is_bad_input(tmp_path):
    done = run_main("wheel", "scrypt", "--python", str(tmp_path / "python9"),
                    "--cache-dir", str(tmp_path))
    assert_one_clear_error(done, 2, "is not a Python interpreter")
