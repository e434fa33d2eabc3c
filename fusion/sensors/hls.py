"""Harmonized Landsat Sentinel-2 v2.0 tables (L30, S30).

HLS v2.0 User Guide: int16, scale 1e-4, fill -9999; ``Fmask`` bits 0-7, fill 255 (decoded by
:func:`fusion.sensors.qa.decode_hls_fmask`).
"""

from __future__ import annotations

from fusion.sensors.model import Band, QaAsset, Sensor
from fusion.sensors.qa import HLS_FMASK_FILL


def _hls_band(name: str, common: str | None, lo: float, hi: float) -> Band:
    return Band(name, common, name, lo, hi, 30.0, "int16", -9999, 1e-4, 0.0)


_HLS_QA = QaAsset("Fmask", "hls-fmask", "uint8", 30.0, HLS_FMASK_FILL)

HLS_L30 = Sensor(
    name="hls-l30",
    collection="hls2-l30",
    title="Harmonized Landsat Sentinel-2 v2.0, Landsat-derived L30",
    platforms=("landsat-8", "landsat-9"),
    instruments=("oli",),
    bands=(
        _hls_band("B01", "coastal", 0.433, 0.451),
        _hls_band("B02", "blue", 0.452, 0.512),
        _hls_band("B03", "green", 0.533, 0.590),
        _hls_band("B04", "red", 0.636, 0.673),
        _hls_band("B05", "nir08", 0.851, 0.879),
        _hls_band("B06", "swir16", 1.566, 1.651),
        _hls_band("B07", "swir22", 2.107, 2.294),
        _hls_band("B09", "cirrus", 1.363, 1.384),
    ),
    qa=_HLS_QA,
    revisit_days=8,
)

HLS_S30 = Sensor(
    name="hls-s30",
    collection="hls2-s30",
    title="Harmonized Landsat Sentinel-2 v2.0, Sentinel-2-derived S30",
    platforms=("sentinel-2a", "sentinel-2b", "sentinel-2c"),
    instruments=("msi",),
    bands=(
        _hls_band("B01", "coastal", 0.4295, 0.4565),
        _hls_band("B02", "blue", 0.441, 0.539),
        _hls_band("B03", "green", 0.5375, 0.5825),
        _hls_band("B04", "red", 0.646, 0.684),
        _hls_band("B05", "rededge", 0.6945, 0.7135),
        _hls_band("B06", "rededge", 0.731, 0.749),
        _hls_band("B07", "rededge", 0.769, 0.797),
        _hls_band("B08", "nir", 0.7695, 0.9145),
        _hls_band("B8A", "nir08", 0.8485, 0.8815),
        _hls_band("B10", "cirrus", 1.3605, 1.3895),
        _hls_band("B11", "swir16", 1.5385, 1.6815),
        _hls_band("B12", "swir22", 2.069, 2.311),
    ),
    qa=_HLS_QA,
    revisit_days=5,
)
