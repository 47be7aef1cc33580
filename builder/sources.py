"""Where OpenSSL's source tarballs come from, in which order, and the proof that the bytes
are right: the release table's size and sha256, and with --verify-signature OpenSSL's own
signature. Nothing is unpacked or cached before that proof holds."""

from __future__ import annotations

import dataclasses
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

from builder import progress, signatures
from builder.cache import Kind, Store
from builder.errors import InputError, VerificationError
from builder.fetch import (SMALL_FILE_LIMIT_BYTES, Expected, Fetched, cached_download,
                           download_first, mismatch, sha256_file)
from builder.releases import Release
from builder.signatures import GoodSignature



@dataclass(frozen=True)
class VerifiedTarball:
    """An OpenSSL source tarball whose bytes match the release table's size and sha256 (or, for an
    unlisted release, OpenSSL's signature): its path (in the cache, or the user's local file),
    where the bytes came from and whether the cache already held it."""

    release: Release
    path: Path
    origin: str  # the URL or local path the bytes came from
    reused: bool  # found already verified in the cache
    signature: Optional[GoodSignature] = None  # checked with --verify-signature


_OPENSSL_ADVICE = "pass --mirror URL or --openssl-source FILE"


def upstream_locations(release: Release) -> List[str]:
    """OpenSSL's own locations, in order: the source directory, its old/<series>/ directory,
    and the GitHub release asset (the tag is OpenSSL_1_1_1w style before 3.0)."""
    name = release.tarball_name
    if release.version.startswith("1."):
        tag = "OpenSSL_" + release.version.replace(".", "_")
    else:
        tag = f"openssl-{release.version}"
    return [
        f"https://www.openssl.org/source/{name}",
        f"https://www.openssl.org/source/old/{release.series.name}/{name}",
        f"https://github.com/openssl/openssl/releases/download/{tag}/{name}",
    ]


def mirror_bases(mirrors: Sequence[str] = ()) -> List[str]:
    """The openssl-mirror setting's URLs, in order, each warned of where it is plain HTTP
    to another host."""
    bases = [m.rstrip("/") for m in mirrors if m.strip()]
    for base in bases:
        if base.startswith("http://") and not _is_loopback(base):
            progress.warn(f"mirror {base} is plain HTTP: only the sha256 check (and "
                          f"--verify-signature) protects what it serves")
    return bases


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def locations(release: Release, cli_mirrors: Sequence[str] = (), *,
              upstream: bool = True) -> List[str]:
    """Upstream first (unless told not to), then the mirrors, in the order given: tarball URLs.
    Raises InputError when `upstream` is off and no mirror is given."""
    mirrors = [f"{base}/{release.tarball_name}" for base in mirror_bases(cli_mirrors)]
    if not upstream and not mirrors:
        raise InputError("--no-upstream needs a mirror: pass --mirror URL or set "
                         "$BUILDER_OPENSSL_MIRROR")
    return (upstream_locations(release) if upstream else []) + mirrors


def fetch_openssl(
    release: Release,
    cache: Path,
    *,
    mirrors: Sequence[str] = (),
    upstream: bool = True,
    local_source: Optional[Path] = None,
    verify_signature: bool = False,
) -> VerifiedTarball:
    """The release's tarball, verified: a local file, the cache, or the first good location;
    with `verify_signature` also by OpenSSL's signature. A release the table does not list
    (no sha256) is vouched for by its signature alone.

    Raises InputError for a missing local file (or --no-upstream without a mirror),
    VerificationError for wrong bytes or no good signature, BuilderError when no location
    could be reached."""
    store = Store(cache)
    urls = [] if local_source is not None else locations(release, mirrors, upstream=upstream)
    if not release.sha256:
        return _fetch_unlisted(release, store, urls, local_source)
    expected = Expected(sha256=release.sha256, size=release.size)
    if local_source is not None:
        tarball = _verified_local(release, local_source, expected)
    else:
        got = cached_download(store, release.tarball_name, urls, expected,
                              label=release.tarball_name, advice=_OPENSSL_ADVICE)
        tarball = VerifiedTarball(release, got.path, origin=got.origin, reused=got.reused)
    if verify_signature:
        signature = (_cached_signature(store, tarball.path, urls) if urls
                     else _signature_beside(tarball.path))
        tarball = dataclasses.replace(tarball, signature=signature)
    return tarball


def _signature_beside(tarball: Path) -> GoodSignature:
    beside = tarball.with_name(tarball.name + ".asc")
    if not beside.is_file():
        raise VerificationError(f"no signature {beside.name} beside {tarball}; put "
                                f"OpenSSL's .asc file there")
    return signatures.verify(tarball, beside)


def _cached_signature(store: Store, tarball: Path, urls: Sequence[str]) -> GoodSignature:
    """The `.asc` kept beside the cached tarball, else the first one at the tarball's
    locations that verifies; it is kept only then."""
    entry = store.materialize(Kind.DOWNLOADS, f"{tarball.name}.asc",
                              lambda temp: _download_signature(tarball, urls, temp))
    return signatures.verify(tarball, entry.path)


def _download_signature(tarball: Path, urls: Sequence[str], dest: Path) -> None:
    download_first([f"{url}.asc" for url in urls], dest,
                   Expected(sha256=None, gzip=False, limit=SMALL_FILE_LIMIT_BYTES),
                   label=f"{tarball.name}.asc", advice=_OPENSSL_ADVICE,
                   accept=lambda path: signatures.verify(tarball, path))


def _fetch_unlisted(release: Release, store: Store, urls: Sequence[str],
                    local_source: Optional[Path]) -> VerifiedTarball:
    """A release missing from the table: accepted only with OpenSSL's good signature, and
    nothing enters the cache before that signature verified."""
    if local_source is not None:
        path = _existing(local_source).resolve()
        got = Fetched(path, str(path), reused=False)
    else:
        got = _download_signed(store, release.tarball_name, urls)
    signature = _signature_beside(got.path)
    vouched = dataclasses.replace(release, sha256=sha256_file(got.path),
                                  size=got.path.stat().st_size)
    return VerifiedTarball(vouched, got.path, origin=got.origin, reused=got.reused,
                           signature=signature)


def _download_signed(store: Store, name: str, urls: Sequence[str]) -> Fetched:
    """The tarball `name` with its `.asc` beside it, published only once the signature
    fetched from the tarball's own location verified."""
    def keep_signature(temp: Path, origin: str) -> None:
        signature = temp.with_name(temp.name + ".asc")
        _download_signature(temp, [origin], signature)
        os.replace(signature, store.path(Kind.DOWNLOADS, f"{name}.asc"))

    return cached_download(store, name, urls, Expected(sha256=None), label=name,
                           advice=_OPENSSL_ADVICE, before_publish=keep_signature)


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise InputError(f"--openssl-source {path} does not exist or is not a file")
    return path


def _verified_local(release: Release, path: Path, expected: Expected) -> VerifiedTarball:
    problem = mismatch(_existing(path), expected)
    if problem is not None:
        raise VerificationError(f"{path}: {problem}")
    return VerifiedTarball(release, path.resolve(), origin=str(path.resolve()), reused=False)
