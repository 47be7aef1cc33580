"""The test run's own scheduling (tests/conftest.py): with two workers, a big compile waits for
the other worker's to end, and every other command of the same programs goes straight on."""

import fcntl
import subprocess
import time

import pytest

from tests.conftest import run_root


@pytest.fixture
def slot_held_elsewhere(tmp_path_factory):
    """The run's compile slot, held by this test as another worker's compile would hold it."""
    with open(run_root(tmp_path_factory) / "big-compile.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield lock


def make(folder, *args):
    (folder / "Makefile").write_text("all:\n\t@echo made\n")
    return subprocess.Popen(["make", "-C", str(folder), *args], stdout=subprocess.PIPE,
                            text=True)


def test_a_parallel_make_waits_for_the_slot_and_then_runs(slot_held_elsewhere, tmp_path):
    waiting = make(tmp_path, "-j2")
    time.sleep(1)
    assert waiting.poll() is None  # still waiting for the other compile
    fcntl.flock(slot_held_elsewhere, fcntl.LOCK_UN)
    assert "made" in waiting.communicate(timeout=60)[0].split()
    assert waiting.returncode == 0


def test_a_make_that_only_copies_files_goes_straight_on(slot_held_elsewhere, tmp_path):
    done = make(tmp_path)
    assert "made" in done.communicate(timeout=60)[0].split()
    assert done.returncode == 0


def test_a_cargo_that_only_reads_goes_straight_on(slot_held_elsewhere):
    done = subprocess.run(["cargo", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("cargo ")
