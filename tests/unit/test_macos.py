"""The macOS rules as pure functions: a tag's architectures and deployment target, what each
slice of a Mach-O file may be, load and export; the pinned pyconfig.h files; the patches a
cross build applies; where a macOS wheel is sent."""

import struct
from pathlib import Path

import pytest

from builder.architectures import ARCHITECTURES, macos_plat, macos_tag
from builder.errors import InputError
from builder.platforms import platform_of_wheel
from builder.platforms.macho import (MachOFacts, MachOSlice, architecture_problems,
                                     export_problems, is_macho, library_problems,
                                     signature_problems)
from builder.platforms.macpython import PYCONFIGS, MacPython, pyconfig_for
from builder.recipes import recipe_for

ARM64, X86_64, I386 = 0x0100000C, 0x01000007, 7
LIBSYSTEM = "/usr/lib/libSystem.B.dylib"


def piece(cpu=ARM64, minos=(11, 0), dylibs=(LIBSYSTEM,), exported=frozenset({"PyInit_m"}),
          signed=True, undefined=frozenset({"PyModule_Create2"})) -> MachOSlice:
    return MachOSlice(cpu, minos, tuple(dylibs), frozenset(exported), frozenset(undefined),
                      signed, False)


def binary(*slices: MachOSlice, name="m.cpython-313-darwin.so") -> MachOFacts:
    return MachOFacts(name, tuple(dict.fromkeys(d for s in slices for d in s.dylibs)),
                      ("3.0.22",), frozenset(n for s in slices for n in s.exported), slices,
                      len(slices) > 1)


def test_tags_name_their_deployment_target_and_architectures():
    tag = macos_tag("macosx_10_13_universal2")
    assert tag.macos == (10, 13)
    assert [a.name for a in tag.arches] == ["aarch64", "x86_64"]
    assert macos_tag("macosx_11_0_arm64").arches == (ARCHITECTURES["aarch64"],)
    assert macos_tag("macosx_10_9_intel") is None and macos_tag("win_amd64") is None
    assert macos_plat((13, 4), "arm64") == "macosx_13_0_arm64"  # from 11 on, the major only
    assert macos_plat((10, 13), "x86_64") == "macosx_10_13_x86_64"


def test_a_slice_of_the_tags_architecture_within_its_minos_passes():
    assert architecture_problems([binary(piece())], macos_tag("macosx_11_0_arm64")) == []
    universal = binary(piece(), piece(X86_64, (10, 13)))
    # arm64 slices of a 10.13 universal2 wheel are for 11.0, the first macOS on arm64.
    assert architecture_problems([universal], macos_tag("macosx_10_13_universal2")) == []


@pytest.mark.parametrize("slices,plat,said", [
    ((piece(X86_64, (10, 13)),), "macosx_11_0_arm64",
     "holds x86_64 (minos 10.13), not arm64 as macosx_11_0_arm64 says"),
    ((piece(),), "macosx_10_13_universal2", "not arm64 + x86_64"),
    ((piece(), piece(X86_64, (10, 13)), piece(I386, (10, 13))), "macosx_10_13_universal2",
     "0x7"),
    ((piece(minos=(13, 0)),), "macosx_11_0_arm64", "needs a newer macOS than 11.0"),
    ((piece(), piece(X86_64, (10, 15))), "macosx_10_13_universal2",
     "x86_64 (minos 10.15) needs a newer macOS than 10.13"),
    ((piece(minos=None),), "macosx_11_0_arm64", "arm64 (minos none) needs a newer macOS")])
def test_a_slice_of_another_architecture_or_a_newer_macos_is_refused(slices, plat, said):
    [problem] = architecture_problems([binary(*slices)], macos_tag(plat))
    assert said in problem


def test_only_macos_own_libraries_may_be_loaded():
    system = binary(piece(dylibs=(LIBSYSTEM, "/usr/lib/libiconv.2.dylib",
                                  "/System/Library/Frameworks/Security.framework/Security")))
    assert library_problems([system]) == []
    for outside in ("/opt/homebrew/opt/openssl@3/lib/libssl.3.dylib", "/usr/local/lib/libz.dylib",
                    "@rpath/libcrypto.3.dylib", "@loader_path/.dylibs/libfoo.dylib"):
        [problem] = library_problems([binary(piece(dylibs=(LIBSYSTEM, outside)))])
        assert f"loads {outside}: a static wheel loads only macOS's own" in problem


def test_a_module_must_export_its_own_pyinit_and_may_export_its_own_functions():
    # scrypt's module exports its own functions: its Python code finds them with ctypes.
    own = {"PyInit_m", "exp_scryptenc_buf", "_mh_dylib_header"}
    assert export_problems([binary(piece(exported=own))]) == []
    # CPython 3.8's headers mark no visibility: compiled hidden, PyInit_m is not exported.
    [problem] = export_problems([binary(piece(exported={"exp_scryptenc_buf"}))])
    assert "m.cpython-313-darwin.so does not export PyInit_m: Python cannot import it" in problem
    library = binary(piece(exported={"foo"}), name="pkg/.dylibs/libfoo.dylib")
    assert export_problems([library]) == []  # not a module


