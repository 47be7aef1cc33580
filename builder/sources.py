"""Where source archives come from, in which order, and the proof that the bytes are right.

Nothing is unpacked or cached before its size, gzip magic and sha256 match what the release
table (or the package index) says."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Set, Tuple

import requests

from builder import __version__, progress, signatures
from builder.cache import locked, publishing
from builder.errors import BuilderError, InputError, VerificationError
from builder.releases import Release
from builder.signatures import GoodSignature

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 16
_TIMEOUT = (15, 60)  # connect, read


@dataclass(frozen=True)
class VerifiedTarball:
    release: Release
    path: Path
    origin: str  # the URL or local path the bytes came from
    reused: bool  # found already verified in the cache
    signature: Optional[GoodSignature] = None  # checked with --verify-signature


_OPENSSL_ADVICE = "pass --mirror URL or --openssl-source FILE"


@dataclass(frozen=True)
class Expected:
    """What a download must be: its sha256 (None: only a signature vouches for it), and its
    size where known."""

    sha256: Optional[str]
    size: Optional[int] = None
    gzip: bool = True


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
    """Upstream first (unless told not to), then the mirrors, in the order given."""
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
    (no sha256) is vouched for by its signature alone."""
    urls = [] if local_source is not None else locations(release, mirrors, upstream=upstream)
    if not release.sha256:
        return _fetch_unlisted(release, cache, urls, local_source)
    expected = Expected(sha256=release.sha256, size=release.size)
    if local_source is not None:
        tarball = _verified_local(release, local_source, expected)
    else:
        entry = cache / "downloads" / release.tarball_name
        origin, reused = cached_download(entry, urls, expected, label=release.tarball_name)
        tarball = VerifiedTarball(release, entry, origin=origin, reused=reused)
    if verify_signature:
        tarball = dataclasses.replace(tarball, signature=_signature_of(tarball.path, urls))
    return tarball


def _signature_of(tarball: Path, urls: Sequence[str]) -> GoodSignature:
    """Verify against the `.asc` beside the tarball (a local one, or cached), else fetch the
    first `.asc` from the tarball's locations that verifies; it is kept only then."""
    beside = tarball.with_name(tarball.name + ".asc")
    if beside.is_file() or not urls:
        if not beside.is_file():
            raise VerificationError(f"no signature {beside.name} beside {tarball}; put "
                                    f"OpenSSL's .asc file there")
        return signatures.verify(tarball, beside)
    failures = []
    for url in (f"{u}.asc" for u in urls):
        try:
            with publishing(beside, directory=False) as temp:
                temp.write_bytes(_small_download(url))
                return signatures.verify(tarball, temp)
        except (_Unavailable, VerificationError) as exc:
            failures.append(f"{url}: {exc}")
    raise VerificationError(f"no good signature for {tarball.name} ({'; '.join(failures)})")


def _fetch_unlisted(release: Release, cache: Path, urls: Sequence[str],
                    local_source: Optional[Path]) -> VerifiedTarball:
    """A release missing from the table: accepted only with OpenSSL's good signature, and
    nothing enters the cache before that signature verified."""
    if local_source is not None:
        if not local_source.is_file():
            raise InputError(f"--openssl-source {local_source} does not exist or is not a file")
        path, origin, reused = local_source.resolve(), str(local_source.resolve()), False
        signature = _signature_of(path, [])
    else:
        path = cache / "downloads" / release.tarball_name
        with locked(path):
            reused = path.is_file()
            if reused:
                signature = _signature_of(path, [])
                origin_note = path.with_name(path.name + ".origin")
                origin = origin_note.read_text().strip() if origin_note.is_file() else str(path)
            else:
                signature, origin = _download_signed(path, urls, release.tarball_name)
    vouched = dataclasses.replace(release, sha256=sha256_file(path), size=path.stat().st_size)
    return VerifiedTarball(vouched, path, origin=origin, reused=reused, signature=signature)


def _download_signed(dest: Path, urls: Sequence[str], label: str) -> Tuple[GoodSignature, str]:
    with tempfile.TemporaryDirectory(prefix=".unverified-", dir=dest.parent) as scratch:
        unverified = Path(scratch) / dest.name
        origin = download_first(urls, unverified, Expected(sha256=None), label=label)
        signature = _signature_of(unverified, [origin])
        os.replace(unverified.with_name(unverified.name + ".asc"),
                   dest.with_name(dest.name + ".asc"))
        os.replace(unverified, dest)
        dest.with_name(dest.name + ".origin").write_text(origin + "\n")
    return signature, origin


def cached_download(entry: Path, urls: Sequence[str], expected: Expected, *,
                    label: str, advice: str = _OPENSSL_ADVICE) -> Tuple[str, bool]:
    """The verified file at `entry`: already cached (checked again), or downloaded from the
    first good location. Returns where its bytes came from, and whether it was cached."""
    origin_note = entry.with_name(entry.name + ".origin")
    with locked(entry):
        if entry.exists():
            try:
                check_file(entry, expected, str(entry))
                origin = origin_note.read_text().strip() if origin_note.is_file() else str(entry)
                return origin, True
            except VerificationError:
                entry.unlink()  # damaged on disk since it was cached; fetch it again
        origin = download_first(urls, entry, expected, label=label, advice=advice)
        origin_note.write_text(origin + "\n")
    return origin, False


def _verified_local(release: Release, path: Path, expected: Expected) -> VerifiedTarball:
    if not path.is_file():
        raise InputError(f"--openssl-source {path} does not exist or is not a file")
    check_file(path, expected, str(path))
    return VerifiedTarball(release, path.resolve(), origin=str(path.resolve()), reused=False)


