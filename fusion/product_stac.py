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
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
from fusion.errors import FusionError, SceneNotFound
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


def multihash_sha256(location: str | os.PathLike[str]) -> str:
    """``file:checksum`` value: multihash of SHA2-256 (code 0x12, length 0x20) in hex, of a
    local file or a ``gs://`` object, read in chunks (a COG is never held in memory whole)."""
    digest = hashlib.sha256()
    for chunk in storage.iter_bytes(str(location)):
        digest.update(chunk)
    return "1220" + digest.hexdigest()


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
    chosen = f"; chosen by {spec.method_choice}: {spec.method_reason}" if spec.method_choice else ""
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
                f"(sha256 {spec.model_checksum[:16]}) of {sensor_note}{chosen}"
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
    if spec.method_choice is not None:
        # A model choice picked the package: which method made the product, and why.
        item.properties.update(
            {
                "eo-fusion:method": spec.model,
                "eo-fusion:method_reason": spec.method_reason,
                "eo-fusion:method_choice": spec.method_choice,
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
            # An input Item, or (fusion fuse-files) the user's image file itself.
            image = href.lower().endswith((".tif", ".tiff"))
            media = pystac.MediaType.GEOTIFF if image else pystac.MediaType.JSON
            item.add_link(pystac.Link("derived_from", _canonical(href), media, f"{role}: {item_id}"))
    return item.to_dict(include_self_link=False, transform_hrefs=False)


# --------------------------------------------------------------------------------------------
# Model Items (STAC MLM) and package copies


def model_item_id(name: str, version: str, checksum: str) -> str:
    return f"{name}-{version}-{checksum[:12]}"


def model_folder(output: str | os.PathLike[str], item_id: str) -> str:
    return storage.join_inside(output, MODELS_FOLDER, item_id)


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
        target = storage.join_inside(folder, "package", *path.relative_to(package).parts)
        if storage.write_if_changed(target, path.read_bytes()):
            written.append(target)
    return storage.join_inside(folder, f"{item_id}.json"), written


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


def load_json(location: str) -> tuple[dict[str, Any] | None, str | None]:
    """``(content, None)`` of a JSON object file; ``(None, None)`` when there is no such file;
    ``(None, why)`` when there is one but it is no JSON object (truncated, empty, another
    format). Never raises for what the file holds: the output folder is written by other
    runs and people too, and one broken file must not stop every later run."""
    try:
        data = storage.read_bytes(location)
    except SceneNotFound:
        return None, None
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None, f"not valid JSON ({exc})"
    if not isinstance(obj, dict):
        return None, f"not a JSON object (it holds a {type(obj).__name__})"
    return obj, None


def _read_json(location: str) -> dict[str, Any] | None:
    """A JSON object file's content, or None when it is missing or broken (then it is written
    anew by the caller, which needs no earlier content)."""
    return load_json(location)[0]


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
    methods = sorted({i["properties"]["eo-fusion:model"]["name"] for i in items})
    choice = first.get("eo-fusion:method_choice")
    if isinstance(choice, str):  # a model choice's collection: its products name their method
        model = f"{choice} (per product: {', '.join(methods)})"
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
        keywords=sorted(
            {"eo-fusion", "image fusion", "surface reflectance", task, *methods, *inputs}
            | ({choice} if isinstance(choice, str) else set())
        ),
        providers=[pystac.Provider.from_dict(p) for p in providers],
        # A summary must not be an empty list (the collection schema refuses one).
        summaries=pystac.Summaries(
            {
                key: values
                for key, values in (
                    ("gsd", sorted({i["properties"]["gsd"] for i in items})),
                    ("proj:code", sorted({i["properties"]["proj:code"] for i in items})),
                    ("eo-fusion:task", [task]),
                    ("eo-fusion:model", methods),
                    ("eo-fusion:method_choice", [choice] if isinstance(choice, str) else []),
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


# --------------------------------------------------------------------------------------------
# Reading the output catalog back (what update_catalog extends)


@dataclass(frozen=True)
class SkippedFile:
    """A file of the output catalog that :func:`update_catalog` could not use, and why. It is
    left where it is and is no longer listed by the catalog."""

    location: str
    reason: str


@dataclass
class CatalogUpdate:
    """What :func:`update_catalog` did: the files it wrote and the catalog files it skipped."""

    written: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def _norm(location: str) -> str:
    """One spelling per file (``a/./b/../c`` -> ``a/c``), so a file reached by a catalog link and
    the same file named by this run's records are one entry."""
    if storage.is_remote(location):
        scheme, rest = location.split("://", 1)
        return f"{scheme}://{posixpath.normpath(rest)}"
    return os.path.normpath(location)


def _resolve(href: str, folder: str) -> str:
    """A link's href as a location (relative hrefs against ``folder``), not resolved through
    symlinks: it must name files the way this run's records do."""
    if storage.is_remote(href) or os.path.isabs(href):
        return _norm(href)
    return _norm(storage.join(folder, href))


def _plain_name(name: str) -> bool:
    """Whether ``name`` is one path segment that stays where it is put (see storage.join_inside)."""
    try:
        storage.join_inside("x", name)
    except FusionError:
        return False
    return "/" not in name


def _name(location: str) -> str:
    return location.replace(os.sep, "/").rsplit("/", 1)[-1]


def _product_item_problem(item: Mapping[str, Any], location: str) -> str | None:
    """Why a JSON object is not a product Item :func:`update_catalog` can list, or None: it
    must be the Feature named by its file and carry what the collection is built from."""
    stem = _name(location).removesuffix(".json")
    if item.get("type") != "Feature" or item.get("id") != stem:
        return f"not the STAC Item of product {stem} (type {item.get('type')!r}, id {item.get('id')!r})"
    props, assets = item.get("properties"), item.get("assets")
    missing = []
    if not isinstance(props, dict):
        missing.append("properties")
        props = {}
    missing += [
        k for k in ("start_datetime", "end_datetime", "gsd", "proj:code", "eo-fusion:task") if k not in props
    ]
    model = props.get("eo-fusion:model")
    if not (isinstance(model, dict) and {"name", "version", "checksum"} <= model.keys()):
        missing.append("eo-fusion:model")
    if not (isinstance(assets, dict) and isinstance(assets.get("data"), dict)):
        missing.append("a data asset")
    if not isinstance(item.get("links", []), list):
        missing.append("a list of links")
    return f"a product Item without {', '.join(missing)}" if missing else None


def _model_item_problem(item: Mapping[str, Any], location: str) -> str | None:
    """Why a JSON object is not a model Item :func:`update_catalog` can list, or None."""
    stem = _name(location).removesuffix(".json")
    props = item.get("properties")
    if item.get("type") != "Feature" or item.get("id") != stem or not isinstance(props, dict):
        return f"not the STAC Item of model {stem} (type {item.get('type')!r}, id {item.get('id')!r})"
    missing = [k for k in ("start_datetime", "end_datetime", "mlm:name") if k not in props]
    return f"a model Item without {', '.join(missing)}" if missing else None


@dataclass
class _KnownCatalog:
    """What the output catalog lists: product Item locations by collection, model Item
    locations, and the product collections' own documents (their licences are merged)."""

    root: str
    skipped: list[SkippedFile]
    product_files: dict[str, set[str]] = field(default_factory=dict)
    model_files: set[str] = field(default_factory=set)
    collections: dict[str, dict[str, Any]] = field(default_factory=dict)

    def skip(self, location: str, reason: str) -> None:
        self.skipped.append(SkippedFile(location, reason))

    def place(self, location: str) -> tuple[str, ...] | None:
        """``location``'s path parts under the root, or None when it lies outside it."""
        try:
            return tuple(storage.relative_name(location, self.root).split("/"))
        except ValueError:
            return None

    def add_product(self, location: str, why: str) -> None:
        """Note a product Item (read later); ``why`` says what linked it, for a report."""
        parts = self.place(location)
        if parts is None or len(parts) < 2 or not parts[0].startswith("eo-fusion-"):
            self.skip(
                location, f"{why} but it is not a product Item of this output; dropped from the catalog"
            )
            return
        self.product_files.setdefault(parts[0], set()).add(location)

    def read_collection(self, name: str, location: str) -> None:
        """A collection linked by the catalog: its item links, or (missing or broken) what its
        folder holds."""
        folder = storage.parent(location)
        coll, why = load_json(location)
        links = coll.get("links") if coll is not None else None
        if coll is None or not isinstance(links, list):
            state = why or ("missing" if coll is None else "without a list of links")
            if coll is not None or why is not None:  # a missing one is no news: it is rebuilt
                self.skip(location, f"collection {state}; rebuilt from the Items in its folder")
            self.rescan(folder, name)
            return
        if name != MODELS_FOLDER:
            self.collections[name] = coll
        for link in links:
            if not (
                isinstance(link, dict) and link.get("rel") == "item" and isinstance(link.get("href"), str)
            ):
                continue
            item = _resolve(link["href"], folder)
            if name == MODELS_FOLDER:
                parts = self.place(item)
                if parts is None or parts[0] != MODELS_FOLDER:
                    self.skip(item, f"linked by {location} but outside {folder}; dropped from the catalog")
                    continue
                self.model_files.add(item)
            else:
                self.add_product(item, f"linked by {location}")

    def rescan(self, folder: str, only: str | None = None) -> None:
        """Find the Items of ``folder`` (the root, or one collection's folder ``only``) by
        listing it, when the catalog or a collection that should list them cannot be read.
        Only files where an Item belongs are taken (a product Item beside its COG), so a stray
        file there is not reported as a broken Item; their content is checked when read."""
        files = {_norm(p) for p in storage.list_files(folder)}
        for location in sorted(p for p in files if p.endswith(".json")):
            parts = self.place(location)
            if parts is None or (only is not None and parts[0] != only):
                continue
            name = parts[-1]
            if parts[1:] == ("collection.json",) and parts[0].startswith("eo-fusion-"):
                # a product collection (found when the catalog is broken): its licence and
                # providers are kept, if it still reads
                coll = load_json(location)[0]
                if coll is not None:
                    self.collections.setdefault(parts[0], coll)
                continue
            if name == "collection.json" or name.startswith(".") or ".partial" in name:
                continue
            if parts[0] == MODELS_FOLDER:
                # models/{id}/{id}.json; the package's own JSON files are not Items
                if len(parts) == 3 and name == f"{parts[1]}.json":
                    self.model_files.add(location)
            elif (
                parts[0].startswith("eo-fusion-")
                and len(parts) == 4  # {coll}/{tile}/{yyyy}/{id}.json beside {id}.tif
                and f"{location.removesuffix('.json')}.tif" in files
            ):
                self.product_files.setdefault(parts[0], set()).add(location)


def _read_catalog(root: str, skipped: list[SkippedFile]) -> _KnownCatalog:
    """The Items the output catalog links (root catalog -> collections -> items), nothing
    else: a stray file elsewhere in the output is never read. A missing catalog (a first run,
    or one that stopped before its catalog update) or a broken one is rebuilt from the
    collection folders."""
    known = _KnownCatalog(root, skipped)
    catalog_path = storage.join(root, "catalog.json")
    catalog, why = load_json(catalog_path)
    links = catalog.get("links") if catalog is not None else None
    if catalog is None or not isinstance(links, list):
        if catalog is not None or why is not None:
            known.skip(
                catalog_path,
                f"catalog {why or 'without a list of links'}; rebuilt from the collection folders",
            )
        known.rescan(root)
        return known
    for link in links:
        if not (isinstance(link, dict) and link.get("rel") == "child" and isinstance(link.get("href"), str)):
            continue
        location = _resolve(link["href"], root)
        parts = known.place(location)
        if (
            parts is None
            or len(parts) != 2
            or parts[1] != "collection.json"
            or not (parts[0] == MODELS_FOLDER or parts[0].startswith("eo-fusion-"))
        ):
            known.skip(location, f"linked by {catalog_path} but not a collection of this output; dropped")
            continue
        known.read_collection(parts[0], location)
    return known


def _load_items(
    locations: Sequence[str],
    problem: Callable[[Mapping[str, Any], str], str | None],
    skipped: list[SkippedFile],
    what: str,
) -> dict[str, dict[str, Any]]:
    """The Items at ``locations`` that read and check out (``problem(item, location)`` is
    None), by location; each other one is skipped with the reason."""
    out: dict[str, dict[str, Any]] = {}
    for location in sorted(locations):
        item, why = load_json(location)
        if item is not None:
            why = problem(item, location)
            if why is None:
                out[location] = item
                continue
        skipped.append(SkippedFile(location, f"{what} {why or 'missing'}; dropped from the catalog"))
    return out


def update_catalog(
    output: str | os.PathLike[str],
    model_packages: Sequence[str | os.PathLike[str]] = (),
    licensing: Mapping[str, Mapping[str, Any]] | None = None,
    items: Sequence[str] = (),
) -> CatalogUpdate:
    """(Re)write collection and catalog JSON for the product Items the output catalog lists
    and ``items`` (the Item locations of this run: written now, or found finished); copy each
    of ``model_packages`` (the packages of this run) under ``models/`` with its MLM Item; link
    every product to its model's Item.

    Only what the catalog links is read (root catalog -> collections -> Items), so products
    of earlier runs stay listed and stray files in the output are never parsed. A linked file
    that is missing, not JSON or not an Item is dropped from the catalog and reported in
    :attr:`CatalogUpdate.skipped` (its product fails :meth:`ProductSpec.exists
    <fusion.publish.ProductSpec.exists>`, so the next run that covers it redoes it); a broken
    catalog or collection is rebuilt from the Items in its folder. Files whose content would
    not change are not rewritten (a re-run of a finished window writes nothing).
    ``licensing`` maps input collection ids to their licence, providers and licence links
    (:func:`fusion.catalog.input_licensing`).
    """
    root = _norm(str(output))
    licensing = licensing or {}
    result = CatalogUpdate()
    known = _read_catalog(root, result.skipped)
    for location in items:
        known.add_product(_norm(str(location)), "named by this run")
    by_collection = {
        name: _load_items(sorted(files), _product_item_problem, result.skipped, "product Item")
        for name, files in sorted(known.product_files.items())
    }
    # A collection all of whose Items were dropped is no longer a child of the catalog.
    loaded = {name: found for name, found in by_collection.items() if found}
    models_dir = storage.join(root, MODELS_FOLDER)
    models: dict[str, dict[str, Any]] = {}

    # Model packages of this run: copy and describe (period = the products they made here).
    for package in model_packages:
        from fusion.models.package import package_checksum, read_metadata

        package = Path(package)
        metadata, digest = read_metadata(package), package_checksum(package)
        checksum = f"sha256:{digest}"
        mine = [
            i
            for coll_items in loaded.values()
            for i in coll_items.values()
            if i["properties"]["eo-fusion:model"]["checksum"] == checksum
        ]
        if not mine:
            continue
        period = (
            min(i["properties"]["start_datetime"] for i in mine),
            max(i["properties"]["end_datetime"] for i in mine),
        )
        location, copied = publish_model(root, package, metadata, digest)
        location = _norm(location)
        result.written += copied
        item = model_item_for(location, package, metadata, digest, period)
        item["links"] = _structural_links(location, models_dir, root)
        if _write_if_changed(location, item):
            result.written.append(location)
        models[location] = item
    # The other model Items the catalog lists (one of this run's was just written whole, so a
    # broken earlier copy of it is no news).
    others = sorted(known.model_files - set(models))
    models.update(_load_items(others, _model_item_problem, result.skipped, "model Item"))

    children = []
    for coll_name, coll_items in loaded.items():
        coll_dir = storage.join_inside(root, coll_name)
        item_files = sorted(coll_items)
        for path in item_files:
            item = coll_items[path]
            here = storage.parent(path)
            model = item["properties"]["eo-fusion:model"]
            links = [
                lk
                for lk in item.get("links", [])
                if isinstance(lk, dict)
                and lk.get("rel") == "derived_from"
                and not str(lk.get("title", "")).startswith("model: ")
            ]
            model_id = model.get("item")
            if isinstance(model_id, str) and _plain_name(model_id):
                model_location = _norm(storage.join(model_folder(root, model_id), f"{model_id}.json"))
                if model_location in models:
                    links.append(
                        {
                            "rel": "derived_from",
                            "href": _rel(model_location, here),
                            "type": "application/geo+json",
                            "title": f"model: {model['name']} {model['version']}",
                        }
                    )
            links += _structural_links(path, coll_dir, root)
            if _write_if_changed(path, {**item, "links": links}):
                result.written.append(path)
        coll_path = storage.join(coll_dir, "collection.json")
        items_list = [coll_items[p] for p in item_files]
        coll = _product_collection(coll_name, items_list, licensing, known.collections.get(coll_name))
        if _write_if_changed(coll_path, _collection_dict(coll, coll_dir, root, item_files)):
            result.written.append(coll_path)
        children.append(coll_name)

    if models:
        model_files = sorted(models)
        coll = _models_collection([models[p] for p in model_files])
        coll_path = storage.join(models_dir, "collection.json")
        if _write_if_changed(coll_path, _collection_dict(coll, models_dir, root, model_files)):
            result.written.append(coll_path)
    catalog = pystac.Catalog(
        id=CATALOG_ID,
        title="eo-fusion products",
        description="Fused products written by eo-fusion; one collection per task and model, and the models.",
    )
    catalog.add_link(pystac.Link("root", "./catalog.json", pystac.MediaType.JSON))
    for name in children + ([MODELS_FOLDER] if models else []):
        catalog.add_link(pystac.Link("child", f"./{name}/collection.json", pystac.MediaType.JSON))
    catalog_path = storage.join(root, "catalog.json")
    if _write_if_changed(catalog_path, catalog.to_dict(include_self_link=False, transform_hrefs=False)):
        result.written.append(catalog_path)
    return result


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
