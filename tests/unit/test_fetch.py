"""The rules of verified downloads, against answers made in memory: a transport adapter
mounted on the shared session stands for the servers (no socket is opened)."""

import gzip
import hashlib
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import pytest
import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from builder import __version__, fetch
from builder.cache import Kind, Store
from builder.errors import BuilderError, VerificationError
from builder.fetch import Expected, NotFound, cached_download, download_first, fetch_page

GOOD = gzip.compress(os.urandom(100_000))
WHOLE = Expected(sha256=hashlib.sha256(GOOD).hexdigest(), size=len(GOOD))
ADVICE = "set EXAMPLE_MIRROR to a reachable mirror"
HOSTS = ("https://a.example/", "https://b.example/")


class _Body:
    """A response body that ends, or breaks off like a dropped connection."""

    def __init__(self, data: bytes, breaks: bool) -> None:
        self.data, self.breaks, self.position = data, breaks, 0

    def read(self, size: int = -1, **_: object) -> bytes:
        if self.position >= len(self.data) and self.breaks:
            raise requests.exceptions.ChunkedEncodingError("connection broken")
        end = len(self.data) if size < 0 else self.position + size
        chunk = self.data[self.position:end]
        self.position += len(chunk)
        return chunk

    def close(self) -> None:
        pass


@dataclass
class Answer:
    status: int
    body: bytes = b""
    headers: Dict[str, str] = field(default_factory=dict)
    breaks_after: Optional[int] = None  # bytes sent before the transfer breaks off


def whole(body, breaks_after=None):
    return lambda request: Answer(200, body, {"Content-Length": str(len(body))}, breaks_after)


def ranges(body):
    """A server that answers Range requests with 206."""
    def answer(request):
        asked = request.headers.get("Range")
        if asked is None:
            return whole(body)(request)
        start = int(asked[len("bytes="):-1])
        return Answer(206, body[start:], {
            "Content-Length": str(len(body) - start),
            "Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"})
    return answer


