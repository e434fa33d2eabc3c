"""A static file server with HTTP Range support and fault injection, on 127.0.0.1.

Serves a folder like a cloud bucket behind HTTPS would: ``HEAD``, ``GET`` with ``Range: bytes=``
(206 Partial Content, ``Content-Range``, ``Accept-Ranges``). Faults, per URL path:

* ``fail_first[path or "*"] = (n, status)``: the first ``n`` requests for each file get ``status``
  (e.g. 429 or 503 with ``Retry-After: 0``), later ones succeed;
* ``broken[path] = status``: every request gets ``status``;
* ``truncate[path] = nbytes``: the file is served as if it had only its first ``nbytes`` bytes;
* ``stall[path] = seconds``: each request waits that long before answering;
* ``require_query`` / ``require_header``: answer 403 unless the query string contains that text
  / the request carries that header value (a signed URL, a bearer token).

It also answers proxy-style requests (``GET http://host/path``), so GDAL can be pointed at it
with ``GDAL_HTTP_PROXY`` for hrefs on other hosts.

``requests`` counts requests per path (for asserting that retries happened).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass
class Faults:
    fail_first: dict[str, tuple[int, int]] = field(default_factory=dict)
    broken: dict[str, int] = field(default_factory=dict)
    truncate: dict[str, int] = field(default_factory=dict)
    stall: dict[str, float] = field(default_factory=dict)
    require_query: str | None = None
    require_header: tuple[str, str] | None = None
    #: injected fail_first answers given so far, per path
    failed: Counter[str] = field(default_factory=Counter)
    #: hosts seen in proxy-style requests
    hosts: Counter[str] = field(default_factory=Counter)

    def clear(self) -> None:
        self.failed.clear()
        self.fail_first.clear()
        self.broken.clear()
        self.truncate.clear()
        self.stall.clear()


@dataclass
class RangeServer:
    root: Path
    url: str
    faults: Faults
    requests: Counter[str]
    lock: threading.Lock

    def url_for(self, path: Path) -> str:
        return f"{self.url}/{path.relative_to(self.root).as_posix()}"


def _handler(root: Path, faults: Faults, requests: Counter[str], lock: threading.Lock) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _fault(self, path: str) -> int | None:
            with lock:
                requests[path] += 1
            if path in faults.stall:
                time.sleep(faults.stall[path])
            if path in faults.broken:
                return faults.broken[path]
            rule = faults.fail_first.get(path) or faults.fail_first.get("*")
            with lock:
                if rule is not None and faults.failed[path] < rule[0]:
                    faults.failed[path] += 1
                    return rule[1]
            return None

        def _error(self, status: int) -> None:
            body = f"injected {status}\n".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Retry-After", "0")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _serve(self, head: bool) -> None:
            parsed = urlparse(self.path)
            path = unquote(parsed.path)
            if parsed.hostname:
                with lock:
                    faults.hosts[parsed.hostname] += 1
            status = self._fault(path)
            if status is not None:
                self._error(status)
                return
            if faults.require_query is not None and faults.require_query not in parsed.query:
                self._error(403)
                return
            if faults.require_header is not None:
                name, value = faults.require_header
                if self.headers.get(name) != value:
                    self._error(403)
                    return
            file = (root / path.lstrip("/")).resolve()
            if root.resolve() not in file.parents or not file.is_file():
                self._error(404)
                return
            data = file.read_bytes()
            if path in faults.truncate:
                data = data[: faults.truncate[path]]
            size = len(data)
            start, end = 0, size - 1
            partial = False
            header = self.headers.get("Range")
            if header:
                m = _RANGE.match(header.strip())
                if m is None or (not m.group(1) and not m.group(2)):
                    self._error(416)
                    return
                if m.group(1):
                    start = int(m.group(1))
                    end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
                else:  # suffix range: the last N bytes
                    start = max(0, size - int(m.group(2)))
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                partial = True
            body = data[start : end + 1]
            self.send_response(206 if partial else 200)
            ctype = "application/json" if path.endswith(".json") else "image/tiff"
            self.send_header("Content-Type", ctype)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(body)))
            if partial:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._serve(head=False)

        def do_HEAD(self) -> None:
            self._serve(head=True)

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        # A client that gives up on a stalled answer is part of the test, not an error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def range_server(root: Path) -> Iterator[RangeServer]:
    faults = Faults()
    requests: Counter[str] = Counter()
    lock = threading.Lock()
    httpd = _QuietServer(("127.0.0.1", 0), _handler(root, faults, requests, lock))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield RangeServer(root, f"http://127.0.0.1:{httpd.server_address[1]}", faults, requests, lock)
    finally:
        httpd.shutdown()
        httpd.server_close()
