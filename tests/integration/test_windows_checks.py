"""The static OpenSSL of a Windows build is proven to be of the wheel's machine type before any
extension links it: COFF objects assembled here with llvm-mc, read by llvm-readobj."""

import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from builder.errors import CheckFailed
from builder.platforms.pe import WIN32_ERROR
from builder.platforms.windows import WINDOWS
from builder.target import resolve_target

TRIPLES = {"x86_64": "x86_64-w64-windows-gnu", "i386": "i686-w64-windows-gnu",
           "aarch64": "aarch64-w64-windows-gnu"}


def static_openssl(folder: Path, arch: str) -> SimpleNamespace:
    """A prefix whose lib/libcrypto.a and lib/libssl.a hold one COFF object of `arch` each."""
    for tool in ("llvm-mc", "llvm-ar", "llvm-readobj"):
        if shutil.which(tool) is None:
            pytest.fail(f"this test needs {tool}: apt-get install llvm")
    lib = folder / "lib"
    lib.mkdir(parents=True)
    (folder / "x.s").write_text("\t.text\n\t.globl\tf\nf:\n")
    subprocess.run(["llvm-mc", f"-triple={TRIPLES[arch]}", "-filetype=obj", str(folder / "x.s"),
                    "-o", str(folder / "x.o")], check=True)
    for name in ("libcrypto.a", "libssl.a"):
        subprocess.run(["llvm-ar", "rcs", str(lib / name), str(folder / "x.o")], check=True)
    return SimpleNamespace(lib_dir=lib)


@pytest.mark.parametrize("plat,arch", [("win_amd64", "x86_64"), ("win32", "i386"),
                                       ("win_arm64", "aarch64")])
def test_an_openssl_of_the_tags_machine_passes(tmp_path, plat, arch):
    WINDOWS.check_openssl(static_openssl(tmp_path, arch), resolve_target(plat))


@pytest.mark.parametrize("plat,arch", [("win_amd64", "i386"), ("win32", "x86_64"),
                                       ("win_amd64", "aarch64")])
def test_an_openssl_of_another_machine_is_refused_with_the_win32_error(tmp_path, plat, arch):
    with pytest.raises(CheckFailed) as refused:
        WINDOWS.check_openssl(static_openssl(tmp_path, arch), resolve_target(plat))
    assert f"holds {arch} objects" in str(refused.value)
    assert WIN32_ERROR in str(refused.value)
