"""macOS wheels built on this Linux host: cross-built with zig (arm64, x86_64 and universal2,
joined by llvm-lipo), repaired with delocate through LLVM's tools, checked with macholib;
nothing here runs a Mach-O file, so every record and summary says `not run` and the run ends
with exit 3."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from builder.cache import Store
from builder.errors import NOT_RUN_EXIT
from builder.platforms.macho import inspect_wheel
from builder.platforms.macpython import NOT_RUN
from builder.platforms.zig import zig
from builder.settings import DEFAULT_INDEX
from builder.target import resolve_target
from tests.conftest import FIXTURES, mirror_args, run_builder
from tests.e2e.conftest import wheels_in

pytestmark = pytest.mark.slow

ARM64, X86_64 = 0x0100000C, 0x01000007


def record_of(wheel: Path) -> dict:
    return json.loads(Path(f"{wheel}.provenance.json").read_text())


def macos_wheel(wheelhouse, plat: str, python: str):
    done, folder = wheelhouse("scrypt==0.9.4", "3.0.22", "--plat", plat, "--python", python)
    assert done.returncode == NOT_RUN_EXIT, done.stderr[-3000:]
    [wheel] = wheels_in(folder)
    return done, wheel


def test_scrypt_for_macos_arm64_passes_every_check_and_says_it_did_not_run(wheelhouse):
    done, wheel = macos_wheel(wheelhouse, "macosx_11_0_arm64", "3.13")
    assert wheel.name == "scrypt-0.9.4-cp313-cp313-macosx_11_0_arm64.whl"
    [module] = inspect_wheel(wheel)
    assert module.name == "_scrypt.cpython-313-darwin.so" and not module.fat
    [piece] = module.slices
    assert (piece.cpu_type, piece.minos, piece.signed) == (ARM64, (11, 0), True)
    assert module.needed == ("/usr/lib/libSystem.B.dylib",)
    # Its own functions stay exported (scrypt's Python code finds them with ctypes); none of
    # OpenSSL's leaves it.
    assert {"PyInit__scrypt", "exp_scryptenc_buf", "exp_scryptdec_buf"} <= module.exported
    assert not [n for n in module.exported if n.startswith(("OPENSSL_", "EVP_", "builder_",
                                                            "CRYPTO_", "SSL_", "ossl_"))]
    assert module.openssl_versions == ("3.0.22",)
    record = record_of(wheel)
    assert record["smoke"]["passed"] is None and record["smoke"]["not_run"] == NOT_RUN
    assert record["smoked_on"] == [{"python": record["smoke"]["python"], "passed": None,
                                    "seconds": 0.0, "runtime_version": None,
                                    "not_run": NOT_RUN}]
    checks = "\n".join(record["checks_passed"])
    assert "every binary holds arm64 (minos 11.0), as macosx_11_0_arm64 allows" in checks
    assert "none exports a symbol the static OpenSSL defines" in checks
    assert "every one that carries OpenSSL's version text carries exactly 3.0.22's" in checks
    # setup.py chose by the build host: the shipped patch is applied, and recorded.
    [patch] = record["sdist"]["patches"]
    assert patch["file"] == "scrypt-0.9-target-platform.patch"
    assert any("pyconfig.h of macOS CPython 3.13." in line
               for line in record["target_python"]["packages"])
    summary = done.stderr.split("wheel ")[-1]
    assert "not run" in summary and "passed" not in summary.split("\n", 1)[1]
    assert f"built and checked, not run: {NOT_RUN} (exit 3)" in done.stderr


def test_scrypt_for_macos_universal2_holds_both_slices_each_within_its_minos(wheelhouse):
    _, wheel = macos_wheel(wheelhouse, "macosx_10_13_universal2", "3.12")
    assert wheel.name == "scrypt-0.9.4-cp312-cp312-macosx_10_13_universal2.whl"
    [module] = inspect_wheel(wheel)
    assert module.fat
    assert sorted((s.cpu_type, s.minos) for s in module.slices) == [
        (X86_64, (10, 13)), (ARM64, (11, 0))]
    assert [s.signed for s in module.slices if s.cpu_type == ARM64] == [True]
    assert module.openssl_versions == ("3.0.22",)
    assert {"PyInit__scrypt", "exp_scryptenc_buf"} <= module.exported
    record = record_of(wheel)
    # One OpenSSL per architecture, joined: both builds' Configure targets are recorded.
    [arm64, x86_64] = record["openssl"]["configure_args"]
    assert arm64.startswith("aarch64-macos.11.0: darwin64-arm64-cc no-shared")
    assert x86_64.startswith("x86_64-macos.10.13: darwin64-x86_64-cc no-shared")
    assert record["smoke"]["not_run"] == NOT_RUN


def test_a_c_tree_for_macos_x86_64_is_tagged_and_built_for_x86_64(wheelhouse):
    done, folder = wheelhouse(str(FIXTURES / "sslfixture"), "3.0.22", "--plat",
                              "macosx_10_13_x86_64", "--python", "3.12")
    assert done.returncode == NOT_RUN_EXIT, done.stderr[-3000:]
    [wheel] = wheels_in(folder)
    assert wheel.name == "sslfixture-1.0-cp312-cp312-macosx_10_13_x86_64.whl"
    [module] = inspect_wheel(wheel)
    assert [(s.cpu_type, s.minos) for s in module.slices] == [(X86_64, (10, 13))]
    assert module.openssl_versions == ("3.0.22",)


def test_cryptography_is_refused_for_macos_up_front(session_cache, tmp_path):
    done = run_builder("wheel", "cryptography", "--openssl", "3.0.22", "--plat",
                       "macosx_11_0_arm64", "--cache-dir", str(session_cache), "--wheelhouse",
                       str(tmp_path / "w"))
    assert done.returncode == 2, done.stderr[-2000:]
    assert "natively on a Mac" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "w").exists()


def test_the_index_cryptography_macos_wheel_is_checked_and_reported_not_run(session_cache,
                                                                           tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "--only-binary", ":all:", "--platform", "macosx_11_0_arm64",
                    "--python-version", "3.11", "--implementation", "cp",
                    "cryptography==50.0.2", "-d", str(tmp_path)], check=True)
    [wheel] = tmp_path.glob("cryptography-50.0.2-cp311-abi3-macosx_11_0_arm64.whl")
    [rust] = [f for f in inspect_wheel(wheel) if f.name.endswith("_rust.abi3.so")]
    [version] = rust.openssl_versions
    done = run_builder("smoke", "--openssl", version, "--cache-dir", str(session_cache),
                       str(wheel))
    print(done.stdout, done.stderr)  # what it found, for the record of the run
    assert done.returncode == NOT_RUN_EXIT, done.stderr[-3000:]
    assert f"_rust.abi3.so: arm64 (minos 11.0); OpenSSL {version}" in done.stderr
    assert f"not run: {NOT_RUN} (exit 3)" in done.stderr
    assert "passed" not in done.stderr


# Crafted modules: each links the pinned static OpenSSL (universal2's, whose fat archives
# serve either architecture) for its version text, built with the builder's own zig for
# macOS, put alone in a wheel tagged macosx_11_0_arm64.
GOOD = """#include <openssl/crypto.h>
__attribute__((visibility("default"))) const char *PyInit_m(void) {
    return OpenSSL_version(OPENSSL_VERSION); }
