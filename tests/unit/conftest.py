"""The unit tier starts no process and opens no socket: every way to do either is replaced,
for each test and for the fixtures it uses, by a call that fails the test. A test that needs
a process, a compiler or a server belongs in tests/integration/."""

from __future__ import annotations

import os
import socket
import subprocess
from typing import Callable, List

import pytest

# Imported at collection, before any guard: urllib3 (under requests) binds a socket to ::1
# once, when first imported, to learn whether the host has IPv6.
import builder.cli  # noqa: F401  isort:skip

NO_PROCESS = "unit tests start no process: move this test to tests/integration/"
NO_SOCKET = "unit tests open no socket: move this test to tests/integration/"

_PROCESS_CALLS = ["system", "popen", "fork", "forkpty", "posix_spawn", "posix_spawnp",
                  "execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp",
                  "execvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve",
                  "spawnvp", "spawnvpe"]
_SOCKET_METHODS = ["connect", "connect_ex", "bind", "sendto"]
_SOCKET_CALLS = ["create_connection", "create_server", "getaddrinfo"]


def _refusing(message: str, what: str, seen: List[str]) -> Callable[..., None]:
    def refuse(*args: object, **kwargs: object) -> None:
        seen.append(f"{what}: {message}")
        # pytest.fail raises a BaseException: an `except Exception` or `except OSError` in
        # the code under test cannot swallow it (and `seen` fails the test even then).
        pytest.fail(f"{what} called; {message}", pytrace=True)

    return refuse


def forbid_processes_and_sockets(patch: pytest.MonkeyPatch, seen: List[str]) -> None:
    patch.setattr(subprocess, "Popen", _refusing(NO_PROCESS, "subprocess.Popen", seen))
    for name in _PROCESS_CALLS:
        if hasattr(os, name):
            patch.setattr(os, name, _refusing(NO_PROCESS, f"os.{name}", seen))
    for name in _SOCKET_METHODS:
        patch.setattr(socket.socket, name, _refusing(NO_SOCKET, f"socket.{name}", seen))
    for name in _SOCKET_CALLS:
        patch.setattr(socket, name, _refusing(NO_SOCKET, f"socket.{name}", seen))


@pytest.fixture(autouse=True)
def no_process_no_socket(monkeypatch, request):
    """Autouse: fails the test at the first process start or socket use. Should the code
    under test catch that failure and the test pass, it fails at its teardown."""
    seen: List[str] = []
    forbid_processes_and_sockets(monkeypatch, seen)
    yield seen
    call = request.node.stash.get(_CALL_REPORT, None)
    if seen and (call is None or call.passed):
        pytest.fail("; ".join(dict.fromkeys(seen)), pytrace=False)


_CALL_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[_CALL_REPORT] = report
    return report


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    """Fixtures of a wider scope than a test are set up before the autouse one: they get the
    same guard while they run."""
    if fixturedef.scope == "function":
        return (yield)
    seen: List[str] = []
    with pytest.MonkeyPatch.context() as patch:
        forbid_processes_and_sockets(patch, seen)
        result = yield
    if seen:
        pytest.fail("; ".join(dict.fromkeys(seen)), pytrace=False)
    return result


@pytest.fixture
def x86_64_glibc_2_36_host(monkeypatch):
    """This host as the Target sees it, whatever machine runs the tests: x86_64, glibc 2.36."""
    from builder import target as target_module
    monkeypatch.setattr(target_module, "host_arch", lambda: "x86_64")
    monkeypatch.setattr(target_module, "host_glibc", lambda: (2, 36))
