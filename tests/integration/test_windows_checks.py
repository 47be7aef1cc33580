"""The static OpenSSL of a Windows build is proven to be of the wheel's machine type before any
extension links it: COFF objects assembled here with llvm-mc, read by llvm-readobj."""

import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from builder.errors import BuilderError, CheckFailed
from builder.openssl import archive_symbols
from builder.platforms.pe import WIN32_ERROR
from builder.platforms.windows import WINDOWS
from builder.target import resolve_target
from tests.conftest import run_builder

TRIPLES = {"x86_64": "x86_64-w64-windows-gnu", "i386": "i686-w64-windows-gnu",
           "aarch64": "aarch64-w64-windows-gnu", "elf-x86_64": "x86_64-linux-gnu"}


def static_openssl(folder: Path, arch: str, name: str = "f") -> SimpleNamespace:
    """A prefix whose lib/libcrypto.a and lib/libssl.a hold one COFF object of `arch` each,
    defining the global `name` (as the assembler spells it)."""
    for tool in ("llvm-mc", "llvm-ar", "llvm-readobj"):
        if shutil.which(tool) is None:
            pytest.fail(f"this test needs {tool}: apt-get install llvm")
    lib = folder / "lib"
    lib.mkdir(parents=True)
    (folder / "x.s").write_text(f"\t.text\n\t.globl\t{name}\n{name}:\n")
    subprocess.run(["llvm-mc", f"-triple={TRIPLES[arch]}", "-filetype=obj", str(folder / "x.s"),
                    "-o", str(folder / "x.o")], check=True)
    for name in ("libcrypto.a", "libssl.a"):
        subprocess.run(["llvm-ar", "rcs", str(lib / name), str(folder / "x.o")], check=True)
    return SimpleNamespace(lib_dir=lib)


@pytest.mark.parametrize("plat,arch", [("win_amd64", "x86_64"), ("win32", "i386"),
                                       ("win_arm64", "aarch64")])
def test_an_openssl_of_the_tags_machine_passes(tmp_path, plat, arch):
    WINDOWS.check_openssl(static_openssl(tmp_path, arch), resolve_target(plat))


@pytest.mark.parametrize("plat,arch,format", [("win_amd64", "i386", "COFF-i386"),
                                              ("win32", "x86_64", "COFF-x86-64"),
                                              ("win_amd64", "aarch64", "COFF-ARM64"),
                                              ("win_amd64", "elf-x86_64", "elf64-x86-64")])
def test_an_openssl_of_another_machine_or_format_is_refused_with_the_win32_error(
        tmp_path, plat, arch, format):
    with pytest.raises(CheckFailed) as refused:
        WINDOWS.check_openssl(static_openssl(tmp_path, arch), resolve_target(plat))
    assert f"holds {format} objects" in str(refused.value)
    assert WIN32_ERROR in str(refused.value)


def test_the_symbols_of_an_i386_openssl_are_read_without_coffs_leading_underscore(tmp_path):
    build = static_openssl(tmp_path, "i386", name="_EVP_sha256")
    assert archive_symbols(build.lib_dir, "llvm-nm", "_") == {"EVP_sha256"}


def test_an_nm_that_cannot_read_the_objects_is_refused_not_taken_for_no_symbols(tmp_path):
    build = static_openssl(tmp_path, "aarch64", name="EVP_sha256")
    assert archive_symbols(build.lib_dir, "llvm-nm") == {"EVP_sha256"}
    if shutil.which("nm") is None:
        pytest.fail("this test needs GNU nm: apt-get install binutils")
    with pytest.raises(BuilderError, match="lists no symbol"):
        archive_symbols(build.lib_dir, "nm")  # binutils reads no arm64 COFF


def test_an_openssl_build_for_win_arm64_before_4_0_is_refused_before_any_download(tmp_path):
    done = run_builder("openssl", "build", "3.5.7", "--plat", "win_arm64",
                       "--cache-dir", str(tmp_path / "cache"))
    assert done.returncode == 2, done.stderr[-2000:]
    assert "OpenSSL 3.5.7 has no mingw target for aarch64" in done.stderr
    assert not (tmp_path / "cache" / "downloads").exists()
