"""Verified downloads over HTTP(S), for whatever the builder fetches: OpenSSL's tarballs and
signatures, zig's wheel, Debian's packages, sdists and index pages.

The rules: one shared session (one User-Agent, connections reused); bytes are checked while
they arrive (gzip magic, size) and as a whole (sha256) before anything appears at its
destination; locations are tried in order, a source that served wrong bytes is not asked
again, and a transfer broken midway continues at the next location where that server answers
a Range request (206), else starts over. Every public function that can fail takes `advice`:
what the user should do, said at the end of the error."""

from __future__ import annotations

import hashlib
import os
import re
import urllib.parse
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, List, Optional, Set

import requests
import urllib3
from remotezip import RemoteZip, RemoteZipError

from builder import __version__, progress
from builder.cache import Kind, Store, temp_sibling
from builder.errors import BuilderError, VerificationError

USER_AGENT = f"builder/{__version__}"
CONNECT_TIMEOUT_SECONDS = 15
READ_TIMEOUT_SECONDS = 60
SMALL_FILE_LIMIT_BYTES = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 16
_TIMEOUT = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)

_SESSION = requests.Session()
_SESSION.headers["User-Agent"] = USER_AGENT


def session() -> requests.Session:
    """The one HTTP session every download shares; adapters mounted on it serve its URLs."""
    return _SESSION


@dataclass(frozen=True)
class Expected:
    """What a download must be: its sha256 (None: something else vouches for it, such as a
    signature), its size in bytes where known, whether it starts with gzip's magic, and at
    most how many bytes may come where the size is not known."""

    sha256: Optional[str]
    size: Optional[int] = None
    gzip: bool = True
    limit: Optional[int] = None


@dataclass(frozen=True)
class Fetched:
    """A verified file in the store: where it is, the URL its bytes came from, and whether it
    was already there."""

    path: Path
    origin: str
    reused: bool


@dataclass(frozen=True)
class Page:
    """A small text answer (an index page, a release file) and its Content-Type."""

    text: str
    content_type: str


class NotFound(BuilderError):
    """The server answered HTTP 404: the file is not there."""


class _Unavailable(Exception):
    """A location that could not be reached, did not have the file, or broke off the
    transfer; what arrived before a break is kept for the next location to continue."""


def cached_download(store: Store, name: str, urls: Iterable[str], expected: Expected, *,
                    label: str, advice: str, kind: Kind = Kind.DOWNLOADS,
                    before_publish: Optional[Callable[[Path, str], object]] = None) -> Fetched:
    """The verified file `name` of the store's `kind` of files: already there (checked again; a
    damaged one is fetched anew) or downloaded from the first good location. `urls` is
    iterated only when a download is needed. `before_publish(path, origin)` may check the
    downloaded file further before it enters the store; what it raises refuses the file.
    Raises what `download_first` and `before_publish` raise."""
    note = store.path(kind, f"{name}.origin")

    def make(temp: Path) -> None:
        origin = download_first(urls, temp, expected, label=label, advice=advice)
        if before_publish is not None:
            before_publish(temp, origin)
        note.write_text(origin + "\n")

    entry = store.materialize(kind, name, make,
                              reuse=lambda path: mismatch(path, expected) is None)
    origin = note.read_text().strip() if note.is_file() else str(entry.path)
    return Fetched(entry.path, origin, entry.reused)


def download_first(urls: Iterable[str], dest: Path, expected: Expected, *, label: str,
                   advice: str, accept: Optional[Callable[[Path], object]] = None) -> str:
    """Download from the first location that serves the expected bytes; return its URL.

    `accept(path)`, when given, checks the complete bytes further and raises
    VerificationError to refuse them (a signature that does not verify). A source (scheme,
    host and port) that served wrong bytes is not asked again for its other locations. The
    file appears at `dest` only once verified; nothing is left behind on failure.
    Raises VerificationError when some location served wrong bytes, else BuilderError; both
    list every location with what went wrong there, and end with `advice`."""
    failures: List[str] = []
    distrusted: Set[str] = set()
    temp = temp_sibling(dest, directory=False)
    try:
        for url in urls:
            source = _source_of(url)
            if source in distrusted:
                failures.append(f"{url}: skipped, the same source served wrong bytes")
                continue
            try:
                _fetch_into(url, temp, expected, label)
                if accept is not None:
                    accept(temp)
                os.replace(temp, dest)
                return url
            except VerificationError as exc:
                distrusted.add(source)
                failures.append(f"{url}: {exc.message}")
                temp.write_bytes(b"")
            except _Unavailable as exc:
                failures.append(f"{url}: {exc}")
    finally:
        temp.unlink(missing_ok=True)
    raise _failure(label, expected, failures, bool(distrusted), advice)


