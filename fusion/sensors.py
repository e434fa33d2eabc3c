"""Sensor tables: bands, radiometry and QA decoding for every supported collection.

Sensors are *tables*, not code: each :class:`Sensor` lists its bands with STAC ``eo`` common
names, wavelength range, native resolution, storage type, nodata and scale/offset, plus the
asset that carries its quality flags and the name of the decoder that turns those flags into
boolean masks. Adding a sensor means adding an entry to :data:`SENSORS`.

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

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from fusion.errors import ConfigError, UnknownNameError

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

#: The flags every QA decoder produces, in this order.
QA_FLAGS: tuple[str, ...] = ("fill", "clear", "cloud", "shadow", "snow", "water", "cirrus")


@dataclass(frozen=True)
class Band:
    """One spectral band of a sensor as it is stored in its collection."""

    name: str  #: the sensor's own band name, e.g. ``OLI_B4``, ``B04``, ``sur_refl_b01``
    common_name: str | None  #: STAC ``eo`` common name (``red``, ``nir08`` ...), None if none fits
    asset_key: str  #: key of the asset holding this band in the collection's items
    min_wavelength: float  #: µm, lower edge of the band
    max_wavelength: float  #: µm, upper edge of the band
    resolution: float  #: native ground sampling distance, metres
    data_type: str  #: numpy/GDAL data type name of the stored values
    nodata: int | None  #: stored value meaning "no data"
    scale: float  #: reflectance = DN * scale + offset
    offset: float = 0.0

    @property
    def center_wavelength(self) -> float:
        return round((self.min_wavelength + self.max_wavelength) / 2.0, 4)

    @property
    def full_width_half_max(self) -> float:
        return round(self.max_wavelength - self.min_wavelength, 4)


@dataclass(frozen=True)
class QaAsset:
    """The asset that carries a sensor's per-pixel quality flags."""

    asset_key: str
    decoder: str  #: name in :data:`QA_DECODERS`
    data_type: str
    resolution: float
    nodata: int | None


@dataclass(frozen=True)
class Sensor:
    """Declarative description of one sensor/product as stored in one STAC collection."""

    name: str
    collection: str
    title: str
    platforms: tuple[str, ...]
    instruments: tuple[str, ...]
    bands: tuple[Band, ...]
    qa: QaAsset
    revisit_days: float
    #: A rule that changes the offset by item metadata (``"sentinel2-baseline"``), or None.
    offset_rule: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def band(self, key: str) -> Band:
        """Return the band whose band name, asset key or (unique) common name is ``key``."""
        by_name = [b for b in self.bands if key in (b.name, b.asset_key)]
        if by_name:
            return by_name[0]
        by_common = [b for b in self.bands if b.common_name == key]
        if len(by_common) == 1:
            return by_common[0]
        names = ", ".join(sorted({b.common_name or b.name for b in self.bands}))
        if len(by_common) > 1:
            raise UnknownNameError(
                f"band {key!r} is ambiguous for sensor {self.name!r}: it matches "
                f"{[b.name for b in by_common]}; name the band itself instead"
            )
        raise UnknownNameError(f"sensor {self.name!r} has no band {key!r}; choose one of: {names}")

    @property
    def common_names(self) -> tuple[str, ...]:
        return tuple(b.common_name for b in self.bands if b.common_name)

    def scale_offset(self, band: Band, properties: Mapping[str, Any] | None = None) -> tuple[float, float]:
        """Scale and offset for ``band`` in an item with these ``properties``.

        For Sentinel-2 L2A the offset depends on the processing baseline: ``-0.1`` from
        baseline 04.00 on, ``0`` before, unless the provider states it already harmonised the
        values (Earth Search's ``earthsearch:boa_offset_applied``).
        """
        if self.offset_rule == "sentinel2-baseline" and properties is not None:
            return band.scale, sentinel2_boa_offset(properties)
        return band.scale, band.offset

    def to_reflectance(
        self,
        dn: npt.NDArray[Any],
        band: Band,
        properties: Mapping[str, Any] | None = None,
    ) -> FloatArray:
        """Convert stored values to float32 surface reflectance; nodata becomes NaN."""
        scale, offset = self.scale_offset(band, properties)
        out = dn.astype(np.float32) * np.float32(scale) + np.float32(offset)
        if band.nodata is not None:
            out[dn == band.nodata] = np.nan
        return out

    def decode_qa(self, qa: npt.NDArray[Any]) -> QaMasks:
        """Decode this sensor's QA asset into boolean masks."""
        return get_qa_decoder(self.qa.decoder)(qa)


def sentinel2_boa_offset(properties: Mapping[str, Any]) -> float:
    """Reflectance offset of Sentinel-2 L2A values for an item with these properties."""
    if properties.get("earthsearch:boa_offset_applied") is True:
        return -0.1
    baseline = properties.get("s2:processing_baseline")
    if baseline is None:
        # Items without the field: everything published since 2022 is >= 04.00.
        return -0.1
    match = re.fullmatch(r"(\d+)\.(\d+)", str(baseline))
    if not match:
        raise ConfigError(
            f"s2:processing_baseline {baseline!r} is not of the form 'NN.NN'; "
            "fix the item metadata or drop the property"
        )
    return -0.1 if (int(match.group(1)), int(match.group(2))) >= (4, 0) else 0.0


