"""The builder's own checks of every ELF in a wheel, on small real shared objects."""

import zipfile
from pathlib import Path

import pytest

from builder.errors import CheckFailed
from builder.policy import policy_for
from builder.platforms.elf import inspect_elf
from builder.platforms.linux import LINUX
from builder.repair import build_paths_in, check_no_build_paths, platform_tag, shared_openssl_loads


def facts(path):
    return inspect_elf(path.name, path.read_bytes())


def test_platform_tag_is_the_last_part_of_the_wheel_name(tmp_path):
    assert platform_tag(tmp_path / "scrypt-0.9.4-cp311-cp311-manylinux_2_34_x86_64.whl") == \
        "manylinux_2_34_x86_64"


def test_policies_come_from_auditwheel_with_their_aliases():
    assert policy_for("manylinux2014_x86_64").name == "manylinux_2_17"
    assert policy_for("manylinux_2_28_aarch64").arch == "aarch64"
    assert "2.28" in policy_for("manylinux_2_28_x86_64").allowed["GLIBC"]
    assert "2.29" not in policy_for("manylinux_2_28_x86_64").allowed["GLIBC"]
    assert policy_for("linux_x86_64") is None
    assert policy_for("manylinux2014_x86_64").glibc == "2.17"


def test_the_aarch64_policy_names_glibc_2_17_though_it_allows_some_2_18_symbols():
    policy = policy_for("manylinux2014_aarch64")
    assert policy.glibc == "2.17" and "2.18" in policy.allowed["GLIBC"]


def test_an_inferred_tag_older_than_asked_is_accepted():
    LINUX.check_tag_within("manylinux2014_aarch64.manylinux_2_17_aarch64", "manylinux_2_28_aarch64",
                     "w.whl")


@pytest.mark.parametrize("tag", ["manylinux_2_31_aarch64", "manylinux_2_17_x86_64"])
def test_an_inferred_tag_newer_than_asked_or_for_another_architecture_is_refused(tag):
    with pytest.raises(CheckFailed, match=f"tagged {tag}, which manylinux_2_28_aarch64 does "
                                          f"not cover"):
        LINUX.check_tag_within(tag, "manylinux_2_28_aarch64", "w.whl")


def wheel_of(tmp_path, files):
    wheel = tmp_path / "pkg-1.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


def test_python_code_that_loads_libssl_with_ctypes_is_refused(tmp_path):
    wheel = wheel_of(tmp_path, {"pkg/_native.py": "import ctypes.util\n"
                                "lib = ctypes.CDLL(ctypes.util.find_library('ssl'))\n"})
    [found] = shared_openssl_loads(LINUX, wheel)
    assert found.startswith("pkg/_native.py loads it with find_library('ssl")


def test_a_wheel_naming_a_build_host_directory_is_refused(tmp_path):
    cache = tmp_path / "cache-root-marker"
    wheel = tmp_path / "demo-1.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("demo/_ext.so", b"\0\0" + f"{cache}/openssl/include\0".encode())
        archive.writestr("demo/__init__.py", "PATH = '/opt/builder/openssl'\n")
    assert build_paths_in(wheel, [cache]) == [f"demo/_ext.so holds {cache}/"]
    with pytest.raises(CheckFailed, match="names directories of the build host"):
        check_no_build_paths(wheel, [tmp_path / "elsewhere", cache])
    # The fixed, documented OpenSSL prefix is no build host's path.
    check_no_build_paths(wheel, [tmp_path / "elsewhere"])


def test_a_directory_is_matched_whole_not_as_a_prefix_of_a_longer_name(tmp_path):
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("demo/data.txt", "/home/ann-other/file\n")
    assert build_paths_in(wheel, [Path("/home/ann")]) == []
