"""The truth: the noise-free, cloud-free surface in Landsat OLI bands, kept apart for evaluation.

``truth/`` beside the catalog holds one int16 COG per simulated acquisition day (scale
:data:`TRUTH_SCALE`, nodata :data:`TRUTH_NODATA`, bands :data:`TRUTH_BANDS`) on the Landsat
30 m grid, the land-cover map and ``truth.json``. It is not part of the STAC catalog.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import rasterio

from fusion import sensors as S
from fusion.errors import SceneNotFound
from fusion.rasterio_io import write_cog
from fusion.simulate.context import SceneContext
from fusion.simulate.fields import F32
from fusion.simulate.landscape import CLASSES

#: Reflectance per stored truth unit.
TRUTH_SCALE = 1e-4
#: Bands of the truth rasters, in order (Landsat OLI common names).
TRUTH_BANDS: tuple[str, ...] = ("blue", "green", "red", "nir08", "swir16", "swir22")
TRUTH_NODATA = -9999


def write_truth(ctx: SceneContext, out: Path, days: list[dt.date]) -> None:
    """Write the truth of ``days``, the land-cover map and ``truth.json`` into ``out``."""
    truth_bands = [S.LANDSAT_OLI.band(k) for k in TRUTH_BANDS]
    matrix = ctx.landscape.band_matrix(truth_bands)
    names = [b.common_name or b.name for b in truth_bands]
    for i, day in enumerate(days):
        ctx.progress(f"truth {i + 1}/{len(days)} {day}")
        refl = ctx.landscape.reflectance(ctx.layers30, day, matrix)
        # Stored like the products (int16 x 1e-4): quantisation (<= 5e-5) is far below the
        # sensors' noise, and the files are less than half the size of float32.
        dn = np.clip(np.round(refl / TRUTH_SCALE), -9998, 32767).astype(np.int16)
        write_cog(
            out / f"{day.isoformat()}.tif",
            dn,
            transform=ctx.grid30.transform,
            crs=ctx.crs,
            nodata=TRUTH_NODATA,
            band_descriptions=names,
        )
    write_cog(
        out / "landcover.tif",
        ctx.layers30.landcover,
        transform=ctx.grid30.transform,
        crs=ctx.crs,
        nodata=None,
        overview_resampling="mode",
    )
    meta = {
        "description": "Noise-free, cloud-free simulated surface reflectance in Landsat OLI bands "
        "on the Landsat 30 m grid, one file per simulated acquisition day. Not part of the STAC catalog.",
        "bands": names,
        "scale": TRUTH_SCALE,
        "nodata": TRUTH_NODATA,
        "classes": CLASSES,
        "dates": [d.isoformat() for d in days],
        "config": ctx.cfg.to_json(),
    }
    (out / "truth.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def read_truth(out_dir: str | Path, day: dt.date) -> F32:
    """The truth on ``day`` of a simulation written to ``out_dir``: float32 (6, H, W) reflectance
    in Landsat OLI blue, green, red, nir08, swir16, swir22 on the Landsat 30 m grid."""
    path = Path(out_dir) / "truth" / f"{day.isoformat()}.tif"
    if not path.exists():
        raise SceneNotFound(f"no truth for {day} at {path}; truth exists for simulated acquisition days only")
    with rasterio.open(path) as src:
        return truth_reflectance(src.read())


def truth_reflectance(dn: npt.NDArray[np.int16]) -> F32:
    """Stored truth values (int16, ``TRUTH_SCALE``) as float32 reflectance, NaN at ``TRUTH_NODATA``."""
    out: F32 = dn.astype(np.float32) * np.float32(TRUTH_SCALE)
    out[dn == TRUTH_NODATA] = np.nan
    return out