"""
# CPython 3.8's PyMODINIT_FUNC marks no visibility: compiled hidden, PyInit_m is not exported.
HIDDEN_PYINIT = """#include <openssl/crypto.h>
const char *PyInit_m(void) { return OpenSSL_version(OPENSSL_VERSION); }
"""


def crafted_wheel(folder: Path, session_cache: Path, openssl: Path, zig_target: str,
                  source: str = GOOD, libraries: tuple = ()) -> Path:
    toolchain = zig(Store(session_cache), DEFAULT_INDEX, resolve_target(zig_target))
    (folder / "m.c").write_text(source)
    module = folder / "m.cpython-313-darwin.so"
    # -u _OpenSSL_version: the version text in every module, as the builder links them.
    subprocess.run([toolchain.cc, "-O2", "-shared", "-Wl,-undefined,dynamic_lookup",
                    "-Wl,-u,_OpenSSL_version",
                    f"-I{openssl}/include", str(folder / "m.c"), f"-L{openssl}/lib",
                    *libraries, "-lcrypto", "-o", str(module)], check=True,
                   env={"PATH": "/usr/bin:/bin", **dict(toolchain.tools)})
    wheel = folder / "m-1.0-cp313-cp313-macosx_11_0_arm64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.write(module, module.name)
        archive.writestr("m-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"
                                                  "Tag: cp313-cp313-macosx_11_0_arm64\n")
        archive.writestr("m-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: m\n"
                                                     "Version: 1.0\n")
        archive.writestr("m-1.0.dist-info/RECORD", "")
    return wheel


@pytest.fixture
def universal_openssl(wheelhouse, session_cache) -> Path:
    macos_wheel(wheelhouse, "macosx_10_13_universal2", "3.12")  # builds (or reuses) it
    [prefix] = [p for p in (session_cache / "openssl").glob("openssl-3.0.22-*")
                if json.loads((p / "build.json").read_text())["key"]["target"]
                == "aarch64-macos.11.0 + x86_64-macos.10.13"]
    return prefix


def a_library(folder: Path, session_cache: Path, install_name: str) -> str:
    """A dylib whose install name is `install_name` (a Homebrew path): what a module linked
    against a library outside macOS loads."""
    toolchain = zig(Store(session_cache), DEFAULT_INDEX, resolve_target("macosx_11_0_arm64"))
    (folder / "foo.c").write_text("int foo(void) { return 1; }\n")
    subprocess.run([toolchain.cc, "-shared", f"-Wl,-install_name,{install_name}",
                    str(folder / "foo.c"), "-o", str(folder / "libfoo.dylib")], check=True,
                   env={"PATH": "/usr/bin:/bin", **dict(toolchain.tools)})
    return f"-L{folder}"


@pytest.mark.parametrize("case,zig_target,said", [
    ("control", "macosx_11_0_arm64", None),
    ("wrong arch", "macosx_10_13_x86_64",
     "holds x86_64 (minos 10.13), not arm64 as macosx_11_0_arm64 says"),
    ("newer minos", "macosx_13_0_arm64", "needs a newer macOS than 11.0"),
    ("extra dylib", "macosx_11_0_arm64",
     "loads /opt/homebrew/lib/libfoo.1.dylib: a static wheel loads only macOS's own"),
    ("hidden PyInit", "macosx_11_0_arm64",
     "m.cpython-313-darwin.so does not export PyInit_m: Python cannot import it")])
def test_a_crafted_macos_wheel_is_refused_for_what_breaks_the_rules(
        session_cache, universal_openssl, tmp_path, case, zig_target, said):
    libraries: tuple = ()
    if case == "extra dylib":
        libraries = (a_library(tmp_path, session_cache, "/opt/homebrew/lib/libfoo.1.dylib"),
                     "-lfoo")
    source = HIDDEN_PYINIT if case == "hidden PyInit" else GOOD
    flags = ("-fvisibility=hidden",) if case == "hidden PyInit" else ()
    wheel = crafted_wheel(tmp_path, session_cache, universal_openssl, zig_target, source,
                          (*flags, *libraries))
    done = run_builder("smoke", "--openssl", "3.0.22", "--cache-dir", str(session_cache),
                       str(wheel))
    assert "Traceback" not in done.stderr
    if said is None:
        assert done.returncode == NOT_RUN_EXIT, done.stderr[-2000:]
        assert "m.cpython-313-darwin.so: arm64 (minos 11.0); OpenSSL 3.0.22" in done.stderr
        return
    assert done.returncode == 1, done.stderr[-2000:]
    assert said in done.stderr


def test_a_module_that_exports_an_openssl_symbol_is_refused_before_repair(
        wheelhouse, session_cache, openssl_mirror, tmp_path):
    """A package whose own code defines (and exports) one of OpenSSL's names: the build's own
    symbol list finds it."""
    macos_wheel(wheelhouse, "macosx_11_0_arm64", "3.13")  # its OpenSSL, built once
    tree = tmp_path / "exports_openssl"
    tree.mkdir()
    (tree / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "exports_openssl"\nversion = "1.0"\n')
    (tree / "setup.py").write_text(
        "from setuptools import Extension, setup\n"
        "setup(ext_modules=[Extension('m', ['m.c'], libraries=['crypto'])])\n")
    (tree / "m.c").write_text(GOOD + '__attribute__((visibility("default"))) '
                                     "void OPENSSL_init(void) { }\n")
    done = run_builder("wheel", str(tree), "--openssl", "3.0.22", "--plat", "macosx_11_0_arm64",
                       "--python", "3.13", *mirror_args(openssl_mirror), "--cache-dir",
                       str(session_cache), "--wheelhouse", str(tmp_path / "w"))
    assert done.returncode == 1, done.stderr[-2000:]
    assert "exports 1 OpenSSL symbols (OPENSSL_init" in done.stderr
    assert not wheels_in(tmp_path / "w")
