"""Fetching OpenSSL from real HTTP(S) servers on loopback: fall-through, refusals, TLS
trust."""

import gzip
import hashlib
import socket
import struct
import subprocess

import pytest

from builder.errors import BuilderError, VerificationError
from builder.sources import fetch_openssl
from tests.httpserver import send, serve
from tests.unit.test_sources import GOOD, GOOD_SHA, downloads, release


def answer(status, body, headers=None):
    return lambda request: send(request, status, body, headers)


def test_verified_download_lands_in_the_cache_with_its_origin(tmp_path):
    with serve(routes={"/openssl-3.0.22.tar.gz": answer(200, GOOD)}) as url:
        got = fetch_openssl(release(), tmp_path, mirrors=[url], upstream=False)
    assert got.path.read_bytes() == GOOD
    assert got.origin == f"{url}/openssl-3.0.22.tar.gz" and not got.reused


def test_second_fetch_reuses_the_cached_tarball_and_remembers_its_origin(tmp_path):
    with serve(routes={"/openssl-3.0.22.tar.gz": answer(200, GOOD)}) as url:
        fetch_openssl(release(), tmp_path, mirrors=[url], upstream=False)
    again = fetch_openssl(release(), tmp_path, mirrors=["http://127.0.0.1:9"], upstream=False)
    assert again.reused and again.origin == f"{url}/openssl-3.0.22.tar.gz"


def test_tampered_tarball_is_refused_naming_both_hashes_and_nothing_is_cached(tmp_path):
    tampered = GOOD[:-1] + bytes([GOOD[-1] ^ 1])
    with serve(routes={"/openssl-3.0.22.tar.gz": answer(200, tampered)}) as url:
        with pytest.raises(VerificationError) as caught:
            fetch_openssl(release(), tmp_path, mirrors=[url], upstream=False)
    message = caught.value.message
    assert GOOD_SHA in message and hashlib.sha256(tampered).hexdigest() in message
    assert f"{url}/openssl-3.0.22.tar.gz" in message
    assert downloads(tmp_path) == []


def test_html_page_served_with_200_is_refused_before_it_is_read_whole(tmp_path):
    page = b"<!DOCTYPE html><html><body>Mirror maintenance</body></html>"
    with serve(routes={"/openssl-3.0.22.tar.gz": answer(200, page)}) as url:
        with pytest.raises(VerificationError, match="served an HTML page"):
            fetch_openssl(release(size=None), tmp_path, mirrors=[url], upstream=False)
    assert downloads(tmp_path) == []


def test_announced_size_that_differs_from_the_table_is_refused(tmp_path):
    with serve(routes={"/openssl-3.0.22.tar.gz": answer(200, GOOD)}) as url:
        with pytest.raises(VerificationError, match="bytes announced"):
            fetch_openssl(release(size=len(GOOD) + 1), tmp_path, mirrors=[url], upstream=False)


def test_truncated_transfer_is_not_kept_and_the_next_location_is_tried(tmp_path):
    def truncated(request):
        send(request, 200, GOOD[:1000], {"Content-Length": str(len(GOOD))})
        request.close_connection = True

    routes = {"/a/openssl-3.0.22.tar.gz": truncated,
              "/b/openssl-3.0.22.tar.gz": answer(200, GOOD)}
    with serve(routes=routes) as url:
        got = fetch_openssl(release(), tmp_path, mirrors=[f"{url}/a", f"{url}/b"],
                            upstream=False)
    assert got.origin == f"{url}/b/openssl-3.0.22.tar.gz"
    assert downloads(tmp_path) == ["openssl-3.0.22.tar.gz", "openssl-3.0.22.tar.gz.origin"]


def test_wrong_bytes_at_one_mirror_fall_through_to_another_source(tmp_path):
    with serve(routes={"/openssl-3.0.22.tar.gz": answer(200, gzip.compress(b"other"))}) as bad, \
            serve(routes={"/openssl-3.0.22.tar.gz": answer(200, GOOD)}) as good:
        got = fetch_openssl(release(size=None), tmp_path, mirrors=[bad, good], upstream=False)
    assert got.origin == f"{good}/openssl-3.0.22.tar.gz"


