"""Broken files in the output (issue 26, hostile input): a truncated COG or Item, a stray file,
a broken catalog. Products that do not check out are redone; the catalog update reads only what
the catalog links and skips (and reports) what it cannot use; nothing fails."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from affine import Affine
from rasterio.enums import Resampling

from fusion import storage
from fusion.blockio import GridWindow, read_asset
from fusion.errors import BlockReadError
from fusion.publish import multihash_sha256, update_catalog
from fusion.rasterio_io import write_cog
from pipelines.run import RunSummary, run_fusion
from tests.helpers import broken_links_and_assets, is_valid_cog
from tests.pipeline_fixtures import pipe_request


def _news(summary: RunSummary) -> list[dict[str, Any]]:
    """The dead letters but the pairing's own (dates this simulation never fuses)."""
    return [r for r in summary.dead_letters if r["stage"] != "pair"]


def _files(out: Path) -> dict[Path, tuple[int, bytes]]:
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}


def _items(out: Path) -> list[Path]:
    return sorted(out.glob("eo-fusion-*/*/*/*.json"))


def _catalog_items(out: Path) -> list[Path]:
    """The Item files the catalog links (catalog -> product collections -> items)."""
    catalog = json.loads((out / "catalog.json").read_text())
    found = []
    for child in (lk for lk in catalog["links"] if lk["rel"] == "child"):
        coll_path = (out / child["href"]).resolve()
        if coll_path.parent.name == "models":
            continue
        coll = json.loads(coll_path.read_text())
        found += [(coll_path.parent / lk["href"]).resolve() for lk in coll["links"] if lk["rel"] == "item"]
    return sorted(found)


@pytest.fixture(scope="module")
def first_run(pipe_scenes: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunSummary]:
    """One finished output of the naive model (copied by each test before it breaks it)."""
    root = tmp_path_factory.mktemp("robust")
    request = pipe_request(pipe_scenes, root / "products", model="naive")
    summary = run_fusion(request, root / "report")
    assert len(summary.written) >= 2 and not _news(summary), summary.text()
    return root / "products", summary


def _copy(first_run: tuple[Path, RunSummary], tmp_path: Path) -> Path:
    out = tmp_path / "products"
    shutil.copytree(first_run[0], out)
    return out


def _rerun(pipe_scenes: Path, out: Path, report: Path, **overrides: Any) -> RunSummary:
    return run_fusion(pipe_request(pipe_scenes, out, model="naive", **overrides), report)


def test_an_unchanged_rerun_writes_nothing(
    first_run: tuple[Path, RunSummary], pipe_scenes: Path, tmp_path: Path
) -> None:
    out = _copy(first_run, tmp_path)
    before = _files(out)
    again = _rerun(pipe_scenes, out, tmp_path / "report")
    assert again.written == [] and len(again.existing) == len(first_run[1].written), again.text()
    assert _news(again) == []
    assert _files(out) == before
    # Existing products are named by their Item, so the catalog update need not discover them.
    assert all(p.get("item", "").endswith(".json") for p in again.existing)


