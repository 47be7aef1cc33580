"""`builder audit` on a wheelhouse of wheels built against 1.1.1w, 3.0.22 and 3.5.7: each
OpenSSL judged by the release table and OpenSSL's own records, exit 1."""

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, run_builder
from tests.e2e.conftest import wheels_in
from tests.unit.test_attest import keypair

pytestmark = pytest.mark.slow

PROBE = "sslfixture:openssl_version"  # the arguments test_hardening builds the same wheels with


@pytest.fixture
def mixed_wheelhouse(wheelhouse, tmp_path):
    folder = tmp_path / "wheelhouse"
    folder.mkdir()
    for version in ("1.1.1w", "3.0.22", "3.5.7"):
        done, built = wheelhouse(str(FIXTURES / "sslfixture"), version, "--version-probe", PROBE)
        assert done.returncode == 0, done.stderr[-3000:]
        [wheel] = wheels_in(built)
        shutil.copy(wheel, folder / wheel.name.replace("-1.0-", f"-1.0+openssl{version}-"))
    return folder


def test_audit_judges_each_openssl_by_its_series_and_the_advisories(mixed_wheelhouse):
    done = run_builder("audit", "--json", str(mixed_wheelhouse))
    assert done.returncode == 1, done.stderr[-2000:]
    result = json.loads(done.stdout)
    judged = {j["version"]: j for w in result["wheels"] for j in w["openssl"]}
    assert judged["1.1.1w"]["verdict"] == "fail"
    assert "series 1.1.1 ended on 2023-09-11" in judged["1.1.1w"]["reasons"]
    assert len(judged["1.1.1w"]["advisories"]) >= 20
    assert judged["3.0.22"]["verdict"] == "fail"
    assert judged["3.0.22"]["reasons"] == ["series 3.0 ended on 2026-09-07"]
    assert judged["3.5.7"]["verdict"] == "warning"
    assert judged["3.5.7"]["reasons"] == ["3.5.9 is the newest release of 3.5"]
    assert result["data"]["newest_record"] == "2026-06-09"
    readable = run_builder("audit", str(mixed_wheelhouse))
    assert readable.returncode == 1
    assert "newest record 2026-06-09" in readable.stdout
    assert "2 failing, 1 with warnings, 0 ok; exit 1" in readable.stdout


def test_audit_of_the_supported_release_alone_passes_and_strict_fails_on_the_warning(
        mixed_wheelhouse):
    for wheel in mixed_wheelhouse.glob("*.whl"):
        if "openssl3.5.7" not in wheel.name:
            wheel.unlink()
    assert run_builder("audit", str(mixed_wheelhouse)).returncode == 0
    strict = run_builder("audit", "--strict", str(mixed_wheelhouse))
    assert strict.returncode == 1 and "(strict: warnings fail)" in strict.stdout


def test_audit_refuses_a_folder_without_wheels(tmp_path):
    done = run_builder("audit", str(tmp_path))
    assert done.returncode == 2 and "holds no .whl file" in done.stderr


def test_audit_verifies_signed_provenance_with_the_right_key_only(wheelhouse, tmp_path):
    private, public = keypair(tmp_path, "team")
    _, other = keypair(tmp_path, "other")
    done, built = wheelhouse(str(FIXTURES / "sslfixture"), "3.5.7", "--version-probe", PROBE,
                             "--sign-key", str(private))
    assert done.returncode == 0, done.stderr[-3000:]
    folder = tmp_path / "signed"
    shutil.copytree(built, folder)
    [wheel] = wheels_in(folder)
    assert Path(f"{wheel}.intoto.jsonl").is_file()
    right = run_builder("audit", "--verify-key", str(public), str(folder))
    assert right.returncode == 0, right.stdout + right.stderr
    assert f"SIGNED   {wheel.name}: provenance signed by key" in right.stdout
    wrong = run_builder("audit", "--verify-key", str(other), str(folder))
    assert wrong.returncode == 1 and "is not signed by key" in wrong.stdout
    with zipfile.ZipFile(wheel, "a") as archive:
        archive.writestr("extra.txt", "changed")
    changed = run_builder("audit", "--verify-key", str(public), str(folder))
    assert changed.returncode == 1 and "changed since its provenance was signed" in changed.stdout
