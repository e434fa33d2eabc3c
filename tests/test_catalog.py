"""The static catalog: valid STAC offline, and search equal to a brute-force filter."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import pystac
import pytest
from pyproj import Transformer
from shapely.geometry import box, shape

from fusion.catalog import SearchRequest, as_utc_range, iter_item_files, parse_aoi, search_static_catalog
from fusion.errors import ConfigError, SceneNotFound
from fusion.simulate import SimulationConfig, SimulationResult
from tests.helpers import broken_links_and_assets, stac_validate_recursive


@pytest.mark.slow
def test_stac_validator_recursive_accepts_catalog(small_catalog: Path, tmp_path: Path) -> None:
    rc, results, output = stac_validate_recursive(small_catalog, tmp_path)
    n_items = len(list(iter_item_files(small_catalog.parent)))
    assert rc == 0, output[-3000:]
    assert len(results) == 1 + 3 + n_items  # catalog, collections, items: all visited
    assert all(r["valid_stac"] for r in results)
    assert broken_links_and_assets(small_catalog) == []


def test_validation_catches_broken_catalogs(small_catalog: Path, tmp_path: Path) -> None:
    """The checks are real: a missing COG and a missing item file both fail."""
    copy = tmp_path / "copy"
    shutil.copytree(small_catalog.parent, copy)
    victim = next((copy / "landsat-c2-l2").rglob("*_SR_B4.TIF"))
    victim.unlink()
    broken = broken_links_and_assets(copy / "catalog.json")
    assert len(broken) == 1 and "asset red" in broken[0]
    item_json = next((copy / "modis-09A1-061").rglob("MOD09A1*.json"))
    item_json.unlink()
    rc, _, _ = stac_validate_recursive(copy / "catalog.json", tmp_path)
    assert rc != 0
    assert any("link item" in b for b in broken_links_and_assets(copy / "catalog.json"))


def test_extension_fields_are_well_formed(small_catalog: Path) -> None:
    """What the offline stand-in schema does not check: eo, proj, raster fields by hand."""
    cat = pystac.Catalog.from_file(str(small_catalog))
    items = list(cat.get_items(recursive=True))
    assert items
    for item in items:
        d = item.to_dict()
        props = d["properties"]
        assert 0.0 <= props["eo:cloud_cover"] <= 100.0
        assert (props.get("proj:epsg")) or props.get("proj:wkt2") or props.get("proj:code")
        for key, asset in d["assets"].items():
            assert asset["type"] == "image/tiff; application=geotiff; profile=cloud-optimized"
            rb = asset["raster:bands"][0]
            assert rb["data_type"] in {"uint8", "uint16", "int16"}
            if "reflectance" in asset["roles"]:
                assert {"scale", "offset", "nodata"} <= set(rb), key
                eo = asset["eo:bands"][0]
                assert eo["center_wavelength"] > 0 and eo["full_width_half_max"] > 0
            href = Path(item.get_self_href() or "").parent / asset["href"]
            assert href.exists()
        if item.collection_id == "landsat-c2-l2":
            assert d["assets"]["red"]["raster:bands"][0]["scale"] == 2.75e-05
            assert d["assets"]["red"]["raster:bands"][0]["offset"] == -0.2
            assert d["assets"]["qa_pixel"]["raster:bands"][0]["nodata"] == 1
        if item.collection_id == "sentinel-2-l2a":
            assert props["s2:processing_baseline"] == "05.10"
            assert d["assets"]["B04"]["raster:bands"][0]["offset"] == -0.1
        if item.collection_id == "modis-09A1-061":
            assert props["datetime"] is None and props["start_datetime"] < props["end_datetime"]


# --- Search vs brute force ------------------------------------------------------------------


def _brute_force(
    catalog_dir: Path,
    aoi: Any,
    start: dt.datetime | None,
    end: dt.datetime | None,
    collections: tuple[str, ...] | None,
    max_cloud: float | None,
) -> list[str]:
    """Read every item file and apply the filter in the plainest possible way."""
    selected = []
    for path in iter_item_files(catalog_dir):
        item = json.loads(path.read_text())
        if item.get("type") != "Feature":
            continue
        p = item["properties"]
        if collections is not None and item["collection"] not in collections:
            continue
        cc = p.get("eo:cloud_cover")
        if max_cloud is not None and (cc is None or cc > max_cloud):
            continue
        t0 = dt.datetime.fromisoformat((p.get("start_datetime") or p["datetime"]).replace("Z", "+00:00"))
        t1 = dt.datetime.fromisoformat((p.get("end_datetime") or p["datetime"]).replace("Z", "+00:00"))
        if start is not None and t1 < start:
            continue
        if end is not None and t0 > end:
            continue
        if aoi is not None and not shape(item["geometry"]).intersects(aoi):
            continue
        selected.append(item["id"])
    return sorted(selected)


def _aoi_lonlat(cfg: SimulationConfig, frac: tuple[float, float, float, float]) -> Any:
    minx, miny, maxx, maxy = cfg.aoi_bounds
    w, h = maxx - minx, maxy - miny
    t = Transformer.from_crs(f"EPSG:{cfg.epsg}", "EPSG:4326", always_xy=True)
    x0, y0 = t.transform(minx + frac[0] * w, miny + frac[1] * h)
    x1, y1 = t.transform(minx + frac[2] * w, miny + frac[3] * h)
    return box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


REQUESTS = [
    dict(aoi=None, start=None, end=None, collections=None, max_cloud=None),
    dict(aoi=(0.1, 0.1, 0.3, 0.3), start=None, end=None, collections=None, max_cloud=None),
    dict(aoi=None, start=dt.date(2023, 7, 1), end=dt.date(2023, 7, 15), collections=None, max_cloud=None),
    dict(aoi=None, start=None, end=None, collections=("landsat-c2-l2", "modis-09A1-061"), max_cloud=30.0),
    dict(
        aoi=(0.4, 0.4, 0.6, 0.6),
        start=dt.date(2023, 6, 28),
        end=dt.date(2023, 7, 20),
        collections=("sentinel-2-l2a",),
        max_cloud=50.0,
    ),
    dict(aoi=None, start=None, end=None, collections=None, max_cloud=0.0),
    dict(
        aoi=None,
        start=dt.date(2023, 7, 9),
        end=dt.date(2023, 7, 9),
        collections=("modis-09A1-061",),
        max_cloud=None,
    ),
    dict(aoi="far-away", start=None, end=None, collections=None, max_cloud=None),
]


@pytest.mark.parametrize("req", REQUESTS)
def test_search_equals_brute_force(
    small_catalog: Path, small_config: SimulationConfig, req: dict[str, Any]
) -> None:
    if req["aoi"] == "far-away":
        aoi = box(10.0, 45.0, 11.0, 46.0)
    elif req["aoi"] is None:
        aoi = None
    else:
        aoi = _aoi_lonlat(small_config, req["aoi"])
    t0, t1 = as_utc_range(req["start"], req["end"])
    found = search_static_catalog(
        small_catalog, SearchRequest(aoi, t0, t1, req["collections"], req["max_cloud"])
    )
    expected = _brute_force(small_catalog.parent, aoi, t0, t1, req["collections"], req["max_cloud"])
    assert sorted(s.id for s in found) == expected
    if (
        req["aoi"] is None
        and req["start"] is None
        and req["collections"] is None
        and req["max_cloud"] is None
    ):
        assert len(expected) == len(list(iter_item_files(small_catalog.parent)))
    if req["aoi"] == "far-away":
        assert expected == []


def test_scenes_carry_what_the_pipeline_needs(small_catalog: Path) -> None:
    scenes = search_static_catalog(small_catalog, SearchRequest())
    assert [s.datetime for s in scenes] == sorted(s.datetime for s in scenes)
    for s in scenes:
        assert s.qa_href and Path(s.qa_href).exists()
        for href in s.bands.values():
            assert Path(href).is_absolute() and Path(href).exists()
        assert (s.projection.shape and s.projection.transform) or s.collection == "sentinel-2-l2a"
        assert s.item_href and Path(s.item_href).exists()
    s2 = next(s for s in scenes if s.collection == "sentinel-2-l2a")
    assert s2.scale_offset["red"] == (0.0001, -0.1)
    modis = next(s for s in scenes if s.collection == "modis-09A1-061")
    assert modis.projection.epsg is None and "Sinusoidal" in (modis.projection.wkt2 or "")


def test_aoi_parsing(tmp_path: Path) -> None:
    assert parse_aoi("-98,37,-97,38").bounds == (-98.0, 37.0, -97.0, 38.0)  # type: ignore[union-attr]
    gj = tmp_path / "aoi.geojson"
    gj.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "Point", "coordinates": [-97.5, 37.5]},
                    }
                ],
            }
        )
    )
    assert parse_aoi(str(gj)).geom_type == "Point"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="minx,miny,maxx,maxy"):
        parse_aoi("somewhere")
    with pytest.raises(ConfigError, match="valid WGS 84 box"):
        parse_aoi("10,10,5,5")
    with pytest.raises(SceneNotFound, match="fusion simulate"):
        search_static_catalog(tmp_path / "nothing", SearchRequest())


def test_simulated_item_dates_are_the_schedules(small_sim: SimulationResult) -> None:
    landsat_days = sorted(
        i.properties["datetime"].date() for i in small_sim.items if i.collection == "landsat-c2-l2"
    )
    assert [(b - a).days for a, b in itertools.pairwise(landsat_days)] == [16, 16]
