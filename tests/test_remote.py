"""Whole runs against real servers: inputs over HTTP (range requests, injected faults) and
products written to a GCS emulator, compared with a local-folder run."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from fusion import storage
from pipelines.run import run_fusion
from tests.pipeline_fixtures import pipe_request
from tests.servers.http_range import range_server

PERIOD = {"start": dt.date(2023, 6, 20), "end": dt.date(2023, 7, 12), "model": "naive"}


def _tree(root: str) -> dict[str, bytes]:
    files = storage.list_files(root)
    return {f[len(root) :].lstrip("/").replace("\\\\", "/"): storage.read_bytes(f) for f in files}


def _without_write_time_and_inputs(data: bytes) -> Any:
    obj = json.loads(data)
    obj["properties"].pop("processing:datetime")
    obj["links"] = [lk for lk in obj["links"] if lk["rel"] != "derived_from"]
    return obj


def _inputs(item: bytes) -> list[str]:
    """The derived_from links of an Item by title ("role: item id")."""
    return [lk["title"] for lk in json.loads(item)["links"] if lk["rel"] == "derived_from"]


def _products(tree: dict[str, bytes]) -> dict[str, bytes]:
    return {rel: data for rel, data in tree.items() if rel.endswith(".tif")}


@pytest.mark.slow
def test_inputs_over_http_and_outputs_in_gcs_give_the_local_run_products(
    pipe_scenes: Path, tmp_path: Path, gcs: Any
) -> None:
    local = pipe_request(pipe_scenes, tmp_path / "local", **PERIOD)
    bucket = gcs.create_bucket("eo-fusion-gcs-products")
    first_local = run_fusion(local, tmp_path / "report-local")
    with range_server(pipe_scenes) as srv:
        remote = dataclasses.replace(local, catalog=f"{srv.url}/catalog.json", output=f"{bucket}/products")
        first_remote = run_fusion(remote, tmp_path / "report-gcs")
        assert srv.requests["/catalog.json"] >= 1 and any(p.endswith(".TIF") for p in srv.requests)
    assert len(first_remote.written) == len(first_local.written) >= 2
    assert first_remote.dead_letters == first_local.dead_letters == []
    here, there = _tree(str(tmp_path / "local")), _tree(remote.output)
    assert sorted(here) == sorted(there)
    for rel, data in here.items():
        if rel.endswith((".tif", ".png", "catalog.json", "collection.json")) or rel.startswith("models/"):
            # COGs, thumbnails, catalog, collections, the model package and its MLM Item: same bytes
            assert there[rel] == data, rel
        else:  # Items: the same but for the time they were written and where the inputs live
            assert _without_write_time_and_inputs(there[rel]) == _without_write_time_and_inputs(data), rel
            assert _inputs(there[rel]) == _inputs(data)
    assert not any(".partial" in rel for rel in there)
    # A second run of the same window writes nothing to the bucket.
    generations = {b.name: b.generation for b in storage.gcs_client().list_blobs("eo-fusion-gcs-products")}
    again = run_fusion(dataclasses.replace(remote, catalog=local.catalog), tmp_path / "report-gcs-2")
    assert again.written == [] and len(again.existing) == len(first_remote.written)
    assert again.counters.get("stac_files_written", 0) == 0
    after = {b.name: b.generation for b in storage.gcs_client().list_blobs("eo-fusion-gcs-products")}
    assert after == generations


@pytest.mark.slow
def test_429_and_503_on_the_first_two_requests_of_every_file_change_nothing(
    pipe_scenes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GDAL's retry pause (0.5 s, doubling) would make this test wait ~1.5 s per file.
    monkeypatch.setenv("GDAL_HTTP_RETRY_DELAY", "0.05")
    local = pipe_request(pipe_scenes, tmp_path / "local", **PERIOD)
    run_fusion(local, tmp_path / "report-local")
    with range_server(pipe_scenes) as srv:
        srv.faults.fail_first["*"] = (2, 429)
        for path in pipe_scenes.rglob("*_SR_B4.TIF"):  # red bands get 503s instead
            srv.faults.fail_first["/" + path.relative_to(pipe_scenes).as_posix()] = (2, 503)
        flaky = dataclasses.replace(local, catalog=f"{srv.url}/catalog.json", output=str(tmp_path / "flaky"))
        summary = run_fusion(flaky, tmp_path / "report-flaky")
        refused = dict(srv.faults.failed)
    assert summary.dead_letters == []
    assert sum(refused.values()) >= 2 * 10 and set(refused.values()) == {2}  # every file refused twice
    assert any(p.endswith(".json") for p in refused) and any(p.endswith(".TIF") for p in refused)
    assert _products(_tree(str(tmp_path / "flaky"))) == _products(_tree(str(tmp_path / "local")))


@pytest.mark.slow
def test_a_permanently_broken_asset_is_dead_lettered_with_its_url_and_status(
    pipe_scenes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GDAL_HTTP_RETRY_DELAY", "0.05")  # 500 is retried before giving up
    with range_server(pipe_scenes) as srv:
        red = sorted(pipe_scenes.rglob("*_SR_B4.TIF"))[0]
        path = "/" + red.relative_to(pipe_scenes).as_posix()
        srv.faults.broken[path] = 500
        request = pipe_request(pipe_scenes, tmp_path / "out", catalog=f"{srv.url}/catalog.json", **PERIOD)
        summary = run_fusion(request, tmp_path / "report")
    failed = [r for r in summary.dead_letters if r["kind"] == "failed" and r["stage"] == "read"]
    url = srv.url + path
    assert failed, f"no read failure recorded for {url}: {summary.text()}"
    assert all(r["asset"] == url for r in failed)
    assert all(r["reason"].startswith(f"{url}: HTTP 500: ") for r in failed)
    assert "HTTP 500" in summary.text()
    assert summary.written, "the rest of the run completes"
