"""Windows decisions as pure functions: the PE rules (machine type, imports, exports), which
OpenSSL releases build for which Windows architecture, the pinned Windows CPythons and the
pyconfig.h each takes, what a build for one is told, and how an untestable target is
reported."""

import re
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from packaging.tags import parse_tag

from builder.architectures import ARCHITECTURES, pe_architecture, windows_architecture
from builder.errors import CheckFailed, InputError
from builder.platforms import pe, platform_of_wheel
from builder.platforms.pe import WIN32_ERROR, PeFacts
from builder.platforms.windows import (LOADS_IN_BINARY, SHARED_OPENSSL, WINDOWS, accepts,
                                       grafted_dlls)
from builder.platforms.wine import (EMBEDDABLE, WindowsPython, embeddable_for,
                                    source_for_pyconfig, to_windows_path)
from builder.recipes import recipe_for
from builder.releases import Release
from builder.report import summary
from builder.smoke import SmokeResult, require_passed
from builder.target import resolve_target

X64, I386, ARM64 = 0x8664, 0x14C, 0xAA64
SYSTEM = ("KERNEL32.dll", "api-ms-win-crt-runtime-l1-1-0.dll", "WS2_32.dll", "CRYPT32.dll")


def pyd(name="pkg/_x.cp313-win_amd64.pyd", machine=X64, needed=("python313.dll", *SYSTEM),
        exported=("PyInit__x",)):
    return PeFacts(name, tuple(needed), ("3.0.22",), frozenset(exported), machine,
                   machine != I386)


def release(version):
    return Release(version=version, sha256="0" * 64, size=None, series=None)


@pytest.mark.parametrize("plat,machine", [("win_amd64", I386), ("win_amd64", ARM64),
                                          ("win32", X64), ("win_arm64", X64)])
def test_a_binary_of_another_machine_type_is_refused_with_the_win32_error(plat, machine):
    arch = windows_architecture(plat)
    [problem] = pe.machine_problems([pyd(machine=machine)], arch, plat)
    assert WIN32_ERROR in problem and f"a {plat} wheel runs in a {arch.name} process" in problem
    assert pe_architecture(machine).name in problem


@pytest.mark.parametrize("plat,machine", [("win_amd64", X64), ("win32", I386),
                                          ("win_arm64", ARM64)])
def test_a_binary_of_the_tags_machine_type_passes(plat, machine):
    assert pe.machine_problems([pyd(machine=machine)], windows_architecture(plat), plat) == []


def test_only_the_interpreters_dlls_and_windows_own_may_be_imported():
    arch = ARCHITECTURES["x86_64"]
    cp313 = parse_tag("cp313-cp313-win_amd64")
    fine = pyd(needed=("python313.dll", "VCRUNTIME140.dll", "vcruntime140_1.dll", *SYSTEM))
    assert pe.import_problems([fine], arch, cp313) == []
    for foreign in ("libcrypto-3-x64.dll", "libssl-3.dll", "libeay32.dll", "zlib1.dll"):
        [problem] = pe.import_problems([pyd(needed=("python313.dll", foreign))], arch, cp313)
        assert foreign in problem and "neither Windows nor the interpreter" in problem


@pytest.mark.parametrize("tag,imported", [("cp38-abi3-win_amd64", "python313.dll"),
                                          ("cp313-cp313-win_amd64", "python312.dll"),
                                          ("cp313-cp313-win_amd64", "python3.dll")])
def test_a_module_importing_another_interpreters_dll_than_its_tags_is_refused(tag, imported):
    [problem] = pe.import_problems([pyd(needed=(imported, *SYSTEM))], ARCHITECTURES["x86_64"],
                                   parse_tag(tag))
    assert f"imports {imported}" in problem and "Py_LIMITED_API" in problem


def test_the_visual_cpp_runtime_is_the_interpreters_where_python_org_ships_it():
    needed = ("python313.dll", "vcruntime140_1.dll")
    assert pe.import_problems([pyd(needed=needed)], ARCHITECTURES["x86_64"],
                              parse_tag("cp313-cp313-win_amd64")) == []
    # The x86 CPython ships vcruntime140.dll alone.
    [problem] = pe.import_problems([pyd(machine=I386, needed=needed)], ARCHITECTURES["i686"],
                                   parse_tag("cp313-cp313-win32"))
    assert "vcruntime140_1.dll" in problem


