"""One OpenSSL build serves every interpreter: a wheel per interpreter, or one abi3 wheel
proven on each interpreter it claims."""

import json
from pathlib import Path

import pytest

from builder.interpreters import discover
from tests.e2e.conftest import wheels_in

pytestmark = pytest.mark.slow


def record_of(wheel):
    return json.loads(Path(f"{wheel}.provenance.json").read_text())


def test_python_all_gives_a_smoke_tested_wheel_per_interpreter_from_one_openssl_build(
        builder_cli, tmp_path):
    done = builder_cli("scrypt==0.9.4", "3.0.22", "--python", "all")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("reusing the cached OpenSSL 3.0.22") == 1
    wheels = wheels_in(tmp_path / "wheelhouse")
    built_for = {w.name.split("-")[2] for w in wheels}
    skipped = [line for line in done.stderr.splitlines() if "    skipping cpython" in line]
    machine = {f"cp{i.version[0]}{i.version[1]}" for i in discover()}
    assert len(built_for) + len(skipped) == len(machine) and built_for <= machine
    assert len(built_for) >= 3
    for wheel in wheels:
        assert record_of(wheel)["smoke"]["passed"]


def test_cryptography_abi3_wheels_follow_pycas_floors_and_are_proven_on_each_interpreter(
        cryptography_wheelhouse):
    # The run of OpenSSL 3.0.22 that test_cryptography reads too, built with CPython 3.10,
    # 3.11 and 3.12 (tests/e2e/conftest.py: CRYPTOGRAPHY_PYTHONS).
    done, wheelhouse = cryptography_wheelhouse("3.0.22")
    assert done.returncode == 0, done.stderr[-3000:]
    wheels = {w.name.split("-")[2]: w for w in wheels_in(wheelhouse)
              if w.name.startswith("cryptography-")}
    assert "cp311" in wheels and len(wheels) == 2  # cp311-abi3, and a lower floor for 3.10
    newer = [s["python"].split()[1][:4] for s in record_of(wheels["cp311"])["smoked_on"]]
    assert newer == ["3.11", "3.12"]
    [older] = [w for tag, w in wheels.items() if tag != "cp311"]
    assert [s["python"].split()[1][:4] for s in record_of(older)["smoked_on"]] == ["3.10"]
    for wheel in wheels.values():
        assert all(s["passed"] and s["runtime_version"] for s in record_of(wheel)["smoked_on"])
