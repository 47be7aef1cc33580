"""Real servers the remote-store tests start on loopback: the CNCF distribution registry
(Debian's docker-registry) and Redis (Debian's redis-server). `.ci/run` installs both."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
import requests


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _needs(program: str, package: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"this test needs {program}: apt-get install {package} (.ci/run does)")
    return path


def _wait_until(ready, what: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited at start: {log.read_text()[-2000:]}")
        if ready():
            return
        time.sleep(0.1)
    pytest.fail(f"{what} did not answer within 20 s: {log.read_text()[-2000:]}")


@contextmanager
def registry(folder: Path) -> Iterator[str]:
    """Run a registry storing its blobs under `folder`/data; yield its address (host:port)."""
    program = _needs("docker-registry", "docker-registry")
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.yml"
    config.write_text(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                      f"    rootdirectory: {folder / 'data'}\n  delete:\n    enabled: true\n"
                      f"http:\n  addr: 127.0.0.1:{port}\n")
    log = folder / "registry.log"
    with open(log, "w") as out:
        process = subprocess.Popen([program, "serve", str(config)], stdout=out, stderr=out)

    def answers() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        _wait_until(answers, "docker-registry", process, log)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def redis(folder: Path) -> Iterator[str]:
    """Run a Redis server with no persistence; yield its URL (redis://127.0.0.1:PORT)."""
    program = _needs("redis-server", "redis-server")
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "redis.log"
    with open(log, "w") as out:
        process = subprocess.Popen([program, "--port", str(port), "--bind", "127.0.0.1",
                                    "--save", "", "--appendonly", "no", "--dir", str(folder)],
                                   stdout=out, stderr=out)

    client = _needs("redis-cli", "redis-tools")

    def answers() -> bool:
        done = subprocess.run([client, "-h", "127.0.0.1", "-p", str(port), "ping"],
                              capture_output=True, text=True)
        return done.stdout.strip() == "PONG"

    try:
        _wait_until(answers, "redis-server", process, log)
        yield f"redis://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
