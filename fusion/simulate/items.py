"""What the simulator writes and hands on: asset files, simulated items, the run's result,
and the encoders shared by the sensor renderers (stored integers, ``eo:cloud_cover``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from affine import Affine

from fusion import sensors as S
from fusion.simulate.fields import F32


@dataclass(frozen=True)
class AssetFile:
    """One written raster of a simulated item, as the catalog writer describes it."""

    path: Path
    shape: tuple[int, int]
    transform: Affine
    #: The spectral band stored, or None for the QA / auxiliary assets.
    band: S.Band | None = None
    #: For assets without a band: "qa" (the sensor's QA asset) or "day_of_year".
    kind: str = "band"
    data_type: str | None = None


@dataclass
class SimulatedItem:
    """What the catalog writer needs to know of one simulated scene."""

    collection: str
    item_id: str
    sensor: S.Sensor
    properties: dict[str, Any]
    geometry_bounds: tuple[float, float, float, float]  #: in the item's CRS
    crs_wkt2: str | None
    epsg: int | None
    assets: dict[str, AssetFile]


@dataclass
class SimulationResult:
    out_dir: Path
    catalog_path: Path
    items: list[SimulatedItem] = field(default_factory=list)
    truth_dates: list[dt.date] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        per_collection: dict[str, int] = {}
        for it in self.items:
            per_collection[it.collection] = per_collection.get(it.collection, 0) + 1
        return {
            "catalog": str(self.catalog_path),
            "items": per_collection,
            "truth_dates": len(self.truth_dates),
            "seconds": round(self.seconds, 1),
        }


def cloud_percent(masks: S.QaMasks, *, also_cirrus: bool, digits: int = 2) -> float:
    """``eo:cloud_cover``: percent of non-fill pixels flagged cloud (and cirrus if asked)."""
    valid = ~masks.fill
    if not valid.any():
        return 100.0
    cloudy = masks.cloud | masks.cirrus if also_cirrus else masks.cloud
    return round(100.0 * float(cloudy[valid].mean()), digits)


def to_dn(refl: F32, band: S.Band, offset: float) -> npt.NDArray[Any]:
    """Reflectance to stored integers of ``band`` (clipped to the valid range)."""
    info = np.iinfo(np.dtype(band.data_type))
    lo = info.min + 1 if band.nodata == info.min else (1 if band.nodata == 0 else info.min)
    dn = np.round((refl - offset) / band.scale)
    dn = np.clip(dn, lo, info.max)
    return dn.astype(band.data_type)
