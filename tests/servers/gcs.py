"""gcp-storage-emulator in a background thread, reached through STORAGE_EMULATOR_HOST."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class GcsEmulator:
    host: str
    server: object

    def create_bucket(self, name: str) -> str:
        from fusion.storage import gcs_client

        gcs_client().create_bucket(name)
        return f"gs://{name}"

    def wipe(self) -> None:
        self.server.wipe()  # type: ignore[attr-defined]


@contextmanager
def gcs_emulator() -> Iterator[GcsEmulator]:
    from gcp_storage_emulator.server import create_server

    # It logs every 404 (each "does this product exist yet?") at ERROR level.
    logging.getLogger("gcp_storage_emulator").setLevel(logging.CRITICAL)
    port = free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    host = f"http://127.0.0.1:{port}"
    old = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = host
    try:
        yield GcsEmulator(host, server)
    finally:
        server.stop()
        if old is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = old
