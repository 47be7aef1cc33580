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


def test_a_builder_started_with_sigint_ignored_still_stops_when_interrupted(tmp_path):
    """A background job inherits SIGINT ignored; `kill -INT` must still end the run (130)."""
    import os
    import signal
    import subprocess
    import time

    slow_python = tmp_path / "python3"
    asked = tmp_path / "asked"
    slow_python.write_text(f"#!/bin/sh\ntouch '{asked}'\nexec sleep 30\n")
    slow_python.chmod(0o755)
    proc = subprocess.Popen(
        [sys.executable, "-m", "builder", "wheel", "scrypt", "--openssl", "3.0.22",
         "--python", str(slow_python), "--cache-dir", str(tmp_path / "cache"),
         "--wheelhouse", str(tmp_path / "wheelhouse")],
        stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    # Interrupted while it asks the "interpreter" its version, which takes 30 s: once it has
    # begun to, however long a loaded machine took to get there.
    deadline = time.monotonic() + 60
    while not asked.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert asked.exists(), "the builder never asked the interpreter its version"
    os.kill(proc.pid, signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted; nothing half-written was kept" in stderr
