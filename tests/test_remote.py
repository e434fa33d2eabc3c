"""Whole runs against real servers: products written to a GCS emulator."""

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

PERIOD = {"start": dt.date(2023, 6, 20), "end": dt.date(2023, 7, 12), "model": "naive"}


def _tree(root: str) -> dict[str, bytes]:
    files = storage.list_files(root)
    return {f[len(root) :].lstrip("/").replace("\\\\", "/"): storage.read_bytes(f) for f in files}


def _without_write_time_and_inputs(data: bytes) -> Any:
    obj = json.loads(data)
    obj["properties"].pop("processing:datetime")
    obj["links"] = [lk for lk in obj["links"] if lk["rel"] != "derived_from"]
    return obj


def _inputs(item: bytes, folder: Path | None) -> list[str]:
    """The derived_from targets of an Item, as absolute paths."""
    hrefs = [lk["href"] for lk in json.loads(item)["links"] if lk["rel"] == "derived_from"]
    return [str((folder / h).resolve()) if folder is not None else h for h in hrefs]


@pytest.mark.slow
def test_products_in_gcs_are_byte_identical_to_a_local_run(
    pipe_scenes: Path, tmp_path: Path, gcs: Any
) -> None:
    local = pipe_request(pipe_scenes, tmp_path / "local", **PERIOD)
    bucket = gcs.create_bucket("eo-fusion-gcs-products")
    remote = dataclasses.replace(local, output=f"{bucket}/products")
    first_local = run_fusion(local, tmp_path / "report-local")
    first_remote = run_fusion(remote, tmp_path / "report-gcs")
    assert len(first_remote.written) == len(first_local.written) >= 2
    here, there = _tree(str(tmp_path / "local")), _tree(remote.output)
    assert sorted(here) == sorted(there)
    for rel, data in here.items():
        if rel.endswith((".tif", ".png")) or rel.endswith(("catalog.json", "collection.json")):
            assert there[rel] == data, rel  # COGs, thumbnails, catalog and collection: same bytes
        else:  # Items: the same but for the time they were written ...
            assert _without_write_time_and_inputs(there[rel]) == _without_write_time_and_inputs(data), rel
            # ... and links to the (local) input items, absolute from the bucket, relative locally.
            assert _inputs(there[rel], None) == _inputs(data, (tmp_path / "local" / rel).parent)
    assert not any(".partial" in rel for rel in there)
    # A second run of the same window writes nothing to the bucket.
    generations = {b.name: b.generation for b in storage.gcs_client().list_blobs("eo-fusion-gcs-products")}
    again = run_fusion(remote, tmp_path / "report-gcs-2")
    assert again.written == [] and len(again.existing) == len(first_remote.written)
    assert again.counters.get("stac_files_written", 0) == 0
    after = {b.name: b.generation for b in storage.gcs_client().list_blobs("eo-fusion-gcs-products")}
    assert after == generations
