"""Wheels for another architecture (aarch64 on an x86_64 host) run under qemu user-mode
emulation, in Debian's CPython for that architecture unpacked into the builder's cache, never
installed over the host's packages."""

from __future__ import annotations

import io
import itertools
import json
import lzma
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from builder import progress
from builder.architectures import ARCHITECTURES, Architecture
from builder.cache import Kind, Store
from builder.errors import BuilderError, InputError, VerificationError
from builder.fetch import Expected, cached_download, fetch_text
from builder.interpreters import pip_target_args
from builder.runner import capture
from builder.settings import DEFAULT_DEBIAN_MIRROR
from builder.toolchain import first_on_path

SUITE = "bookworm"
PYTHON_VERSION = "3.11"  # bookworm's CPython
GLIBC = (2, 36)  # bookworm's: the emulated interpreter runs every manylinux_2_x up to it
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")


# The interpreter and what its ssl, hashlib, ctypes and headers need; nothing more.
PACKAGES = (
    "python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "libpython3.11-dev",
    "libc6", "libgcc-s1", "libssl3", "zlib1g", "libexpat1", "libffi8", "libbz2-1.0",
    "liblzma5", "libcrypt1", "libuuid1", "libsqlite3-0", "libncursesw6", "libtinfo6",
    "libreadline8", "libnsl2", "libtirpc3", "libdb5.3", "libgdbm6", "media-types",
)
_QEMU_ADVICE = ("install qemu-user-static (apt-get install qemu-user-static / dnf install "
                "qemu-user-static)")
_FETCH_ADVICE = ("set BUILDER_DEBIAN_MIRROR (or builder.toml's debian-mirror) to a reachable "
                 "Debian mirror")
_RECORD = "packages.json"


@dataclass(frozen=True)
class EmulatedPython:
    """Debian's CPython for `arch`, run through qemu with its own root as the library path."""

    arch: str
    root: Path
    qemu: str
    packages: Tuple[str, ...]  # name=version, for the provenance

    # -s -P: no user site-packages, no script directory on sys.path (what -I does, but -I
    # would also ignore PYTHONPATH, which is how the emulated interpreter finds the wheel).
    installed_flags = ("-s", "-P")
    runs = True  # qemu runs it on this host
    not_run_reason = ""

    def installed_env(self, site: Path, base: Dict[str, str]) -> Dict[str, str]:
        """The environment that runs the interpreter with `site` (a pip --target folder) on
        its path."""
        return {**base, "PYTHONPATH": str(site)}

    @property
    def executable(self) -> Path:
        """The interpreter's path inside the unpacked root (usr/bin/python3.11)."""
        return self.root / "usr" / "bin" / f"python{PYTHON_VERSION}"

    def command(self) -> List[str]:
        """The argv that runs the interpreter: qemu, with the root as its library path."""
        return [self.qemu, "-L", str(self.root), str(self.executable)]

    @property
    def version(self) -> Tuple[int, int]:
        """(major, minor) of Debian's CPython: (3, 11)."""
        major, minor = PYTHON_VERSION.split(".")
        return int(major), int(minor)

    @property
    def short_version(self) -> str:
        """`3.11`, the version of Debian's CPython."""
        return PYTHON_VERSION

    @property
    def ext_suffix(self) -> str:
        """The extension modules' file suffix for this interpreter: .cpython-311-<gnu triple>.so."""
        return f".cpython-{''.join(PYTHON_VERSION.split('.'))}-{self._facts.gnu_triple}.so"

    @property
    def platform(self) -> str:
        """The interpreter's sysconfig platform: `linux-<arch>`."""
        return f"linux-{self.arch}"

    def describe(self) -> str:
        """The interpreter for messages and the provenance record: Debian's CPython and its qemu."""
        return (f"Debian's {self.arch} CPython {PYTHON_VERSION} under "
                f"{Path(self.qemu).name}")

    def build_env(self) -> Dict[str, str]:
        """What a build on this host needs to make a wheel for this interpreter: its headers,
        platform tag and extension suffix (setuptools), its Rust target (setuptools-rust,
        maturin)."""
        # Debian's pyconfig.h includes <aarch64-linux-gnu/python3.11/pyconfig.h>: its root's
        # include directory is searched, but last, so no header there shadows the target's.
        includes = " ".join([*(f"-I{d}" for d in self.include_dirs),
                             f"-idirafter {self.root / 'usr' / 'include'}"])
        return {
            "_PYTHON_HOST_PLATFORM": self.platform,
            "SETUPTOOLS_EXT_SUFFIX": self.ext_suffix,
            "CFLAGS": includes,
            "CPPFLAGS": includes,
            "CARGO_BUILD_TARGET": str(self._facts.rust_triple),
            "PYO3_CROSS_LIB_DIR": str(self.root / "usr" / "lib" / f"python{PYTHON_VERSION}"),
        }

    def pip_target_args(self) -> List[str]:
        """pip options that choose wheels for this interpreter instead of the host's."""
        platforms = [f"manylinux_2_{minor}_{self.arch}" for minor in range(GLIBC[1], 16, -1)]
        return pip_target_args(self.version, platforms)

    @property
    def include_dirs(self) -> List[Path]:
        """Python.h first, then the architecture's own pyconfig.h (Debian's multiarch)."""
        return [self.root / "usr" / "include" / f"python{PYTHON_VERSION}",
                self.root / "usr" / "include" / str(self._facts.gnu_triple) /
                f"python{PYTHON_VERSION}"]

    @property
    def _facts(self) -> Architecture:
        return ARCHITECTURES[self.arch]


