"""The Target: decided once from --plat and the host; every per-architecture fact from one
table."""

import pytest

from builder import target as target_module
from builder.architectures import ARCHITECTURES
from builder.errors import InputError
from builder.target import resolve_target


def test_no_plat_is_the_host_built_natively_by_its_own_compiler(x86_64_glibc_2_36_host):
    target = resolve_target(None)
    assert (target.arch.name, target.plat, target.cross, target.zig) == \
        ("x86_64", None, False, False)
    assert target.libc_version == (2, 36) and target.emulator == ()
    assert target.wheel_platform == "linux_x86_64"


def test_an_older_glibc_of_the_host_architecture_is_built_with_zig(x86_64_glibc_2_36_host):
    target = resolve_target("manylinux2014_x86_64")
    assert target.zig and not target.cross
    assert target.libc_version == (2, 17) and target.policy.name == "manylinux_2_17"
    assert target.wheel_platform == "manylinux2014_x86_64"


def test_the_hosts_own_glibc_or_the_plain_linux_tag_need_no_zig(x86_64_glibc_2_36_host):
    assert not resolve_target("manylinux_2_36_x86_64").zig
    plain = resolve_target("linux_x86_64")
    assert not plain.zig and plain.plat == "linux_x86_64"


def test_another_architecture_is_cross_built_and_run_under_its_emulator(x86_64_glibc_2_36_host):
    target = resolve_target("manylinux_2_28_aarch64")
    assert target.cross and target.zig
    assert target.emulator == ("qemu-aarch64-static", "qemu-aarch64")
    assert target.arch.rust_triple == "aarch64-unknown-linux-gnu"
    assert target.arch.openssl_target == "linux-aarch64"


@pytest.mark.parametrize("plat", ["musllinux_1_2_x86_64", "win_ia64", "macosx_11_0_ppc",
                                  "macosx_10_13_intel", "manylinux2014_ppc64le",
                                  "manylinux_2_17", "x86_64", ""])
def test_a_tag_this_host_cannot_build_is_refused_listing_what_it_can(x86_64_glibc_2_36_host,
                                                                    plat):
    with pytest.raises(InputError, match=r"not supported here; this x86_64 host builds "
                                         r"manylinux_2_5_x86_64 to manylinux_2_\d+_x86_64 and "
                                         r"manylinux_2_17_aarch64 to"):
        resolve_target(plat)


@pytest.mark.parametrize("plat,arch,machine,rust", [
    ("win_amd64", "x86_64", 0x8664, "x86_64-pc-windows-gnu"),
    ("win32", "i686", 0x14C, "i686-pc-windows-gnu"),
    ("win_arm64", "aarch64", 0xAA64, "aarch64-pc-windows-gnullvm")])
def test_windows_tags_are_cross_built_with_zig_for_the_tags_architecture(
        x86_64_glibc_2_36_host, plat, arch, machine, rust):
    target = resolve_target(plat)
    assert (target.os, target.arch.name, target.plat) == ("windows", arch, plat)
    assert target.cross and target.zig and target.policy is None
    assert target.arch.windows.pe_machine == machine
    assert target.rust_triple == rust


def test_the_refusal_lists_the_windows_and_macos_tags_too(x86_64_glibc_2_36_host):
    with pytest.raises(InputError, match=r", win_amd64, win_arm64, win32, and macosx_X_Y_arm64, "
                                         r"macosx_X_Y_x86_64, macosx_X_Y_universal2 \(X_Y from "
                                         r"10_13\)$"):
        resolve_target("win_ia64")


def test_an_aarch64_host_builds_only_aarch64(monkeypatch):
    monkeypatch.setattr(target_module, "host_arch", lambda: "aarch64")
    monkeypatch.setattr(target_module, "host_glibc", lambda: (2, 31))
    assert resolve_target("manylinux_2_17_aarch64").zig is True
    assert resolve_target("manylinux_2_31_aarch64").zig is False
    with pytest.raises(InputError, match="this aarch64 host builds manylinux_2_17_aarch64"):
        resolve_target("manylinux2014_x86_64")


def test_every_architecture_spells_the_cargo_linker_variable_from_its_rust_triple():
    assert ARCHITECTURES["x86_64"].cargo_linker_variable == \
        "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER"
    assert ARCHITECTURES["aarch64"].cargo_linker_variable == \
        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER"


@pytest.mark.parametrize("plat,arch,macos,triple", [
    ("macosx_11_0_arm64", "aarch64", (11, 0), "darwin64-arm64-cc"),
    ("macosx_14_0_arm64", "aarch64", (14, 0), "darwin64-arm64-cc"),
    ("macosx_10_13_x86_64", "x86_64", (10, 13), "darwin64-x86_64-cc")])
def test_macos_tags_are_cross_built_with_zig_for_the_tags_architecture_and_deployment_target(
        x86_64_glibc_2_36_host, plat, arch, macos, triple):
    target = resolve_target(plat)
    assert (target.os, target.arch.name, target.plat) == ("macos", arch, plat)
    assert target.libc_version == macos and target.cross and target.zig
    assert target.arch.macos.openssl_target == triple
    assert target.slices == (target,)


def test_universal2_is_built_from_one_slice_per_architecture_each_under_its_own_tag(
        x86_64_glibc_2_36_host):
    target = resolve_target("macosx_10_13_universal2")
    assert [(s.plat, s.arch.name, s.libc_version) for s in target.slices] == [
        ("macosx_11_0_arm64", "aarch64", (11, 0)),
        ("macosx_10_13_x86_64", "x86_64", (10, 13))]
    # arm64 never ran below macOS 11: the tag's 10.13 is the x86_64 slice's alone.
    assert target.macos.minos(target.slices[0].arch) == (11, 0)


@pytest.mark.parametrize("plat,why", [
    ("macosx_10_9_x86_64", "older than the oldest deployment target built here"),
    ("macosx_10_15_arm64", "never ran on arm64"),
    ("macosx_10_12_universal2", "older than the oldest deployment target"),
    ("macosx_12_3_arm64", "use macosx_12_0_arm64")])
def test_a_macos_tag_below_what_can_be_built_is_refused_with_the_tag_to_use(
        x86_64_glibc_2_36_host, plat, why):
    with pytest.raises(InputError, match=why):
        resolve_target(plat)


@pytest.mark.parametrize("plat, built_for", [
    ("manylinux_2_28_x86_64", "manylinux2014_x86_64"),
    ("manylinux_2_34_x86_64", "manylinux2014_x86_64"),
    ("manylinux_2_28_aarch64", "manylinux2014_aarch64"),
    ("manylinux2014_x86_64", "manylinux2014_x86_64")])
def test_every_manylinux_tag_shares_manylinux2014s_openssl_build(plat, built_for):
    from builder.target import openssl_target
    target = openssl_target(resolve_target(plat))
    assert (target.plat, target.libc_version, target.zig) == (built_for, (2, 17), True)
    assert target.arch == resolve_target(plat).arch


@pytest.mark.parametrize("plat", [None, "win_amd64", "macosx_11_0_arm64"])
def test_other_targets_build_their_own_openssl(plat):
    from builder.target import openssl_target
    assert openssl_target(resolve_target(plat)) == resolve_target(plat)


def test_an_architecture_manylinux2014_does_not_know_keeps_its_own_openssl_build():
    import dataclasses

    from builder.target import ARCHITECTURES, openssl_target
    riscv = dataclasses.replace(resolve_target("manylinux_2_28_x86_64"),
                                arch=ARCHITECTURES["riscv64"], plat="manylinux_2_31_riscv64",
                                libc_version=(2, 31))
    assert openssl_target(riscv) == riscv
