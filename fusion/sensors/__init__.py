"""Sensor tables: bands, radiometry and QA decoding for every supported collection.

Sensors are *tables*, not code: each :class:`Sensor` lists its bands with STAC ``eo`` common
names, wavelength range, native resolution, storage type, nodata and scale/offset, plus the
asset that carries its quality flags and the name of the decoder that turns those flags into
boolean masks. Adding a sensor means adding an entry to :data:`SENSORS`.

The tables are one module per sensor family (:mod:`fusion.sensors.landsat`,
:mod:`~fusion.sensors.sentinel2`, :mod:`~fusion.sensors.modis`, :mod:`~fusion.sensors.hls`), on
the model of :mod:`fusion.sensors.model`; the QA decoders are in :mod:`fusion.sensors.qa`. This
module is the registry and re-exports every public name of those.

Sources for the numbers (checked against the product guides):

* Landsat Collection 2 Level-2 Science Product Guide (LSDS-1619 v6, LSDS-1328 v4): SR
  ``DN * 2.75e-5 - 0.2``, uint16, fill 0; ``QA_PIXEL`` bit layout.
* Sentinel-2 L2A Product Specification / processing-baseline 04.00 note: BOA reflectance
  ``(DN + BOA_ADD_OFFSET) / 10000`` with ``BOA_ADD_OFFSET = -1000`` from baseline 04.00
  (25 January 2022) on; ``SCL`` classes 0-11.
* MODIS Surface Reflectance User's Guide, Collection 6.1 (MOD09A1/MOD09GA): int16,
  scale 1e-4, fill -28672; 500 m ``StateQA`` bits 0-15.
* HLS v2.0 User Guide: int16, scale 1e-4, fill -9999; ``Fmask`` bits 0-7, fill 255.
"""

from __future__ import annotations

from fusion.errors import UnknownNameError
from fusion.sensors.hls import HLS_L30, HLS_S30
from fusion.sensors.landsat import LANDSAT_ETM, LANDSAT_OLI, LANDSAT_TM
from fusion.sensors.model import Band, FloatArray, QaAsset, Sensor, sentinel2_boa_offset
from fusion.sensors.modis import MODIS_MOD09A1, MODIS_MOD09GA
from fusion.sensors.qa import (
    HLS_FMASK_FILL,
    MODIS_STATE_FILL,
    QA_DECODERS,
    QA_FLAGS,
    SCL_CLASSES,
    BoolArray,
    QaMasks,
    decode_hls_fmask,
    decode_landsat_qa_pixel,
    decode_modis_state,
    decode_sentinel2_scl,
    get_qa_decoder,
)
from fusion.sensors.sentinel2 import SENTINEL2_L2A

__all__ = [
    "COLLECTION_ALIASES",
    "HLS_FMASK_FILL",
    "HLS_L30",
    "HLS_S30",
    "LANDSAT_ETM",
    "LANDSAT_OLI",
    "LANDSAT_TM",
    "MODIS_MOD09A1",
    "MODIS_MOD09GA",
    "MODIS_STATE_FILL",
    "QA_DECODERS",
    "QA_FLAGS",
    "SCL_CLASSES",
    "SENSORS",
    "SENTINEL2_L2A",
    "UNREADABLE_COLLECTIONS",
    "Band",
    "BoolArray",
    "FloatArray",
    "QaAsset",
    "QaMasks",
    "Sensor",
    "decode_hls_fmask",
    "decode_landsat_qa_pixel",
    "decode_modis_state",
    "decode_sentinel2_scl",
    "get_qa_decoder",
    "get_sensor",
    "list_sensors",
    "sensor_for_item",
    "sentinel2_boa_offset",
]

SENSORS: dict[str, Sensor] = {
    s.name: s
    for s in (
        LANDSAT_OLI,
        LANDSAT_ETM,
        LANDSAT_TM,
        SENTINEL2_L2A,
        MODIS_MOD09A1,
        MODIS_MOD09GA,
        HLS_L30,
        HLS_S30,
    )
}


def list_sensors() -> list[str]:
    return sorted(SENSORS)


def get_sensor(name: str) -> Sensor:
    try:
        return SENSORS[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown sensor {name!r}; choose one of: {', '.join(list_sensors())}"
        ) from None


#: Other catalogs' ids of collections whose items carry the same assets as ours.
COLLECTION_ALIASES: dict[str, str] = {
    "sentinel-2-c1-l2a": "sentinel-2-l2a",  # Earth Search collection 1: common-name asset keys
    "HLSL30.v2.0": "hls2-l30",  # NASA CMR-STAC (LPCLOUD)
    "HLSS30.v2.0": "hls2-s30",
    "HLSL30.v1.5": "hls2-l30",
    "HLSS30.v1.5": "hls2-s30",
}
#: Collections whose items eo-fusion cannot read, and why (search lists them as dropped).
UNREADABLE_COLLECTIONS: dict[str, str] = {
    "MOD09GA.v061": (
        "CMR-STAC MOD09GA items hold one HDF4 granule, not per-band GeoTIFFs; eo-fusion reads COGs "
        "(use planetary-computer's modis-09A1-061, or convert the granules)"
    ),
}


def sensor_for_item(collection: str, platform: str | None) -> Sensor:
    """The sensor table for an item of ``collection`` acquired by ``platform``."""
    if collection in UNREADABLE_COLLECTIONS:
        raise UnknownNameError(f"collection {collection!r}: {UNREADABLE_COLLECTIONS[collection]}")
    collection = COLLECTION_ALIASES.get(collection, collection)
    candidates = [s for s in SENSORS.values() if s.collection == collection]
    if not candidates:
        known = sorted({s.collection for s in SENSORS.values()})
        raise UnknownNameError(
            f"no sensor table for collection {collection!r}; supported: {', '.join(known)}"
        )
    if len(candidates) == 1:
        return candidates[0]
    plat = (platform or "").lower().replace("_", "-")
    for sensor in candidates:
        if plat in sensor.platforms:
            return sensor
    raise UnknownNameError(
        f"collection {collection!r} item has platform {platform!r}, which matches no sensor; "
        f"expected one of {sorted(p for s in candidates for p in s.platforms)}"
    )
