"""Hostile input, part 2: bad data inside a valid request. Each fault below is routed to the
dead-letter output with a reason that names the asset and what is wrong; the rest of the run
completes, and a re-run after the catalog is fixed produces the product (it was never written
under the clean product's id)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from pipelines.run import run_fusion
from tests.pipeline_fixtures import pipe_request


def _rewrite(path: Path, change: Callable[[np.ndarray, dict[str, Any]], np.ndarray]) -> None:
    """Rewrite a GeoTIFF with ``change(values, profile)`` (the profile may be edited in place)."""
    with rasterio.open(path) as src:
        values, profile = src.read(1), dict(src.profile)
    out = change(values, profile)
    profile["dtype"] = out.dtype.name
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(out, 1)


def _as_uint8(values: np.ndarray, profile: dict[str, Any]) -> np.ndarray:
    profile["nodata"] = 0
    return (values >> 8).astype(np.uint8)


def _as_float_reflectance(values: np.ndarray, profile: dict[str, Any]) -> np.ndarray:
    profile["nodata"] = None
    return (values * 2.75e-5 - 0.2).astype(np.float32)


def _item_of(band: Path) -> Path:
    (item,) = (p for p in band.parent.glob("*.json") if band.name in p.read_text())
    return item


def _scale_times_ten(band: Path) -> None:
    """The item's raster:bands scale of the band ten times too large (a mistake in the item)."""
    item = _item_of(band)
    data = json.loads(item.read_text())
    (asset,) = (a for a in data["assets"].values() if a["href"].endswith(band.name))
    asset["raster:bands"][0]["scale"] = asset["raster:bands"][0]["scale"] * 10
    item.write_text(json.dumps(data))


CASES: list[tuple[str, Callable[[Path], None], str]] = [
    ("band-stored-as-uint8", lambda band: _rewrite(band, _as_uint8),
     "is stored as uint8, but landsat-oli stores uint16"),
    ("band-stored-as-float-reflectance", lambda band: _rewrite(band, _as_float_reflectance),
     "is stored as float32, but landsat-oli stores uint16"),
    ("item-scale-ten-times-too-large", _scale_times_ten, "outside the reflectance range"),
]  # fmt: skip


@pytest.fixture(scope="module")
def clean_ids(pipe_scenes: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The product ids of the intact catalog (ids hash item ids, not where the catalog lies)."""
    tmp = tmp_path_factory.mktemp("clean")
    summary = run_fusion(pipe_request(pipe_scenes, tmp / "products", model="naive"), tmp / "report")
    return sorted(p["product_id"] for p in summary.written)


@pytest.mark.slow
@pytest.mark.parametrize(("change", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_band_that_is_not_what_its_sensor_stores_is_dead_lettered(
    pipe_scenes: Path, tmp_path: Path, clean_ids: list[str], change: Any, reason: str
) -> None:
    scenes = tmp_path / "scenes"
    shutil.copytree(pipe_scenes, scenes)
    request = pipe_request(scenes, tmp_path / "products", model="naive")
    red = sorted(scenes.rglob("*SR_B4.TIF"))[0]  # the red band of the first Landsat scene
    item = _item_of(red)
    original = {red: red.read_bytes(), item: item.read_bytes()}
    change(red)

    summary = run_fusion(request, tmp_path / "report")
    broken = [r for r in summary.dead_letters if r.get("asset") == str(red)]
    assert broken and all(reason in r["reason"] and r["kind"] == "failed" for r in broken), summary.text()
    assert reason in summary.text()
    # The rest of the run completed; the products that needed the band were not written.
    assert summary.written and len(summary.written) < len(clean_ids), summary.text()
    assert {p["product_id"] for p in summary.written} < set(clean_ids)
    if change is not CASES[0][1]:
        return  # the re-run after the fix is the same for every case: once is enough

    # Fixed catalog: the products that failed are made now, under the clean ids.
    for path, data in original.items():
        path.write_bytes(data)
    again = run_fusion(request, tmp_path / "report2")
    assert not [r for r in again.dead_letters if r["kind"] == "failed"], again.text()
    ids = sorted(p["product_id"] for p in [*again.written, *again.existing])
    assert ids == clean_ids
