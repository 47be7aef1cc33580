"""On a Mac and on Windows the builder builds its own platform's wheels with the host's
compiler (Apple's clang, MSVC). Nothing here runs one; every decision of those paths is a
pure function, specified here. The workflow's macos and windows jobs run them for real."""

import json
import os
from pathlib import Path

import pytest

from builder import loadwatch, probe
from builder.architectures import ARCHITECTURES, macos_tag
from builder.errors import InputError
from builder.interpreters import Interpreter
from builder.link_proof import LinkAudit, compiler_env
from builder.openssl import (INSTALL_PREFIX, BashRecipe, BuildOptions, openssl_recipe,
                             static_archives, tools_needed)
from builder.platforms import macos as mac
from builder.platforms import msvc
from builder.platforms import windows as win
from builder.recipes import recipe_for
from builder.releases import Release
from builder.sources import VerifiedTarball
from builder.target import (host_os, host_target, machine_architecture, native_target,
                            require_supported_host, windows_interpreter_architecture)
from builder.toolchain import Toolchain

X64, X86, ARM64 = (ARCHITECTURES[n] for n in ("x86_64", "i686", "aarch64"))


@pytest.mark.parametrize("sys_platform, name", [
    ("linux", "linux"), ("darwin", "macos"), ("win32", "windows"), ("freebsd14", "freebsd14")])
def test_the_host_os_is_named_from_sys_platform(sys_platform, name):
    assert host_os(sys_platform) == name


def test_a_host_of_another_os_is_refused_naming_those_it_builds_on():
    for supported in ("linux", "darwin", "win32"):
        require_supported_host(supported)
    with pytest.raises(InputError, match="builds on Linux, macOS and Windows, not on cygwin"):
        require_supported_host("cygwin")


@pytest.mark.parametrize("machine, arch", [
    ("x86_64", "x86_64"), ("arm64", "aarch64"), ("aarch64", "aarch64"), ("AMD64", "x86_64"),
    ("ARM64", "aarch64"), ("x86", "i686")])
def test_each_os_spelling_of_a_machine_is_one_architecture(machine, arch):
    assert machine_architecture(machine).name == arch


# --- macOS -------------------------------------------------------------------------------

@pytest.mark.parametrize("machine, plat", [
    ("arm64", "macosx_11_0_arm64"), ("x86_64", "macosx_10_13_x86_64")])
def test_a_mac_builds_its_own_architecture_at_cibuildwheels_deployment_target(machine, plat):
    target = host_target("darwin", machine)
    assert (target.os, target.plat, target.zig, target.cross) == ("macos", plat, False, False)


def test_a_mac_builds_universal2_natively_and_each_slice_stays_native():
    target = native_target("macos", "macosx_10_13_universal2", "arm64")
    assert (target.zig, target.cross) == (False, False)
    assert [(s.plat, s.zig, s.cross) for s in target.slices] == [
        ("macosx_11_0_arm64", False, False), ("macosx_10_13_x86_64", False, False)]


@pytest.mark.parametrize("plat, words", [
    ("macosx_10_13_x86_64", "holds no arm64 slice"),  # nothing on this Mac would run it
    ("manylinux_2_28_x86_64", "not built on a Mac"),
    ("win_amd64", "not built on a Mac"),
    ("macosx_10_9_universal2", "older than the oldest deployment target"),
    ("macosx_11_3_arm64", "pip never installs"),
])
def test_a_mac_refuses_what_it_cannot_build_or_run(plat, words):
    with pytest.raises(InputError, match=words):
        native_target("macos", plat, "arm64")


def test_apple_clang_builds_for_the_tags_slices_and_deployment_target():
    universal = mac.apple_toolchain(macos_tag("macosx_10_13_universal2"), "cc",  # type: ignore
                                    "Apple clang version 15.0.0", "/llvm/objcopy", "/llvm/nm")
    tools = dict(universal.tools)
    assert tools["MACOSX_DEPLOYMENT_TARGET"] == "10.13"
    assert tools["ARCHFLAGS"] == "-arch arm64 -arch x86_64"
    assert tools["_PYTHON_HOST_PLATFORM"] == "macosx-10.13-universal2"
    # Each slice's deployment target keys the cache: arm64 never runs below 11.0.
    assert universal.triple == "arm64-apple-macos11.0 + x86_64-apple-macos10.13"
    assert universal.openssl_target is None  # each slice's OpenSSL is built on its own
    arm = mac.apple_toolchain(macos_tag("macosx_11_0_arm64"), "cc", "Apple clang", "o", "n")  # type: ignore
    assert (arm.openssl_target, arm.linker, arm.symbol_prefix, arm.link_map) == (
        "darwin64-arm64-cc", "apple", "_", False)
    # CPython's symbols come from the process; no debug map names the build's objects.
    assert arm.ldflags.split() == ["-Wl,-undefined,dynamic_lookup", "-Wl,-S"]


