"""The STAC side of products: Items, collections, the output catalog and the model Items.

Everything is built with pystac objects and its extension classes (projection v2 ``proj:code``,
eo bands with wavelengths, raster, file, grid, item_assets, MLM) and written as JSON through
:mod:`fusion.storage`, so the same code writes a local folder and a GCS bucket.

Links that stay inside the output folder are relative (``./``, ``../``): a copy or upload of the
folder keeps every one of them. Links that leave it (``derived_from`` to the input scenes) are
the inputs' canonical absolute hrefs. Every product Item also links (``derived_from``) to the
STAC MLM Item of the model that made it, under ``{output}/models/{model_id}/``, where the model
package itself is copied once - so a product names a model that can be fetched from where the
product is read, not a path on the machine that ran the job.

The product collections' licence and providers come from the input collections' own
documents (their licensors and producers; eo-fusion as processor), gathered by
:func:`fusion.catalog.input_licensing` when the run starts and merged with what the collection
already lists, so products of earlier runs keep their attribution.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pystac
from pystac.extensions import mlm
from pystac.extensions.eo import Band as EOBand
from pystac.extensions.eo import EOExtension
from pystac.extensions.file import FileExtension
from pystac.extensions.grid import GridExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension
from pystac.utils import str_to_datetime

from fusion import storage
from fusion.catalog import COG_MEDIA_TYPE, STAC_EXTENSIONS, round_geometry, wgs84_polygon
from fusion.grid import Tile
from fusion.sensors import get_sensor

if TYPE_CHECKING:
    from fusion.models.package import ModelMetadata
    from fusion.publish import ProductSpec

SCALE = 1e-4
NODATA = -9999
#: GDAL unit type of the product bands (dimensionless surface reflectance once scaled).
REFLECTANCE_UNIT = "reflectance"
CATALOG_ID = "eo-fusion-products"
#: Folder (under the output) and collection of the model packages and their MLM Items.
MODELS_FOLDER = "models"
MODELS_COLLECTION = "eo-fusion-models"
EO_FUSION_PROVIDER = {
    "name": "eo-fusion",
    "description": "Fused the input scenes into these products (open-source fusion pipeline)",
    "roles": ["processor"],
}
#: Provider roles of the input collections that the products' providers carry on.
ATTRIBUTED_ROLES = ("licensor", "producer")


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
    """``./a/b`` for ``a/b``: STAC tools (pystac, stac-valid) resolve such hrefs reliably."""
    return relative if relative.startswith(("./", "../")) else f"./{relative}"


def _canonical(href: str) -> str:
    """An input item's href as an absolute path or URL."""
    return href if "://" in href else str(Path(href).resolve())


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# Bands


def band_details(spec: ProductSpec) -> list[dict[str, Any]]:
    """Per product band: name, common name and (when the output sensor is known) centre
    wavelength and FWHM in µm, from the sensor table of the sensor the products stand for."""
    sensor = None
    if spec.output_sensor:
        try:
            sensor = get_sensor(spec.output_sensor)
        except Exception:  # an unknown sensor name: bands without wavelengths, never a failure
            sensor = None
    out = []
    for name in spec.bands:
        detail: dict[str, Any] = {"name": name, "common_name": None}
        if sensor is not None:
            try:
                band = sensor.band(name)
            except Exception:
                band = None
            if band is not None:
                detail.update(
                    common_name=band.common_name,
                    center_wavelength=band.center_wavelength,
                    full_width_half_max=band.full_width_half_max,
                    description=f"{sensor.title} {band.name} equivalent",
                )
        out.append(detail)
    return out


def _eo_bands(details: Sequence[Mapping[str, Any]]) -> list[EOBand]:
    return [
        EOBand.create(
            name=d["name"],
            common_name=d.get("common_name"),
            description=d.get("description"),
            center_wavelength=d.get("center_wavelength"),
            full_width_half_max=d.get("full_width_half_max"),
        )
        for d in details
    ]


def _raster_bands(n: int, resolution: float) -> list[RasterBand]:
    return [
        RasterBand.create(
            nodata=NODATA,
            data_type=DataType.INT16,
            spatial_resolution=resolution,
            unit=REFLECTANCE_UNIT,
            scale=SCALE,
            offset=0.0,
        )
        for _ in range(n)
    ]


# --------------------------------------------------------------------------------------------
# Product Items