def test_an_extension_exporting_more_than_its_init_function_is_refused():
    leaky = pyd(exported=("PyInit__x", "EVP_sha256", "SSL_new"))
    [problem] = pe.export_problems([leaky])
    assert "2 names besides PyInit_*" in problem
    # A DLL bundled beside the modules exports what it likes.
    assert pe.export_problems([pyd(name="pkg/helper.dll", exported=("f",))]) == []


def test_a_module_may_export_what_its_recipe_lets_its_python_code_call_through_ctypes():
    scrypt = pyd(name="_scrypt.cp313-win_amd64.pyd",
                 exported=("PyInit__scrypt", "exp_crypto_scrypt", "exp_pickparams"))
    assert pe.export_problems([scrypt], recipe_for("scrypt").module_exports) == []
    # ... and nothing beyond those patterns, nor the same names for another package.
    [problem] = pe.export_problems([pyd(exported=("PyInit__x", "exp_f", "EVP_sha256"))],
                                   ["exp_*"])
    assert "exports 1 name besides PyInit_* (EVP_sha256" in problem
    # The platform's check finds the recipe by the wheel's name.
    WINDOWS.check_platform([scrypt], "win_amd64", "after repair",
                           "scrypt-0.9.4-cp313-cp313-win_amd64.whl")
    with pytest.raises(CheckFailed, match="exports 2 names besides PyInit_"):
        WINDOWS.check_platform([scrypt], "win_amd64", "after repair",
                               "sslfixture-1.0-cp313-cp313-win_amd64.whl")


def test_the_platform_check_names_every_broken_rule_of_every_binary():
    broken = [pyd(machine=I386), pyd(name="pkg/_y.pyd", needed=("libssl-3.dll",))]
    with pytest.raises(CheckFailed) as failed:
        WINDOWS.check_platform(broken, "win_amd64", "before repair",
                               "x-1.0-cp313-cp313-win_amd64.whl")
    assert WIN32_ERROR in str(failed.value) and "libssl-3.dll" in str(failed.value)
    with pytest.raises(CheckFailed, match="manylinux2014_x86_64 is not a Windows platform tag"):
        WINDOWS.check_platform([pyd()], "manylinux2014_x86_64", "after repair",
                               "x-1.0-cp313-cp313-manylinux2014_x86_64.whl")


def test_the_repaired_tag_is_exactly_the_one_asked_for():
    WINDOWS.check_tag_within("win_amd64", "win_amd64", "x.whl")
    with pytest.raises(CheckFailed, match="tagged win32, not the win_amd64 asked for"):
        WINDOWS.check_tag_within("win32", "win_amd64", "x.whl")


@pytest.mark.parametrize("name,shared", [("libcrypto-3.dll", True), ("LIBSSL-3-X64.DLL", True),
                                         ("libcrypto-1_1-x64.dll", True), ("libeay32.dll", True),
                                         ("ssleay32.dll", True), ("libcryptography.dll", False),
                                         ("_ssl.pyd", False), ("python313.dll", False)])
def test_a_shared_openssl_is_known_by_its_windows_names(name, shared):
    assert bool(SHARED_OPENSSL.match(name)) is shared
    for text in (name.encode(), name.encode("utf-16-le")):  # LoadLibraryA's and W's
        for padding in (b"\0", b"\0\0\0"):
            found = list(LOADS_IN_BINARY.finditer(padding + text + b"\0\0"))
            assert bool(found) is shared
            assert not found or found[0].group(0).decode().lower() == name.lower()


def test_arm64_needs_openssl_4_where_mingwarm64_arrived(x86_64_glibc_2_36_host):
    arm64 = resolve_target("win_arm64")
    with pytest.raises(InputError, match=r"OpenSSL 3\.5\.7 has no mingw target for aarch64 "
                                         r"\(mingwarm64 arrived in 4\.0\).*"
                                         r"--openssl 4\.0 or newer.*VC-WIN64-ARM"):
        WINDOWS.check_release(arm64, release("3.5.7"))
    WINDOWS.check_release(arm64, release("4.0.2"))
    WINDOWS.check_release(resolve_target("win_amd64"), release("3.0.22"))
    WINDOWS.check_release(resolve_target("win32"), release("1.1.1w"))