def _failure(label: str, expected: Expected, failures: List[str], mismatch: bool,
             advice: str) -> BuilderError:
    listing = "; ".join(failures)
    if mismatch:
        wanted = f" (sha256 {expected.sha256})" if expected.sha256 else ""
        return VerificationError(f"no location served the expected {label}{wanted}: "
                                 f"{listing}; {advice}")
    return BuilderError(f"could not download {label} from any location ({listing}); {advice}")


def _source_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _fetch_into(url: str, temp: Path, expected: Expected, label: str) -> None:
    """Complete `temp` from `url`, continuing what an earlier location broke off. A whole
    made of two sources that does not verify is fetched once more from this one alone."""
    offset = temp.stat().st_size
    try:
        _transfer(url, temp, expected, offset, label)
    except VerificationError:
        if offset == 0:
            raise
        temp.write_bytes(b"")  # the earlier source's part may be the wrong one
        _transfer(url, temp, expected, 0, label)


def _transfer(url: str, temp: Path, expected: Expected, offset: int, label: str) -> None:
    """Fetch `url` into `temp` from byte `offset` (a Range request), or whole where the
    server answers 200; then check the whole file."""
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        response = _SESSION.get(url, stream=True, timeout=_TIMEOUT, headers=headers)
    except requests.RequestException as exc:
        raise _Unavailable(_reason(exc)) from exc
    with response:
        start = _start_of(response, offset)
        _check_announced(response, start, expected)
        _stream(response, temp, start, expected, label)
    _check_whole(temp, expected)


def _start_of(response: requests.Response, offset: int) -> int:
    """Where the answer's bytes go: 0 for a whole file, `offset` for the range asked for."""
    if response.status_code == 200:
        return 0
    if response.status_code == 206 and offset:
        found = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
        if found and int(found.group(1)) == offset:
            return offset
        raise _Unavailable("answered with a range that was not asked for")
    raise _Unavailable(f"HTTP {response.status_code}")


def _check_announced(response: requests.Response, start: int, expected: Expected) -> None:
    announced = response.headers.get("Content-Length", "")
    if expected.size is not None and announced.isdigit() \
            and start + int(announced) != expected.size:
        raise VerificationError(f"size {start + int(announced)} bytes announced, "
                                f"{expected.size} bytes expected")


def _stream(response: requests.Response, temp: Path, start: int, expected: Expected,
            label: str) -> None:
    """Write the answer after the first `start` bytes of `temp`, refusing it as soon as the
    bytes cannot be the right ones; a broken transfer keeps what arrived."""
    bound = expected.size if expected.size is not None else expected.limit
    meter = progress.ByteProgress(label, None if bound is None else bound - start)
    count = start
    try:
        with open(temp, "ab" if start else "wb") as out:
            for chunk in response.iter_content(_CHUNK):
                if count == 0 and expected.gzip and not chunk.startswith(GZIP_MAGIC):
                    raise VerificationError(_not_gzip(chunk))
                count += len(chunk)
                if bound is not None and count > bound:
                    raise VerificationError(f"more than the expected {bound} bytes served")
                out.write(chunk)
                meter.update(len(chunk))
    except requests.RequestException as exc:
        raise _Unavailable(f"transfer broke after {count} bytes ({_reason(exc)})") from exc
    finally:
        meter.close()


def _check_whole(path: Path, expected: Expected) -> None:
    problem = mismatch(path, expected)
    if problem is not None:
        raise VerificationError(problem)


