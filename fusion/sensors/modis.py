"""MODIS Terra surface reflectance tables (MOD09A1 8-day, MOD09GA daily), Collection 6.1.

MODIS Surface Reflectance User's Guide, Collection 6.1 (MOD09A1/MOD09GA): int16, scale 1e-4,
fill -28672; 500 m ``StateQA`` bits 0-15 (decoded by :func:`fusion.sensors.qa.decode_modis_state`).
"""

from __future__ import annotations

from fusion.sensors.model import Band, QaAsset, Sensor
from fusion.sensors.qa import MODIS_STATE_FILL


def _modis_band(name: str, common: str | None, lo: float, hi: float) -> Band:
    return Band(name, common, name, lo, hi, 463.3127165274999, "int16", -28672, 1e-4, 0.0)


_MODIS_BANDS = (
    _modis_band("sur_refl_b01", "red", 0.620, 0.670),
    _modis_band("sur_refl_b02", "nir08", 0.841, 0.876),
    _modis_band("sur_refl_b03", "blue", 0.459, 0.479),
    _modis_band("sur_refl_b04", "green", 0.545, 0.565),
    _modis_band("sur_refl_b05", None, 1.230, 1.250),
    _modis_band("sur_refl_b06", "swir16", 1.628, 1.652),
    _modis_band("sur_refl_b07", "swir22", 2.105, 2.155),
)

MODIS_MOD09A1 = Sensor(
    name="modis-mod09a1",
    collection="modis-09A1-061",
    title="MODIS Terra MOD09A1 v6.1 8-day 500 m surface reflectance",
    platforms=("terra",),
    instruments=("modis",),
    bands=_MODIS_BANDS,
    qa=QaAsset("sur_refl_state_500m", "modis-state", "uint16", 463.3127165274999, MODIS_STATE_FILL),
    revisit_days=8,
    extra={"composite_days": 8, "day_of_year_asset": "sur_refl_day_of_year"},
)

MODIS_MOD09GA = Sensor(
    name="modis-mod09ga",
    collection="modis-09GA-061",
    title="MODIS Terra MOD09GA v6.1 daily 500 m surface reflectance",
    platforms=("terra",),
    instruments=("modis",),
    bands=_MODIS_BANDS,
    qa=QaAsset("state_1km", "modis-state", "uint16", 926.625433055833, MODIS_STATE_FILL),
    revisit_days=1,
)
