"""Proof, from the linker itself, of which OpenSSL every binary of a built wheel holds.

Every extension build runs its compiler and linker through `cc_audit.py`, which keeps the
linker's trace (each archive member it took) and each compile's header list. From those this
module decides, before repair:

- every OpenSSL object in every binary came from the pinned archives (a second libcrypto.a
  named by the package, Debian's for example, is refused with the objects it gave);
- no compile read an OpenSSL header from outside the pinned prefix;
- which binaries use OpenSSL at all: those must carry exactly the pinned version text, the
  others carry no OpenSSL; a wheel none of whose binaries uses OpenSSL is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, FrozenSet, List, Mapping, Optional, Tuple

from builder import cc_audit
from builder.platforms.elf import wheel_binaries
from builder.architectures import Architecture
from builder.errors import CheckFailed, InputError
from builder.openssl import OpenSSLBuild
from builder.runner import call

_OPENSSL_HEADER = re.compile(r"(?:^|/)openssl/[^/]+\.h$")


@dataclass(frozen=True)
class LinkAudit:
    """What the wrappers recorded for one build: a directory of link-*.json and deps-*.d."""

    folder: Path

    def links(self) -> List[dict]:
        """Every link recorded: output, sha256, cwd, trace (the link map)."""
        return [json.loads(p.read_text()) for p in sorted(self.folder.glob("link-*.json"))]

    def headers(self) -> FrozenSet[str]:
        """Every header a compile of this build read, as an absolute path."""
        found = set()
        for path in self.folder.glob("deps-*.json"):
            record = json.loads(path.read_text())
            text = record["deps"].replace("\\\n", " ")
            for line in text.splitlines():
                _, _, needed = line.partition(": ")
                found.update(os.path.normpath(os.path.join(record["cwd"], t))
                             for t in needed.split() if t.endswith(".h"))
        return frozenset(found)


def compiler_env(scratch: Path, cc: str, arch: Architecture, audit: LinkAudit,
                 cxx: Optional[str] = None, link_map: bool = True) -> Dict[str, str]:
    """Write wrappers (`scratch/cc-audit/cc`, `c++`) for the C (and C++) compiler, each a
    command line such as `ccache gcc`, that record into `audit`; return the variables that
    make setuptools, the cc crate and rustc use them. Without `link_map` (Apple's linker
    knows no --print-map) links are recorded without their trace."""
    audit.folder.mkdir(parents=True, exist_ok=True)
    wrappers = scratch / "cc-audit"
    wrappers.mkdir(exist_ok=True)
    env = {}
    for name, real in (("cc", cc), ("c++", cxx)):
        if real is None:
            continue
        shim = wrappers / name
        words = shlex.split(real)
        command = json.dumps(words if link_map else {"command": words, "link_map": False})
        shim.write_text("#!/bin/sh\nexec " + " ".join(shlex.quote(str(a)) for a in (
            sys.executable, "-I", "-S", cc_audit.__file__, audit.folder, command)) + ' "$@"\n')
        shim.chmod(0o755)
    env["CC"] = str(wrappers / "cc")
    # Set, not derived by setuptools from the interpreter's LDSHARED, which for a Python built
    # with --enable-shared names its lib directory as -rpath: a build host's path in a wheel.
    env["LDSHARED"] = f"{wrappers / 'cc'} -shared"
    if cxx is not None:
        env["CXX"] = str(wrappers / "c++")
        env["LDCXXSHARED"] = f"{wrappers / 'c++'} -shared"
    env[arch.cargo_linker_variable] = str(wrappers / "cc")
    return env


def _pinned_archives(openssl: OpenSSLBuild) -> FrozenSet[str]:
    return frozenset(os.path.realpath(openssl.lib_dir / name)
                     for name in ("libcrypto.a", "libssl.a"))


def openssl_objects(link: dict) -> List[Tuple[str, str]]:
    """(archive, member) of every OpenSSL object one link took, archive paths resolved."""
    return [(os.path.realpath(os.path.join(link["cwd"], archive)), member)
            for archive, member in cc_audit.members(link["trace"])
            if cc_audit.is_openssl_object(archive, member)]


def foreign_inputs(link: dict, openssl: OpenSSLBuild,
                   same_bytes: Mapping[Tuple[str, str], bool] = {},
                   objects: Optional[List[Tuple[str, str]]] = None) -> List[str]:
    """Every OpenSSL object or library a link took from anywhere but the pinned archives.

    An object bundled into a Rust library (`.rlib`) is the pinned one when `same_bytes` says
    its bytes equal the pinned archive's member of that name. `objects`: the link's
    `openssl_objects`, where the caller has them already."""
    pinned = _pinned_archives(openssl)
    objects = openssl_objects(link) if objects is None else objects
    foreign = [f"{archive}({member})" for archive, member in objects
               if archive not in pinned and not same_bytes.get((archive, member))]
    foreign += [os.path.realpath(os.path.join(link["cwd"], path))
                for path in cc_audit.shared_openssl(link["trace"])]
    return foreign


def foreign_headers(headers: FrozenSet[str], openssl: OpenSSLBuild) -> List[str]:
    """The OpenSSL headers (`openssl/*.h`) among `headers` that are not the pinned prefix's,
    sorted."""
    include = os.path.realpath(openssl.include_dir) + os.sep
    return sorted(h for h in headers if _OPENSSL_HEADER.search(h)
                  and not os.path.realpath(h).startswith(include))


def prove(wheel: Path, audit: LinkAudit, openssl: OpenSSLBuild, scratch: Path,
          log: Path) -> Dict[str, bool]:
    """For each binary (ELF) in `wheel`, its path inside the wheel -> whether it links OpenSSL.

    Raises CheckFailed when a binary holds OpenSSL objects from elsewhere than the pinned
    archives, when a compile read another OpenSSL's headers, or when a binary was not linked
    by this build (nothing can prove what it holds); InputError when no binary uses OpenSSL;
    CommandFailed when `ar` cannot list an archive bundled into a Rust library.

    Objects are told OpenSSL's by their archive's or their own name (`cc_audit`): OpenSSL
    objects renamed and linked as plain files would not be seen here; the version-text and
    exported-symbol checks of every binary remain."""
    headers = foreign_headers(audit.headers(), openssl)
    if headers:
        raise CheckFailed(f"{wheel.name}: the build read OpenSSL headers from outside the "
                          f"pinned prefix ({', '.join(headers[:3])}): its sources find another "
                          f"OpenSSL's headers first (a copy beside them, or an include "
                          f"directory before the pinned one); remove those from its build so "
                          f"that only the pinned OpenSSL's headers are used")
    links = audit.links()
    by_digest = {link["sha256"]: link for link in links}
    uses: Dict[str, bool] = {}
    for member, data in wheel_binaries(wheel):
        link = by_digest.get(hashlib.sha256(data).hexdigest())
        if link is None:
            raise CheckFailed(f"{wheel.name}: no link of this build wrote {member} as it "
                              f"is (a prebuilt file in the sdist, or one changed after its "
                              f"link by strip or patchelf), so which OpenSSL it holds "
                              f"cannot be proven; build it from source, unchanged after "
                              f"its link")
        objects = openssl_objects(link)
        same = _bundled_members_match(objects, openssl, scratch, log)
        foreign = foreign_inputs(link, openssl, same, objects)
        if foreign:
            raise CheckFailed(
                f"{wheel.name}: {member} links OpenSSL from elsewhere than the pinned "
                f"build ({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}): "
                f"remove that library from the package's link (extra_objects, libraries, "
                f"-L) so that only the pinned OpenSSL is linked")
        uses[member] = bool(objects)
    if uses and not any(uses.values()):
        raise InputError(f"{wheel.name}: none of its binaries links OpenSSL, so the package "
                         f"does not use OpenSSL; build it with pip")
    return uses


def _bundled_members_match(objects: List[Tuple[str, str]], openssl: OpenSSLBuild,
                           scratch: Path, log: Path) -> Dict[Tuple[str, str], bool]:
    """For the OpenSSL objects (`openssl_objects`) a link took from a Rust library (rustc
    bundles a static library into the .rlib of the crate that links it): whether each has
    the bytes of the pinned member."""
    wanted = [(a, m) for a, m in objects if a.endswith(".rlib")]
    if not wanted:
        return {}
    pinned = {}
    for name in ("libcrypto.a", "libssl.a"):
        pinned.update(_member_digests(openssl.lib_dir / name, scratch, log))
    result = {}
    for rlib in sorted({a for a, _ in wanted}):
        bundled = _member_digests(Path(rlib), scratch, log)
        for archive, member in wanted:
            if archive == rlib:
                result[(archive, member)] = bundled.get(member) is not None \
                    and bundled.get(member) == pinned.get(member)
    return result


def _member_digests(archive: Path, scratch: Path, log: Path) -> Dict[str, str]:
    """sha256 of each member of an ar archive, extracted with `ar` into a fresh folder."""
    folder = scratch / "ar" / hashlib.sha256(str(archive).encode()).hexdigest()[:16]
    if not folder.is_dir():
        folder.mkdir(parents=True)
        call(["ar", "x", archive], cwd=folder, log=log, what=f"listing {archive.name}")
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
