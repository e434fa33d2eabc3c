"""A throwaway PostgreSQL + PostGIS cluster with pgSTAC, and stac-fastapi-pgstac in front of it.

Started for real by the tests: ``initdb`` in a temporary folder, ``pg_ctl start`` on a free port
of 127.0.0.1, ``pypgstac migrate``, then uvicorn with the app of ``pgstac_app.py`` (next to this
file): stac-fastapi-pgstac with the Transactions extension, its Bulk Transactions extension
unless ``bulk=False``, a bearer-token check when ``token`` is given (stac-fastapi has none of
its own; deployments put a proxy in front), and an access log the tests count requests in.
PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres`` system user
(``runuser``). The server side lives in its own virtual environment (``.venv-stacapi``, made
by ``make test``), because its pins differ from Beam's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tests.servers.gcs import free_port

ROOT = Path(__file__).resolve().parents[2]
PG_VERSION = "15"


@dataclass
class StacApi:
    url: str
    dsn: str
    log: Path
    #: one line per request the API received: ``METHOD PATH STATUS``
    access_log: Path

    def requests(self) -> list[tuple[str, str, int]]:
        """Every request the API received so far, as (method, path, status)."""
        if not self.access_log.is_file():
            return []
        out = []
        for line in self.access_log.read_text().splitlines():
            method, path, status = line.split(" ")
            out.append((method, path, int(status)))
        return out


def _pg_bin() -> Path:
    candidates = [Path(f"/usr/lib/postgresql/{PG_VERSION}/bin")]
    for cand in candidates:
        if (cand / "initdb").is_file():
            return cand
    raise RuntimeError(
        f"PostgreSQL {PG_VERSION} server binaries not found in {candidates}: install the Debian "
        f"packages postgresql and postgresql-{PG_VERSION}-postgis-3 (.ci/run does)"
    )


def _stacapi_venv() -> Path:
    venv = Path(os.environ.get("STAC_API_VENV", ROOT / ".venv-stacapi")).resolve()
    if not (venv / "bin" / "uvicorn").is_file():
        raise RuntimeError(f"no STAC API venv at {venv}: run `make test` (it builds .venv-stacapi)")
    return venv


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _wait_http(
    url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0, token: str | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text()[-3000:]
            raise RuntimeError(f"stac-fastapi-pgstac exited with {proc.returncode}:\n{tail}")
        try:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError(f"stac-fastapi-pgstac did not answer {url} in {timeout} s:\n{log.read_text()[-3000:]}")


@contextmanager
def pgstac_api(
    token: str | None = None,
    protect: Literal["all", "write"] = "all",
    bulk: bool = True,
) -> Iterator[StacApi]:
    """A fresh, empty API. ``token``: requests need ``Authorization: Bearer <token>``, else
    401: every request, or with ``protect="write"`` only the writes (POST, PUT, PATCH, DELETE;
    not ``POST /search``, a read).
    ``bulk=False``: no Bulk Transactions extension (``/collections/{id}/bulk_items`` is 404)."""
    pg_bin = _pg_bin()
    venv = _stacapi_venv()
    # Not under pytest's tmp_path: that is private to root, and the server may run as postgres.
    work = Path(tempfile.mkdtemp(prefix="eo-fusion-pgstac-"))
    work.chmod(0o755)
    data, sock = work / "data", work / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(work, "postgres")
        shutil.chown(sock, "postgres")
    port = free_port()
    pg_log = work / "postgres.log"
    subprocess.run(
        _as_postgres([str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]),
        check=True,
        capture_output=True,
    )
    server_options = (
        f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off"
    )
    start = [str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(pg_log), "-w", "-t", "60"]
    subprocess.run(_as_postgres([*start, "-o", server_options, "start"]), check=True, capture_output=True)
    dsn = f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres"
    api_log = work / "stac-api.log"
    access_log = work / "access.log"
    proc: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [str(venv / "bin" / "pypgstac"), "migrate", "--dsn", dsn], check=True, capture_output=True
        )
        api_port = free_port()
        env = {
            **os.environ,
            "PGUSER": "postgres",
            "PGPASSWORD": "postgres",
            "PGHOST": "127.0.0.1",
            "PGPORT": str(port),
            "PGDATABASE": "postgres",
            "ENABLE_TRANSACTIONS_EXTENSIONS": "TRUE",
            "STAC_API_BULK": "1" if bulk else "0",
            "STAC_API_TOKEN_FOR": protect,
            "STAC_API_ACCESS_LOG": str(access_log),
        }
        env.pop("STAC_API_REQUIRED_TOKEN", None)
        if token:
            env["STAC_API_REQUIRED_TOKEN"] = token
        with api_log.open("wb") as log_fh:
            proc = subprocess.Popen(
                [str(venv / "bin" / "uvicorn"), "pgstac_app:create_app", "--factory",
                 "--app-dir", str(Path(__file__).resolve().parent),
                 "--host", "127.0.0.1", "--port", str(api_port), "--log-level", "warning"],
                env=env, stdout=log_fh, stderr=subprocess.STDOUT, cwd=work,
            )  # fmt: skip
        url = f"http://127.0.0.1:{api_port}"
        _wait_http(f"{url}/", proc, api_log, token=token)
        access_log.unlink(missing_ok=True)  # the start-up polls are not the tests' requests
        yield StacApi(url, dsn, api_log, access_log)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run(
            _as_postgres([str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(work, ignore_errors=True)


def conformance(url: str, token: str | None = None) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"{url}/conformance", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        classes: list[str] = json.loads(response.read())["conformsTo"]
        return classes
