"""Products: deterministic identities, COG assembly, STAC Items and the output catalog.

A product is one COG per (grid tile, target date, task, model) - DESIGN.md §4. Its id names
the task, model, tile and date and ends in a short hash of the input item ids, the model
package checksum and the parameters, so the same request with the same model always maps to
the same path, and a different model or input never overwrites it. The Item JSON is written
last: its presence marks a finished product, which is what skip-existing checks - together
with the COG it describes (:meth:`ProductSpec.state`: the Item parses and the COG has the size
and checksum the Item records), so a truncated or corrupt product is redone, never kept.

Output layout (a self-contained STAC catalog)::

    {output}/catalog.json
    {output}/{collection}/collection.json
    {output}/{collection}/{tile}/{yyyy}/{product_id}.tif   (COG)
    {output}/{collection}/{tile}/{yyyy}/{product_id}.json  (Item)
    {output}/{collection}/{tile}/{yyyy}/{product_id}.png   (thumbnail)
    {output}/models/collection.json                         (the models, STAC MLM)
    {output}/models/{model_id}/{model_id}.json              (a model's MLM Item)
    {output}/models/{model_id}/package/...                  (the model package itself)

The STAC side (Items, collections, catalog, model Items) is :mod:`fusion.product_stac`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fusion import storage
from fusion.catalog import COG_MEDIA_TYPE
from fusion.errors import SceneNotFound
from fusion.grid import Tile
from fusion.models.auto import MethodChoice
from fusion.models.package import ModelMetadata
from fusion.pairing import FusionJob
from fusion.product_stac import (
    CATALOG_ID,
    NODATA,
    REFLECTANCE_UNIT,
    SCALE,
    CatalogUpdate,
    SkippedFile,
    band_details,
    load_json,
    multihash_sha256,
    product_collections,
    product_item,
    update_catalog,
)
from fusion.quicklook import QUICKLOOK_BANDS, write_png
from fusion.rasterio_io import write_cog
from fusion.scratch import scratch_folder
from fusion.tasks.base import JobLineage

__all__ = [
    "CATALOG_ID",
    "NODATA",
    "REFLECTANCE_UNIT",
    "SCALE",
    "CatalogUpdate",
    "ProductSpec",
    "ProductState",
    "SkippedFile",
    "from_int16",
    "multihash_sha256",
    "product_collections",
    "product_spec",
    "read_product",
    "to_int16",
    "update_catalog",
    "write_product",
    "write_product_cog",
]


@dataclass(frozen=True)
class ProductState:
    """What the output holds of one product. ``finished``: its Item and COG check out, a run
    skips it. Otherwise ``problem`` says why files that are there do not (the product is
    redone); it is None for a product never written, or one whose write stopped before its
    Item (the Item goes last), which is a plain to-do rather than news."""

    finished: bool
    problem: str | None = None
    #: the file that does not check out (the Item or the COG), when there is a problem
    location: str | None = None


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
    #: the collections of the input scenes (their licensors are the products' providers)
    input_collections: tuple[str, ...] = ()
    #: the sensor (``fusion.sensors`` name) whose bands the product stands for: wavelengths
    output_sensor: str | None = None
    #: the model choice (``classical-auto``) that picked ``model`` for this product, and why;
    #: None when the request named the package itself
    method_choice: str | None = None
    method_reason: str | None = None

    def folder(self, output: str | os.PathLike[str]) -> str:
        return storage.join_inside(output, self.relative_dir)

    def cog_path(self, output: str | os.PathLike[str]) -> str:
        return storage.join_inside(self.folder(output), f"{self.product_id}.tif")

    def item_path(self, output: str | os.PathLike[str]) -> str:
        return storage.join_inside(self.folder(output), f"{self.product_id}.json")

    def thumbnail_path(self, output: str | os.PathLike[str]) -> str:
        return storage.join_inside(self.folder(output), f"{self.product_id}.png")

    def exists(self, output: str | os.PathLike[str]) -> bool:
        """Finished (see :meth:`state`): a run skips the product."""
        return self.state(output).finished

    def state(self, output: str | os.PathLike[str]) -> ProductState:
        """Whether the product in ``output`` is finished and intact: its Item (written last) is a
        JSON object for this product with a data asset, and the COG is there with the
        ``file:size`` and ``file:checksum`` the asset records. The checksum reads the whole COG
        (streamed): a COG cut short by a failed copy, or changed since, is caught whatever its
        size. A product written by an earlier eo-fusion whose Item records neither is taken as
        it is (nothing to compare with)."""
        item_path, cog_path = self.item_path(output), self.cog_path(output)
        item, why = load_json(item_path)
        if item is None:
            if why is None:  # no Item: never written, or its write stopped before the Item
                return ProductState(False)
            return ProductState(False, f"Item {why}", item_path)
        assets = item.get("assets")
        data = assets.get("data") if isinstance(assets, dict) else None
        if item.get("id") != self.product_id or not isinstance(data, dict):
            return ProductState(False, "Item is not this product's Item with a data asset", item_path)
        size = storage.size(cog_path)
        if size is None:
            return ProductState(False, "COG missing (its Item is there)", cog_path)
        recorded_size = data.get("file:size")
        if recorded_size is not None and size != recorded_size:
            return ProductState(False, f"COG size {size} != {recorded_size} recorded in its Item", cog_path)
        recorded = data.get("file:checksum")
        if recorded is not None:
            try:
                checksum = multihash_sha256(cog_path)
            except SceneNotFound:  # deleted since the size was read
                return ProductState(False, "COG missing (its Item is there)", cog_path)
            if checksum != recorded:
                return ProductState(
                    False,
                    f"COG checksum {checksum[4:16]}... != {str(recorded)[4:16]}... recorded in its Item",
                    cog_path,
                )
        return ProductState(True)


def collection_id(task: str, model: str) -> str:
    return f"eo-fusion-{task}-{model}"


def product_spec(
    job: FusionJob,
    metadata: ModelMetadata,
    checksum: str,
    model_href: str,
    parameters: dict[str, Any],
    lineage: JobLineage,
    *,
    block_size: int,
    method: MethodChoice | None = None,
) -> ProductSpec:
    """The product of ``job`` with a model: its deterministic id and paths, and its lineage
    (the task's :meth:`~fusion.tasks.base.FusionTask.lineage` of the job).

    The id hashes everything that changes the product's pixels: the inputs, the model, its
    parameters and ``block_size`` - a model sees each block with its halo, and invalid pixels
    are filled from what the block's read window holds, so another block layout gives
    slightly different pixels (up to 0.008 reflectance next to clouds) and must not be taken
    for the same product.

    ``method``: the decision of a model choice (:mod:`fusion.models.auto`) that picked
    ``metadata``'s package for this job. The product then lives in the choice's collection
    (``eo-fusion-spatiotemporal-classical-auto``), keeps the package's name in its id, and the
    hash also covers the choice and its reason, which its Item records."""
    inputs = list(lineage.input_items)
    fields: dict[str, Any] = {
        "tile": job.tile_id,
        "date": job.date.isoformat(),
        "inputs": [(role, item_id) for role, item_id, _ in inputs],
        "model": checksum,
        "parameters": parameters,
        "block_size": block_size,
    }
    if method is not None:  # only then: the ids of products of one package stay as they were
        fields["choice"] = {"name": method.choice, "reason": method.reason}
    identity = json.dumps(fields, sort_keys=True)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    coll = collection_id(metadata.task, method.choice if method is not None else metadata.name)
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
        input_collections=lineage.input_collections,
        output_sensor=lineage.output_sensor,
        method_choice=method.choice if method is not None else None,
        method_reason=method.reason if method is not None else None,
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


def _write_product_cog(
    spec: ProductSpec, tile: Tile, data: npt.NDArray[np.int16], path: Path, cog_profile: str
) -> Path:
    """The product COG of int16 ``data`` at the local ``path``: nodata, scale and offset, band
    names and wavelengths, product id and model in its tags."""
    return write_cog(
        path,
        data,
        transform=tile.transform,
        crs=tile.grid.crs,
        nodata=NODATA,
        profile=cog_profile,
        band_descriptions=list(spec.bands),
        band_wavelengths=[
            (d["center_wavelength"], d["full_width_half_max"]) if "center_wavelength" in d else None
            for d in band_details(spec)
        ],
        scale=SCALE,
        offset=0.0,
        unit=REFLECTANCE_UNIT,
        tags={"PRODUCT_ID": spec.product_id, "MODEL": f"{spec.model} {spec.model_version}"},
    )


def write_product_cog(
    spec: ProductSpec,
    location: str,
    tile: Tile,
    reflectance: npt.NDArray[np.floating],
    valid: npt.NDArray[np.bool_],
    *,
    cog_profile: str = "zstd",
) -> str:
    """Only the COG of a product (the very file :func:`write_product` writes), at ``location``
    (a local path or ``gs://`` URL; made in a scratch folder, then moved there)."""
    data = to_int16(reflectance, valid)
    with scratch_folder() as scratch_dir:
        cog = _write_product_cog(spec, tile, data, Path(scratch_dir) / f"{spec.product_id}.tif", cog_profile)
        storage.put_file(cog, location, COG_MEDIA_TYPE)
    return location


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
    # The final paths first: they refuse a product id or folder that would leave the output
    # (storage.join_inside) before anything - the scratch files included - is written.
    _ = (spec.cog_path(output), spec.thumbnail_path(output), spec.item_path(output))
    data = to_int16(reflectance, valid)
    with scratch_folder() as scratch_dir:
        scratch = Path(scratch_dir)
        cog = _write_product_cog(spec, tile, data, scratch / f"{spec.product_id}.tif", cog_profile)
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
    storage.write_if_changed(item_path, (json.dumps(item, indent=2) + "\n").encode(), "application/json")
    return item_path


def read_product(path: str | os.PathLike[str]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """A product COG as (B, H, W) float32 reflectance with NaN at nodata, and its valid mask."""
    import rasterio

    with rasterio.open(path) as src:
        data = src.read()
    return from_int16(data), np.all(data != NODATA, axis=0)