def find_qemu(arch: str) -> str:
    """The path of a qemu user-mode emulator for `arch`; raises InputError naming the package
    where none is on PATH."""
    names = ARCHITECTURES[arch].qemu if arch in ARCHITECTURES else ()
    found = first_on_path(names)
    if found:
        return found
    raise InputError(f"running {arch} wheels on this host needs qemu user-mode emulation "
                     f"({' or '.join(names or ('qemu',))} on PATH): {_QEMU_ADVICE}")


def emulated_python(arch: str, cache: Path, mirror: str = DEFAULT_DEBIAN_MIRROR
                    ) -> EmulatedPython:
    """Debian's CPython for `arch`, from `mirror` (the debian-mirror setting), unpacked into
    the cache on first use. Raises InputError where no emulator or Debian port serves `arch`,
    VerificationError or BuilderError where the mirror's files cannot be had or verified."""
    if arch not in ARCHITECTURES or ARCHITECTURES[arch].debian_arch is None:
        raise InputError(f"no emulated Python for {arch}; smoke-test on a {arch} host")
    qemu = find_qemu(arch)
    store = Store(cache)
    entry = store.materialize(
        Kind.TOOLS, f"debian-{SUITE}-{ARCHITECTURES[arch].debian_arch}-python{PYTHON_VERSION}",
        lambda temp: _unpack_debian_python(arch, store, mirror.rstrip("/"), temp),
        reuse=lambda path: (path / _RECORD).is_file())
    packages = tuple(json.loads((entry.path / _RECORD).read_text()))
    return EmulatedPython(arch, entry.path / "root", qemu, packages)


def _unpack_debian_python(arch: str, store: Store, mirror: str, temp: Path) -> None:
    with progress.stage(f"Debian's {arch} CPython {PYTHON_VERSION} for the smoke test"):
        index = _package_index(mirror, str(ARCHITECTURES[arch].debian_arch), store)
        chosen = []
        for name in PACKAGES:
            fields = index.get(name)
            if fields is None:
                raise BuilderError(f"{mirror} {SUITE} has no "
                                   f"{ARCHITECTURES[arch].debian_arch} package {name}")
            filename = Path(fields["Filename"]).name
            deb = cached_download(store, f"debian/{filename}", [f"{mirror}/{fields['Filename']}"],
                                  Expected(fields["SHA256"], int(fields["Size"]), gzip=False),
                                  label=filename, advice=_FETCH_ADVICE).path
            unpack_deb(deb, temp / "root")
            chosen.append(f"{name}={fields['Version']}")
        (temp / _RECORD).write_text(json.dumps(chosen, indent=1) + "\n")


