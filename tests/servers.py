"""Real servers the remote-store tests start on loopback: the CNCF distribution registry
(Debian's docker-registry) and Redis (Debian's redis-server). `.ci/run` installs both."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Tuple

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


@contextmanager
def _running(argv, log: Path, ready, what: str) -> Iterator[None]:
    """Start `argv` (its output to `log`), wait until `ready()` (failing the test if it exits
    or 20 s pass), and stop it at the end."""
    with open(log, "w") as out:
        process = subprocess.Popen([str(a) for a in argv], stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 20
        while not ready():
            if process.poll() is not None:
                pytest.fail(f"{what} exited at start: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"{what} did not answer within 20 s: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def registry(folder: Path, login: Optional[Tuple[str, str]] = None) -> Iterator[str]:
    """Run a registry storing its blobs under `folder`/data; yield its address (host:port).
    With `login` (user name, password) it answers only requests that give them (HTTP basic
    authentication from an htpasswd file, 401 otherwise)."""
    import yaml

    program = _needs("docker-registry", "docker-registry")
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    config = {"version": 0.1, "log": {"level": "error"},
              "storage": {"filesystem": {"rootdirectory": str(folder / "data")},
                          "delete": {"enabled": True}},
              "http": {"addr": f"127.0.0.1:{port}"}}
    if login is not None:
        import bcrypt

        user, password = login
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
        (folder / "htpasswd").write_text(f"{user}:{hashed}\n")
        config["auth"] = {"htpasswd": {"realm": "builder-tests",
                                       "path": str(folder / "htpasswd")}}
    (folder / "config.yml").write_text(yaml.safe_dump(config))

    def answers() -> bool:
        try:
            status = requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code
        except requests.RequestException:
            return False
        return status == (200 if login is None else 401)

    with _running([program, "serve", folder / "config.yml"], folder / "registry.log", answers,
                  "docker-registry"):
        yield f"127.0.0.1:{port}"


@contextmanager
def redis(folder: Path) -> Iterator[str]:
    """Run a Redis server with no persistence; yield its URL (redis://127.0.0.1:PORT)."""
    program = _needs("redis-server", "redis-server")
    client = _needs("redis-cli", "redis-tools")
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)

    def answers() -> bool:
        done = subprocess.run([client, "-h", "127.0.0.1", "-p", str(port), "ping"],
                              capture_output=True, text=True)
        return done.stdout.strip() == "PONG"

    with _running([program, "--port", port, "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", folder], folder / "redis.log", answers,
                  "redis-server"):
        yield f"redis://127.0.0.1:{port}"
