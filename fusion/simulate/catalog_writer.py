"""The simulated scenes' static STAC catalog: one collection per simulated collection.

Items and collections mirror the real ones (asset keys, ``eo:bands``, ``raster:bands``
scale/offset, ``proj:*``, QA asset), so search and the pipeline read simulated and real
catalogs alike. The generic STAC helpers (footprints, extension URLs, media type) are
:mod:`fusion.catalog`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pystac

from fusion import sensors as S
from fusion.catalog import COG_MEDIA_TYPE, STAC_EXTENSIONS, item_interval, round_geometry, wgs84_polygon
from fusion.simulate.config import SimulationConfig
from fusion.simulate.items import AssetFile, SimulatedItem, SimulationResult


def _asset(asset: AssetFile, sensor: S.Sensor, props: dict[str, Any], per_asset_proj: bool) -> pystac.Asset:
    band = asset.band
    extra: dict[str, Any] = {}
    if per_asset_proj:
        extra["proj:shape"] = list(asset.shape)
        extra["proj:transform"] = list(asset.transform)[:6]
    if band is not None:
        scale, offset = sensor.scale_offset(band, props)
        if per_asset_proj:
            extra["gsd"] = band.resolution
        eo_band: dict[str, Any] = {"name": band.name}
        if band.common_name:
            eo_band["common_name"] = band.common_name
        eo_band.update(center_wavelength=band.center_wavelength, full_width_half_max=band.full_width_half_max)
        extra["eo:bands"] = [eo_band]
        raster = {
            "data_type": band.data_type,
            "nodata": band.nodata,
            "scale": scale,
            "offset": offset,
            "spatial_resolution": band.resolution,
        }
        extra["raster:bands"] = [raster]
        roles = ["data", "reflectance"]
        common = band.common_name or "no common name"
        title = f"{band.name} ({common}, {band.min_wavelength}-{band.max_wavelength} µm)"
    else:
        qa = sensor.qa
        raster = {"data_type": asset.data_type or qa.data_type, "spatial_resolution": qa.resolution}
        if asset.kind == "day_of_year":
            raster.update(unit="Julian Day", nodata=65535)
            roles, title = ["data"], "Day of the year of the composited observation"
        else:
            if qa.nodata is not None:
                raster["nodata"] = qa.nodata
            raster["unit"] = "bit index" if qa.decoder != "sentinel2-scl" else "class"
            roles = ["cloud", "cloud-shadow", "snow-ice", "water-mask"]
            title = f"Quality assessment ({qa.decoder})"
        extra["raster:bands"] = [raster]
    return pystac.Asset(
        href=str(asset.path), media_type=COG_MEDIA_TYPE, title=title, roles=roles, extra_fields=extra
    )


def _item(sim: SimulatedItem) -> pystac.Item:
    crs = f"EPSG:{sim.epsg}" if sim.epsg is not None else sim.crs_wkt2
    assert crs is not None  # noqa: S101 - built by the simulator, never user input
    geom = wgs84_polygon(sim.geometry_bounds, crs)
    props = dict(sim.properties)
    when = props.pop("datetime")
    # One grid for all assets goes on the item; assets on several grids (Sentinel-2's 10 and
    # 20 m bands) each carry their own, as in the real collections.
    per_asset_proj = len({(a.shape, a.transform) for a in sim.assets.values()}) > 1
    if not per_asset_proj:
        first = next(iter(sim.assets.values()))
        props["proj:shape"] = list(first.shape)
        props["proj:transform"] = list(first.transform)[:6]
    props["proj:epsg"] = sim.epsg
    if sim.crs_wkt2:
        props["proj:wkt2"] = sim.crs_wkt2
    for key in ("start_datetime", "end_datetime"):
        if key in props:
            props[key] = props[key].strftime("%Y-%m-%dT%H:%M:%SZ")
    exts = [STAC_EXTENSIONS["eo"], STAC_EXTENSIONS["proj"], STAC_EXTENSIONS["raster"]]
    if any(k.startswith("view:") for k in props):
        exts.append(STAC_EXTENSIONS["view"])
    item = pystac.Item(
        id=sim.item_id,
        geometry=round_geometry(geom),
        bbox=[round(v, 7) for v in geom.bounds],
        datetime=when,
        properties=props,
        stac_extensions=exts,
        collection=sim.collection,
    )
    for key, asset in sim.assets.items():
        item.add_asset(key, _asset(asset, sim.sensor, props, per_asset_proj))
    return item


def _collection(collection_id: str, items: list[pystac.Item], sensor: S.Sensor) -> pystac.Collection:
    bboxes = [i.bbox for i in items if i.bbox]
    spatial = [
        min(b[0] for b in bboxes),
        min(b[1] for b in bboxes),
        max(b[2] for b in bboxes),
        max(b[3] for b in bboxes),
    ]
    starts = [item_interval(i.properties)[0] if i.datetime is None else i.datetime for i in items]
    ends = [item_interval(i.properties)[1] if i.datetime is None else i.datetime for i in items]
    coll = pystac.Collection(
        id=collection_id,
        title=f"Simulated {sensor.title}",
        description=(
            f"Simulated scenes mirroring the `{collection_id}` collection (asset keys, raster:bands "
            "scale/offset, QA encoding) produced by `fusion simulate`. Not real data."
        ),
        extent=pystac.Extent(
            pystac.SpatialExtent([spatial]),
            pystac.TemporalExtent([[min(starts), max(ends)]]),
        ),
        # Our own simulated data, given away: CC0 (products fused from it inherit that).
        license="CC0-1.0",
        stac_extensions=[STAC_EXTENSIONS["eo"], STAC_EXTENSIONS["proj"], STAC_EXTENSIONS["raster"]],
        summaries=pystac.Summaries(
            {
                "platform": sorted({str(i.properties.get("platform")) for i in items}),
                "instruments": list(sensor.instruments),
            }
        ),
    )
    coll.providers = [
        pystac.Provider(
            "eo-fusion simulator", roles=[pystac.ProviderRole.PRODUCER, pystac.ProviderRole.LICENSOR]
        )
    ]
    return coll


def write_simulated_catalog(cfg: SimulationConfig, result: SimulationResult) -> Path:
    """Write ``catalog.json`` with one collection per simulated collection, self-contained."""
    root = result.out_dir
    catalog = pystac.Catalog(
        id="eo-fusion-simulated",
        title="eo-fusion simulated scenes",
        description=(
            f"Deterministic simulated multi-sensor scenes (seed {cfg.seed}, EPSG:{cfg.epsg}, "
            f"{cfg.start} to {cfg.end}). Truth for evaluation is in ./truth, outside the catalog."
        ),
        extra_fields={"eo-fusion:simulation": cfg.to_json()},
    )
    by_collection: dict[str, list[SimulatedItem]] = {}
    for sim in result.items:
        by_collection.setdefault(sim.collection, []).append(sim)
    for cid in sorted(by_collection):
        sims = by_collection[cid]
        items = [_item(s) for s in sims]
        coll = _collection(cid, items, sims[0].sensor)
        for it in items:
            coll.add_item(it)
        catalog.add_child(coll)
    catalog.normalize_hrefs(str(root))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"
