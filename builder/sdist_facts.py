"""What an sdist's own files say before anything is built: whether it is an sdist at all,
whether it builds an extension module, whether that module uses OpenSSL, and whether it
reaches into the interpreter's own `ssl` objects. Read once, right after the sdist is had, so
that a package the builder cannot serve is refused (exit 2) before the OpenSSL build."""

from __future__ import annotations

import re
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import Iterator, List, Tuple

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from builder.errors import InputError

# Sources that become compiled code: C and C++, Cython, SWIG interfaces, Rust.
_COMPILED = (".c", ".h", ".cc", ".cpp", ".cxx", ".c++", ".hh", ".hpp", ".hxx", ".h++", ".ipp",
             ".inl", ".tcc", ".pyx", ".pxd", ".pxi", ".i", ".swg", ".rs")
# Python files can declare C code too (cffi builders: `#include <openssl/evp.h>` in a string).
_READ = _COMPILED + (".py", "Cargo.toml", "Cargo.lock", "/PKG-INFO")
_LARGEST_READ = 64 * 1024 * 1024  # bytes; generated C (Cython's) runs to tens of MB

# A source that includes an OpenSSL header (C, Cython's `cdef extern from`, SWIG, cffi), and
# a Cargo manifest or lock that names the openssl crates.
_INCLUDES_OPENSSL = re.compile(rb"""[<"]openssl/[A-Za-z0-9_]+\.h[>"]""")
_NAMES_OPENSSL_CRATE = re.compile(
    rb"""^\s*(?:openssl(?:-sys)?\s*=|name = "openssl(?:-sys)?"$"""
    rb"""|\[(?:[\w.-]+\.)?dependencies\.openssl(?:-sys)?\])""", re.M)
# A setup script that links the OpenSSL libraries by name (psycopg2's static libpq build),
# its list on one line or several.
_LINKS_OPENSSL = re.compile(
    rb"""libraries[^\]]{0,400}?['"](?:ssl|crypto)['"]|['"]-l(?:ssl|crypto)['"]""", re.S)
# CPython's `_ssl` object layouts, copied to take OpenSSL pointers out of `ssl` objects
# (sslkeylog, sslpsk), or `_ssl`'s types fetched to cast their instances.
_SSL_OBJECT_LAYOUT = re.compile(
    rb"\b(?:PySSLSocket|PySSLContext|PySSLSession|PySSLObject|PySSLMemoryBIO)\b"
    rb"|\"_SSL(?:Socket|Context|Session)\"")


@dataclass(frozen=True)
class SdistFacts:
    """What the scan found; paths are relative to the sdist's project directory."""

    compiled_sources: Tuple[str, ...]
    openssl_users: Tuple[str, ...]  # sources that include OpenSSL or depend on its crates
    ssl_object_users: Tuple[Tuple[str, int], ...]  # (source, line) copying `_ssl` layouts
    requires_dist: Tuple[str, ...]  # canonical names from PKG-INFO's Requires-Dist


def scan_sdist(path: Path) -> SdistFacts:
    """Read the sdist (tar.gz or zip) once and return what its files say (`SdistFacts`).
    Raises InputError when it is not an sdist (a wheel renamed, another archive, a file that
    is no archive, an encrypted or corrupt one)."""
    compiled: List[str] = []
    openssl: List[str] = []
    layouts: List[Tuple[str, int]] = []
    pkg_info = ""
    for name, data in _members(path):
        relative = name.split("/", 1)[1] if "/" in name else name
        if name.count("/") == 1 and name.endswith("/PKG-INFO"):
            pkg_info = data.decode("utf-8", "replace")
        base = relative.rsplit("/", 1)[-1]
        pattern = {"Cargo.toml": _NAMES_OPENSSL_CRATE, "Cargo.lock": _NAMES_OPENSSL_CRATE,
                   "setup.py": _LINKS_OPENSSL}.get(base)
        includes = _INCLUDES_OPENSSL.search(data) is not None
        if includes or (pattern is not None and pattern.search(data)):
            openssl.append(relative)
        # A Python file that declares C including OpenSSL is a cffi builder: compiled code.
        if relative.endswith(_COMPILED) or base == "Cargo.toml" or \
                (relative.endswith(".py") and includes):
            compiled.append(relative)
        if relative.endswith(_COMPILED):
            for match in _SSL_OBJECT_LAYOUT.finditer(data):
                layouts.append((relative, data.count(b"\n", 0, match.start()) + 1))
    if not pkg_info:
        raise InputError(f"{path.name} holds no NAME-VERSION/PKG-INFO: it is not an sdist; "
                         f"give an sdist, a source directory or a name on the package index")
    return SdistFacts(tuple(compiled), tuple(openssl), tuple(layouts), _requires_dist(pkg_info))