def download_first(urls: Iterable[str], dest: Path, expected: Expected, *, label: str,
                   advice: str = _OPENSSL_ADVICE) -> str:
    """Download from the first location that serves the expected bytes; return its URL.

    Each location is tried once. A source (scheme, host and port) that served wrong bytes is
    not asked again for its other locations: the next try goes to a different source.
    The file appears at `dest` only once verified.
    """
    failures = []
    mismatch = False
    distrusted: Set[str] = set()
    for url in urls:
        source = _source_of(url)
        if source in distrusted:
            failures.append(f"{url}: skipped, the same source served wrong bytes")
            continue
        try:
            with publishing(dest, directory=False) as temp:
                download(url, temp, expected, label=label)
            return url
        except VerificationError as exc:
            mismatch = True
            distrusted.add(source)
            failures.append(f"{url}: {exc.message}")
        except _Unavailable as exc:
            failures.append(f"{url}: {exc}")
    listing = "; ".join(failures)
    if mismatch:
        raise VerificationError(
            f"no location served the expected {label} (sha256 {expected.sha256}): {listing}"
        )
    raise BuilderError(
        f"could not download {label} from any location ({listing}); {advice}"
    )


def _source_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def fetch_text(url: str, *, advice: str) -> str:
    """A small text file (an index, a signed release file), refused with `advice`."""
    try:
        response = requests.get(url, timeout=_TIMEOUT,
                                headers={"User-Agent": f"builder/{__version__}"})
    except requests.RequestException as exc:
        raise BuilderError(f"could not fetch {url} ({_reason(exc)}); {advice}") from exc
    if response.status_code != 200:
        raise BuilderError(f"could not fetch {url} (HTTP {response.status_code}); {advice}")
    return response.text


def _small_download(url: str, limit: int = 1 << 20) -> bytes:
    """A small file (a signature) whose bytes are checked by other means."""
    try:
        response = requests.get(url, timeout=_TIMEOUT,
                                headers={"User-Agent": f"builder/{__version__}"})
    except requests.RequestException as exc:
        raise _Unavailable(_reason(exc)) from exc
    if response.status_code != 200:
        raise _Unavailable(f"HTTP {response.status_code}")
    if len(response.content) > limit:
        raise _Unavailable(f"larger than {limit} bytes")
    return response.content


class _Unavailable(Exception):
    """A location that could not be reached or did not have the file."""


def download(url: str, dest: Path, expected: Expected, *, label: str) -> None:
    """Stream `url` into `dest`, refusing it as soon as the bytes cannot be the right ones."""
    try:
        response = requests.get(url, stream=True, timeout=_TIMEOUT,
                                headers={"User-Agent": f"builder/{__version__}"})
    except requests.RequestException as exc:
        raise _Unavailable(_reason(exc)) from exc
    with response:
        if response.status_code != 200:
            raise _Unavailable(f"HTTP {response.status_code}")
        announced = response.headers.get("Content-Length")
        if expected.size is not None and announced and announced.isdigit() \
                and int(announced) != expected.size:
            raise VerificationError(
                f"size {announced} bytes announced, the release is {expected.size} bytes")
        digest = hashlib.sha256()
        meter = progress.ByteProgress(label, expected.size or _int_or_none(announced))
        count = 0
        try:
            with open(dest, "wb") as out:
                for chunk in response.iter_content(_CHUNK):
                    if count == 0 and expected.gzip and not chunk.startswith(GZIP_MAGIC):
                        raise VerificationError(_not_gzip(chunk))
                    count += len(chunk)
                    if expected.size is not None and count > expected.size:
                        raise VerificationError(
                            f"more than the release's {expected.size} bytes served")
                    digest.update(chunk)
                    out.write(chunk)
                    meter.update(len(chunk))
        except requests.RequestException as exc:
            raise _Unavailable(f"transfer broke after {count} bytes ({_reason(exc)})") from exc
        finally:
            meter.close()
    _check_digest(count, digest.hexdigest(), expected)


def check_file(path: Path, expected: Expected, where: str) -> None:
    """Verify a file already on disk the same way a download is verified."""
    with open(path, "rb") as data:
        head = data.read(len(GZIP_MAGIC))
    if expected.gzip and head != GZIP_MAGIC:
        raise VerificationError(f"{where}: {_not_gzip(head)}")
    try:
        _check_digest(path.stat().st_size, sha256_file(path), expected)
    except VerificationError as exc:
        raise VerificationError(f"{where}: {exc.message}") from exc


def _check_digest(size: int, sha256: str, expected: Expected) -> None:
    if expected.size is not None and size != expected.size:
        raise VerificationError(f"got {size} bytes, the release is {expected.size} bytes")
    if expected.sha256 is not None and sha256 != expected.sha256:
        raise VerificationError(f"sha256 mismatch: expected {expected.sha256}, got {sha256}")


def _not_gzip(head: bytes) -> str:
    if head.lstrip()[:1] == b"<":
        return "served an HTML page, not a gzip tarball"
    return "not a gzip file"


def _int_or_none(text: Optional[str]) -> Optional[int]:
    return int(text) if text and text.isdigit() else None


def _reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.exceptions.SSLError):
        # Never retried without verification: an internal CA is trusted explicitly.
        return ("its TLS certificate is not trusted; for a mirror with an internal CA set "
                "REQUESTS_CA_BUNDLE to that CA's certificate")
    if isinstance(exc, requests.ConnectionError):
        return "could not connect"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    return type(exc).__name__


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for chunk in iter(lambda: data.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
