"""`fusion browse`: a real run's output in the real STAC Browser, looked at by a real Chromium.

The output is a small naive-model run over the shared pipeline scenes (``pipe_scenes``, as in
tests/test_pipeline.py). `fusion browse` runs as a subprocess on a free port; a headless
Chromium (tests/servers/chromium.py) opens an Item's page, and the DOM must show the Item's
title and its thumbnail, loaded. The screenshots stay in the test's tmp_path
(``item-page.png``: the map with the thumbnail on the Item's footprint;
``item-thumbnail.png``: the Thumbnails tab); pytest keeps the last three runs' folders.

Nothing here is skipped: without Chromium or the STAC Browser build the tests fail and say
what to install (`.ci/run` installs Chromium, `make test` builds STAC Browser).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pipelines.cli import main
from pipelines.cli.browse import DEFAULT_BUILD
from pipelines.run import run_fusion
from tests.pipeline_fixtures import pipe_request
from tests.servers.chromium import headless_chromium

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def stac_browser() -> Path:
    """The build `fusion browse` will serve ($FUSION_STAC_BROWSER, which `make test` sets)."""
    site = Path(os.environ.get("FUSION_STAC_BROWSER") or DEFAULT_BUILD)
    if not (site / "index.html").is_file():
        raise RuntimeError(f"STAC Browser is not built in {site}: run `make stac-browser` (make test does)")
    return site


@pytest.fixture(scope="module")
def output(pipe_scenes: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real output folder: the naive model over the pipeline scenes (catalog, COGs, Items)."""
    root = tmp_path_factory.mktemp("browse")
    request = pipe_request(pipe_scenes, root / "products", model="naive")
    summary = run_fusion(request, root / "report")
    assert summary.written, summary.text()
    return Path(request.output)


class Served:
    def __init__(self, proc: subprocess.Popen[str], url: str, first_lines: list[str]) -> None:
        self.proc, self.url, self.first_lines = proc, url, first_lines