def grid_code(spec: ProductSpec, tile: Tile) -> str:
    """``grid:code`` of a product: eo-fusion grid, tile size in pixels and tile id (a tile id
    alone names different places at different tile sizes)."""
    return f"EOFUSION-{tile.shape[0]}PX-{spec.tile_id}"


def product_item(
    spec: ProductSpec, tile: Tile, cog: Path, valid: npt.NDArray[np.bool_], folder: str
) -> dict[str, Any]:
    """The STAC Item dict of a product whose COG is ``cog`` (a local file; it will live in
    ``folder``, next to the Item). Its own assets are relative to that folder; its
    ``derived_from`` links are the inputs' absolute hrefs (the model link is added by
    :func:`update_catalog`, which knows where the model Item is)."""
    geom = wgs84_polygon(tile.bounds, tile.grid.crs)
    sensor_note = ", ".join(f"{role}={item_id}" for role, item_id, _ in spec.input_items)
    item = pystac.Item(
        id=spec.product_id,
        geometry=round_geometry(geom),
        bbox=[round(v, 7) for v in geom.bounds],
        datetime=spec.start_datetime,
        start_datetime=spec.start_datetime,
        end_datetime=spec.end_datetime,
        properties={},
        collection=spec.collection,
    )
    item.common_metadata.gsd = tile.grid.resolution
    ProjectionExtension.ext(item, add_if_missing=True).apply(
        code=f"EPSG:{tile.grid.epsg}",
        shape=[tile.shape[0], tile.shape[1]],
        transform=list(tile.transform)[:6],
    )
    GridExtension.ext(item, add_if_missing=True).apply(grid_code(spec, tile))
    item.stac_extensions.append(STAC_EXTENSIONS["processing"])
    item.properties.update(
        {
            "processing:level": "L3",
            "processing:lineage": (
                f"eo-fusion {spec.task} fusion with model {spec.model} {spec.model_version} "
                f"(sha256 {spec.model_checksum[:16]}) of {sensor_note}"
            ),
            "processing:software": _software(),
            "processing:datetime": _stamp(dt.datetime.now(dt.UTC)),
            "eo-fusion:task": spec.task,
            "eo-fusion:tile": spec.tile_id,
            "eo-fusion:model": {
                "name": spec.model,
                "version": spec.model_version,
                "checksum": f"sha256:{spec.model_checksum}",
                "item": model_item_id(spec.model, spec.model_version, spec.model_checksum),
            },
            "eo-fusion:input_collections": sorted(set(spec.input_collections)),
            "eo-fusion:reference_dates": [d.isoformat() for d in spec.reference_dates],
            "eo-fusion:valid_fraction": round(float(valid.mean()), 6),
        }
    )
    details = band_details(spec)
    data = pystac.Asset(
        href=f"./{cog.name}",
        media_type=COG_MEDIA_TYPE,
        title=f"Fused reflectance ({', '.join(spec.bands)}), int16 × 1e-4, nodata {NODATA}",
        roles=["data", "reflectance"],
    )
    item.add_asset("data", data)
    EOExtension.ext(data, add_if_missing=True).apply(bands=_eo_bands(details))
    raster = _raster_bands(len(spec.bands), tile.grid.resolution)
    RasterExtension.ext(data, add_if_missing=True).apply(raster)
    size = cog.stat().st_size
    FileExtension.ext(data, add_if_missing=True).apply(checksum=multihash_sha256(cog), size=size)
    item.add_asset(
        "thumbnail",
        pystac.Asset(
            href=f"./{spec.product_id}.png",
            media_type=pystac.MediaType.PNG,
            title="Thumbnail (swir16, nir08, red; 0-0.5 reflectance; nodata transparent)",
            roles=["thumbnail"],
        ),
    )
    # The inputs' canonical absolute hrefs (a path or URL), never relative: the products folder
    # is copied and uploaded on its own, and a relative link out of it would then break.
    for role, item_id, href in spec.input_items:
        if href is not None:
            item.add_link(
                pystac.Link("derived_from", _canonical(href), pystac.MediaType.JSON, f"{role}: {item_id}")
            )
    return item.to_dict(include_self_link=False, transform_hrefs=False)


# --------------------------------------------------------------------------------------------
# Model Items (STAC MLM) and package copies


def model_item_id(name: str, version: str, checksum: str) -> str:
    return f"{name}-{version}-{checksum[:12]}"


def model_folder(output: str | os.PathLike[str], item_id: str) -> str:
    return storage.join(output, MODELS_FOLDER, item_id)


