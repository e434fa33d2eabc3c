"""Quicklook PNGs of scenes: a false-colour (SWIR16, NIR, red) stretch people can open."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning

from fusion.catalog import Scene
from fusion.errors import CatalogError

QUICKLOOK_BANDS = ("swir16", "nir08", "red")


def write_quicklook(scene: Scene, path: str | Path, max_reflectance: float = 0.5) -> Path:
    """Write a PNG of ``scene`` in (swir16, nir08, red), linearly stretched 0..``max_reflectance``."""
    missing = [b for b in QUICKLOOK_BANDS if b not in scene.bands]
    if missing:
        raise CatalogError(f"scene {scene.id} lacks band(s) {missing} needed for a quicklook")
    layers = []
    for name in QUICKLOOK_BANDS:
        with rasterio.open(scene.bands[name]) as src:
            dn = src.read(1).astype(np.float32)
            nodata = src.nodata
        scale, offset = scene.scale_offset[name]
        refl = dn * scale + offset
        if nodata is not None:
            refl[dn == nodata] = np.nan
        layers.append(refl)
    return write_png(np.stack(layers), path, max_reflectance)


def write_png(rgb: npt.NDArray[np.floating], path: str | Path, max_reflectance: float = 0.5) -> Path:
    """Write a (3, H, W) reflectance array as an 8-bit RGBA PNG stretched 0..``max_reflectance``;
    a pixel with a NaN in any band is transparent (alpha 0), so nodata never looks like water."""
    color = np.nan_to_num(np.clip(rgb / max_reflectance, 0.0, 1.0) * 255.0).astype(np.uint8)
    alpha = np.where(np.isfinite(rgb).all(axis=0), 255, 0).astype(np.uint8)
    byte = np.concatenate([color, alpha[np.newaxis]])
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # A quicklook is a picture, deliberately without georeferencing.
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(
            out,
            "w",
            driver="PNG",
            width=byte.shape[2],
            height=byte.shape[1],
            count=4,
            dtype="uint8",
            # zlib level 1: 8x faster than the default 6 for a 15 % larger preview, and a
            # quicklook is written for every product (benchmarks/dcstfn_throughput.py).
            zlevel=1,
        ) as dst:
            dst.write(byte)
            dst.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha]
    return out