@pytest.fixture
def served(output: Path, stac_browser: Path) -> Iterator[Served]:
    """`fusion browse OUTPUT --port 0` in a subprocess; stopped with SIGINT (Ctrl-C) at the end
    unless the test did so."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "browse", str(output), "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    url = None
    deadline = time.monotonic() + 60
    while url is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("open http://"):
            url = line.split()[1]
    if url is None:
        proc.kill()
        raise AssertionError(f"fusion browse printed no URL: {lines} {proc.communicate()}")
    try:
        yield Served(proc, url, lines)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def _first_item(output: Path) -> tuple[str, dict[str, Any]]:
    path = sorted(output.glob("eo-fusion-*/*/*/*.json"))[0]
    return path.relative_to(output).as_posix(), json.loads(path.read_text())


@pytest.mark.slow
def test_item_page_shows_the_title_and_the_thumbnail(served: Served, output: Path, tmp_path: Path) -> None:
    rel, item = _first_item(output)
    thumbnail = served.url + "stac/" + rel.rsplit("/", 1)[0] + "/" + item["assets"]["thumbnail"]["href"][2:]
    assert served.first_lines[0].startswith("serving eo-fusion products")
    assert served.url.startswith("http://127.0.0.1:")
    with headless_chromium() as page:
        page.goto(f"{served.url}#/{rel}")
        title = page.wait_for("document.querySelector('h1')?.textContent.trim() || ''")
        # STAC Browser titles an Item by properties.title, else by its id (ours have no title).
        assert title == item["properties"].get("title", item["id"])
        # The map: the footprint, with the thumbnail placed on it (a canvas; give it a moment).
        page.wait_for("!!document.querySelector('.ol-layer canvas, canvas')")
        time.sleep(1.0)
        page.screenshot(tmp_path / "item-page.png")
        page.click_text(".nav-link", "Thumbnails")
        loaded = (
            f"[...document.images].find(i => i.src === {json.dumps(thumbnail)} && i.complete "
            "&& i.naturalWidth > 0 && i.offsetWidth > 0 "
            "&& getComputedStyle(i.closest('.tab-pane')).opacity === '1')?.naturalWidth || 0"
        )
        width = page.wait_for(loaded)
        page.screenshot(tmp_path / "item-thumbnail.png")
        assert not [c for c in page.console if c.startswith("exception")], page.console
    assert width == 256  # the thumbnail of a 256 px tile
    for shot in ("item-page.png", "item-thumbnail.png"):
        data = (tmp_path / shot).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, shot
    print(f"screenshots: {tmp_path / 'item-page.png'} {tmp_path / 'item-thumbnail.png'}")


@pytest.mark.slow
def test_server_answers_ranges_config_and_nothing_outside(served: Served, output: Path) -> None:
    rel, item = _first_item(output)
    cog = rel.rsplit("/", 1)[0] + "/" + item["assets"]["data"]["href"][2:]
    whole = (output / cog).read_bytes()
    request = urllib.request.Request(served.url + "stac/" + cog, headers={"Range": "bytes=100-199"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 206
        assert response.headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
        assert response.read() == whole[100:200]
    with urllib.request.urlopen(served.url + "config.js") as response:
        assert '"/stac/catalog.json"' in response.read().decode()
    with urllib.request.urlopen(served.url) as response:
        assert '<div id="stac-browser">' in response.read().decode()
    for outside in ("stac/../report/summary.txt", "stac/%2e%2e/report/summary.txt", "../etc/passwd"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(served.url + outside)
        assert err.value.code == 404, outside


@pytest.mark.slow
def test_ctrl_c_stops_cleanly(served: Served) -> None:
    served.proc.send_signal(signal.SIGINT)
    _, err = served.proc.communicate(timeout=10)
    assert served.proc.returncode == 0, err
    assert "Traceback" not in err and err.strip() == "stopped"
    with pytest.raises(OSError):
        urllib.request.urlopen(served.url, timeout=2)


def _error(args: list[str]) -> str:
    result = CliRunner().invoke(main, ["browse", *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_refusals_name_the_fix(tmp_path: Path) -> None:
    assert "no output folder" in _error([str(tmp_path / "nope")])
    (tmp_path / "out" / "products").mkdir(parents=True)
    (tmp_path / "out" / "products" / "catalog.json").write_text('{"type": "Catalog", "id": "x"}')
    message = _error([str(tmp_path / "out")])
    assert "has no catalog.json" in message and f"did you mean {tmp_path / 'out' / 'products'}" in message
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "catalog.json").write_text("{")
    assert "does not read as JSON" in _error([str(tmp_path / "bad")])
    message = _error(["gs://bucket/out"])
    assert "deploy STAC Browser as static files" in message and "docs/browse.md" in message
    built = tmp_path / "not-built"
    built.mkdir()
    message = _error([str(tmp_path / "out" / "products"), "--stac-browser", str(built)])
    assert "STAC Browser is not built" in message and "`make stac-browser`" in message


def test_a_busy_port_is_refused(tmp_path: Path) -> None:
    (tmp_path / "catalog.json").write_text('{"type": "Catalog", "id": "x"}')
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<html></html>")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        message = _error([str(tmp_path), "--port", str(port), "--stac-browser", str(tmp_path / "site")])
    assert f"port {port} on 127.0.0.1 is in use" in message and "--port" in message


def test_help_and_no_tensorflow() -> None:
    result = CliRunner().invoke(main, ["browse", "--help"])
    assert result.exit_code == 0 and "STAC Browser" in result.output and "--port" in result.output
    code = (
        "import sys; from click.testing import CliRunner; from pipelines.cli import main; "
        "r = CliRunner().invoke(main, ['browse', 'gs://b/o']); "
        "print(r.exit_code, 'tensorflow' in sys.modules, 'apache_beam' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "False", "False"], out
