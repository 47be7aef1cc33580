"""Which interpreters a run builds for, and which wheel serves which interpreter."""

import io
import tarfile
from pathlib import Path

import pytest

from builder.errors import InputError
from builder.sdist import Sdist, requires_python
from builder.interpreters import Interpreter
from builder.jobs.wheel import _supported, _Wheel, abi3_floor


def interpreter(version):
    return Interpreter(Path(f"/x/python{version}"), tuple(map(int, version.split("."))) + (0,),
                       "cpython", "linux-x86_64")


def wheel_named(name):
    repaired = type("Repaired", (), {"path": Path(name)})()
    return _Wheel(built=None, repaired=repaired)  # type: ignore[arg-type]


def test_abi3_floor_is_read_from_the_wheel_name():
    assert abi3_floor(Path("cryptography-50.0.2-cp311-abi3-manylinux_2_34_x86_64.whl")) == (3, 11)
    assert abi3_floor(Path("scrypt-0.9.4-cp311-cp311-manylinux_2_34_x86_64.whl")) is None


def test_a_cp311_abi3_wheel_serves_3_11_and_newer_only():
    wheel = wheel_named("c-1-cp311-abi3-manylinux_2_34_x86_64.whl")
    assert [wheel.serves(interpreter(v)) for v in ("3.10", "3.11", "3.12", "3.13")] == \
        [False, True, True, True]


def test_a_lower_floor_abi3_wheel_does_not_serve_3_11_and_newer():
    wheel = wheel_named("c-1-cp39-abi3-manylinux_2_34_x86_64.whl")
    assert [wheel.serves(interpreter(v)) for v in ("3.8", "3.9", "3.10", "3.11")] == \
        [False, True, True, False]


def test_a_wheel_of_one_interpreter_serves_no_other():
    assert not wheel_named("s-1-cp311-cp311-linux_x86_64.whl").serves(interpreter("3.12"))


def sdist_requiring(tmp_path, requires):
    path = tmp_path / "pkg-1.0.tar.gz"
    info = f"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\nRequires-Python: {requires}\n"
    with tarfile.open(path, "w:gz") as archive:
        member = tarfile.TarInfo("pkg-1.0/PKG-INFO")
        member.size = len(info)
        archive.addfile(member, io.BytesIO(info.encode()))
    return Sdist("pkg", "1.0", path, "0" * 64, str(path))


def test_interpreters_the_package_does_not_support_are_skipped_with_a_reason(tmp_path,
                                                                            capsys):
    sdist = sdist_requiring(tmp_path, ">=3.9")
    chosen = _supported([interpreter("3.8"), interpreter("3.9")], sdist)
    assert [i.short_version for i in chosen] == ["3.9"]
    assert "skipping cpython 3.8.0 (/x/python3.8): pkg 1.0 requires Python >=3.9" in \
        capsys.readouterr().err


def test_no_supported_interpreter_at_all_is_bad_input(tmp_path):
    with pytest.raises(InputError, match="meets its Requires-Python \\(>=3.14\\)"):
        _supported([interpreter("3.9")], sdist_requiring(tmp_path, ">=3.14"))


def test_interpreters_older_than_the_builders_oldest_target_are_skipped(tmp_path, capsys):
    chosen = _supported([interpreter("3.6"), interpreter("3.7")], sdist_requiring(tmp_path, ">=3"))
    assert [i.short_version for i in chosen] == ["3.7"]
    assert "skipping cpython 3.6.0 (/x/python3.6): the builder builds for CPython 3.7" in \
        capsys.readouterr().err


def test_requires_python_is_read_from_pkg_info(tmp_path):
    assert str(requires_python(sdist_requiring(tmp_path, ">=3.7,<4").path)) in (">=3.7,<4",
                                                                               "<4,>=3.7")
