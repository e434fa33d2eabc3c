"""A GCS emulator in a background thread, reached through STORAGE_EMULATOR_HOST.

It is gcp-storage-emulator's routes and storage behind tests/servers/gcs_preconditions.py, which
makes it enforce GCS's generation preconditions (ifGenerationMatch and the like: 412 when one
does not hold), as the real service does and the plain emulator does not.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.servers.gcs_preconditions import PreconditionServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class GcsEmulator:
    host: str
    server: PreconditionServer

    def create_bucket(self, name: str) -> str:
        from fusion.storage import gcs_client

        gcs_client().create_bucket(name)
        return f"gs://{name}"

    def wipe(self) -> None:
        self.server.wipe()


@contextmanager
def gcs_emulator() -> Iterator[GcsEmulator]:
    # It logs every 404 (each "does this product exist yet?") at ERROR level.
    logging.getLogger("gcp_storage_emulator").setLevel(logging.CRITICAL)
    server = PreconditionServer("127.0.0.1", 0)  # binds a free port now: no race for it
    server.start()
    host = f"http://127.0.0.1:{server.port}"
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