def test_a_source_that_served_wrong_bytes_is_not_asked_again_for_another_path(tmp_path):
    asked = []

    def wrong(request):
        asked.append(request.path)
        send(request, 200, gzip.compress(b"other"))

    routes = {"/a/openssl-3.0.22.tar.gz": wrong, "/b/openssl-3.0.22.tar.gz": wrong}
    with serve(routes=routes) as url:
        with pytest.raises(VerificationError) as caught:
            fetch_openssl(release(size=None), tmp_path, mirrors=[f"{url}/a", f"{url}/b"],
                          upstream=False)
    assert asked == ["/a/openssl-3.0.22.tar.gz"]
    assert f"{url}/b/openssl-3.0.22.tar.gz: skipped, the same source served wrong bytes" \
        in caught.value.message
    assert downloads(tmp_path) == []


def test_an_html_page_at_one_source_falls_through_to_the_next_and_is_never_kept(tmp_path):
    page = b"<!DOCTYPE html><html><body>Not here</body></html>"
    with serve(routes={"/openssl-3.0.22.tar.gz": answer(200, page)}) as html, \
            serve(routes={"/openssl-3.0.22.tar.gz": answer(200, GOOD)}) as good:
        got = fetch_openssl(release(), tmp_path, mirrors=[html, good], upstream=False)
    assert got.path.read_bytes() == GOOD
    assert downloads(tmp_path) == ["openssl-3.0.22.tar.gz", "openssl-3.0.22.tar.gz.origin"]


def test_a_connection_reset_mid_transfer_moves_on_to_the_next_location(tmp_path):
    def reset(request):
        request.send_response(200)
        request.send_header("Content-Length", str(len(GOOD)))
        request.end_headers()
        request.wfile.write(GOOD[:50_000])
        request.wfile.flush()
        # SO_LINGER 0: close with a TCP reset instead of an orderly shutdown.
        request.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                      struct.pack("ii", 1, 0))
        request.connection.close()
        request.close_connection = True

    with serve(routes={"/openssl-3.0.22.tar.gz": reset}) as broken, \
            serve(routes={"/openssl-3.0.22.tar.gz": answer(200, GOOD)}) as good:
        got = fetch_openssl(release(), tmp_path, mirrors=[broken, good], upstream=False)
    assert got.origin == f"{good}/openssl-3.0.22.tar.gz"
    assert got.path.read_bytes() == GOOD


def test_when_every_location_fails_one_message_lists_each_and_why(tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    with serve(routes={}) as url:
        with pytest.raises(BuilderError) as caught:
            fetch_openssl(release(), tmp_path, mirrors=[url, dead], upstream=False)
    message = caught.value.message
    assert f"{url}/openssl-3.0.22.tar.gz: HTTP 404" in message
    assert f"{dead}/openssl-3.0.22.tar.gz: could not connect" in message
    assert caught.value.exit_code == 1


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    """A certificate for 127.0.0.1 that no CA vouches for."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_a_mirror_whose_certificate_is_not_trusted_is_refused(tmp_path, self_signed,
                                                             monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    with serve(routes={"/openssl-3.0.22.tar.gz": answer(200, GOOD)}, tls=self_signed) as url:
        with pytest.raises(BuilderError, match="its TLS certificate is not trusted"):
            fetch_openssl(release(), tmp_path, mirrors=[url], upstream=False)
    assert downloads(tmp_path) == []


def test_a_mirror_with_an_internal_ca_is_trusted_only_when_told(tmp_path, self_signed,
                                                              monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(self_signed[0]))
    with serve(routes={"/openssl-3.0.22.tar.gz": answer(200, GOOD)}, tls=self_signed) as url:
        got = fetch_openssl(release(), tmp_path, mirrors=[url], upstream=False)
    assert got.path.read_bytes() == GOOD
