"""Runs killed with SIGKILL, and runs at once on one cache: the cache and the wheelhouse only
ever show complete entries, and the next run succeeds. These build on a cache of their own
(`second_cache`), empty when they start."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, shared_tarball
from tests.e2e.conftest import SECOND_ROOT_OPENSSL, wheels_in
from tests.httpserver import serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cache(second_cache):
    # Not the session's cache: these tests start from an empty one. The reproducibility test
    # (test_hardening) builds in it after them, reusing the OpenSSL built here.
    return second_cache


def start(*args, cache):
    return subprocess.Popen([sys.executable, "-m", "builder", *args, "--cache-dir", str(cache)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "CI": "true"}, stdin=subprocess.DEVNULL)


def kill_when(proc, marker, timeout=600):
    """SIGKILL the run once it prints `marker`; return what it printed."""
    seen = []
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        seen.append(line)
        if marker in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert any(marker in line for line in seen), "".join(seen)[-3000:]
    return "".join(seen)


def visible(folder):
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) \
        if folder.is_dir() else []


def processes_working_in(path):
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if str(path) in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(proc.name)
        except OSError:
            pass
    return found


def test_a_download_killed_midway_leaves_no_tarball_in_the_cache(cache):
    data = shared_tarball("3.0.22").read_bytes()
    started = threading.Event()

    def slowly(request):
        request.send_response(200)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        for at in range(0, len(data), 64 * 1024):
            started.set()
            try:
                request.wfile.write(data[at:at + 64 * 1024])
            except OSError:
                return
            time.sleep(0.2)

    with serve(routes={"/openssl-3.0.22.tar.gz": slowly}) as url:
        proc = start("openssl", "build", "3.0.22", "--mirror", url, "--no-upstream", cache=cache)
        assert started.wait(60)
        time.sleep(1)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert "openssl-3.0.22.tar.gz" not in visible(cache / "downloads")


def test_an_openssl_build_killed_midway_leaves_no_entry(cache):
    proc = start("openssl", "build", SECOND_ROOT_OPENSSL, "--openssl-source",
                 str(shared_tarball(SECOND_ROOT_OPENSSL)), cache=cache)
    kill_when(proc, "openssl: build libraries")
    time.sleep(3)
    assert visible(cache / "openssl") == []
    # make and the compilers go on as orphans until the next run on this entry stops them
    # (asserted by the next test, which takes the entry's lock).


def test_two_runs_of_one_version_at_once_build_it_once_and_stop_a_killed_runs_orphans(cache):
    version = SECOND_ROOT_OPENSSL
    args = ("openssl", "build", version, "--openssl-source", str(shared_tarball(version)))
    runs = [start(*args, cache=cache), start(*args, cache=cache)]
    outputs = [run.communicate()[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sum("openssl: build libraries" in out for out in outputs) == 1
    assert sum(f"reusing the cached OpenSSL {version}" in out for out in outputs) == 1
    assert outputs[0].strip().splitlines()[-1] == outputs[1].strip().splitlines()[-1]
    assert len(visible(cache / "openssl")) == 1
    assert not [p for p in (cache / "openssl").iterdir() if ".tmp-" in p.name]
    assert processes_working_in(cache / "openssl" / f".openssl-{version}") == []


def test_runs_of_different_versions_at_once_both_succeed(cache, openssl_prefix, session_cache,
                                                       tmp_path):
    # 3.0.22 comes from a directory store the session's build was pushed to: its run takes
    # its own entry's lock and renames its own temporary into place, as a build does, while
    # the other run takes SECOND_ROOT_OPENSSL's (built by the test before), and no compile is
    # spent on either.
    pulled = "3.0.22"
    assert pulled != SECOND_ROOT_OPENSSL
    openssl_prefix(pulled)
    store = (tmp_path / "store").as_uri()
    pushed = start("openssl", "build", pulled, "--openssl-source",
                   str(shared_tarball(pulled)), "--remote-cache", store,
                   "--remote-cache-push", cache=session_cache)
    output = pushed.communicate()[0]
    assert pushed.returncode == 0, output
    runs = [start("openssl", "build", SECOND_ROOT_OPENSSL, "--openssl-source",
                  str(shared_tarball(SECOND_ROOT_OPENSSL)), cache=cache),
            start("openssl", "build", pulled, "--openssl-source",
                  str(shared_tarball(pulled)), "--remote-cache", store, cache=cache)]
    outputs = [run.communicate()[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert f"build pulled from {store}" in outputs[1]
    assert sorted(name.rsplit("-", 1)[0] for name in visible(cache / "openssl")) == \
        sorted([f"openssl-{pulled}", f"openssl-{SECOND_ROOT_OPENSSL}"])


def test_a_run_killed_during_repair_leaves_no_wheel_and_the_rerun_succeeds(cache, tmp_path):
    wheelhouse = tmp_path / "wheelhouse"
    args = ("wheel", str(FIXTURES / "sslfixture"), "--openssl", SECOND_ROOT_OPENSSL,
            "--openssl-source", str(shared_tarball(SECOND_ROOT_OPENSSL)),
            "--wheelhouse", str(wheelhouse))
    kill_when(start(*args, cache=cache), ": repair and check")
    assert visible(wheelhouse) == []
    rerun = start(*args, cache=cache)
    output = rerun.communicate()[0]
    assert rerun.returncode == 0, output[-3000:]
    [wheel] = wheels_in(wheelhouse)
    assert Path(f"{wheel}.provenance.json").is_file()
    assert [p.name for p in wheelhouse.iterdir() if p.name.startswith(".staging-")] == []