def _members(path: Path) -> Iterator[Tuple[str, bytes]]:
    """(name, bytes) of every file worth reading; InputError when the archive is unreadable."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                if any(n.count("/") == 1 and n.split("/")[0].endswith(".dist-info")
                       and n.endswith("/WHEEL") for n in names):
                    raise InputError(f"{path.name} is a wheel, not an sdist: a wheel is already "
                                     f"built (`builder smoke` tests one); give its sdist")
                for info in archive.infolist():
                    if info.filename.endswith(_READ) and info.file_size <= _LARGEST_READ:
                        yield info.filename, archive.read(info)
            return
        with tarfile.open(path) as archive:
            for member in archive:
                if member.isfile() and member.name.endswith(_READ) \
                        and member.size <= _LARGEST_READ:
                    yield member.name, archive.extractfile(member).read()  # type: ignore[union-attr]
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError,
            NotImplementedError, ValueError) as exc:  # encrypted or corrupt members too
        raise InputError(f"{path.name} cannot be read as an sdist (a .tar.gz or .zip "
                         f"archive): {exc}; give a real sdist") from exc


def _requires_dist(pkg_info: str) -> Tuple[str, ...]:
    names = []
    for line in HeaderParser().parsestr(pkg_info).get_all("Requires-Dist") or []:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is None or "extra" not in str(requirement.marker):
            names.append(str(canonicalize_name(requirement.name)))
    return tuple(names)


# Packages whose extension modules carry OpenSSL, by the builder's recipes: a pure-Python
# package that requires one uses that one's OpenSSL.
_OPENSSL_CARRIERS = ("cryptography", "m2crypto")


def refuse_what_cannot_carry_openssl(name: str, facts: SdistFacts) -> None:
    """Raise InputError for a package that cannot carry its own OpenSSL: one that builds no
    extension module, one whose compiled code never uses OpenSSL, and one that calls OpenSSL
    on the interpreter's own `ssl` objects (those belong to the interpreter's OpenSSL)."""
    if facts.ssl_object_users:
        where = ", ".join(list(dict.fromkeys(f"{source}:{line}"
                                             for source, line in facts.ssl_object_users))[:3])
        raise InputError(
            f"{name} takes OpenSSL objects out of the interpreter's own ssl module ({where}): "
            f"they belong to the interpreter's OpenSSL, and a second, static copy working on "
            f"them crashes; build {name} against the system's OpenSSL with pip")
    if not facts.compiled_sources:
        carrier = next((c for c in _OPENSSL_CARRIERS if c in facts.requires_dist), None)
        if carrier is not None:
            raise InputError(f"{name} is pure Python and uses the OpenSSL of {carrier}: build "
                             f"{carrier} with the builder and install {name} with pip")
        raise InputError(f"{name} builds no extension module (pure Python), so there is no "
                         f"OpenSSL to carry; install it with pip")
    if not facts.openssl_users:
        raise InputError(f"{name} does not use OpenSSL (no source includes an OpenSSL header "
                         f"or depends on the openssl crates); build it with pip")