def mismatch(path: Path, expected: Expected) -> Optional[str]:
    """What is wrong with the file at `path` against `expected` (not gzip, size, sha256), or
    None when it is right. Raises OSError when it cannot be read."""
    with open(path, "rb") as data:
        head = data.read(len(GZIP_MAGIC))
    if expected.gzip and head != GZIP_MAGIC:
        return _not_gzip(head)
    size = path.stat().st_size
    if expected.size is not None and size != expected.size:
        return f"got {size} bytes, {expected.size} bytes expected"
    if expected.sha256 is not None:
        got = sha256_file(path)
        if got != expected.sha256:
            return f"sha256 mismatch: expected {expected.sha256}, got {got}"
    return None


def _not_gzip(head: bytes) -> str:
    if head.lstrip()[:1] == b"<":
        return "served an HTML page, not a gzip tarball"
    return "not a gzip file"


def fetch_page(url: str, *, advice: str, accept: Optional[str] = None) -> Page:
    """A small text answer of `url` (`accept`: the Accept header to send). Raises NotFound on
    HTTP 404, BuilderError when it cannot be fetched otherwise; both end with `advice`."""
    headers = {"Accept": accept} if accept else {}
    try:
        response = _SESSION.get(url, timeout=_TIMEOUT, headers=headers)
    except requests.RequestException as exc:
        raise BuilderError(f"could not fetch {url} ({_reason(exc)}); {advice}") from exc
    if response.status_code != 200:
        error = NotFound if response.status_code == 404 else BuilderError
        raise error(f"could not fetch {url} (HTTP {response.status_code}); {advice}")
    return Page(response.text, response.headers.get("Content-Type", ""))


def fetch_text(url: str, *, advice: str) -> str:
    """The text of a small file at `url` (a signed release file); raises as `fetch_page`."""
    return fetch_page(url, advice=advice).text


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
    """The sha256 of the file at `path`, as 64 hex digits. Raises OSError when unreadable."""
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for chunk in iter(lambda: data.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cached_zip_member(store: Store, name: str, urls: Iterable[str], member: str,
                      expected: Expected, *, label: str, advice: str) -> Fetched:
    """One member of a remote zip file (a wheel), verified and kept in the store as `name`:
    read with HTTP range requests (remotezip), so that only the archive's directory and that
    member travel. `urls` is iterated only when the file is not there yet.
    Raises VerificationError when a location served other bytes, else BuilderError listing
    every location with what went wrong there and ending with `advice`."""
    note = store.path(Kind.DOWNLOADS, f"{name}.origin")

    def make(temp: Path) -> None:
        failures = []
        for url in urls:
            try:
                with RemoteZip(url, session=_SESSION, timeout=_TIMEOUT) as archive:
                    size = archive.getinfo(member).file_size
                    if expected.size is not None and size != expected.size \
                            or size > SMALL_FILE_LIMIT_BYTES * 16:
                        raise VerificationError(f"{member} of {url} is {size} bytes, not the "
                                                f"pinned file; {advice}")
                    data = archive.read(member)
            except VerificationError:
                raise
            # A server's or an archive's fault, however it shows (urllib3's protocol errors
            # and a broken deflate stream included): the next location is asked.
            except (RemoteZipError, requests.RequestException, KeyError, zipfile.BadZipFile,
                    zlib.error, EOFError, NotImplementedError, OSError,
                    urllib3.exceptions.HTTPError) as exc:
                failures.append(f"{url}: {exc}")
                continue
            got = hashlib.sha256(data).hexdigest()
            if got != expected.sha256:
                raise VerificationError(f"{member} of {url} has sha256 {got}, not the "
                                        f"pinned {expected.sha256}; {advice}")
            temp.write_bytes(data)
            note.write_text(url + "\n")
            return
        raise BuilderError(f"could not read {member} of {label} from any location "
                           f"({'; '.join(failures) or 'none offered'}); {advice}")

    entry = store.materialize(Kind.DOWNLOADS, name, make,
                              reuse=lambda path: mismatch(path, expected) is None)
    origin = note.read_text().strip() if note.is_file() else str(entry.path)
    return Fetched(entry.path, origin, entry.reused)
