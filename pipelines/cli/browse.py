"""`fusion browse`: a local output catalog in STAC Browser, on 127.0.0.1.

One standard-library HTTP server serves, on one origin (no CORS): the STAC Browser that
``make stac-browser`` builds (``browse/build.sh`` into ``build/stac-browser/dist``) at ``/``,
the output folder at ``/stac/``, and ``/config.js``, the run-time settings that point STAC
Browser at ``/stac/catalog.json``. STAC Browser is built with hash routes, so an Item's page is
``/#/<path of its JSON below the output>``. Files are served with HTTP Range support (STAC
Browser and GDAL read COGs by range). Nothing here imports TensorFlow or Beam.

A ``gs://`` output is refused: a bucket is browsed with a STAC Browser deployed as static files
and pointed at the catalog's public or signed URL (docs/browse.md).
"""

from __future__ import annotations

import errno
import ipaddress
import json
import mimetypes
import posixpath
import re
import socket
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

import click

from fusion.errors import ConfigError
from pipelines.cli.common import exit_on_fusion_error

#: Where ``make stac-browser`` puts the site (relative to the checkout).
DEFAULT_BUILD = Path(__file__).resolve().parents[2] / "build" / "stac-browser" / "dist"
#: The URL path the output folder is served under.
CATALOG_PREFIX = "/stac/"

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_TYPES = {
    ".json": "application/json",
    ".geojson": "application/geo+json",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".png": "image/png",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}


