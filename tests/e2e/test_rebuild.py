"""pip takes the rebuild: from a static simple index (`builder index`) served on loopback that
also holds the old wheel and a wheel of the same version with a more specific platform tag
(manylinux_2_36, this host's glibc), `pip install NAME==VERSION` and `pip install --upgrade`
both install the wheel rebuilt with a local version label; and `builder audit --rebuild` turns
a failing wheelhouse clean with such wheels."""

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, mirror_args, run_builder
from tests.httpserver import serve
from tests.e2e.conftest import python_says, wheels_in

pytestmark = pytest.mark.slow

PROBE = "sslfixture:openssl_version"  # the arguments test_hardening builds the same wheels with


def retagged(wheel: Path, folder: Path, plat: str) -> Path:
    """The same wheel under another platform tag (WHEEL's Tag lines and the file name): what
    a wheel of the same version for a newer glibc looks like, which pip ranks above an older
    tag's."""
    old = wheel.name.rsplit("-", 1)[1][:-len(".whl")]
    target = folder / wheel.name.replace(old, plat)
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(target, "w") as copy:
        for member in source.namelist():
            data = source.read(member)
            if member.endswith(".dist-info/WHEEL"):
                data = b"\n".join(line for line in data.split(b"\n")
                                  if not line.startswith(b"Tag:")) + \
                    f"Tag: {wheel.name.split('-')[2]}-{wheel.name.split('-')[3]}-{plat}\n".encode()
            copy.writestr(member, data)
    return target


def venv(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    return folder / "bin" / "python"


def pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    *args], check=True)


def installed(python: Path) -> str:
    return python_says(python, "import importlib.metadata as m, sslfixture; "
                               "print(m.version('sslfixture'), sslfixture.openssl_version())")


def test_pip_takes_the_rebuild_with_a_local_version_over_the_old_and_a_newer_tag(
        wheelhouse, tmp_path):
    done, old_folder = wheelhouse(str(FIXTURES / "sslfixture"), "3.0.22", "--version-probe", PROBE)
    assert done.returncode == 0, done.stderr[-3000:]
    done, new_folder = wheelhouse(str(FIXTURES / "sslfixture"), "3.5.7", "--version-probe", PROBE,
                                  "--local-version")
    assert done.returncode == 0, done.stderr[-3000:]
    [old] = wheels_in(old_folder)
    [new] = wheels_in(new_folder)
    assert new.name.startswith("sslfixture-1.0+openssl3.5.7-")
    assert json.loads(Path(f"{new}.provenance.json").read_text())["wheel"] == new.name
    index = tmp_path / "index"
    index.mkdir()
    for wheel in (old, new):
        shutil.copy(wheel, index)
    newer_tag = retagged(old, index, "manylinux_2_36_x86_64")
    assert newer_tag.name != old.name and "manylinux_2_36" not in new.name
    listed = run_builder("index", str(index))
    assert listed.returncode == 0, listed.stderr
    with serve(index) as base:
        url = base + "/simple/"
        fresh = venv(tmp_path / "fresh")
        pip(fresh, "--index-url", url, "sslfixture==1.0")
        assert installed(fresh).startswith("1.0+openssl3.5.7 OpenSSL 3.5.7 ")

        upgraded = venv(tmp_path / "upgraded")
        pip(upgraded, "--no-index", "--find-links", str(old_folder), "sslfixture")
        assert installed(upgraded).startswith("1.0 OpenSSL 3.0.22 ")
        pip(upgraded, "--index-url", url, "--upgrade", "sslfixture")
        assert installed(upgraded).startswith("1.0+openssl3.5.7 OpenSSL 3.5.7 ")


def test_audit_rebuild_turns_a_failing_wheelhouse_clean_and_pip_takes_the_rebuilds(
        wheelhouse, openssl_mirror, session_cache, tmp_path):
    """Wheels built against 1.1.1w (this interpreter's), 3.0.22 (CPython 3.12) and 3.5.7
    (CPython 3.13) side by side: the first two fail, the third warns; `--rebuild --openssl
    3.5.7` rebuilds the two, for their own interpreters."""
    folder = tmp_path / "wheelhouse"
    folder.mkdir()
    for version, python in (("1.1.1w", ()), ("3.0.22", ("--python", "3.12")),
                            ("3.5.7", ("--python", "3.13"))):
        done, built = wheelhouse(str(FIXTURES / "sslfixture"), version, "--version-probe", PROBE,
                                 *python)
        assert done.returncode == 0, done.stderr[-3000:]
        [wheel] = wheels_in(built)
        for path in (wheel, Path(f"{wheel}.provenance.json")):
            shutil.copy(path, folder)
    before = run_builder("audit", str(folder))
    assert before.returncode == 1 and "2 failing, 1 with warnings" in before.stdout
    assert run_builder("index", str(folder)).returncode == 0
    done = run_builder("audit", "--rebuild", "--openssl", "3.5.7", *mirror_args(openssl_mirror),
                       "--cache-dir", str(session_cache), str(folder), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "0 failing, 3 with warnings" in done.stdout.split("judged on")[-1]
    rebuilt = [w for w in wheels_in(folder) if "+openssl3.5.7" in w.name]
    assert sorted(w.name.split("-")[2] for w in rebuilt) == ["cp311", "cp312"]
    assert len([p for p in (folder / "replaced").glob("*.whl")]) == 2
    # The index was refreshed: it lists the rebuilds, not the wheels they replaced.
    page = (folder / "simple" / "sslfixture" / "index.html").read_text()
    assert all(w.name in page for w in rebuilt) and "sslfixture-1.0-cp311" not in page
    fresh = venv(tmp_path / "fresh")
    with serve(folder) as base:
        pip(fresh, "--index-url", base + "/simple/", "sslfixture==1.0")
        # The same audit of the index itself, as pip sees it.
        served = run_builder("audit", "--cache-dir", str(session_cache), base + "/simple/")
        assert served.returncode == 0 and "0 failing" in served.stdout, served.stderr[-2000:]
    assert installed(fresh).startswith("1.0+openssl3.5.7 OpenSSL 3.5.7 ")
