"""Windows wheels built on this Linux host: cross-built with zig, repaired with delvewheel,
checked with pefile, smoke-tested in python.org's embeddable CPython under wine (win_amd64);
win32 and win_arm64 built and checked, never reported as smoke-tested."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from builder.platforms.pe import WIN32_ERROR, inspect_wheel, is_system_dll
from builder.architectures import ARCHITECTURES
from builder.errors import NOT_RUN_EXIT
from tests.conftest import FIXTURES, run_builder
from tests.e2e.conftest import WIN32_OPENSSL, wheels_in

pytestmark = pytest.mark.slow

NOT_RUN = "no {plat} Windows interpreter on this host"


def record_of(wheel: Path) -> dict:
    return json.loads(Path(f"{wheel}.provenance.json").read_text())


def windows_wheels(wheelhouse, target: str, openssl: str, *args: str):
    """Build; the run must end 0, or 3 (built and checked, not run) for the tags no Windows
    interpreter here runs."""
    done, folder = wheelhouse(target, openssl, *args)
    plat = args[args.index("--plat") + 1]
    runs_here = ARCHITECTURES["x86_64"].windows.plat == plat
    assert done.returncode == (0 if runs_here else NOT_RUN_EXIT), done.stderr[-3000:]
    return done, wheels_in(folder)


def only_pinned_openssl_inside(wheel: Path, machine: int, interpreter_dll: str,
                               ctypes_entry_points: frozenset = frozenset(),
                               openssl: str = "3.0.22") -> None:
    """Every .pyd: of the tag's machine type, importing the interpreter's DLL and Windows'
    alone (no libcrypto/libssl DLL), exporting only PyInit_* (and the package's own
    `ctypes_entry_points`), carrying exactly the `openssl` release."""
    arch = next(a for a in ARCHITECTURES.values() if a.windows and a.windows.pe_machine == machine)
    facts = inspect_wheel(wheel)
    assert [f.name for f in facts] and all(f.name.endswith(".pyd") for f in facts)
    for pyd in facts:
        assert pyd.machine == machine
        assert pyd.pe32_plus == (machine != 0x14C)
        assert interpreter_dll in pyd.needed
        others = [n for n in pyd.needed if n != interpreter_dll]
        assert others and all(is_system_dll(n, arch) for n in others), others
        assert not [n for n in pyd.needed if "crypto" in n.lower() or "ssl" in n.lower()]
        assert set(pyd.exported) == {f"PyInit_{pyd.name.split('.')[0]}", *ctypes_entry_points}
        assert pyd.openssl_versions == (openssl,)


def test_a_c_tree_becomes_win_amd64_wheels_proven_in_cpython_3_12_and_3_13_under_wine(
        wheelhouse):
    _, wheels = windows_wheels(wheelhouse, str(FIXTURES / "sslfixture"), "3.0.22", "--plat",
                               "win_amd64", "--python", "3.12", "--python", "3.13",
                               "--version-probe", "sslfixture:openssl_version")
    assert [w.name for w in wheels] == ["sslfixture-1.0-cp312-cp312-win_amd64.whl",
                                        "sslfixture-1.0-cp313-cp313-win_amd64.whl"]
    for wheel, minor, cpython in zip(wheels, ("312", "313"), ("3.12.9", "3.13.2")):
        only_pinned_openssl_inside(wheel, 0x8664, f"python{minor}.dll")
        record = record_of(wheel)
        assert record["tag"] == "win_amd64"
        smoke = record["smoke"]
        assert smoke["passed"] and smoke["runtime_version"] == "3.0.22"
        assert f"embeddable CPython {cpython} (win_amd64) under wine" in smoke["python"]
        # The interpreter's own ssl (its OpenSSL DLL) worked beside the package.
        assert smoke["ssl_beside"]["ssl"].startswith("OpenSSL ")
        assert smoke["ssl_beside"]["client_hello_bytes"] > 0
        pinned = record["target_python"]["packages"]
        assert any("sha256:" in line for line in pinned)
        assert any(line.startswith("Authenticode: ") for line in pinned)
        assert record["compiler"].startswith("zig ")


def test_scrypt_from_its_sdist_becomes_win_amd64_wheels_proven_in_3_12_and_3_13_under_wine(
        wheelhouse):
    # Its setup.py and C sources choose their Windows code by the build host and by MSVC:
    # the recipe's patch has them choose by the target.
    _, wheels = windows_wheels(wheelhouse, "scrypt==0.9.4", "3.0.22", "--plat", "win_amd64",
                               "--python", "3.12", "--python", "3.13")
    assert [w.name for w in wheels] == ["scrypt-0.9.4-cp312-cp312-win_amd64.whl",
                                        "scrypt-0.9.4-cp313-cp313-win_amd64.whl"]
    for wheel, minor in zip(wheels, ("312", "313")):
        # scrypt's Python code calls its module's exp_* functions through ctypes.
        only_pinned_openssl_inside(wheel, 0x8664, f"python{minor}.dll", frozenset({
            "exp_checkparams", "exp_crypto_scrypt", "exp_pickparams", "exp_scryptdec_buf",
            "exp_scryptenc_buf"}))
        record = record_of(wheel)
        [patch] = record["sdist"]["patches"]
        assert patch["file"] == "scrypt-0.9-target-platform.patch"
        smoke = record["smoke"]
        assert smoke["passed"] and "under wine" in smoke["python"]
        assert smoke["embedded_versions"] and all(
            v == ["3.0.22"] for v in smoke["embedded_versions"].values())
        # The functional checks ran, beside the interpreter's own OpenSSL DLL too.
        for run in smoke["checks"].values():
            assert run["passed"] == ["RFC 7914 key derivation",
                                     "encrypt and decrypt, a wrong password refused"]
        assert smoke["checks"]["system_ssl_first"]["system_ssl_after"] == "works"


def test_an_abi3_wheel_for_windows_links_python3_dll_and_passes_in_3_8_and_3_13(wheelhouse):
    _, [wheel] = windows_wheels(wheelhouse, str(FIXTURES / "sslabi3"), "3.0.22", "--plat",
                                "win_amd64", "--python", "3.8",
                                "--version-probe", "sslabi3:openssl_version")
    assert wheel.name == "sslabi3-1.0-cp38-abi3-win_amd64.whl"
    with zipfile.ZipFile(wheel) as archive:
        assert "sslabi3.pyd" in archive.namelist()  # Windows' abi3 name, not .abi3.so
    only_pinned_openssl_inside(wheel, 0x8664, "python3.dll")
    assert "CPython 3.8.10" in record_of(wheel)["smoke"]["python"]


def test_the_abi3_wheel_passes_again_in_3_13_with_builder_smoke(wheelhouse, session_cache):
    _, [wheel] = windows_wheels(wheelhouse, str(FIXTURES / "sslabi3"), "3.0.22", "--plat",
                                "win_amd64", "--python", "3.8",
                                "--version-probe", "sslabi3:openssl_version")
    done = run_builder("smoke", "--python", "3.13", "--cache-dir", str(session_cache),
                       str(wheel))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "passed: OpenSSL 3.0.22" in done.stderr + done.stdout


def test_a_win32_wheel_is_pe32_i386_and_says_its_smoke_test_did_not_run(wheelhouse):
    done, [wheel] = windows_wheels(wheelhouse, str(FIXTURES / "sslfixture"), WIN32_OPENSSL,
                                   "--plat", "win32", "--python", "3.13")
    assert wheel.name == "sslfixture-1.0-cp313-cp313-win32.whl"
    only_pinned_openssl_inside(wheel, 0x14C, "python313.dll", openssl=WIN32_OPENSSL)
    record = record_of(wheel)
    assert record["smoke"]["passed"] is None and record["smoked_on"][0]["passed"] is None
    assert record["smoke"]["not_run"] == NOT_RUN.format(plat="win32")
    assert record["smoked_on"][0]["not_run"] == NOT_RUN.format(plat="win32")
    assert "passed" not in done.stderr.split("wheel ")[-1].split("\n", 1)[1]
    assert "not run" in done.stderr
    assert f"built and checked, not run: {NOT_RUN.format(plat='win32')} (exit 3)" in done.stderr


def test_win_arm64_needs_the_mingw_arm64_target_of_openssl_4(wheelhouse):
    done, _ = wheelhouse(str(FIXTURES / "sslfixture"), "3.0.22", "--plat", "win_arm64",
                         "--python", "3.13")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "has no mingw target for aarch64 (mingwarm64 arrived in 4.0)" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_win_arm64_wheel_is_arm64_and_says_its_smoke_test_did_not_run(wheelhouse):
    _, [wheel] = windows_wheels(wheelhouse, str(FIXTURES / "sslfixture"), "4.0.2", "--plat",
                                "win_arm64", "--python", "3.13")
    assert wheel.name == "sslfixture-1.0-cp313-cp313-win_arm64.whl"
    [pyd] = inspect_wheel(wheel)
    assert pyd.machine == 0xAA64 and pyd.pe32_plus
    assert pyd.openssl_versions == ("4.0.2",)
    smoke = record_of(wheel)["smoke"]
    assert smoke["passed"] is None and smoke["not_run"] == NOT_RUN.format(plat="win_arm64")


def crafted(source: Path, folder: Path, plat: str) -> Path:
    """`source` (a Windows wheel) re-tagged for `plat`, its binaries untouched: what a wheel
    holding a module of the wrong machine type looks like."""
    name = source.name.rsplit("-", 1)[0] + f"-{plat}.whl"
    target = folder / name
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for member in original.namelist():
            data = original.read(member)
            if member.endswith("/WHEEL"):
                data = data.replace(source.name.rsplit("-", 1)[1][:-4].encode(), plat.encode())
            copy.writestr(member, data)
    return target


@pytest.mark.parametrize("built_for,tagged", [("win32", "win_amd64"), ("win_amd64", "win32")])
def test_a_module_of_another_machine_type_is_refused_with_the_win32_error(
        wheelhouse, session_cache, tmp_path, built_for, tagged):
    openssl = WIN32_OPENSSL if built_for == "win32" else "3.0.22"
    _, [wheel] = windows_wheels(wheelhouse, str(FIXTURES / "sslfixture"), openssl, "--plat",
                                built_for, "--python", "3.13")
    wrong = crafted(wheel, tmp_path, tagged)
    done = run_builder("smoke", "--openssl", openssl, "--cache-dir", str(session_cache),
                       str(wrong))
    assert done.returncode == 1, done.stderr[-2000:]
    assert WIN32_ERROR in done.stderr and "Traceback" not in done.stderr
    assert f"a {tagged} wheel runs in a" in done.stderr


@pytest.mark.parametrize("package,reason", [
    ("cryptography", "no standard library for x86_64-pc-windows-gnu")])
def test_packages_that_cannot_be_cross_built_for_windows_are_refused_up_front(
        session_cache, tmp_path, package, reason):
    done = run_builder("wheel", package, "--openssl", "3.0.22", "--plat", "win_amd64",
                       "--cache-dir", str(session_cache), "--wheelhouse", str(tmp_path / "w"))
    assert done.returncode == 2, done.stderr[-2000:]
    assert reason in done.stderr and "natively on Windows" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "w").exists()


def test_cryptographys_own_windows_wheel_passes_the_smoke_test_under_wine(session_cache,
                                                                           tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "--only-binary", ":all:", "--platform", "win_amd64", "--python-version",
                    "3.13", "--implementation", "cp", "cryptography", "-d", str(tmp_path)],
                   check=True)
    [wheel] = tmp_path.glob("cryptography-*-cp311-abi3-win_amd64.whl")
    [rust] = [f for f in inspect_wheel(wheel) if f.name.endswith("_rust.pyd")]
    [version] = rust.openssl_versions
    done = run_builder("smoke", "--openssl", version, "--python", "3.13", "--cache-dir",
                       str(session_cache), str(wheel))
    print(done.stdout, done.stderr)  # what it printed, for the record of the run
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"passed: OpenSSL {version}" in done.stderr + done.stdout


def test_builder_smoke_refuses_what_cannot_run_here_before_fetching_anything(wheelhouse,
                                                                             tmp_path):
    _, [win32] = windows_wheels(wheelhouse, str(FIXTURES / "sslfixture"), WIN32_OPENSSL,
                                "--plat", "win32", "--python", "3.13")
    _, wheels = windows_wheels(wheelhouse, str(FIXTURES / "sslfixture"), "3.0.22", "--plat",
                               "win_amd64", "--python", "3.12", "--python", "3.13",
                               "--version-probe", "sslfixture:openssl_version")
    cp313 = next(w for w in wheels if "-cp313-" in w.name)
    empty_cache = tmp_path / "cache"  # nothing in it: a download would show
    for args, said in [([str(win32)], "no win32 Windows interpreter on this host"),
                       (["--python", "3.12", str(cp313)], "does not install in CPython 3.12")]:
        done = run_builder("smoke", "--cache-dir", str(empty_cache), *args)
        assert done.returncode == 2, done.stderr[-2000:]
        assert said in done.stderr and "Traceback" not in done.stderr
        assert not (empty_cache / "tools").exists() and not (empty_cache / "downloads").exists()
