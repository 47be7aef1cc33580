"""Running wheels for another architecture: Debian's interpreter for it, under qemu."""

import io
import lzma
import tarfile
from pathlib import Path

import pytest

from builder.platforms.qemu import EmulatedPython, find_qemu, parse_packages, unpack_deb
from builder.errors import InputError

PACKAGES = """Package: libc6
Version: 2.36-9+deb12u14
Filename: pool/main/g/glibc/libc6_2.36-9+deb12u14_arm64.deb
Size: 2324660
SHA256: aa

Package: python3.11-minimal
Version: 3.11.2-6+deb12u8
Depends: libpython3.11-minimal (= 3.11.2-6+deb12u8),
 zlib1g (>= 1:1.2.0)
Filename: pool/main/p/python3.11/python3.11-minimal_3.11.2-6+deb12u8_arm64.deb
Size: 1861304
SHA256: bb

Package: libc6
Version: 2.36-9+deb12u13
Filename: pool/main/g/glibc/libc6_2.36-9+deb12u13_arm64.deb
"""


def test_packages_file_gives_each_package_its_fields_and_first_stanza_wins():
    packages = parse_packages(PACKAGES)
    assert packages["libc6"]["Version"] == "2.36-9+deb12u14"
    assert packages["python3.11-minimal"]["Filename"].endswith("_arm64.deb")
    assert packages["python3.11-minimal"]["Depends"].startswith("libpython3.11-minimal")


def make_deb(path, files, *, extra_member=None):
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:xz") as archive:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
    members = [(b"debian-binary", b"2.0\n"), (b"control.tar.xz", lzma.compress(b"")),
               (b"data.tar.xz", data.getvalue())]
    out = b"!<arch>\n"
    for name, body in members:
        out += name.ljust(16) + b"0".ljust(12) + b"0".ljust(6) + b"0".ljust(6) \
            + b"100644".ljust(8) + str(len(body)).encode().ljust(10) + b"`\n" + body
        out += b"\n" if len(body) % 2 else b""
    path.write_bytes(out)
    return path


def test_a_deb_unpacks_its_data_archive_only(tmp_path):
    deb = make_deb(tmp_path / "x.deb", {"./usr/bin/python3.11": b"\x7fELF",
                                        "./usr/lib/x.py": b"odd length"})
    unpack_deb(deb, tmp_path / "root")
    assert (tmp_path / "root" / "usr" / "bin" / "python3.11").read_bytes() == b"\x7fELF"
    assert (tmp_path / "root" / "usr" / "lib" / "x.py").read_bytes() == b"odd length"
    assert sorted(p.name for p in (tmp_path / "root").iterdir()) == ["usr"]


def test_a_deb_cannot_write_outside_its_root(tmp_path):
    deb = make_deb(tmp_path / "x.deb", {"../escaped": b"no"})
    with pytest.raises(tarfile.TarError):
        unpack_deb(deb, tmp_path / "root")
    assert not (tmp_path / "escaped").exists()


def test_missing_qemu_says_which_package_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InputError, match="install qemu-user-static"):
        find_qemu("aarch64")


def test_emulated_python_builds_for_its_own_suffix_platform_and_headers(tmp_path):
    python = EmulatedPython("aarch64", tmp_path / "root", "/usr/bin/qemu-aarch64-static", ())
    env = python.build_env()
    assert env["_PYTHON_HOST_PLATFORM"] == "linux-aarch64"
    assert env["SETUPTOOLS_EXT_SUFFIX"] == ".cpython-311-aarch64-linux-gnu.so"
    assert f"-I{tmp_path}/root/usr/include/aarch64-linux-gnu/python3.11" in env["CFLAGS"]
    assert env["CARGO_BUILD_TARGET"] == "aarch64-unknown-linux-gnu"
    assert python.command()[:3] == ["/usr/bin/qemu-aarch64-static", "-L", str(tmp_path / "root")]


def test_pip_installs_for_the_emulated_interpreter_every_manylinux_its_glibc_runs():
    args = EmulatedPython("aarch64", Path("/r"), "q", ()).pip_target_args()
    platforms = {args[i + 1] for i, a in enumerate(args) if a == "--platform"}
    assert {"manylinux_2_17_aarch64", "manylinux_2_28_aarch64", "manylinux_2_36_aarch64"} \
        <= platforms
    assert "manylinux_2_37_aarch64" not in platforms
    assert args[args.index("--abi") + 1] == "cp311"