# --------------------------------------------------------------------------------------------
# QA decoding


@dataclass(frozen=True)
class QaMasks:
    """Boolean masks decoded from a QA asset; every array has the QA asset's shape.

    ``clear`` means usable surface: not fill, cloud, cloud shadow, cirrus or snow/ice (and, for
    decoders whose product flags it, not adjacent to cloud). Water pixels can be clear.
    """

    fill: BoolArray
    clear: BoolArray
    cloud: BoolArray
    shadow: BoolArray
    snow: BoolArray
    water: BoolArray
    cirrus: BoolArray

    def as_dict(self) -> dict[str, BoolArray]:
        return {name: getattr(self, name) for name in QA_FLAGS}


def _bit(qa: npt.NDArray[Any], offset: int, length: int = 1) -> npt.NDArray[np.int64]:
    return (qa.astype(np.int64) >> offset) & ((1 << length) - 1)


def decode_landsat_qa_pixel(qa: npt.NDArray[Any]) -> QaMasks:
    """Landsat C2 L2 ``QA_PIXEL`` (TM, ETM+, OLI/OLI-2).

    Bits: 0 fill, 1 dilated cloud, 2 cirrus (OLI only), 3 cloud, 4 cloud shadow, 5 snow,
    6 clear, 7 water, 8-9 cloud confidence, 10-11 shadow confidence, 12-13 snow/ice
    confidence, 14-15 cirrus confidence. Dilated cloud counts as cloud here.
    """
    fill = _bit(qa, 0) == 1
    cloud = ((_bit(qa, 3) == 1) | (_bit(qa, 1) == 1)) & ~fill
    cirrus = (_bit(qa, 2) == 1) & ~fill
    shadow = (_bit(qa, 4) == 1) & ~fill
    snow = (_bit(qa, 5) == 1) & ~fill
    water = (_bit(qa, 7) == 1) & ~fill
    clear = (_bit(qa, 6) == 1) & ~(fill | cloud | cirrus | shadow | snow)
    return QaMasks(fill, clear, cloud, shadow, snow, water, cirrus)


#: Sentinel-2 L2A scene classification classes.
SCL_CLASSES: dict[int, str] = {
    0: "no_data",
    1: "saturated_or_defective",
    2: "dark_area_pixels",
    3: "cloud_shadows",
    4: "vegetation",
    5: "not_vegetated",
    6: "water",
    7: "unclassified",
    8: "cloud_medium_probability",
    9: "cloud_high_probability",
    10: "thin_cirrus",
    11: "snow",
}


def decode_sentinel2_scl(scl: npt.NDArray[Any]) -> QaMasks:
    """Sentinel-2 L2A ``SCL``: 0 no data, 3 cloud shadow, 4-6 clear (6 water), 8-9 cloud,
    10 thin cirrus, 11 snow. Classes 1, 2 and 7 are neither clear nor a named flag."""
    s = scl.astype(np.int64)
    fill = s == 0
    cloud = (s == 8) | (s == 9)
    shadow = s == 3
    cirrus = s == 10
    snow = s == 11
    water = s == 6
    clear = (s == 4) | (s == 5) | (s == 6)
    return QaMasks(fill, clear, cloud, shadow, snow, water, cirrus)


#: MODIS ``state_500m`` fill value.
MODIS_STATE_FILL = 65535


def decode_modis_state(state: npt.NDArray[Any]) -> QaMasks:
    """MODIS MOD09A1 ``sur_refl_state_500m`` / MOD09GA ``state_1km``.

    Bits 0-1 cloud state (00 clear, 01 cloudy, 10 mixed, 11 not set = assumed clear), 2 cloud
    shadow, 3-5 land/water (001 land, 010 coastline, others water), 8-9 cirrus (00 none),
    10 internal cloud algorithm, 12 MOD35 snow/ice, 13 adjacent to cloud, 15 internal snow.
    Value 65535 is fill. Mixed cloud and adjacency count against ``clear``.
    """
    s = state.astype(np.int64)
    fill = s == MODIS_STATE_FILL
    cloud_state = _bit(s, 0, 2)
    cloud = ((cloud_state == 1) | (cloud_state == 2) | (_bit(s, 10) == 1)) & ~fill
    shadow = (_bit(s, 2) == 1) & ~fill
    land_water = _bit(s, 3, 3)
    water = ~np.isin(land_water, (1, 2)) & ~fill
    cirrus = (_bit(s, 8, 2) > 0) & ~fill
    snow = ((_bit(s, 12) == 1) | (_bit(s, 15) == 1)) & ~fill
    adjacent = _bit(s, 13) == 1
    clear = ~(fill | cloud | shadow | cirrus | snow | adjacent)
    return QaMasks(fill, clear, cloud, shadow, snow, water, cirrus)