def test_apples_linker_keeps_every_openssl_global_out_of_a_modules_exports(tmp_path):
    flag = mac.unexported_symbols_flag({"EVP_sha256", "builder_ossl_x"}, tmp_path)
    listing = tmp_path / "openssl-unexported.txt"
    assert flag == f"-Wl,-unexported_symbols_list,{listing}"
    assert listing.read_text().split() == ["_EVP_sha256", "_builder_ossl_x"]
    platform = mac.MACOS
    build = type("Build", (), {"defined_symbols": lambda self: frozenset({"EVP_sha256"})})()
    apple = mac.apple_toolchain(macos_tag("macosx_11_0_arm64"), "cc", "clang", "o", "n")  # type: ignore
    assert platform.hide_openssl_flags(build, apple, tmp_path) == flag  # type: ignore[arg-type]
    zig_like = Toolchain(cc="zig-cc", identity="zig", triple="aarch64-macos.11.0")
    assert platform.hide_openssl_flags(build, zig_like, tmp_path) == ""  # type: ignore[arg-type]


def test_a_mac_builds_only_with_macos_interpreters():
    linux = Interpreter(Path("/usr/bin/python3"), (3, 12, 1), "cpython", "linux-x86_64")
    target = native_target("macos", None, "arm64")
    with pytest.raises(InputError, match="not a macOS one"):
        mac.check_native_interpreter(linux, target)
    mac.check_native_interpreter(
        Interpreter(Path("/usr/local/bin/python3"), (3, 12, 1), "cpython",
                    "macosx-10.13-universal2"), target)


def test_a_mac_links_without_gnu_link_maps_but_still_records_headers(tmp_path):
    env = compiler_env(tmp_path, "cc", ARM64, LinkAudit(tmp_path / "audit"), link_map=False)
    wrapper = Path(env["CC"]).read_text()
    assert json.dumps({"command": ["cc"], "link_map": False}) in wrapper.replace("'", "")
    (tmp_path / "gnu").mkdir()
    gnu = compiler_env(tmp_path / "gnu", "cc", X64, LinkAudit(tmp_path / "gnu-audit"))
    assert '["cc"]' in Path(gnu["CC"]).read_text()


@pytest.mark.parametrize("path", [
    "/opt/homebrew/Cellar/openssl@3/3.4.0/lib/libcrypto.3.dylib",
    "/Library/Frameworks/Python.framework/Versions/3.12/lib/libssl.3.dylib",
    "/usr/lib/libcrypto.dylib", "/x/site-packages/pkg/.dylibs/libcrypto.1.1.dylib"])
def test_a_loaded_dylib_of_openssl_is_seen(path):
    assert loadwatch.openssl_among([path, "/usr/lib/libSystem.B.dylib"]) == [path]


