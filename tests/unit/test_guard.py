"""The unit tier's guard (tests/unit/conftest.py) is on: a process start and a socket use
each fail the test that tries them, whatever that test does with the failure."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.conftest import NO_PROCESS, NO_SOCKET


def refused(attempt):
    """The failure the guard raises (pytest's own, which `except Exception` cannot catch)."""
    with pytest.raises(pytest.fail.Exception) as caught:
        attempt()
    return str(caught.value)


NOWHERE = "/nonexistent/builder-guard-test"  # should the guard be off, nothing runs


def fork_and_leave():
    pid = os.fork()
    if pid == 0:  # only without the guard: the child leaves at once
        os._exit(0)
    os.waitpid(pid, 0)


@pytest.mark.parametrize("start", [
    lambda: subprocess.run([sys.executable, "-c", "pass"]),
    lambda: subprocess.check_output(["true"]),
    lambda: subprocess.Popen(["true"]),
    lambda: os.system("exit 0"),
    lambda: os.posix_spawn(NOWHERE, [NOWHERE], {}),
    lambda: os.posix_spawnp(NOWHERE, [NOWHERE], {}),
    lambda: os.execv(NOWHERE, [NOWHERE]),
    lambda: os.execvpe(NOWHERE, [NOWHERE], {}),
    fork_and_leave,
], ids=["run", "check_output", "Popen", "system", "posix_spawn", "posix_spawnp", "execv",
        "execvpe", "fork"])
def test_a_process_start_fails_the_test(start, no_process_no_socket):
    assert NO_PROCESS in refused(start)
    assert no_process_no_socket, "the guard did not record the attempt"
    no_process_no_socket.clear()  # recorded; the teardown check is tested below


@pytest.mark.parametrize("use", [
    lambda: socket.create_connection(("127.0.0.1", 9), timeout=1),
    lambda: socket.socket().connect(("127.0.0.1", 9)),
    lambda: socket.socket().bind(("127.0.0.1", 0)),
    lambda: socket.create_server(("127.0.0.1", 0)),
    lambda: socket.getaddrinfo("localhost", 80),
], ids=["create_connection", "connect", "bind", "create_server", "getaddrinfo"])
def test_a_socket_use_fails_the_test(use, no_process_no_socket):
    assert NO_SOCKET in refused(use)
    assert no_process_no_socket, "the guard did not record the attempt"
    no_process_no_socket.clear()


def test_a_swallowed_attempt_still_fails_the_test_at_its_teardown(pytester):
    pytester.makeconftest(Path(__file__).with_name("conftest.py").read_text())
    pytester.makepyfile(test_swallows="""
        import subprocess

        def test_swallows_the_failure():
            try:
                subprocess.run(["true"])
            except BaseException:
                pass
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*subprocess.Popen: " + NO_PROCESS + "*"])
