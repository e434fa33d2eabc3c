"""QA decoding: every sensor's quality asset to the same boolean :class:`QaMasks`.

Decoders are registered by name in :data:`QA_DECODERS`; a sensor table names its decoder
(:attr:`fusion.sensors.QaAsset.decoder`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fusion.errors import UnknownNameError

BoolArray = npt.NDArray[np.bool_]

#: The flags every QA decoder produces, in this order.
QA_FLAGS: tuple[str, ...] = ("fill", "clear", "cloud", "shadow", "snow", "water", "cirrus")


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
