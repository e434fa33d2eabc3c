"""Sentinel-2 MSI Level-2A table.

Sentinel-2 L2A Product Specification / processing-baseline 04.00 note: BOA reflectance
``(DN + BOA_ADD_OFFSET) / 10000`` with ``BOA_ADD_OFFSET = -1000`` from baseline 04.00
(25 January 2022) on (:func:`fusion.sensors.model.sentinel2_boa_offset`); ``SCL`` classes 0-11.
"""

from __future__ import annotations

from fusion.sensors.model import Band, QaAsset, Sensor


def _s2_band(name: str, common: str | None, centre: float, fwhm: float, res: float) -> Band:
    # Planetary Computer keys Sentinel-2 L2A assets by band name (B02 ...).
    lo, hi = round(centre - fwhm / 2, 4), round(centre + fwhm / 2, 4)
    return Band(name, common, name, lo, hi, res, "uint16", 0, 1e-4, -0.1)


SENTINEL2_L2A = Sensor(
    name="sentinel-2-msi",
    collection="sentinel-2-l2a",
    title="Sentinel-2 MSI Level-2A bottom-of-atmosphere reflectance",
    platforms=("sentinel-2a", "sentinel-2b", "sentinel-2c"),
    instruments=("msi",),
    bands=(
        _s2_band("B01", "coastal", 0.443, 0.027, 60.0),
        _s2_band("B02", "blue", 0.490, 0.098, 10.0),
        _s2_band("B03", "green", 0.560, 0.045, 10.0),
        _s2_band("B04", "red", 0.665, 0.038, 10.0),
        _s2_band("B05", "rededge", 0.704, 0.019, 20.0),
        _s2_band("B06", "rededge", 0.740, 0.018, 20.0),
        _s2_band("B07", "rededge", 0.783, 0.028, 20.0),
        _s2_band("B08", "nir", 0.842, 0.145, 10.0),
        _s2_band("B8A", "nir08", 0.865, 0.033, 20.0),
        _s2_band("B09", "nir09", 0.945, 0.026, 60.0),
        _s2_band("B11", "swir16", 1.610, 0.143, 20.0),
        _s2_band("B12", "swir22", 2.190, 0.242, 20.0),
    ),
    qa=QaAsset("SCL", "sentinel2-scl", "uint8", 20.0, 0),
    revisit_days=5,
    offset_rule="sentinel2-baseline",
)