#: HLS ``Fmask`` fill value.
HLS_FMASK_FILL = 255


def decode_hls_fmask(fmask: npt.NDArray[Any]) -> QaMasks:
    """HLS v2.0 ``Fmask``: bit 0 cirrus, 1 cloud, 2 adjacent to cloud/shadow, 3 cloud shadow,
    4 snow/ice, 5 water, 6-7 aerosol level; 255 is fill. Adjacency counts against ``clear``."""
    f = fmask.astype(np.int64)
    fill = f == HLS_FMASK_FILL
    cirrus = (_bit(f, 0) == 1) & ~fill
    cloud = (_bit(f, 1) == 1) & ~fill
    adjacent = (_bit(f, 2) == 1) & ~fill
    shadow = (_bit(f, 3) == 1) & ~fill
    snow = (_bit(f, 4) == 1) & ~fill
    water = (_bit(f, 5) == 1) & ~fill
    clear = ~(fill | cirrus | cloud | adjacent | shadow | snow)
    return QaMasks(fill, clear, cloud, shadow, snow, water, cirrus)


QA_DECODERS: dict[str, Callable[[npt.NDArray[Any]], QaMasks]] = {
    "landsat-qa-pixel": decode_landsat_qa_pixel,
    "sentinel2-scl": decode_sentinel2_scl,
    "modis-state": decode_modis_state,
    "hls-fmask": decode_hls_fmask,
}


def get_qa_decoder(name: str) -> Callable[[npt.NDArray[Any]], QaMasks]:
    try:
        return QA_DECODERS[name]
    except KeyError:
        raise UnknownNameError(
            f"no QA decoder {name!r}; choose one of: {', '.join(sorted(QA_DECODERS))}"
        ) from None


# --------------------------------------------------------------------------------------------
# The tables

_LS_SCALE, _LS_OFFSET = 2.75e-5, -0.2


def _landsat_band(name: str, common: str, lo: float, hi: float) -> Band:
    return Band(name, common, common, lo, hi, 30.0, "uint16", 0, _LS_SCALE, _LS_OFFSET)


_LANDSAT_QA = QaAsset("qa_pixel", "landsat-qa-pixel", "uint16", 30.0, 1)

LANDSAT_OLI = Sensor(
    name="landsat-oli",
    collection="landsat-c2-l2",
    title="Landsat 8/9 OLI/OLI-2, Collection 2 Level-2 surface reflectance",
    platforms=("landsat-8", "landsat-9"),
    instruments=("oli", "tirs"),
    bands=(
        _landsat_band("OLI_B1", "coastal", 0.433, 0.451),
        _landsat_band("OLI_B2", "blue", 0.452, 0.512),
        _landsat_band("OLI_B3", "green", 0.533, 0.590),
        _landsat_band("OLI_B4", "red", 0.636, 0.673),
        _landsat_band("OLI_B5", "nir08", 0.851, 0.879),
        _landsat_band("OLI_B6", "swir16", 1.566, 1.651),
        _landsat_band("OLI_B7", "swir22", 2.107, 2.294),
    ),
    qa=_LANDSAT_QA,
    revisit_days=16,
)

LANDSAT_ETM = Sensor(
    name="landsat-etm",
    collection="landsat-c2-l2",
    title="Landsat 7 ETM+, Collection 2 Level-2 surface reflectance",
    platforms=("landsat-7",),
    instruments=("etm+",),
    bands=(
        _landsat_band("ETM_B1", "blue", 0.450, 0.515),
        _landsat_band("ETM_B2", "green", 0.525, 0.605),
        _landsat_band("ETM_B3", "red", 0.630, 0.690),
        _landsat_band("ETM_B4", "nir08", 0.775, 0.900),
        _landsat_band("ETM_B5", "swir16", 1.550, 1.750),
        _landsat_band("ETM_B7", "swir22", 2.090, 2.350),
    ),
    qa=_LANDSAT_QA,
    revisit_days=16,
)

LANDSAT_TM = Sensor(
    name="landsat-tm",
    collection="landsat-c2-l2",
    title="Landsat 4/5 TM, Collection 2 Level-2 surface reflectance",
    platforms=("landsat-4", "landsat-5"),
    instruments=("tm",),
    bands=(
        _landsat_band("TM_B1", "blue", 0.450, 0.520),
        _landsat_band("TM_B2", "green", 0.520, 0.600),
        _landsat_band("TM_B3", "red", 0.630, 0.690),
        _landsat_band("TM_B4", "nir08", 0.760, 0.900),
        _landsat_band("TM_B5", "swir16", 1.550, 1.750),
        _landsat_band("TM_B7", "swir22", 2.080, 2.350),
    ),
    qa=_LANDSAT_QA,
    revisit_days=16,
)


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
