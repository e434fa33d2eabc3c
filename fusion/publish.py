"""Products: deterministic identities, COG assembly, STAC Items and the output catalog.

A product is one COG per (grid tile, target date, task, model) - DESIGN.md §4. Its id names
the task, model, tile and date and ends in a short hash of the input item ids, the model
package checksum and the parameters, so the same request with the same model always maps to
the same path, and a different model or input never overwrites it. The Item JSON is written
last: its presence marks a finished product, which is what skip-existing checks.

Output layout (a self-contained STAC catalog)::

    {output}/catalog.json
    {output}/{collection}/collection.json
    {output}/{collection}/{tile}/{yyyy}/{product_id}.tif   (COG)
    {output}/{collection}/{tile}/{yyyy}/{product_id}.json  (Item)
    {output}/{collection}/{tile}/{yyyy}/{product_id}.png   (thumbnail)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fusion import storage
from fusion.catalog import COG_MEDIA_TYPE, STAC_EXTENSIONS, round_geometry, wgs84_polygon
from fusion.grid import Tile
from fusion.models.package import ModelMetadata
from fusion.pairing import FusionJob
from fusion.quicklook import QUICKLOOK_BANDS, write_png
from fusion.rasterio_io import write_cog
from fusion.tasks.base import JobLineage

SCALE = 1e-4
NODATA = -9999
#: GDAL unit type of the product bands (dimensionless surface reflectance once scaled).
REFLECTANCE_UNIT = "reflectance"
CATALOG_ID = "eo-fusion-products"


@dataclass(frozen=True)
class ProductSpec:
    """Where and what one product is. Built from a job before any pixel is read."""

    product_id: str
    collection: str
    tile_id: str
    date: dt.date
    task: str
    model: str
    model_version: str
    model_checksum: str
    model_href: str
    bands: tuple[str, ...]
    relative_dir: str  #: ``{collection}/{tile}/{yyyy}``
    input_items: tuple[tuple[str, str, str | None], ...]  #: (role, item id, item href)
    start_datetime: dt.datetime
    end_datetime: dt.datetime
    reference_dates: tuple[dt.date, ...]

    def folder(self, output: str | os.PathLike[str]) -> str:
        return storage.join(output, *self.relative_dir.split("/"))

    def cog_path(self, output: str | os.PathLike[str]) -> str:
        return storage.join(self.folder(output), f"{self.product_id}.tif")

    def item_path(self, output: str | os.PathLike[str]) -> str:
        return storage.join(self.folder(output), f"{self.product_id}.json")

    def thumbnail_path(self, output: str | os.PathLike[str]) -> str:
        return storage.join(self.folder(output), f"{self.product_id}.png")

    def exists(self, output: str | os.PathLike[str]) -> bool:
        """Finished: the Item (written last) and the COG are both there."""
        return storage.exists(self.item_path(output)) and storage.exists(self.cog_path(output))


def collection_id(task: str, model: str) -> str:
    return f"eo-fusion-{task}-{model}"


def product_spec(
    job: FusionJob,
    metadata: ModelMetadata,
    checksum: str,
    model_href: str,
    parameters: dict[str, Any],
    lineage: JobLineage,
) -> ProductSpec:
    """The product of ``job`` with a model: its deterministic id and paths, and its lineage
    (the task's :meth:`~fusion.tasks.base.FusionTask.lineage` of the job)."""
    inputs = list(lineage.input_items)
    identity = json.dumps(
        {
            "tile": job.tile_id,
            "date": job.date.isoformat(),
            "inputs": [(role, item_id) for role, item_id, _ in inputs],
            "model": checksum,
            "parameters": parameters,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    coll = collection_id(metadata.task, metadata.name)
    pid = f"{metadata.task}-{metadata.name}-{job.tile_id}-{job.date:%Y%m%d}-{digest}"
    return ProductSpec(
        product_id=pid,
        collection=coll,
        tile_id=job.tile_id,
        date=job.date,
        task=metadata.task,
        model=metadata.name,
        model_version=metadata.version,
        model_checksum=checksum,
        model_href=model_href,
        bands=metadata.bands,
        relative_dir=f"{coll}/{job.tile_id}/{job.date:%Y}",
        input_items=tuple(inputs),
        start_datetime=lineage.start_datetime,
        end_datetime=lineage.end_datetime,
        reference_dates=lineage.reference_dates,
    )


def to_int16(reflectance: npt.NDArray[np.floating], valid: npt.NDArray[np.bool_]) -> npt.NDArray[np.int16]:
    """(B, H, W) reflectance -> int16 × 10⁻⁴ with NODATA where invalid or not finite."""
    scaled = np.clip(np.round(np.asarray(reflectance, np.float64) / SCALE), -9998, 32767)
    ok = valid[np.newaxis] & np.isfinite(scaled)
    out = np.where(ok, np.nan_to_num(scaled), NODATA).astype(np.int16)
    return out


def from_int16(data: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
    """int16 × 10⁻⁴ product values -> float32 reflectance, NaN at NODATA (inverse of :func:`to_int16`)."""
    return np.where(data == NODATA, np.nan, data.astype(np.float32) * np.float32(SCALE)).astype(np.float32)


def multihash_sha256(path: Path) -> str:
    """``file:checksum`` value: multihash of SHA2-256 (code 0x12, length 0x20) in hex."""
    return "1220" + hashlib.sha256(path.read_bytes()).hexdigest()


def _software() -> dict[str, str]:
    out = {}
    for dist in ("eo-fusion", "tensorflow-cpu", "tensorflow", "apache-beam", "rasterio", "pystac"):
        try:
            out[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            continue
    return out


def _dot(relative: str) -> str:
    """``./a/b`` for ``a/b``: STAC tools (pystac, stac-validator) resolve such hrefs reliably."""
    return relative if relative.startswith(("./", "../")) else f"./{relative}"


def _canonical(href: str) -> str:
    """An input item's href as an absolute path or URL."""
    return href if "://" in href else str(Path(href).resolve())


def write_product(
    spec: ProductSpec,
    output: str | os.PathLike[str],
    tile: Tile,
    reflectance: npt.NDArray[np.floating],
    valid: npt.NDArray[np.bool_],
    *,
    cog_profile: str = "zstd",
) -> str:
    """Write COG, thumbnail and Item (last) for one product; returns the Item location.

    Files are made in a scratch folder and then moved into place (a local rename, or an
    upload to GCS), so a reader never sees a partial file and a product without its Item is
    an unfinished one that the next run redoes."""
    data = to_int16(reflectance, valid)
    with tempfile.TemporaryDirectory(prefix="eo-fusion-product-") as scratch_dir:
        scratch = Path(scratch_dir)
        cog = write_cog(
            scratch / f"{spec.product_id}.tif",
            data,
            transform=tile.transform,
            crs=tile.grid.crs,
            nodata=NODATA,
            profile=cog_profile,
            band_descriptions=list(spec.bands),
            scale=SCALE,
            offset=0.0,
            unit=REFLECTANCE_UNIT,
            tags={"PRODUCT_ID": spec.product_id, "MODEL": f"{spec.model} {spec.model_version}"},
        )
        thumb_bands = [spec.bands.index(b) for b in QUICKLOOK_BANDS if b in spec.bands]
        if len(thumb_bands) < 3:
            thumb_bands = list(range(min(3, len(spec.bands))))
            thumb_bands += [thumb_bands[-1]] * (3 - len(thumb_bands))
        step = max(1, max(data.shape[1:]) // 512)
        preview = from_int16(data[thumb_bands, ::step, ::step])
        thumb = write_png(preview, scratch / f"{spec.product_id}.png")
        item = product_item(spec, tile, cog, valid, spec.folder(output))
        storage.put_file(cog, spec.cog_path(output), COG_MEDIA_TYPE)
        storage.put_file(thumb, spec.thumbnail_path(output), "image/png")
    item_path = spec.item_path(output)
    _write_if_changed(item_path, item)
    return item_path


def product_item(
    spec: ProductSpec, tile: Tile, cog: Path, valid: npt.NDArray[np.bool_], folder: str
) -> dict[str, Any]:
    """The STAC Item dict of a product whose COG is ``cog`` (a local file; it will live in
    ``folder``, next to the Item). Its own assets are relative to that folder; its
    ``derived_from`` links are the inputs' absolute hrefs."""
    geom = wgs84_polygon(tile.bounds, tile.grid.crs)
    epsg = tile.grid.epsg
    sensor_note = ", ".join(f"{role}={item_id}" for role, item_id, _ in spec.input_items)
    props: dict[str, Any] = {
        "datetime": spec.start_datetime.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "start_datetime": spec.start_datetime.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end_datetime": spec.end_datetime.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "gsd": tile.grid.resolution,
        "proj:code": f"EPSG:{epsg}",
        "proj:shape": [tile.shape[0], tile.shape[1]],
        "proj:transform": list(tile.transform)[:6],
        "processing:level": "L3",
        "processing:lineage": (
            f"eo-fusion {spec.task} fusion with model {spec.model} {spec.model_version} "
            f"(sha256 {spec.model_checksum[:16]}) of {sensor_note}"
        ),
        "processing:software": _software(),
        "processing:datetime": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eo-fusion:task": spec.task,
        "eo-fusion:tile": spec.tile_id,
        "eo-fusion:model": {
            "name": spec.model,
            "version": spec.model_version,
            "checksum": f"sha256:{spec.model_checksum}",
            "href": spec.model_href,
        },
        "eo-fusion:reference_dates": [d.isoformat() for d in spec.reference_dates],
        "eo-fusion:valid_fraction": round(float(valid.mean()), 6),
    }
    bands_eo = [{"name": b, "common_name": b} for b in spec.bands]
    raster = [
        {
            "data_type": "int16",
            "nodata": NODATA,
            "scale": SCALE,
            "offset": 0.0,
            "spatial_resolution": tile.grid.resolution,
        }
        for _ in spec.bands
    ]
    # The inputs' canonical absolute hrefs (a path or URL), never relative: the products folder
    # is copied and uploaded on its own, and a relative link out of it would then break.
    links = [
        {
            "rel": "derived_from",
            "href": _canonical(href),
            "type": "application/json",
            "title": f"{role}: {item_id}",
        }
        for role, item_id, href in spec.input_items
        if href is not None
    ]
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [STAC_EXTENSIONS[k] for k in ("eo", "proj-v2", "raster", "processing", "file")],
        "id": spec.product_id,
        "geometry": round_geometry(geom),
        "bbox": [round(v, 7) for v in geom.bounds],
        "properties": props,
        "links": links,
        "assets": {
            "data": {
                "href": f"./{cog.name}",
                "type": COG_MEDIA_TYPE,
                "title": f"Fused reflectance ({', '.join(spec.bands)}), int16 × 1e-4, nodata {NODATA}",
                "roles": ["data", "reflectance"],
                "eo:bands": bands_eo,
                "raster:bands": raster,
                "file:checksum": multihash_sha256(cog),
                "file:size": cog.stat().st_size,
            },
            "thumbnail": {
                "href": f"./{spec.product_id}.png",
                "type": "image/png",
                "title": "Thumbnail (swir16, nir08, red; 0-0.5 reflectance; nodata transparent)",
                "roles": ["thumbnail"],
            },
        },
        "collection": spec.collection,
    }


def _write_if_changed(location: str, obj: dict[str, Any]) -> bool:
    """Write JSON (atomically) unless the file already holds exactly this content."""
    text = json.dumps(obj, indent=2) + "\n"
    return storage.write_if_changed(location, text.encode(), "application/json")


def _rel(target: str, start_dir: str) -> str:
    rel = storage.relative(target, start_dir)
    if rel is None:  # both live under one output root, so this cannot happen
        raise ValueError(f"{target} is not reachable from {start_dir}")
    return _dot(rel)


def update_catalog(output: str | os.PathLike[str]) -> list[str]:
    """(Re)write collection and catalog JSON for every product Item under ``output``.

    Items are discovered in the store, so products of earlier runs stay listed; files whose
    content would not change are not rewritten (a re-run of a finished window writes nothing).
    Returns the locations written.
    """
    root = str(output)
    written: list[str] = []
    by_collection: dict[str, list[str]] = {}
    for location in storage.list_files(root, ".json"):
        parts = storage.relative_name(location, root).split("/")
        name = parts[-1]
        if len(parts) < 2 or not parts[0].startswith("eo-fusion-") or name.startswith("."):
            continue
        if name == "collection.json" or ".partial" in name:
            continue
        by_collection.setdefault(parts[0], []).append(location)
    children = []
    for coll_name in sorted(by_collection):
        coll_dir = storage.join(root, coll_name)
        item_files = sorted(by_collection[coll_name])
        items = [json.loads(storage.read_bytes(p)) for p in item_files]
        for path, item in zip(item_files, items, strict=True):
            here = storage.parent(path)
            links = [lk for lk in item["links"] if lk["rel"] == "derived_from"]
            rel_coll = _rel(storage.join(coll_dir, "collection.json"), here)
            rel_root = _rel(storage.join(root, "catalog.json"), here)
            links += [
                {"rel": "collection", "href": rel_coll, "type": "application/json"},
                {"rel": "parent", "href": rel_coll, "type": "application/json"},
                {"rel": "root", "href": rel_root, "type": "application/json"},
            ]
            item = {**item, "links": links}
            if _write_if_changed(path, item):
                written.append(path)
        bboxes = [i["bbox"] for i in items]
        starts = sorted(i["properties"]["start_datetime"] for i in items)
        ends = sorted(i["properties"]["end_datetime"] for i in items)
        first = items[0]
        coll = {
            "type": "Collection",
            "stac_version": "1.1.0",
            "stac_extensions": [STAC_EXTENSIONS[k] for k in ("eo", "proj-v2", "raster")],
            "id": coll_name,
            "title": f"eo-fusion {first['properties']['eo-fusion:task']} products, model "
            f"{first['properties']['eo-fusion:model']['name']}",
            "description": "Fused surface reflectance written by eo-fusion (int16 × 1e-4, nodata -9999).",
            "license": "proprietary",
            "extent": {
                "spatial": {
                    "bbox": [
                        [
                            min(b[0] for b in bboxes),
                            min(b[1] for b in bboxes),
                            max(b[2] for b in bboxes),
                            max(b[3] for b in bboxes),
                        ]
                    ]
                },
                "temporal": {"interval": [[starts[0], ends[-1]]]},
            },
            "summaries": {
                "eo-fusion:model": sorted({i["properties"]["eo-fusion:model"]["name"] for i in items})
            },
            "links": [
                {"rel": "root", "href": "../catalog.json", "type": "application/json"},
                {"rel": "parent", "href": "../catalog.json", "type": "application/json"},
            ]
            + [
                {"rel": "item", "href": _rel(p, coll_dir), "type": "application/geo+json"} for p in item_files
            ],
        }
        coll_path = storage.join(coll_dir, "collection.json")
        if _write_if_changed(coll_path, coll):
            written.append(coll_path)
        children.append(coll_name)
    catalog = {
        "type": "Catalog",
        "stac_version": "1.1.0",
        "id": CATALOG_ID,
        "title": "eo-fusion products",
        "description": "Fused products written by eo-fusion; one collection per task and model.",
        "links": [{"rel": "root", "href": "./catalog.json", "type": "application/json"}]
        + [
            {"rel": "child", "href": f"./{name}/collection.json", "type": "application/json"}
            for name in children
        ],
    }
    catalog_path = storage.join(root, "catalog.json")
    if _write_if_changed(catalog_path, catalog):
        written.append(catalog_path)
    return written


def product_collections(output: str | os.PathLike[str]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(collection, items) of the product catalog under ``output``, with every asset and link
    href made absolute (a STAC API serves them from elsewhere). Read after :func:`update_catalog`."""
    root = str(output)
    catalog = json.loads(storage.read_bytes(storage.join(root, "catalog.json")))
    out = []
    for child in (lk for lk in catalog["links"] if lk["rel"] == "child"):
        coll_path = _absolute(child["href"], root)
        coll = json.loads(storage.read_bytes(coll_path))
        coll_dir = storage.parent(coll_path)
        items = []
        for link in (lk for lk in coll["links"] if lk["rel"] == "item"):
            item_path = _absolute(link["href"], coll_dir)
            item = json.loads(storage.read_bytes(item_path))
            here = storage.parent(item_path)
            for asset in item["assets"].values():
                asset["href"] = _absolute(asset["href"], here)
            for lk in item["links"]:
                lk["href"] = _absolute(lk["href"], here)
            items.append(item)
        out.append((coll, items))
    return out


def _absolute(href: str, folder: str) -> str:
    if storage.is_remote(href) or os.path.isabs(href):
        return href
    if storage.is_remote(folder):
        import posixpath

        scheme, rest = folder.split("://", 1)
        return f"{scheme}://{posixpath.normpath(posixpath.join(rest, href))}"
    return str((Path(folder) / href).resolve())


def read_product(path: str | os.PathLike[str]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """A product COG as (B, H, W) float32 reflectance with NaN at nodata, and its valid mask."""
    import rasterio

    with rasterio.open(path) as src:
        data = src.read()
    return from_int16(data), np.all(data != NODATA, axis=0)