def check_output(output: str) -> tuple[Path, str]:
    """The output folder to serve (resolved) and its catalog's title, or a ConfigError naming
    the fix."""
    if "://" in output and not output.startswith("file://"):
        raise ConfigError(
            f"fusion browse serves a local output folder, and {output} is not one: to browse a "
            "bucket, deploy STAC Browser as static files pointed at the catalog's public or signed "
            "URL (docs/browse.md), or copy the output here (gcloud storage cp -r) and browse the copy"
        )
    root = Path(output.removeprefix("file://")).expanduser()
    if not root.is_dir():
        raise ConfigError(
            f"no output folder {output}: give the folder `fusion run --output` wrote "
            "(or OUT/products of `fusion demo --out OUT`)"
        )
    if not (root / "catalog.json").is_file():
        nested = sorted(p.parent for p in root.glob("*/catalog.json")) + sorted(
            p.parent for p in root.glob("*/products/catalog.json")
        )
        hint = f": did you mean {nested[0]}?" if nested else ""
        raise ConfigError(
            f"{output} has no catalog.json: give the folder `fusion run --output` wrote, whose "
            f"root holds catalog.json (for `fusion demo --out OUT`: OUT/products){hint}"
        )
    try:
        catalog = json.loads((root / "catalog.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"{root / 'catalog.json'} does not read as JSON ({exc}): re-run the same `fusion run`, "
            "which rebuilds a broken catalog"
        ) from None
    if not isinstance(catalog, dict) or catalog.get("type") != "Catalog":
        raise ConfigError(
            f"{root / 'catalog.json'} is not a STAC Catalog: give the folder `fusion run --output` wrote"
        )
    return root.resolve(), str(catalog.get("title") or catalog.get("id") or "catalog")


def check_build(site: Path) -> Path:
    """The built STAC Browser folder (resolved), or a ConfigError naming ``make stac-browser``."""
    if not (site / "index.html").is_file():
        raise ConfigError(
            f"STAC Browser is not built (no {site / 'index.html'}): run `make stac-browser` "
            "(Node.js 20 and npm; about 2 minutes), or point --stac-browser at a build"
        )
    return site.resolve()


def runtime_config() -> bytes:
    """``/config.js``: STAC Browser's run-time settings (the catalog on this server's origin,
    whatever host name the browser used)."""
    return (
        "window.STAC_BROWSER_CONFIG = {\n"
        f'  catalogUrl: window.location.origin + "{CATALOG_PREFIX}catalog.json"\n'
        "};\n"
    ).encode()


def _inside(root: Path, url_path: str) -> Path | None:
    """The file ``url_path`` (already without its prefix) names under ``root``, or None when it
    leaves ``root`` or is no file."""
    parts = [p for p in posixpath.normpath("/" + url_path).split("/") if p not in ("", ".")]
    if any(p == ".." or "\\" in p or "\0" in p for p in parts):
        return None
    path = root.joinpath(*parts) if parts else root
    if path.is_dir():
        path = path / "index.html"
    try:
        resolved = path.resolve()
    except OSError:
        return None
    if not resolved.is_relative_to(root) or not resolved.is_file():
        return None
    return resolved


def make_handler(output: Path, site: Path) -> type[BaseHTTPRequestHandler]:
    """The request handler: ``/config.js``, ``/stac/...`` from ``output``, the rest from ``site``."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "fusion-browse"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per request would bury the URL; errors are answered, not logged

        def do_HEAD(self) -> None:
            self._answer(head=True)

        def do_GET(self) -> None:
            self._answer(head=False)

        def _answer(self, head: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            if path == "/config.js":
                self._send_bytes(runtime_config(), "text/javascript", head)
                return
            if path.startswith(CATALOG_PREFIX):
                file = _inside(output, path[len(CATALOG_PREFIX) :])
            else:
                file = _inside(site, path)
            if file is None:
                self._send_bytes(b"not found\n", "text/plain", head, HTTPStatus.NOT_FOUND)
                return
            self._send_file(file, head)

        def _send_bytes(
            self, body: bytes, media_type: str, head: bool, status: HTTPStatus = HTTPStatus.OK
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _send_file(self, file: Path, head: bool) -> None:
            size = file.stat().st_size
            start, end = 0, size - 1
            status = HTTPStatus.OK
            wanted = self.headers.get("Range")
            match = _RANGE.match(wanted.strip()) if wanted else None
            if match and (match.group(1) or match.group(2)):
                if match.group(1):
                    start = int(match.group(1))
                    end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
                else:  # bytes=-N: the last N bytes
                    start = max(size - int(match.group(2)), 0)
                if start >= size or start > end:
                    self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = HTTPStatus.PARTIAL_CONTENT
            length = end - start + 1 if size else 0
            media_type = _TYPES.get(file.suffix.lower()) or mimetypes.guess_type(file.name)[0]
            self.send_response(status)
            self.send_header("Content-Type", media_type or "application/octet-stream")
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Cache-Control", "no-cache")
            if status == HTTPStatus.PARTIAL_CONTENT:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            if head or not length:
                return
            with file.open("rb") as src:
                src.seek(start)
                _copy(src, self.wfile, length)

    return Handler


def _copy(src: BinaryIO, dst: Any, length: int) -> None:
    remaining = length
    while remaining > 0:
        chunk = src.read(min(remaining, 1 << 16))
        if not chunk:
            break
        dst.write(chunk)
        remaining -= len(chunk)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # Ctrl-C does not wait for a browser's open keep-alive connections


def make_server(output: Path, site: Path, host: str, port: int) -> ThreadingHTTPServer:
    """The server, bound (port 0: any free port), or a ConfigError when the port is taken."""
    try:
        return _Server((host, port), make_handler(output, site))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is in use: pick another with --port N (--port 0 takes a free one)"
            ) from None
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(exc, socket.gaierror):
            raise ConfigError(
                f"cannot listen on {host!r}: give an address of this machine with --host, e.g. 127.0.0.1"
            ) from None
        if exc.errno == errno.EACCES:
            raise ConfigError(f"port {port} needs privileges: pick one above 1023 with --port N") from None
        raise


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = str(server.server_address[0]), server.server_address[1]
    # Listening on every address (--host 0.0.0.0): this machine's browser still uses loopback.
    shown = "127.0.0.1" if ipaddress.ip_address(host).is_unspecified else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def serve(server: ThreadingHTTPServer, on_ready: Callable[[], None] | None = None) -> None:
    """Serve until Ctrl-C (or SIGTERM), then close the socket."""
    import signal

    def stop_on_sigterm(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        if on_ready is not None:
            on_ready()
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@click.command()
@click.argument("output")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--stac-browser",
    "site",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="FUSION_STAC_BROWSER",
    default=DEFAULT_BUILD,
    show_default="build/stac-browser/dist of this checkout",
    help="The built STAC Browser (`make stac-browser`); also $FUSION_STAC_BROWSER.",
)
@exit_on_fusion_error
def browse(output: str, port: int, host: str, site: Path) -> None:
    """Browse OUTPUT (the folder `fusion run --output` wrote) in STAC Browser.

    Serves STAC Browser and the catalog on http://HOST:PORT/ (127.0.0.1 only, by default),
    prints the URL to open, and runs until Ctrl-C. Each Item page shows the product's
    thumbnail; the COGs, Items and model files are under /stac/. A gs:// output is not served:
    see docs/browse.md for browsing a bucket.
    """
    root, title = check_output(output)
    built = check_build(site)
    server = make_server(root, built, host, port)
    url = url_of(server)

    def ready() -> None:
        click.echo(f"serving {title} ({root}) in STAC Browser")
        click.echo(f"open {url}   (Ctrl-C stops)")
        sys.stdout.flush()

    serve(server, ready)
    click.echo("stopped", err=True)


__all__ = ["browse", "check_build", "check_output", "make_server", "runtime_config", "serve", "url_of"]