def test_only_pinned_windows_cpythons_run_and_the_refusal_lists_them():
    assert embeddable_for((3, 13)).cpython == "3.13.2"
    with pytest.raises(InputError, match=r"no Windows CPython 3\.11 is pinned.*3\.8, 3\.12, 3\.13"):
        embeddable_for((3, 11))
    assert all(len(e.sha256) == 64 for e in EMBEDDABLE.values())


@pytest.mark.parametrize("version,source", [((3, 8), "3.9.2"), ((3, 9), "3.9.2"),
                                            ((3, 11), "3.11.2"), ((3, 12), "3.13.5"),
                                            ((3, 13), "3.13.5")])
def test_pyconfig_h_comes_from_the_same_or_the_nearest_newer_cpython_source(version, source):
    assert source_for_pyconfig(version).version == source


def test_a_version_newer_than_every_pinned_source_is_refused():
    with pytest.raises(InputError, match=r"no CPython source at or above 3\.14"):
        source_for_pyconfig((3, 14))


def windows_python(tmp_path, arch="x86_64", pyconfig="#ifdef __MINGW32__\n#endif\n",
                   runs=True):
    (tmp_path / "include").mkdir(exist_ok=True)
    (tmp_path / "include" / "pyconfig.h").write_text(pyconfig)
    return WindowsPython(arch, tmp_path / "python", tmp_path / "include", tmp_path / "libs",
                         "/usr/lib/wine/wine64" if runs else None,
                         tmp_path / "prefix" if runs else None, "3.13.2", ())


def test_a_build_for_the_windows_cpython_gets_its_tag_suffix_headers_and_libraries(tmp_path):
    python = windows_python(tmp_path)
    env = python.build_env()
    assert env["_PYTHON_HOST_PLATFORM"] == "win-amd64"
    assert env["SETUPTOOLS_EXT_SUFFIX"] == ".cp313-win_amd64.pyd"
    assert env["CFLAGS"] == f"-I{tmp_path / 'include'}"  # its pyconfig.h knows mingw
    assert env["LDFLAGS"] == f"-L{tmp_path / 'libs'}"
    assert env["CARGO_BUILD_TARGET"] == "x86_64-pc-windows-gnu"
    args = python.pip_target_args()
    assert args[args.index("--platform") + 1] == "win_amd64"
    assert args[args.index("--python-version") + 1] == "3.13"
    assert {"cp313", "abi3", "none"} <= set(args)


def test_before_312_pyconfig_h_is_told_ms_win64_as_setuptools_tells_mingw(tmp_path):
    python = windows_python(tmp_path, pyconfig="#ifdef _MSC_VER\n#define MS_WIN64\n#endif\n")
    assert python.build_env()["CFLAGS"].endswith(" -DMS_WIN64")
    assert "-DMS_WIN64" not in windows_python(tmp_path, arch="i686",
                                              pyconfig="/* old */\n").build_env()["CFLAGS"]


def test_a_windows_cpython_that_cannot_run_here_says_why_and_never_runs(tmp_path):
    python = windows_python(tmp_path, arch="i686", runs=False)
    assert not python.runs
    assert python.not_run_reason == "no win32 Windows interpreter on this host"
    assert "not run here" in python.describe()
    with pytest.raises(InputError, match="cannot run here"):
        python.command()


def test_a_test_that_could_not_run_is_neither_a_failure_nor_a_pass():
    result = SmokeResult(wheel="x-1.0-cp313-cp313-win32.whl", python="Windows CPython 3.13",
                         passed=False, expected_openssl="3.0.22", runtime_probe=None,
                         runtime_version=None, embedded_versions={}, imported=[], seconds=0.0,
                         log="/tmp/log", not_run="no win32 Windows interpreter on this host")
    require_passed(result)  # no exception
    assert result.record()["passed"] is None  # no truthy stand-in for a pass
    assert result.record()["not_run"] == "no win32 Windows interpreter on this host"
    row = {"wheel": result.wheel, "smoked_on": [
        {"python": result.python, "seconds": 0.0, "passed": None,
         "not_run": "no win32 Windows interpreter on this host"}]}
    text = summary([row], SimpleNamespace(reused=True, pulled_from=None, version="3.0.22",
                                           prefix="/p"), "1s")
    assert "not run" in text and "passed" not in text.split("python", 1)[1]


def test_wine_sees_this_hosts_root_as_drive_z():
    assert to_windows_path(Path("/tmp/site")) == "Z:\\tmp\\site"


