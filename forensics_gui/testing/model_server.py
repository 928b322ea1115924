"""A small HTTP file server on 127.0.0.1 for the model-download tests (no network needed).

It serves byte strings by path with ``Range: bytes=N-`` (206 + Content-Range) and ``If-Range``
(an ETag that no longer matches gets the whole file, 200), and can misbehave on purpose, once
per file: ``cut_after`` (announce the whole length, send that many bytes, close the
connection: an interrupted transfer), ``stall_after`` (send that many bytes, then nothing until
the server stops: a stalled server); ``pace_s`` makes it slow. Unknown paths get 404. ``requests`` records each request's
path and Range header.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STALL_BOUND_S = 60.0  # a stalled response ends by itself at the latest after this


@dataclass
class ServedFile:
    data: bytes
    cut_after: int | None = None
    stall_after: int | None = None
    ranges: bool = True  # False: ignore Range, always send the whole file (200)
    pace_s: float = 0.0  # > 0: a slow server, waiting this long after each 64 KiB

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.data).hexdigest()[:16] + '"'


@dataclass
class ModelServer:
    files: dict[str, ServedFile] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    port: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"


def _handler(server: ModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.lstrip("/")
            server.requests.append((path, self.headers.get("Range")))
            served = server.files.get(path)
            if served is None:
                body = b"not found"
                self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            data, start = served.data, 0
            wanted = self.headers.get("Range")
            if_range = self.headers.get("If-Range")
            if wanted and served.ranges and (if_range is None or if_range == served.etag):
                start = int(wanted.removeprefix("bytes=").split("-")[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(data) - start))
            self.send_header("ETag", served.etag)
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            body = data[start:]
            if served.cut_after is not None:
                limit, served.cut_after = served.cut_after, None
                self.wfile.write(body[:limit])
                self.wfile.flush()
                self.close_connection = True
                return
            if served.stall_after is not None:
                limit, served.stall_after = served.stall_after, None
                self.wfile.write(body[:limit])
                self.wfile.flush()
                server.stop.wait(STALL_BOUND_S)
                self.close_connection = True
                return
            if served.pace_s > 0:
                for start in range(0, len(body), 1 << 16):
                    if server.stop.is_set():
                        break
                    self.wfile.write(body[start:start + (1 << 16)])
                    self.wfile.flush()
                    server.stop.wait(served.pace_s)
                return
            self.wfile.write(body)

    return Handler


@contextmanager
def model_server(files: dict[str, ServedFile] | None = None) -> Iterator[ModelServer]:
    """Serve ``files`` on 127.0.0.1 (a free port) while the block runs."""
    state = ModelServer(dict(files or {}))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, name="model-server", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)
