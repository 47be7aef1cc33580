"""The test run's own scheduling (tests/conftest.py): with two workers, a big compile waits for
the other worker's to end, and every other command of the same programs goes straight on.
Proven on stand-ins of their own, with a lock of their own: the run's lock is the workers'."""

import fcntl
import os
import subprocess
import time

import pytest

from tests.conftest import write_compile_stand_ins


@pytest.fixture
def stand_ins(tmp_path):
    """(the environment that finds the stand-ins first, their lock held as another worker's
    compile would hold it)."""
    folder = tmp_path / "stand-ins"
    folder.mkdir()
    lock_path = tmp_path / "big-compile.lock"
    if not write_compile_stand_ins(folder, lock_path):
        pytest.fail("needs flock(1) (apt-get install util-linux), make and cargo")
    env = {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}
    env.pop("BUILDER_TESTS_COMPILE_SLOT", None)
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield env, lock


def make(folder, env, *args):
    (folder / "Makefile").write_text("all:\n\t@echo made\n")
    return subprocess.Popen(["make", "-C", str(folder), *args], stdout=subprocess.PIPE,
                            text=True, env=env)


def test_a_parallel_make_waits_for_the_slot_and_then_runs(stand_ins, tmp_path):
    env, lock = stand_ins
    waiting = make(tmp_path, env, "-j2")
    time.sleep(1)
    assert waiting.poll() is None  # still waiting for the other compile
    fcntl.flock(lock, fcntl.LOCK_UN)
    assert "made" in waiting.communicate(timeout=60)[0].split()
    assert waiting.returncode == 0


def test_a_make_that_only_copies_files_goes_straight_on(stand_ins, tmp_path):
    env, _ = stand_ins
    done = make(tmp_path, env)
    assert "made" in done.communicate(timeout=60)[0].split()
    assert done.returncode == 0


def test_a_compile_started_by_one_that_holds_the_slot_goes_straight_on(stand_ins, tmp_path):
    env, _ = stand_ins
    done = make(tmp_path, {**env, "BUILDER_TESTS_COMPILE_SLOT": "held"}, "-j2")
    assert "made" in done.communicate(timeout=60)[0].split()


def test_a_cargo_that_only_reads_goes_straight_on(stand_ins):
    env, _ = stand_ins
    done = subprocess.run(["cargo", "--version"], capture_output=True, text=True, timeout=60,
                          env=env)
    assert done.returncode == 0 and done.stdout.startswith("cargo ")