@pytest.mark.parametrize("tag,version,accepted", [
    ("cp311-abi3-win_amd64", (3, 13), True),
    ("cp311-abi3-win_amd64", (3, 8), False),
    ("cp313-cp313-win_amd64", (3, 13), True),
    ("cp313-cp313-win_amd64", (3, 12), False),
    ("cp313-cp313t-win_amd64", (3, 13), False),  # the free-threaded build's
    ("cp313-cp313-win32", (3, 13), False),  # another platform
    ("py3-none-win_amd64", (3, 8), True)])
def test_builder_smoke_picks_a_windows_cpython_the_wheels_tags_accept(tag, version, accepted):
    assert accepts(parse_tag(tag), version, "win_amd64") is accepted


def test_a_wheels_platform_is_read_from_its_tag():
    assert platform_of_wheel(Path("x-1.0-cp313-cp313-win_amd64.whl")) is WINDOWS
    assert platform_of_wheel(Path("x-1.0-cp38-abi3-win32.whl")) is WINDOWS
    assert platform_of_wheel(Path("x-1.0-cp313-cp313-manylinux_2_17_x86_64.whl")).name == "linux"


def pe_bytes():
    """The smallest bytes `is_pe` takes for a PE image: a DOS header pointing at `PE\\0\\0`."""
    head = bytearray(b"MZ" + b"\0" * 0x3E)
    head[0x3C:0x40] = (0x40).to_bytes(4, "little")
    return bytes(head) + b"PE\0\0" + b"\0" * 64


def test_an_abi3_module_named_by_the_linux_host_becomes_a_pyd(tmp_path):
    wheel = tmp_path / "x-1.0-cp38-abi3-win_amd64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("x.abi3.so", pe_bytes())
        archive.writestr("x-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: cp38-abi3-win_amd64\n")
        archive.writestr("x-1.0.dist-info/RECORD", "x.abi3.so,,\n")
    WINDOWS.finish_build(wheel, tmp_path, 315532800)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        record = archive.read("x-1.0.dist-info/RECORD").decode()
    assert "x.pyd" in names and "x.abi3.so" not in names
    assert "x.pyd,sha256=" in record and "abi3.so" not in record


def test_dlls_delvewheel_grafted_are_found(tmp_path):
    built, repaired = tmp_path / "built.whl", tmp_path / "repaired.whl"
    with zipfile.ZipFile(built, "w") as archive:
        archive.writestr("x/_x.pyd", b"MZ")
        archive.writestr("x/own.dll", b"MZ")
    with zipfile.ZipFile(repaired, "w") as archive:
        archive.writestr("x/_x.pyd", b"MZ")
        archive.writestr("x/own.dll", b"MZ")
        archive.writestr("x.libs/libcrypto-3-x64-0a1b2c.dll", b"MZ")
    assert grafted_dlls(built, repaired) == ["x.libs/libcrypto-3-x64-0a1b2c.dll"]
    assert grafted_dlls(built, built) == []


def test_without_wine_a_win_amd64_build_is_refused_up_front_naming_the_package(
        monkeypatch, x86_64_glibc_2_36_host):
    import builder.platforms.wine as wine
    monkeypatch.setattr(wine.shutil, "which", lambda name: None)
    with pytest.raises(InputError, match=r"needs wine.*apt-get install --no-install-recommends "
                                         r"wine64"):
        wine.find_wine()
    # win32 and win_arm64 wheels are not run here: they need no wine.
    import builder.platforms.windows as windows
    monkeypatch.setattr(windows, "require_tools", lambda names: None)
    with pytest.raises(InputError, match="needs wine"):
        WINDOWS.require_build_tools(resolve_target("win_amd64"))
    WINDOWS.require_build_tools(resolve_target("win32"))


def test_a_windows_wheel_holding_a_linux_binary_or_a_misnamed_module_is_refused(tmp_path):
    for member, data, said in [("x/_x.cpython-313-x86_64-linux-gnu.so", b"\x7fELF" + b"\0" * 60,
                                "is a Linux (ELF) binary"),
                               ("x/_x.cpython-313-x86_64-linux-gnu.so", pe_bytes(),
                                "is a Windows binary not named .pyd, .dll, .exe")]:
        wheel = tmp_path / "x-1.0-cp313-cp313-win_amd64.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(member, data)
        with pytest.raises(CheckFailed, match=re.escape(said)):
            WINDOWS.inspect_wheel(wheel)