def _package_index(mirror: str, debian_arch: str, store: Store) -> Dict[str, Dict[str, str]]:
    """The suite's package list, trusted through the signed InRelease file."""
    downloads = store.path(Kind.DOWNLOADS, "debian")
    downloads.mkdir(parents=True, exist_ok=True)
    release = fetch_text(f"{mirror}/dists/{SUITE}/InRelease", advice=_FETCH_ADVICE)
    _verify_signature(release, mirror, downloads)
    path = f"main/binary-{debian_arch}/Packages.xz"
    digests = {parts[2]: (parts[0], int(parts[1]))
               for parts in (line.split() for line in _section(release, "SHA256"))
               if len(parts) == 3}
    if path not in digests:
        raise BuilderError(f"{mirror} {SUITE} lists no {path}")
    sha256, size = digests[path]
    local = cached_download(store, f"debian/{SUITE}-{debian_arch}-Packages-{sha256[:16]}.xz",
                            [f"{mirror}/dists/{SUITE}/{path}"], Expected(sha256, size, gzip=False),
                            label=f"{SUITE} {debian_arch} Packages.xz", advice=_FETCH_ADVICE).path
    return parse_packages(lzma.decompress(local.read_bytes()).decode())


def _verify_signature(release: str, mirror: str, scratch: Path) -> None:
    gpgv = shutil.which("gpgv")
    if gpgv and KEYRING.is_file():
        with tempfile.NamedTemporaryFile("w", dir=scratch, suffix=".InRelease") as signed:
            signed.write(release)
            signed.flush()
            try:
                capture([gpgv, "--keyring", str(KEYRING), signed.name])
            except BuilderError as exc:
                raise VerificationError(f"{mirror}/dists/{SUITE}/InRelease does not carry a "
                                        f"good Debian archive signature") from exc
    elif mirror.startswith("https://"):
        progress.warn(f"no gpgv and Debian keyring here: {mirror}'s package index is trusted "
                      f"through TLS alone")
    else:
        raise InputError(f"{mirror} is not HTTPS and this host has no gpgv and Debian keyring "
                         f"to check its InRelease; use an https:// mirror")


def _section(release: str, name: str) -> List[str]:
    lines = release.splitlines()
    start = next((i for i, line in enumerate(lines) if line == f"{name}:"), None)
    if start is None:
        return []
    return list(itertools.takewhile(lambda line: line.startswith(" "), lines[start + 1:]))


def parse_packages(text: str) -> Dict[str, Dict[str, str]]:
    """A Debian Packages file: each package's fields by name (the first stanza wins)."""
    packages: Dict[str, Dict[str, str]] = {}
    for stanza in text.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line and not line[0].isspace() and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Package" in fields:
            packages.setdefault(fields["Package"], fields)
    return packages


def unpack_deb(deb: Path, dest: Path) -> None:
    """Extract a .deb's data archive (an `ar` archive holding data.tar.*) into `dest`."""
    try:
        member = _ar_member(deb.read_bytes(), "data.tar")
    except ValueError as exc:
        raise BuilderError(f"{deb.name} is not a readable Debian package ({exc})") from exc
    if member is None:
        raise BuilderError(f"{deb.name} has no data archive")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(member)) as archive:
            if hasattr(tarfile, "data_filter"):
                # Debian's absolute symlinks (/lib/...) are meant for the emulated root itself.
                archive.extractall(dest, filter="tar")
            else:
                archive.extractall(dest)
    except tarfile.FilterError:
        raise  # a member that would land outside the root: refused as such
    except (tarfile.TarError, lzma.LZMAError, EOFError) as exc:
        raise BuilderError(f"{deb.name} does not unpack ({exc})") from exc


def _ar_member(data: bytes, prefix: str) -> Optional[bytes]:
    if not data.startswith(b"!<arch>\n"):
        raise BuilderError("not a Debian package (no ar header)")
    offset = 8
    while offset + 60 <= len(data):
        header = data[offset:offset + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        if name.startswith(prefix):
            return data[offset + 60:offset + 60 + size]
        offset += 60 + size + (size & 1)
    return None
