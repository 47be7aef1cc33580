"""A real HTTP server on loopback, serving a directory (or hand-made answers) for the tests."""

from __future__ import annotations

import functools
import http.server
import ssl
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Dict, Iterator, Optional, Tuple

Answer = Tuple[int, Dict[str, str], bytes]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def _answering(routes: Dict[str, Callable[["http.server.BaseHTTPRequestHandler"], None]]):
    class Handler(_QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            handler = routes.get(self.path)
            if handler is None:
                self.send_error(404)
            else:
                handler(self)

    return Handler


@contextmanager
def serve(directory: Optional[Path] = None,
          routes: Optional[Dict[str, Callable]] = None,
          tls: Optional[Tuple[Path, Path]] = None) -> Iterator[str]:
    """Serve `directory`, or answer `routes` (path -> handler(request)); yield the base URL.
    With `tls` (certificate, key) it speaks HTTPS."""
    if directory is not None:
        handler = functools.partial(_QuietHandler, directory=str(directory))
    else:
        handler = _answering(routes if routes is not None else {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def send(request: http.server.BaseHTTPRequestHandler, status: int, body: bytes,
         headers: Optional[Dict[str, str]] = None) -> None:
    request.send_response(status)
    for name, value in (headers or {"Content-Length": str(len(body))}).items():
        request.send_header(name, value)
    request.end_headers()
    request.wfile.write(body)
