"""gcp-storage-emulator with GCS's generation preconditions enforced.

gcp-storage-emulator (2026.7.19, the version tested) ignores ``ifGenerationMatch`` and its
siblings on every route: a conditional upload, copy or read always "succeeds", so code that
relies on a 412 to avoid a lost update could never be tested against it. This module serves the
emulator's own routes and storage from a real HTTP server (the google-cloud-storage client talks
to it through STORAGE_EMULATOR_HOST, nothing is mocked) and checks the conditions as GCS does:

- writes: media, multipart and resumable uploads, the XML API's PUT, copyTo, rewriteTo and
  compose (all through ``Storage.create_file``), PATCH and DELETE: ``ifGenerationMatch``,
  ``ifGenerationNotMatch``, ``ifMetagenerationMatch`` and ``ifMetagenerationNotMatch`` (query
  parameters, or the XML API's ``x-goog-if-generation-match`` / ``x-goog-if-metageneration-match``
  headers) hold for the destination object as it is now, generation 0 meaning absent, or the
  request fails with 412 Precondition Failed and changes nothing. A resumable upload's
  conditions are given when it starts and checked when its last chunk creates the object.
- copyTo and rewriteTo: ``ifSource...`` conditions hold for the source object.
- reads (object metadata and media): a failed ``...Match`` is 412, a failed ``...NotMatch``
  304 Not Modified; ``generation=N`` naming a generation that is no longer live is 404 (the
  emulator keeps no old versions, like a bucket without versioning).

The server handles one request at a time, so a check and the write it guards are atomic.
Batch requests are passed through unchecked.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections.abc import Callable, Mapping
from functools import partial
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from gcp_storage_emulator import server as emulator_server
from gcp_storage_emulator.exceptions import NotFound
from gcp_storage_emulator.handlers import objects
from gcp_storage_emulator.storage import Storage

#: condition -> (object field it compares, whether it must equal the value)
CONDITIONS: dict[str, tuple[str, bool]] = {
    "ifGenerationMatch": ("generation", True),
    "ifGenerationNotMatch": ("generation", False),
    "ifMetagenerationMatch": ("metageneration", True),
    "ifMetagenerationNotMatch": ("metageneration", False),
}
_XML_HEADERS = {
    "x-goog-if-generation-match": "ifGenerationMatch",
    "x-goog-if-metageneration-match": "ifMetagenerationMatch",
}


class Refused(Exception):
    """The request is answered with ``status`` instead of being carried out."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def conditions_of(query: Mapping[str, list[str]], *, source: bool = False) -> dict[str, int]:
    """The preconditions a request's query gives (``ifSource...`` ones with ``source``)."""
    found: dict[str, int] = {}
    for name in CONDITIONS:
        asked = f"ifSource{name[2:]}" if source else name
        if asked in query:
            try:
                found[name] = int(query[asked][0])
            except ValueError:
                raise Refused(
                    HTTPStatus.BAD_REQUEST, f"{asked}={query[asked][0]!r} is not a number"
                ) from None
    return found


def check(conditions: Mapping[str, int], obj: Mapping[str, Any] | None, *, read: bool, what: str) -> None:
    """Raise Refused unless every condition holds for ``obj`` (None: the object is absent)."""
    for name, value in conditions.items():
        field, must_equal = CONDITIONS[name]
        if obj is None and field == "metageneration":
            holds = not must_equal  # an absent object has no metageneration to match
            current: int | None = None
        else:
            current = int(obj[field]) if obj is not None else 0
            holds = (current == value) == must_equal
        if not holds:
            status = HTTPStatus.NOT_MODIFIED if read and not must_equal else HTTPStatus.PRECONDITION_FAILED
            now = "absent" if obj is None else f"{field} {current}"
            raise Refused(status, f"{what}: precondition {name}={value} does not hold ({now})")


class PreconditionStorage(Storage):  # type: ignore[misc]
    """The emulator's in-memory storage; every object it creates first passes the conditions of
    the request being served (or of the resumable upload being completed)."""

    def __init__(self) -> None:
        super().__init__(use_memory_fs=True)
        self.request_conditions: dict[str, int] = {}
        self._upload_conditions: dict[str, dict[str, int]] = {}

    def live(self, bucket_name: str, file_name: str) -> dict[str, Any] | None:
        try:
            obj: dict[str, Any] = self.get_file_obj(bucket_name, file_name)
        except NotFound:
            return None
        return obj

    def create_file(
        self, bucket_name: str, file_name: str, content: bytes, file_obj: Any, file_id: str | None = None
    ) -> None:
        conditions = self._upload_conditions.get(file_id, {}) if file_id else self.request_conditions
        check(conditions, self.live(bucket_name, file_name), read=False, what=f"{bucket_name}/{file_name}")
        if file_id:
            self._upload_conditions.pop(file_id, None)
        super().create_file(bucket_name, file_name, content, file_obj, file_id)

    def create_resumable_upload(self, bucket_name: str, file_name: str, file_obj: Any) -> str:
        upload_id: str = super().create_resumable_upload(bucket_name, file_name, file_obj)
        self._upload_conditions[upload_id] = dict(self.request_conditions)
        return upload_id

    def wipe(self, keep_buckets: bool = False) -> None:
        super().wipe(keep_buckets=keep_buckets)
        self._upload_conditions.clear()


