"""The one runner: every process of the builder (and of its compiler wrapper) starts here."""

import sys

import pytest

from builder.errors import InputError
from builder.runner import outcome, passthrough


def test_outcome_returns_a_failing_status_and_both_streams_without_raising():
    done = outcome([sys.executable, "-c",
                    "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"])
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")


def test_outcome_can_leave_standard_error_to_the_callers_stream(capfd):
    done = outcome([sys.executable, "-c", "import sys; print('diag', file=sys.stderr)"],
                   stderr=False)
    assert done.stderr == "" and "diag" in capfd.readouterr().err


def test_passthrough_returns_the_exit_status():
    assert passthrough([sys.executable, "-c", "raise SystemExit(5)"]) == 5


@pytest.mark.parametrize("run", [outcome, passthrough])
def test_a_program_that_cannot_start_is_bad_input_naming_it(tmp_path, run):
    with pytest.raises(InputError, match="no-such-compiler cannot be run"):
        run([str(tmp_path / "no-such-compiler")])


def test_a_reader_that_went_away_is_no_error(tmp_path):
    """`builder openssl list | head -1`: the pipe closes before the builder writes."""
    import os
    import subprocess

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-m", "builder", "openssl", "list",
                               "--cache-dir", str(tmp_path)], stdout=write_end,
                              stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write_end)
    assert done.returncode == 0 and "error" not in done.stderr, done.stderr
