"""The ASGI app the tests' stac-fastapi-pgstac runs (``uvicorn pgstac_app:create_app --factory``).

It runs in the server's own virtual environment (``.venv-stacapi``) and imports nothing of
eo-fusion. Configured by environment variables of the server process:

- ``STAC_API_BULK``: ``1`` (default) registers stac-fastapi-pgstac's Bulk Transactions
  extension (``POST /collections/{id}/bulk_items``) next to Transactions; ``0`` leaves it out,
  as an API that only has the Transactions extension.
- ``STAC_API_REQUIRED_TOKEN``: when set, requests without ``Authorization: Bearer <token>``
  get 401 - every request, or with ``STAC_API_TOKEN_FOR=write`` only the writes: POST, PUT,
  PATCH and DELETE, except ``POST /search`` (a read).
  stac-fastapi has no authentication of its own; deployments put stac-auth-proxy or a gateway
  in front, and this middleware stands in for it.
- ``STAC_API_ACCESS_LOG``: a file that gets one line per request, ``METHOD PATH STATUS``, so
  tests can count what the server received.
"""

from __future__ import annotations

import hmac
import json
import os
from typing import Any

from stac_fastapi.api.models import JSONResponse
from stac_fastapi.extensions import BulkTransactionExtension, TransactionExtension
from stac_fastapi.pgstac.app import instantiate_api
from stac_fastapi.pgstac.config import Settings
from stac_fastapi.pgstac.models.extensions import Extensions
from stac_fastapi.pgstac.transactions import BulkTransactionsClient, TransactionsClient

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ServerExtensions(Extensions):
    """Transactions always; Bulk Transactions unless ``STAC_API_BULK=0``."""

    @property
    def transaction(self) -> list[Any]:
        if not self.settings.enable_transactions_extensions:
            return []
        out: list[Any] = [
            TransactionExtension(
                client=TransactionsClient(), settings=self.settings, response_class=JSONResponse
            )
        ]
        if os.environ.get("STAC_API_BULK", "1") != "0":
            out.append(BulkTransactionExtension(client=BulkTransactionsClient()))
        return out


class BearerToken:
    """401 for a request without the right ``Authorization: Bearer`` header."""

    def __init__(self, app: Any, token: str, methods: frozenset[str] | None) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()
        self.methods = methods

    def _protected(self, method: str, path: str) -> bool:
        if self.methods is None:
            return True
        return method in self.methods and not (method == "POST" and path.endswith("/search"))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self._protected(scope["method"], scope["path"]):
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                body = json.dumps({"code": "Unauthorized", "description": "bearer token required"}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b"Bearer"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


class AccessLog:
    """Append ``METHOD PATH STATUS`` for every request to ``path``."""

    def __init__(self, app: Any, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        logged = False

        def write(status: int) -> None:
            nonlocal logged
            logged = True
            with open(self.path, "a") as fh:
                fh.write(f"{scope['method']} {scope['path']} {status}\n")

        async def logged_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                write(message["status"])  # before the client can have the response
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        finally:
            if not logged:
                write(0)


def create_app() -> Any:
    settings = Settings()
    app: Any = instantiate_api(extensions=ServerExtensions(settings=settings), settings=settings).app
    token = os.environ.get("STAC_API_REQUIRED_TOKEN")
    if token:
        methods = WRITE_METHODS if os.environ.get("STAC_API_TOKEN_FOR") == "write" else None
        app = BearerToken(app, token, methods)
    log = os.environ.get("STAC_API_ACCESS_LOG")
    if log:
        app = AccessLog(app, log)  # outermost: also logs the requests the token check refuses
    return app