@pytest.mark.parametrize("magic", [b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe"])
def test_a_mach_o_file_counts_as_a_binary_for_the_probe(magic):
    assert probe.is_binary(magic + b"\0" * 60)
    assert not probe.is_binary(b"#!/bin/sh\n" + b"\0" * 60)


# --- Windows -----------------------------------------------------------------------------

@pytest.mark.parametrize("interpreter_platform, plat", [
    ("win-amd64", "win_amd64"), ("win32", "win32"), ("win-arm64", "win_arm64")])
def test_windows_builds_for_the_interpreters_architecture_never_the_machines(
        interpreter_platform, plat):
    target = host_target("win32", "AMD64", interpreter_platform)
    assert (target.os, target.plat, target.zig, target.cross) == ("windows", plat, False, False)


def test_windows_refuses_tags_of_other_systems_and_unknown_interpreters():
    with pytest.raises(InputError, match="not built on Windows"):
        native_target("windows", "manylinux2014_x86_64", "AMD64", "win-amd64")
    with pytest.raises(InputError, match="not the platform of a Windows CPython"):
        windows_interpreter_architecture("mingw_x86_64")
    assert native_target("windows", "win32", "AMD64", "win-amd64").arch == X86


def test_an_x86_interpreter_for_a_win_amd64_wheel_is_refused_with_the_win32_sentence():
    x86 = Interpreter(Path("C:/Python313-32/python.exe"), (3, 13, 1), "cpython", "win32")
    with pytest.raises(InputError) as refused:
        win.check_native_interpreter(x86, X64)
    assert "is not a valid Win32 application" in str(refused.value)
    assert "--plat win32" in str(refused.value)
    win.check_native_interpreter(x86, X86)


def test_msvc_installs_under_destdir_by_the_prefix_without_its_drive(tmp_path):
    # Under Program Files: only administrators may make the modules' folder OpenSSL names.
    assert msvc.MSVC_INSTALL_PREFIX.startswith("C:\\Program Files\\")
    assert msvc.installed_under(tmp_path / "dest") == \
        tmp_path / "dest" / "Program Files" / "builder" / "openssl"
    assert msvc.installed_under(tmp_path, r"D:\a\b") == tmp_path / "a" / "b"


def test_every_link_exe_link_takes_the_prefixs_libcrypto_what_it_needs_and_its_version_text():
    prefix = Path("C:/cache/openssl-3.0.22-abc")
    words = msvc.msvc_link_env(prefix, "", {})["LINK"].split()
    # By its path: a bare name is looked for in a setup.py's /LIBPATH before $LIB.
    assert words[0] == f'"{prefix / "lib" / "libcrypto.lib"}"'
    assert {"crypt32.lib", "ws2_32.lib", "advapi32.lib"} <= set(words)
    assert "/INCLUDE:OpenSSL_version" in words
    # i386 spells C names with `_`; the user's own options stay, last.
    assert msvc.msvc_link_env(prefix, "_", {"LINK": "/DEBUG"})["LINK"].endswith(
        "/INCLUDE:_OpenSSL_version /DEBUG")


def test_nmake_is_given_no_makeflags_it_cannot_read():
    from builder.build_env import parallelism_env
    assert parallelism_env(2, {}, nmake=True) == {"CMAKE_BUILD_PARALLEL_LEVEL": "2",
                                                  "CARGO_BUILD_JOBS": "2"}
    assert parallelism_env(2, {})["MAKEFLAGS"] == "-j2"


def test_a_windows_path_of_the_build_host_is_found_in_a_wheel_by_either_separator(tmp_path):
    import zipfile
    from builder.repair import build_paths_in
    wheel = tmp_path / "x-1-cp313-cp313-win_amd64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("x/_x.pyd", b"MZ... C:\\Users\\runneradmin\\AppData\\Local\\Temp\\b\\x.c")
    found = build_paths_in(wheel, [Path("C:\\Users\\runneradmin")])
    assert found == ["x/_x.pyd holds C:\\Users\\runneradmin\\"]


def test_cl_and_link_exe_find_the_static_prefix_before_the_prompts_and_the_packages_dirs():
    prefix = Path("C:/cache/openssl-3.0.22-abc")
    env = msvc.msvc_search_env(prefix, {"INCLUDE": "C:/VC/include", "LIB": "", "CL": "/W3"})
    assert env["INCLUDE"] == f"{prefix / 'include'};C:/VC/include"
    assert env["LIB"] == str(prefix / "lib")
    # cl reads $CL before its command line: before a setup.py's /I of another OpenSSL.
    assert env["CL"] == f'/I"{prefix / "include"}" /W3'


def test_the_powershell_recipe_is_asked_for_flags_and_installs_under_destdir():
    argv = msvc.ps1_command("pwsh", Path("C:/b/build_openssl.ps1"), "3.0.22",
                            msvc.MSVC_INSTALL_PREFIX, "a" * 64, Path("C:/t/openssl.tar.gz"),
                            "VC-WIN32", 2, destdir=Path("C:/s/dest"), workdir=Path("C:/s/src"))
    line = argv[-1]
    assert "-DestDir 'C:/s/dest'" in line.replace("\\", "/")
    assert "-WorkDir 'C:/s/src'" in line.replace("\\", "/")
    assert "-Prefix 'C:\\Program Files\\builder\\openssl'" in line and "-PrintFlags" not in line
    flags = msvc.ps1_command("pwsh", Path("b.ps1"), "3.0.22", msvc.MSVC_INSTALL_PREFIX, None,
                             Path("t.tar.gz"), "VC-WIN64A", 1, print_flags=True)
    assert flags[-1].split("; exit")[0].endswith("-PrintFlags")


def test_the_msvc_toolchain_spells_i386_names_with_an_underscore_and_links_with_link_exe():
    prompt = {"VCToolsVersion": "14.42.34433", "VSCMD_VER": "17.12.3", "VSCMD_ARG_TGT_ARCH": "x86"}
    toolchain = msvc.msvc_toolchain("i686", prompt)
    assert (toolchain.symbol_prefix, toolchain.linker) == ("_", "msvc")
    assert "make" not in tools_needed(toolchain, BuildOptions())  # nmake: the prompt's


TARBALL = VerifiedTarball(Release(version="3.0.22", sha256="0" * 64, size=None, series=None),
                          Path("/t/openssl-3.0.22.tar.gz"), origin="/t", reused=True)


def test_the_openssl_recipe_is_powershells_for_msvc_and_bashs_for_every_other_toolchain(
        tmp_path, monkeypatch):
    prompt = {"VCToolsVersion": "14.42.34433", "VSCMD_VER": "17.12.3", "VSCMD_ARG_TGT_ARCH": "x64"}
    ps1 = openssl_recipe(msvc.msvc_toolchain("x86_64", prompt))
    assert isinstance(ps1, msvc.PowerShellRecipe) and ps1.file() == msvc.ps1_recipe_path()
    assert "make" not in ps1.tools()
    gcc = Toolchain(cc="gcc", identity="gcc 12", triple="x86_64-linux-gnu")
    bash = openssl_recipe(gcc)
    assert isinstance(bash, BashRecipe) and bash.file().name == "build_openssl.sh"
    assert "make" in bash.tools()
    # Where each installs: DESTDIR holds the configured prefix (less its drive on Windows).
    assert msvc.installed_under(tmp_path) == tmp_path / "Program Files" / "builder" / "openssl"
    monkeypatch.setenv("PATH", str(tmp_path))  # no pwsh, no powershell
    with pytest.raises(InputError, match="install PowerShell 7"):
        ps1.build_command(TARBALL, BuildOptions(), msvc.msvc_toolchain("x86_64", prompt), 2,
                          tmp_path)
    command, installed = bash.build_command(TARBALL, BuildOptions(), gcc, 2, tmp_path)
    assert command[:2] == ["bash", str(bash.file())] and command[-1] == INSTALL_PREFIX
    assert installed == Path(f"{tmp_path}/dest{INSTALL_PREFIX}")


def test_the_static_archives_are_lib_files_where_msvc_installed_them(tmp_path):
    assert static_archives(tmp_path) == [tmp_path / "libcrypto.a", tmp_path / "libssl.a"]
    for name in ("libcrypto.lib", "libssl.lib"):
        (tmp_path / name).write_bytes(b"")
    assert static_archives(tmp_path) == [tmp_path / "libcrypto.lib", tmp_path / "libssl.lib"]


def test_scrypts_msvc_library_name_is_linked_for_native_windows_builds_only():
    scrypt = recipe_for("scrypt")
    native = native_target("windows", None, "AMD64", "win-amd64")
    assert ("libcrypto_static.lib", "lib/libcrypto.lib") in scrypt.links_for(native)
    cross = native.__class__(**{**native.__dict__, "zig": True, "cross": True})
    assert scrypt.links_for(cross) == ()
    assert recipe_for("m2crypto").links_for(native) == recipe_for("m2crypto").source_links


def test_a_copy_made_where_links_cannot_be_made_serves_the_next_build(tmp_path):
    from builder.source import _same_copy
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "libcrypto.lib").write_bytes(b"archive")
    (tmp_path / "copy.lib").write_bytes(b"archive")
    (tmp_path / "other.lib").write_bytes(b"another")
    assert _same_copy(tmp_path / "copy.lib", tmp_path / "lib" / "libcrypto.lib")
    assert not _same_copy(tmp_path / "other.lib", tmp_path / "lib" / "libcrypto.lib")
    import shutil
    shutil.copytree(tmp_path / "lib", tmp_path / "lib-copy")
    assert _same_copy(tmp_path / "lib-copy", tmp_path / "lib")
    (tmp_path / "lib-copy" / "extra.h").write_text("")
    assert not _same_copy(tmp_path / "lib-copy", tmp_path / "lib")


def test_a_running_process_is_alive_and_asking_never_ends_it():
    from builder.runner import process_alive
    assert process_alive(os.getpid())
    assert process_alive(os.getpid())  # still here: asked, not signalled