class Servers(HTTPAdapter):
    """Answers each URL from a table (404 for the rest) and records every request."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: Dict[str, object] = {}
        self.asked: List[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        self.asked.append(request)
        route = self.routes.get(request.url, lambda _: Answer(404))
        answer = route(request)
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(answer.headers)
        response.raw = _Body(answer.body[:answer.breaks_after],
                             answer.breaks_after is not None)
        response.encoding = "utf-8"
        response.url, response.request = request.url, request
        return response

    def requests_to(self, url):
        return [r.headers.get("Range") for r in self.asked if r.url == url]


@pytest.fixture
def servers():
    adapter = Servers()
    for host in HOSTS:
        fetch.session().mount(host, adapter)
    yield adapter
    for host in HOSTS:
        fetch.session().adapters.pop(host)


def folder_names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_every_request_names_the_builder_and_its_version(servers, tmp_path):
    servers.routes["https://a.example/f.gz"] = whole(GOOD)
    download_first(["https://a.example/f.gz"], tmp_path / "f.gz", WHOLE, label="f.gz",
                   advice=ADVICE)
    assert servers.asked[0].headers["User-Agent"] == f"builder/{__version__}"


def test_when_no_location_serves_the_failure_lists_each_and_ends_with_the_advice(
        servers, tmp_path):
    urls = ["https://a.example/f.gz", "https://b.example/f.gz"]
    with pytest.raises(BuilderError) as caught:
        download_first(urls, tmp_path / "f.gz", WHOLE, label="f.gz", advice=ADVICE)
    assert type(caught.value) is BuilderError
    assert caught.value.message == ("could not download f.gz from any location "
                                    "(https://a.example/f.gz: HTTP 404; "
                                    f"https://b.example/f.gz: HTTP 404); {ADVICE}")
    assert folder_names(tmp_path) == []


def test_wrong_bytes_everywhere_are_refused_with_the_advice_and_nothing_is_left(
        servers, tmp_path):
    other = gzip.compress(b"other")
    servers.routes = {"https://a.example/f.gz": whole(other),
                      "https://b.example/f.gz": whole(GOOD[:-1] + bytes([GOOD[-1] ^ 1]))}
    with pytest.raises(VerificationError) as caught:
        download_first(["https://a.example/f.gz", "https://b.example/f.gz"],
                       tmp_path / "f.gz", Expected(sha256=WHOLE.sha256), label="f.gz",
                       advice=ADVICE)
    assert caught.value.message.endswith(f"; {ADVICE}")
    assert "https://b.example/f.gz: sha256 mismatch" in caught.value.message
    assert folder_names(tmp_path) == []


def test_a_source_that_served_wrong_bytes_is_not_asked_for_its_other_urls(servers, tmp_path):
    servers.routes = {"https://a.example/1/f.gz": whole(gzip.compress(b"other")),
                      "https://a.example/2/f.gz": whole(GOOD),
                      "https://b.example/f.gz": ranges(GOOD)}
    urls = ["https://a.example/1/f.gz", "https://a.example/2/f.gz", "https://b.example/f.gz"]
    got = download_first(urls, tmp_path / "f.gz", Expected(sha256=WHOLE.sha256),
                         label="f.gz", advice=ADVICE)
    assert got == "https://b.example/f.gz"
    assert servers.requests_to("https://a.example/2/f.gz") == []
    assert servers.requests_to("https://b.example/f.gz") == [None]  # wrong bytes not kept
    assert (tmp_path / "f.gz").read_bytes() == GOOD


def test_a_broken_transfer_continues_at_the_next_location_with_a_range_request(
        servers, tmp_path):
    servers.routes = {"https://a.example/f.gz": whole(GOOD, breaks_after=30_000),
                      "https://b.example/f.gz": ranges(GOOD)}
    got = download_first(["https://a.example/f.gz", "https://b.example/f.gz"],
                         tmp_path / "f.gz", WHOLE, label="f.gz", advice=ADVICE)
    assert got == "https://b.example/f.gz"
    assert servers.requests_to("https://b.example/f.gz") == ["bytes=30000-"]
    assert (tmp_path / "f.gz").read_bytes() == GOOD
    assert folder_names(tmp_path) == ["f.gz"]


def test_a_whole_answer_to_a_range_request_starts_the_file_over(servers, tmp_path):
    servers.routes = {"https://a.example/f.gz": whole(GOOD, breaks_after=30_000),
                      "https://b.example/f.gz": whole(GOOD)}
    download_first(["https://a.example/f.gz", "https://b.example/f.gz"], tmp_path / "f.gz",
                   WHOLE, label="f.gz", advice=ADVICE)
    assert servers.requests_to("https://b.example/f.gz") == ["bytes=30000-"]
    assert (tmp_path / "f.gz").read_bytes() == GOOD


def test_a_resumed_whole_that_does_not_verify_is_fetched_again_from_the_next_source(
        servers, tmp_path):
    wrong_start = GOOD[:2] + bytes(30_000) + GOOD[30_002:]
    servers.routes = {"https://a.example/f.gz": whole(wrong_start, breaks_after=30_002),
                      "https://b.example/f.gz": ranges(GOOD)}
    got = download_first(["https://a.example/f.gz", "https://b.example/f.gz"],
                         tmp_path / "f.gz", WHOLE, label="f.gz", advice=ADVICE)
    assert got == "https://b.example/f.gz"
    assert servers.requests_to("https://b.example/f.gz") == ["bytes=30002-", None]
    assert (tmp_path / "f.gz").read_bytes() == GOOD


def test_a_broken_transfer_with_nowhere_else_to_go_leaves_nothing(servers, tmp_path):
    servers.routes["https://a.example/f.gz"] = whole(GOOD, breaks_after=30_000)
    with pytest.raises(BuilderError, match="transfer broke after 30000 bytes"):
        download_first(["https://a.example/f.gz"], tmp_path / "f.gz", WHOLE, label="f.gz",
                       advice=ADVICE)
    assert folder_names(tmp_path) == []


def test_a_file_larger_than_its_limit_is_refused_while_it_arrives(servers, tmp_path):
    servers.routes["https://a.example/f.asc"] = lambda request: Answer(200, bytes(5000))
    with pytest.raises(VerificationError, match="more than the expected 4096 bytes"):
        download_first(["https://a.example/f.asc"], tmp_path / "f.asc",
                       Expected(sha256=None, gzip=False, limit=4096), label="f.asc",
                       advice=ADVICE)


def test_a_cached_download_is_checked_again_and_fetched_anew_when_damaged(servers, tmp_path):
    servers.routes["https://a.example/f.gz"] = whole(GOOD)
    store = Store(tmp_path)
    first = cached_download(store, "f.gz", ["https://a.example/f.gz"], WHOLE, label="f.gz",
                            advice=ADVICE)
    again = cached_download(store, "f.gz", [], WHOLE, label="f.gz", advice=ADVICE)
    assert (first.reused, again.reused) == (False, True)
    assert again.origin == "https://a.example/f.gz"
    first.path.write_bytes(GOOD[:-1])
    mended = cached_download(store, "f.gz", ["https://a.example/f.gz"], WHOLE, label="f.gz",
                             advice=ADVICE)
    assert not mended.reused and mended.path.read_bytes() == GOOD
    assert len(servers.asked) == 2


def test_a_cached_download_lands_in_the_folder_of_its_kind_with_its_origin(servers, tmp_path):
    servers.routes["https://a.example/s-1.tar.gz"] = whole(GOOD)
    got = cached_download(Store(tmp_path), "s-1.tar.gz", ["https://a.example/s-1.tar.gz"],
                          WHOLE, label="s-1.tar.gz", advice=ADVICE, kind=Kind.SDISTS)
    assert got.path == tmp_path / "sdists" / "s-1.tar.gz"
    assert folder_names(tmp_path / "sdists") == [".s-1.tar.gz.lock", "s-1.tar.gz",
                                                 "s-1.tar.gz.origin"]


def test_a_cached_download_is_not_looked_up_while_the_cache_holds_it(servers, tmp_path):
    store = Store(tmp_path)
    store.materialize(Kind.DOWNLOADS, "f.gz", lambda temp: temp.write_bytes(GOOD))

    def urls():
        raise AssertionError("the locations were asked for")
        yield

    got = cached_download(store, "f.gz", urls(), WHOLE, label="f.gz", advice=ADVICE)
    assert got.reused and servers.asked == []


def test_a_page_that_is_not_there_is_not_found_with_the_advice(servers):
    with pytest.raises(NotFound) as caught:
        fetch_page("https://a.example/simple/nothing/", advice=ADVICE)
    assert caught.value.message.endswith(f"(HTTP 404); {ADVICE}")


def test_a_page_comes_with_its_content_type_and_the_accept_header_asked(servers):
    servers.routes["https://a.example/simple/x/"] = lambda request: Answer(
        200, b'{"files": []}', {"Content-Type": "application/vnd.pypi.simple.v1+json"})
    page = fetch_page("https://a.example/simple/x/", advice=ADVICE, accept="application/json")
    assert (page.text, page.content_type) == ('{"files": []}',
                                              "application/vnd.pypi.simple.v1+json")
    assert servers.asked[0].headers["Accept"] == "application/json"
