"""`builder inspect` names the OpenSSL inside any wheel: the index's own cryptography wheels for
Linux, Windows and macOS (static, version read from the binary), and a wheel of ours with its
provenance record."""

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, run_builder
from tests.e2e.conftest import wheels_in

pytestmark = pytest.mark.slow

PLATFORMS = {"manylinux_2_34_x86_64": "ELF", "win_amd64": "PE", "macosx_11_0_arm64": "Mach-O"}


def version_texts(wheel: Path) -> set:
    """The OpenSSL versions named by `OpenSSL X.Y.Z ` texts in the wheel's binaries, read with a
    plain pattern: the oracle the builder's readers are held to."""
    found = set()
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.endswith((".so", ".pyd", ".dylib")):
                found |= {m.decode() for m in re.findall(rb"OpenSSL (\d+\.\d+\.\d+[a-z]*) ",
                                                         archive.read(member))}
    return found


@pytest.fixture(scope="module")
def index_wheels(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("index-wheels")
    for plat in PLATFORMS:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--only-binary", ":all:", "--platform", plat, "--python-version", "3.13",
                        "--implementation", "cp", "cryptography==50.0.2", "-d", str(folder)],
                       check=True)
    return {plat: next(folder.glob(f"cryptography-50.0.2-*-{plat}.whl")) for plat in PLATFORMS}


def test_inspect_names_the_openssl_inside_the_index_cryptography_wheels(index_wheels):
    done = run_builder("inspect", "--json", *map(str, index_wheels.values()))
    assert done.returncode == 0, done.stderr[-2000:]
    reports = {r["wheel"]: r for r in json.loads(done.stdout)}
    for plat, wheel in index_wheels.items():
        report = reports[wheel.name]
        [expected] = version_texts(wheel)
        assert report["binary_format"] == PLATFORMS[plat]
        assert [(o["version"], o["how"]) for o in report["openssl"]] == [(expected, "static")]
        assert report["openssl"][0]["where"].startswith("cryptography/hazmat/bindings/_rust")
        assert report["provenance"] is None
        # maturin's SBOM of the crates, as pyca ships it.
        assert any(s.endswith(".cyclonedx.json") for s in report["sboms"])
    readable = run_builder("inspect", str(index_wheels["macosx_11_0_arm64"]))
    assert readable.returncode == 0 and "arm64 (minos 11.0)" in readable.stdout
    print(readable.stdout)  # what it found, for the record of the run


def test_inspect_shows_the_provenance_and_sbom_of_a_wheel_of_ours(wheelhouse):
    done, folder = wheelhouse(str(FIXTURES / "sslfixture"), "3.0.22", "--plat",
                              "macosx_11_0_arm64", "--python", "3.13")
    [wheel] = wheels_in(folder)
    report = json.loads(run_builder("inspect", "--json", str(wheel)).stdout)[0]
    assert report["openssl"] == [{"version": "3.0.22", "how": "static",
                                  "where": "sslfixture.cpython-313-darwin.so"}]
    assert report["provenance"]["openssl"]["version"] == "3.0.22"
    assert report["sboms"] == ["sslfixture-1.0.dist-info/sboms/builder-openssl.cdx.json"]


def test_inspect_refuses_what_is_not_a_wheel(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    done = run_builder("inspect", str(tmp_path / "notes.txt"))
    assert done.returncode == 2 and "is not a wheel" in done.stderr