class PreconditionRequestHandler(emulator_server.RequestHandler):  # type: ignore[misc]
    storage: PreconditionStorage

    def do_GET(self) -> None:
        self._serve("GET", super().do_GET)

    def do_POST(self) -> None:
        self._serve("POST", super().do_POST)

    def do_PUT(self) -> None:
        self._serve("PUT", super().do_PUT)

    def do_DELETE(self) -> None:
        self._serve("DELETE", super().do_DELETE)

    def do_PATCH(self) -> None:
        self._serve("PATCH", super().do_PATCH)

    def _serve(self, method: str, handle: Callable[[], None]) -> None:
        method = self.headers.get("x-http-method-override") or method
        url = urlparse(self.path)
        query = parse_qs(url.query)
        try:
            conditions = conditions_of(query)
            for header, name in _XML_HEADERS.items():
                if self.headers.get(header) is not None:
                    conditions[name] = int(self.headers[header])
            self._check_route(method, url.path, query, conditions)
        except (Refused, ValueError) as exc:
            self._discard_body()
            self._refuse(exc if isinstance(exc, Refused) else Refused(HTTPStatus.BAD_REQUEST, str(exc)))
            return
        self.storage.request_conditions = conditions
        try:
            handle()
        except Refused as refused:  # raised by create_file; the request body has been read
            self._refuse(refused)
        finally:
            self.storage.request_conditions = {}

    def _check_route(
        self, method: str, path: str, query: Mapping[str, list[str]], conditions: dict[str, int]
    ) -> None:
        """The checks that do not go through ``Storage.create_file``."""
        for regex, handlers in emulator_server.HANDLERS:  # noqa: B007 (used after the break)
            match = re.fullmatch(regex, path)
            if match:
                break
        else:
            return
        handler = handlers.get(method)
        params = {k: unquote(v) for k, v in match.groupdict().items()}
        if "object_id" not in params:
            return
        bucket, name = params["bucket_name"], params["object_id"]
        what = f"{bucket}/{name}"
        if handler in (objects.copy, objects.rewrite):
            check(conditions_of(query, source=True), self.storage.live(bucket, name), read=False, what=what)
        elif handler in (objects.get, objects.download) and not query.get("softDeleted"):
            obj = self.storage.live(bucket, name)
            if obj is None:
                return  # the emulator answers 404
            generation = query.get("generation")
            if generation and generation[0] != str(obj["generation"]):
                raise Refused(HTTPStatus.NOT_FOUND, f"No such object: {what}#{generation[0]}")
            check(conditions, obj, read=True, what=what)
        elif handler in (objects.delete, objects.patch):
            obj = self.storage.live(bucket, name)
            if obj is not None:  # else the emulator answers 404
                check(conditions, obj, read=False, what=what)

    def _discard_body(self) -> None:
        """Read a request body that will not be used, so the client sees the answer, not a reset."""
        length = self.headers.get("Content-Length")
        if length:
            self.rfile.read(int(length))
        elif (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            while size := int(self.rfile.readline().strip() or b"0", 16):
                self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()

    def _refuse(self, refused: Refused) -> None:
        body = b""
        if refused.status != HTTPStatus.NOT_MODIFIED:
            reason = {HTTPStatus.PRECONDITION_FAILED: "conditionNotMet", HTTPStatus.NOT_FOUND: "notFound"}
            message = str(refused)
            error = {"domain": "global", "reason": reason.get(refused.status, "invalid"), "message": message}
            body = json.dumps(
                {"error": {"code": refused.status.value, "message": message, "errors": [error]}}
            ).encode()
        self.send_response(refused.status.value, refused.status.phrase)
        if body:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _HTTPServer(http.server.HTTPServer):
    request_queue_size = 128  # several test processes may connect at once; one is served at a time


class PreconditionServer:
    """The precondition-enforcing emulator on ``host:port`` (0: a free port), in a thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.storage = PreconditionStorage()
        self._httpd = _HTTPServer((host, port), partial(PreconditionRequestHandler, self.storage))
        self.host, self.port = host, int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="gcs-emulator", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def wipe(self, keep_buckets: bool = False) -> None:
        self.storage.wipe(keep_buckets=keep_buckets)