def test_a_truncated_cog_is_redone_and_only_it(
    first_run: tuple[Path, RunSummary], pipe_scenes: Path, tmp_path: Path
) -> None:
    out = _copy(first_run, tmp_path)
    item = _items(out)[0]
    cog = item.with_suffix(".tif")
    good = cog.read_bytes()
    cog.write_bytes(good[: len(good) // 2])
    again = _rerun(pipe_scenes, out, tmp_path / "report")
    assert [p["product_id"] for p in again.written] == [item.stem], again.text()
    assert len(again.existing) == len(first_run[1].written) - 1
    (redone,) = _news(again)
    assert redone["stage"] == "plan" and redone["kind"] == "redone" and redone["key"] == item.stem
    assert redone["asset"] == str(cog) and f"COG size {len(good) // 2} != {len(good)}" in redone["reason"]
    assert "1 redone" in again.text() and "COG size" in again.text()
    assert again.counters.get("products_redone") == 1
    valid, errors, _ = is_valid_cog(cog)
    assert valid, errors
    recorded = json.loads(item.read_text())["assets"]["data"]
    assert recorded["file:checksum"] == multihash_sha256(cog) and recorded["file:size"] == cog.stat().st_size
    assert broken_links_and_assets(out / "catalog.json") == []


def test_a_cog_of_the_right_size_but_other_bytes_is_redone(
    first_run: tuple[Path, RunSummary], pipe_scenes: Path, tmp_path: Path
) -> None:
    out = _copy(first_run, tmp_path)
    cog = _items(out)[-1].with_suffix(".tif")
    data = bytearray(cog.read_bytes())
    data[-100:] = bytes(100)  # same size: only the checksum can tell
    cog.write_bytes(bytes(data))
    again = _rerun(pipe_scenes, out, tmp_path / "report")
    assert [p["product_id"] for p in again.written] == [cog.stem], again.text()
    assert "checksum" in _news(again)[0]["reason"]
    assert is_valid_cog(cog)[0]


def test_a_truncated_item_is_redone_and_the_catalog_stays_valid(
    first_run: tuple[Path, RunSummary], pipe_scenes: Path, tmp_path: Path
) -> None:
    out = _copy(first_run, tmp_path)
    item = _items(out)[0]
    text = item.read_text()
    item.write_text(text[: len(text) // 2])
    again = _rerun(pipe_scenes, out, tmp_path / "report")
    assert [p["product_id"] for p in again.written] == [item.stem], again.text()
    (redone,) = _news(again)
    assert redone["kind"] == "redone" and redone["asset"] == str(item)
    assert "Item not valid JSON" in redone["reason"]
    assert json.loads(item.read_text())["id"] == item.stem
    assert _catalog_items(out) == [p.resolve() for p in _items(out)]
    assert broken_links_and_assets(out / "catalog.json") == []


def test_a_broken_item_outside_the_run_is_dropped_from_the_catalog_and_reported(
    first_run: tuple[Path, RunSummary], pipe_scenes: Path, tmp_path: Path
) -> None:
    """A run that does not cover a product with a broken Item keeps going, drops it from the
    catalog and says which file it skipped; the next run that covers it redoes it."""
    out = _copy(first_run, tmp_path)
    broken = _items(out)[-1]
    broken.write_text("{")
    when = dt.datetime.strptime(broken.stem.split("-")[-2], "%Y%m%d").date()
    # A window that ends before the broken product's date.
    again = _rerun(pipe_scenes, out, tmp_path / "report", end=when - dt.timedelta(days=1))
    assert broken.stem not in [p["product_id"] for p in again.written], again.text()
    (skip,) = [r for r in again.dead_letters if r["stage"] == "publish"]
    assert (skip["stage"], skip["kind"], skip["asset"]) == ("publish", "skipped", str(broken))
    assert "not valid JSON" in skip["reason"] and "dropped from the catalog" in skip["reason"]
    assert "not valid JSON" in again.text()
    assert broken.resolve() not in _catalog_items(out)
    assert broken_links_and_assets(out / "catalog.json") == []
    # The run over the whole window redoes it and lists it again.
    full = _rerun(pipe_scenes, out, tmp_path / "report-2")
    assert [p["product_id"] for p in full.written] == [broken.stem], full.text()
    assert _catalog_items(out) == [p.resolve() for p in _items(out)]
    assert broken_links_and_assets(out / "catalog.json") == []


def test_a_stray_file_in_the_output_is_ignored(
    first_run: tuple[Path, RunSummary], pipe_scenes: Path, tmp_path: Path
) -> None:
    out = _copy(first_run, tmp_path)
    folder = _items(out)[0].parent
    for stray in (out / "notes.json", folder / "notes.json", out / "eo-fusion-x" / "collection.json"):
        stray.parent.mkdir(parents=True, exist_ok=True)
        stray.write_text("my notes, not JSON")
    before = _files(out)
    again = _rerun(pipe_scenes, out, tmp_path / "report")
    assert again.written == [] and _news(again) == [], again.text()
    assert _files(out) == before


def test_a_broken_catalog_or_collection_is_rebuilt_from_its_folder(
    first_run: tuple[Path, RunSummary], tmp_path: Path
) -> None:
    out = _copy(first_run, tmp_path)
    catalog = out / "catalog.json"
    expected = _catalog_items(out)
    (coll,) = out.glob("eo-fusion-*/collection.json")
    stray = _items(out)[0].parent / "notes.json"
    stray.write_text("not JSON")  # beside the Items, but no COG beside it: not an Item
    before = {p: p.read_bytes() for p in (catalog, coll)}
    for broken in (catalog, coll):
        broken.write_bytes(before[broken][:10])
        result = update_catalog(out)
        assert [s.location for s in result.skipped] == [str(broken)], result.skipped
        assert "rebuilt" in result.skipped[0].reason
        assert _catalog_items(out) == expected
        assert broken_links_and_assets(catalog) == []
    assert catalog.read_bytes() == before[catalog]  # the same catalog as before
    # The collection's licence and providers came from its own earlier copy (lost with it;
    # a run restores the inputs' ones); its Items are the same.
    assert json.loads(coll.read_text())["links"] == json.loads(before[coll])["links"]


def test_update_catalog_reads_only_linked_files(first_run: tuple[Path, RunSummary], tmp_path: Path) -> None:
    out = _copy(first_run, tmp_path)
    (out / "eo-fusion-spatiotemporal-naive" / "extra.json").write_text("[1, 2")
    item = _items(out)[0]
    item.write_text(json.dumps({"type": "Feature", "id": "someone-else"}))
    result = update_catalog(out)
    (skip,) = result.skipped
    assert skip.location == str(item) and "not the STAC Item of product" in skip.reason
    assert item.resolve() not in _catalog_items(out)
    assert len(_catalog_items(out)) == len(_items(out)) - 1


# ----------------------------------------------------------------------------- units


def test_a_truncated_input_cog_is_named_truncated(tmp_path: Path) -> None:
    data = np.random.default_rng(0).integers(0, 10000, (1, 512, 512)).astype("int16")
    transform = Affine(30, 0, 500000, 0, -30, 4000000)
    cog = write_cog(tmp_path / "a.tif", data, transform=transform, crs="EPSG:32614", nodata=-9999)
    blob = cog.read_bytes()
    short = tmp_path / "short.tif"
    short.write_bytes(blob[: len(blob) // 3])
    grid = GridWindow("EPSG:32614", transform, 512, 512)
    with pytest.raises(BlockReadError) as err:
        read_asset(str(short), grid, Resampling.nearest)
    text = str(err.value)
    assert text.startswith(f"{short}: file truncated or corrupt; ") and err.value.asset == str(short)
    assert "See previous exception" not in text and "bytes" in text


@pytest.mark.parametrize("where", ["local", "gcs"])
def test_sizes_and_checksums_stream_from_either_store(where: str, tmp_path: Path, request: Any) -> None:
    data = bytes(range(256)) * 5000  # > one chunk at the size below
    if where == "local":
        location = str(tmp_path / "f.bin")
    else:
        gcs = request.getfixturevalue("gcs")
        location = gcs.create_bucket(f"eo-fusion-robust-{uuid.uuid4().hex[:12]}") + "/f.bin"
    assert storage.size(location) is None
    storage.write_bytes(location, data)
    assert storage.size(location) == len(data)
    assert b"".join(storage.iter_bytes(location, chunk_size=100_000)) == data
    import hashlib

    assert multihash_sha256(location) == "1220" + hashlib.sha256(data).hexdigest()
    assert storage.size(location + "-missing") is None
