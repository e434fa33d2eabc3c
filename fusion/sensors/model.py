"""Sensor model: bands, QA asset and radiometry of one sensor/product as stored in a collection.

The tables themselves (one module per sensor family) and the registry are in
:mod:`fusion.sensors`; the QA decoders :attr:`Sensor.decode_qa` dispatches to are in
:mod:`fusion.sensors.qa`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from fusion.errors import ConfigError, UnknownNameError
from fusion.sensors.qa import QaMasks, get_qa_decoder

FloatArray = npt.NDArray[np.float32]


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