def _package_files(package_dir: Path) -> list[Path]:
    return sorted(p for p in package_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _parameter_count(metadata: ModelMetadata) -> int | None:
    params = dict(metadata.parameters)
    for key in ("trainable_parameters", "generator_parameters"):
        if isinstance(params.get(key), int):
            return int(params[key])
    return None


def model_item(
    metadata: ModelMetadata,
    checksum: str,
    package_dir: Path,
    period: tuple[str, str],
) -> dict[str, Any]:
    """The STAC MLM Item of a model package copied to ``package/`` beside it. ``period`` (the
    first start and last end of the products it made here) is the Item's time span: a classical
    model has no training date, and a trained one was applied to this span."""
    item_id = model_item_id(metadata.name, metadata.version, checksum)
    item = pystac.Item(
        id=item_id,
        geometry=None,
        bbox=None,
        datetime=None,
        start_datetime=str_to_datetime(period[0]),
        end_datetime=str_to_datetime(period[1]),
        properties={"description": metadata.description},
        collection=MODELS_COLLECTION,
    )
    n_out = len(metadata.bands)
    inputs = [
        mlm.ModelInput.create(
            name=spec.name,
            bands=list(spec.bands),
            input=mlm.InputStructure.create(
                shape=[-1, -1, -1, len(spec.bands)],
                dim_order=["batch", "height", "width", "bands"],
                data_type=DataType.FLOAT32,
            ),
            description=f"{spec.role} scene at {spec.time}, reflectance"
            + (f", 1/{spec.resolution_ratio} of the output resolution" if spec.resolution_ratio > 1 else ""),
        )
        for spec in metadata.inputs
    ]
    output = mlm.ModelOutput.create(
        name=metadata.output,
        tasks=[mlm.TaskType.REGRESSION],
        result=mlm.ResultStructure.create(
            shape=[-1, -1, -1, n_out],
            dim_order=["batch", "height", "width", "bands"],
            data_type=DataType.FLOAT32,
        ),
        description=f"fused reflectance: {', '.join(metadata.bands)}",
    )
    ext = mlm.MLMExtension.ext(item, add_if_missing=True)
    ext.apply(
        name=metadata.name,
        architecture=metadata.name.upper(),
        tasks=[mlm.TaskType.REGRESSION],
        input=inputs,
        output=[output],
        framework=str(metadata.framework.get("name", "tensorflow")),
        framework_version=metadata.framework.get("version"),
        total_parameters=_parameter_count(metadata),
        pretrained=metadata.training is not None,
    )
    item.properties["eo-fusion:model"] = {
        "name": metadata.name,
        "version": metadata.version,
        "task": metadata.task,
        "checksum": f"sha256:{checksum}",
    }
    for path in _package_files(package_dir):
        rel = path.relative_to(package_dir).as_posix()
        if rel == "saved_model/saved_model.pb":
            key, roles, media = "model", ["mlm:model"], "application/octet-stream"
        elif rel == "fusion-model.json":
            key, roles, media = "fusion-model", ["metadata"], pystac.MediaType.JSON
        else:
            key = rel.replace("/", "-")
            roles = ["mlm:weights"] if "/variables/" in f"/{rel}" else ["mlm:model-artifact"]
            media = "application/octet-stream"
        asset = pystac.Asset(href=f"./package/{rel}", media_type=media, roles=roles, title=rel)
        item.add_asset(key, asset)
        if key == "model":
            mlm.AssetGeneralMLMExtension.ext(asset, add_if_missing=True).apply(artifact_type="tf.saved_model")
        FileExtension.ext(asset, add_if_missing=True).apply(
            checksum=multihash_sha256(path), size=path.stat().st_size
        )
    return item.to_dict(include_self_link=False, transform_hrefs=False)


def publish_model(
    output: str | os.PathLike[str], package: Path, metadata: ModelMetadata, checksum: str
) -> tuple[str, list[str]]:
    """Copy the model package under ``{output}/models/{id}/package/`` (files already there with
    the same content are left alone). Returns (where its MLM Item goes, files written); the Item
    itself is written by :func:`update_catalog` (:func:`model_item_for`)."""
    item_id = model_item_id(metadata.name, metadata.version, checksum)
    folder = model_folder(output, item_id)
    written = []
    for path in _package_files(package):
        target = storage.join(folder, "package", *path.relative_to(package).parts)
        if storage.write_if_changed(target, path.read_bytes()):
            written.append(target)
    return storage.join(folder, f"{item_id}.json"), written


# --------------------------------------------------------------------------------------------
# Collections and catalog


def _write_if_changed(location: str, obj: dict[str, Any]) -> bool:
    """Write JSON (atomically) unless the file already holds exactly this content."""
    text = json.dumps(obj, indent=2) + "\n"
    return storage.write_if_changed(location, text.encode(), "application/json")


def _rel(target: str, start_dir: str) -> str:
    rel = storage.relative(target, start_dir)
    if rel is None:  # both live under one output root, so this cannot happen
        raise ValueError(f"{target} is not reachable from {start_dir}")
    return _dot(rel)


def _read_json(location: str) -> dict[str, Any] | None:
    if not storage.exists(location):
        return None
    data: dict[str, Any] = json.loads(storage.read_bytes(location))
    return data


def _licensing(
    input_collections: Sequence[str],
    licensing: Mapping[str, Mapping[str, Any]],
    previous: Mapping[str, Any] | None,
) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """(licence, providers, licence links) of a product collection: the inputs' licensors and
    producers and eo-fusion as processor; the inputs' licence if they share one SPDX id, else
    ``other`` with a licence link to each input's terms. What the collection listed before
    (products of earlier runs) is kept."""
    providers: dict[str, dict[str, Any]] = {}
    links: dict[str, dict[str, Any]] = {}
    licences: set[str] = set()
    if previous:
        for prov in previous.get("providers", []):
            if prov.get("name") != EO_FUSION_PROVIDER["name"]:
                providers[prov["name"]] = prov
        for link in previous.get("links", []):
            if link.get("rel") == "license":
                links[link["href"]] = link
        if previous.get("license") not in (None, "other", "proprietary", "various"):
            licences.add(str(previous["license"]))
    for coll_id in input_collections:
        info = licensing.get(coll_id)
        if not info:
            continue
        for prov in info.get("providers", []):
            roles = [r for r in prov.get("roles", []) if r in ATTRIBUTED_ROLES]
            if roles:
                entry = {k: v for k, v in prov.items() if k in ("name", "description", "url")}
                providers.setdefault(prov["name"], {**entry, "roles": roles})
        for link in info.get("links", []):
            links.setdefault(link["href"], link)
        lic = info.get("license")
        licences.add(str(lic) if lic not in (None, "proprietary", "various") else "other")
    licence = licences.pop() if len(licences) == 1 else "other"
    ordered = [providers[k] for k in sorted(providers)] + [dict(EO_FUSION_PROVIDER)]
    return licence, ordered, [links[k] for k in sorted(links)]


def _extent(items: Sequence[Mapping[str, Any]]) -> pystac.Extent:
    bboxes = [i["bbox"] for i in items if i.get("bbox")]
    starts = sorted(i["properties"]["start_datetime"] for i in items)
    ends = sorted(i["properties"]["end_datetime"] for i in items)
    spatial = (
        [
            min(b[0] for b in bboxes),
            min(b[1] for b in bboxes),
            max(b[2] for b in bboxes),
            max(b[3] for b in bboxes),
        ]
        if bboxes
        else [-180.0, -90.0, 180.0, 90.0]
    )
    return pystac.Extent(
        pystac.SpatialExtent([spatial]),
        pystac.TemporalExtent([[str_to_datetime(starts[0]), str_to_datetime(ends[-1])]]),
    )


def _product_collection(
    coll_name: str,
    items: Sequence[Mapping[str, Any]],
    licensing: Mapping[str, Mapping[str, Any]],
    previous: Mapping[str, Any] | None,
) -> pystac.Collection:
    first = items[0]["properties"]
    task, model = first["eo-fusion:task"], first["eo-fusion:model"]["name"]
    inputs = sorted({c for i in items for c in i["properties"].get("eo-fusion:input_collections", [])})
    licence, providers, licence_links = _licensing(inputs, licensing, previous)
    coll = pystac.Collection(
        id=coll_name,
        title=f"eo-fusion {task} products, model {model}",
        description=(
            f"Surface reflectance fused by eo-fusion ({task} task, model {model}) from "
            f"{', '.join(inputs) or 'the input scenes'}; int16 × 1e-4, nodata {NODATA}. "
            "The inputs' licences apply (see the license links and providers)."
        ),
        extent=_extent(items),
        license=licence,
        keywords=sorted({"eo-fusion", "image fusion", "surface reflectance", task, model, *inputs}),
        providers=[pystac.Provider.from_dict(p) for p in providers],
        # A summary must not be an empty list (the collection schema refuses one).
        summaries=pystac.Summaries(
            {
                key: values
                for key, values in (
                    ("gsd", sorted({i["properties"]["gsd"] for i in items})),
                    ("proj:code", sorted({i["properties"]["proj:code"] for i in items})),
                    ("eo-fusion:task", [task]),
                    ("eo-fusion:model", sorted({i["properties"]["eo-fusion:model"]["name"] for i in items})),
                    ("eo-fusion:input_collections", inputs),
                )
                if values
            }
        ),
    )
    for link in licence_links:
        coll.add_link(pystac.Link.from_dict(link))
    data_asset = items[0]["assets"]["data"]
    definition = pystac.ItemAssetDefinition.create(
        title=data_asset.get("title"),
        description="Fused surface reflectance (COG)",
        media_type=COG_MEDIA_TYPE,
        roles=["data", "reflectance"],
    )
    definition.properties["eo:bands"] = data_asset.get("eo:bands", [])
    definition.properties["raster:bands"] = data_asset.get("raster:bands", [])
    thumb = pystac.ItemAssetDefinition.create(
        title="Thumbnail", description=None, media_type=pystac.MediaType.PNG, roles=["thumbnail"]
    )
    coll.item_assets = {"data": definition, "thumbnail": thumb}
    for key in ("eo", "proj-v2", "raster"):
        coll.stac_extensions.append(STAC_EXTENSIONS[key])
    return coll


def _models_collection(items: Sequence[Mapping[str, Any]]) -> pystac.Collection:
    coll = pystac.Collection(
        id=MODELS_COLLECTION,
        title="eo-fusion model packages",
        description=(
            "The model packages (TensorFlow SavedModel + fusion-model.json) that made the products "
            "of this catalog, copied here and described with the STAC MLM extension."
        ),
        extent=_extent(items),
        license="Apache-2.0",
        keywords=["eo-fusion", "machine learning model", "image fusion", "STAC MLM"],
        providers=[pystac.Provider.from_dict(dict(EO_FUSION_PROVIDER, roles=["producer", "licensor"]))],
        summaries=pystac.Summaries({"mlm:name": sorted({i["properties"]["mlm:name"] for i in items})}),
    )
    coll.stac_extensions.append(mlm.MLMExtension.get_schema_uri())
    return coll


def _collection_dict(
    coll: pystac.Collection, coll_dir: str, root: str, item_files: Sequence[str]
) -> dict[str, Any]:
    for rel in ("root", "parent"):
        coll.add_link(pystac.Link(rel, "../catalog.json", pystac.MediaType.JSON))
    for path in item_files:
        coll.add_link(pystac.Link("item", _rel(path, coll_dir), pystac.MediaType.GEOJSON))
    return coll.to_dict(include_self_link=False, transform_hrefs=False)


def _structural_links(path: str, coll_dir: str, root: str) -> list[dict[str, Any]]:
    here = storage.parent(path)
    rel_coll = _rel(storage.join(coll_dir, "collection.json"), here)
    rel_root = _rel(storage.join(root, "catalog.json"), here)
    return [
        {"rel": "collection", "href": rel_coll, "type": "application/json"},
        {"rel": "parent", "href": rel_coll, "type": "application/json"},
        {"rel": "root", "href": rel_root, "type": "application/json"},
    ]


def update_catalog(
    output: str | os.PathLike[str],
    model_packages: Sequence[str | os.PathLike[str]] = (),
    licensing: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[str]:
    """(Re)write collection and catalog JSON for every product Item under ``output``; copy each
    of ``model_packages`` (the packages of this run) under ``models/`` with its MLM Item; link
    every product to its model's Item.

    Items are discovered in the store, so products of earlier runs stay listed; files whose
    content would not change are not rewritten (a re-run of a finished window writes nothing).
    ``licensing`` maps input collection ids to their licence, providers and licence links
    (:func:`fusion.catalog.input_licensing`). Returns the locations written.
    """
    root = str(output)
    licensing = licensing or {}
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
    loaded = {c: [json.loads(storage.read_bytes(p)) for p in sorted(by_collection[c])] for c in by_collection}

    # Model packages of this run: copy and describe (period = the products they made here).
    for package in model_packages:
        from fusion.models.package import package_checksum, read_metadata

        package = Path(package)
        metadata, digest = read_metadata(package), package_checksum(package)
        checksum = f"sha256:{digest}"
        mine = [
            i
            for items in loaded.values()
            for i in items
            if i["properties"]["eo-fusion:model"]["checksum"] == checksum
        ]
        if not mine:
            continue
        period = (
            min(i["properties"]["start_datetime"] for i in mine),
            max(i["properties"]["end_datetime"] for i in mine),
        )
        location, copied = publish_model(root, package, metadata, digest)
        written += copied
        models_dir = storage.join(root, MODELS_FOLDER)
        item = model_item_for(location, package, metadata, digest, period)
        item["links"] = _structural_links(location, models_dir, root)
        if _write_if_changed(location, item):
            written.append(location)

    children = []
    for coll_name in sorted(by_collection):
        coll_dir = storage.join(root, coll_name)
        item_files = sorted(by_collection[coll_name])
        items = loaded[coll_name]
        for path, item in zip(item_files, items, strict=True):
            here = storage.parent(path)
            model = item["properties"]["eo-fusion:model"]
            links = [
                lk
                for lk in item["links"]
                if lk["rel"] == "derived_from" and not str(lk.get("title", "")).startswith("model: ")
            ]
            model_id = model.get("item")
            if model_id:
                model_location = storage.join(model_folder(root, model_id), f"{model_id}.json")
                if storage.exists(model_location):
                    links.append(
                        {
                            "rel": "derived_from",
                            "href": _rel(model_location, here),
                            "type": "application/geo+json",
                            "title": f"model: {model['name']} {model['version']}",
                        }
                    )
            links += _structural_links(path, coll_dir, root)
            item = {**item, "links": links}
            if _write_if_changed(path, item):
                written.append(path)
        coll_path = storage.join(coll_dir, "collection.json")
        coll = _product_collection(coll_name, items, licensing, _read_json(coll_path))
        if _write_if_changed(coll_path, _collection_dict(coll, coll_dir, root, item_files)):
            written.append(coll_path)
        children.append(coll_name)

    model_files = [
        p
        for p in storage.list_files(storage.join(root, MODELS_FOLDER), ".json")
        if "/package/" not in storage.relative_name(p, root) and not p.endswith("collection.json")
    ]
    if model_files:
        models_dir = storage.join(root, MODELS_FOLDER)
        models = [json.loads(storage.read_bytes(p)) for p in sorted(model_files)]
        coll = _models_collection(models)
        coll_path = storage.join(models_dir, "collection.json")
        if _write_if_changed(coll_path, _collection_dict(coll, models_dir, root, sorted(model_files))):
            written.append(coll_path)
    catalog = pystac.Catalog(
        id=CATALOG_ID,
        title="eo-fusion products",
        description="Fused products written by eo-fusion; one collection per task and model, and the models.",
    )
    catalog.add_link(pystac.Link("root", "./catalog.json", pystac.MediaType.JSON))
    for name in children + ([MODELS_FOLDER] if model_files else []):
        catalog.add_link(pystac.Link("child", f"./{name}/collection.json", pystac.MediaType.JSON))
    catalog_path = storage.join(root, "catalog.json")
    if _write_if_changed(catalog_path, catalog.to_dict(include_self_link=False, transform_hrefs=False)):
        written.append(catalog_path)
    return written


def model_item_for(
    location: str, package: Path, metadata: ModelMetadata, checksum: str, period: tuple[str, str]
) -> dict[str, Any]:
    """The MLM Item of ``package`` to be written at ``location``, keeping the period of the one
    already there when it covers more (products of earlier runs)."""
    previous = _read_json(location)
    if previous is not None:
        props = previous["properties"]
        period = (min(period[0], props["start_datetime"]), max(period[1], props["end_datetime"]))
    return model_item(metadata, checksum, package, period)


def product_collections(output: str | os.PathLike[str]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(collection, items) of the product catalog under ``output`` (the model collection not
    included), with every asset and link href made absolute (a STAC API serves them from
    elsewhere). Read after :func:`update_catalog`."""
    root = str(output)
    catalog = json.loads(storage.read_bytes(storage.join(root, "catalog.json")))
    out = []
    for child in (lk for lk in catalog["links"] if lk["rel"] == "child"):
        if child["href"] == f"./{MODELS_FOLDER}/collection.json":
            continue
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
            # The model Items stay in the output folder (the API gets the products only), so
            # the API copy does not carry a link to a file it does not serve.
            item["links"] = [lk for lk in item["links"] if not str(lk.get("title", "")).startswith("model: ")]
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