def test_a_shared_openssl_is_refused_even_from_the_systems_own_folder():
    from builder.platforms.macos import MACOS
    from builder.repair import problems
    for path in ("/usr/lib/libcrypto.44.dylib", "@rpath/libssl.3.dylib",
                 "/opt/homebrew/opt/openssl@3/lib/libcrypto.3.dylib"):
        facts = binary(piece(dylibs=(LIBSYSTEM, path)))
        assert any(f"needs the shared {path}" in p for p in problems(MACOS, [facts], "3.0.22"))


def test_an_openssl_symbol_left_to_the_process_is_refused():
    from builder.platforms.macos import MACOS
    from builder.repair import problems
    lookup = binary(piece(undefined={"PyModule_Create2", "EVP_sha256"}))
    [problem] = problems(MACOS, [lookup], "3.0.22", frozenset({"EVP_sha256", "SHA256"}))
    assert "leaves 1 OpenSSL symbols undefined (EVP_sha256, ...)" in problem
    assert problems(MACOS, [binary(piece())], "3.0.22", frozenset({"EVP_sha256"})) == []


def test_a_wheel_of_several_macos_tags_needs_each_tags_slice_not_exactly_it():
    fat = binary(piece(), piece(X86_64, (10, 12)))
    for part in ("macosx_10_12_x86_64", "macosx_11_0_arm64", "macosx_10_12_universal2"):
        assert architecture_problems([fat], macos_tag(part), exact=False) == [], part
    # Under its single tag, a thin wheel must hold exactly that architecture.
    assert architecture_problems([fat], macos_tag("macosx_11_0_arm64"))
    [late] = architecture_problems([binary(piece(X86_64, (10, 15)))],
                                   macos_tag("macosx_10_12_x86_64"), exact=False)
    assert "needs a newer macOS than 10.12" in late


def test_an_unsigned_arm64_slice_is_refused_an_unsigned_x86_64_one_is_not():
    assert signature_problems([binary(piece(X86_64, (10, 13), signed=False))]) == []
    [problem] = signature_problems([binary(piece(signed=False))])
    assert "carries no code signature" in problem


def test_mach_o_files_are_known_by_their_magic_thin_fat_and_either_byte_order():
    assert is_macho(struct.pack("<I", 0xFEEDFACF) + b"\0" * 28)
    assert is_macho(struct.pack(">I", 0xCAFEBABE) + b"\0" * 28)
    assert not is_macho(b"\x7fELF" + b"\0" * 28) and not is_macho(b"MZ\0\0")


def test_macos_wheels_go_to_the_macos_platform():
    assert platform_of_wheel(Path("m-1.0-cp313-cp313-macosx_11_0_arm64.whl")).name == "macos"
    assert platform_of_wheel(Path("m-1.0-cp312-cp312-macosx_10_13_universal2.whl")).name \
        == "macos"


def test_every_pinned_pyconfig_names_its_cpython_and_wheel_of_the_same_minor_version():
    for (version, arch), pinned in PYCONFIGS.items():
        assert pinned.cpython.startswith(f"{version[0]}.{version[1]}.")
        assert f"-cp{version[0]}{version[1]}-" in pinned.wheel
        plat_arch = ARCHITECTURES[arch].macos.plat_arch
        assert pinned.wheel.endswith(f"_{plat_arch}.whl")
        assert len(pinned.sha256) == len(pinned.wheel_sha256) == 64


def test_a_version_without_a_pinned_pyconfig_is_refused_naming_those_pinned():
    with pytest.raises(InputError, match=r"no macOS CPython 3.13 pyconfig.h is pinned for "
                                         r"x86_64 \(pinned: 3.12, 3.11, 3.10, 3.9, 3.8\)"):
        pyconfig_for((3, 13), ARCHITECTURES["x86_64"])
    assert pyconfig_for((3, 13), ARCHITECTURES["aarch64"]).cpython == "3.13.11"


def test_a_thin_x86_64_target_names_its_architecture_as_the_tag_does():
    python = MacPython((3, 12), macos_tag("macosx_10_13_x86_64"), Path("/h/include"))
    assert python.build_env()["_PYTHON_HOST_PLATFORM"] == "macosx-10.13-x86_64"
    assert macos_tag("macosx_11_0_arm64\n") is None  # the whole text is the tag


def test_the_target_interpreter_names_the_tag_suffix_and_deployment_target():
    python = MacPython((3, 12), macos_tag("macosx_10_13_universal2"), Path("/h/include"))
    env = python.build_env()
    assert env["_PYTHON_HOST_PLATFORM"] == "macosx-10.13-universal2"
    assert env["SETUPTOOLS_EXT_SUFFIX"] == ".cpython-312-darwin.so"
    assert env["MACOSX_DEPLOYMENT_TARGET"] == "10.13"
    assert env["CFLAGS"] == "-I/h/include"
    assert not python.runs and python.not_run_reason == "macOS binaries cannot run on this host"
    assert python.pip_target_args()[:4] == ["--only-binary", ":all:", "--platform",
                                            "macosx_10_13_universal2"]


def test_a_cross_build_applies_the_patches_its_recipe_ships_for_that_os_and_version():
    scrypt = recipe_for("scrypt")
    [patch] = scrypt.patches_for("macos", "0.9.4")
    assert patch.name == "scrypt-0.9-target-platform.patch" and patch.is_file()
    assert scrypt.patches_for("macos", "0.10.0") == ()
    assert scrypt.patches_for("windows", "0.9.4") == (patch,)
    assert scrypt.patches_for("linux", "0.9.4") == ()
    assert recipe_for("m2crypto").patches_for("macos", "0.51.0") == ()
