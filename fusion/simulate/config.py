"""The simulation configuration: everything that determines a simulated data set's bytes."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from pyproj import CRS

from fusion.errors import ConfigError

#: The sensors the simulator can render, in the order it renders them (the keys of
#: :data:`fusion.simulate.renderers.RENDERERS`).
SIMULATED_SENSORS = ("landsat", "modis", "sentinel-2")


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that determines a simulated data set (and so its bytes)."""

    seed: int = 42
    epsg: int = 32614
    #: Top-left corner of the area of interest, in the UTM CRS. The default demo AOI is the
    #: 30.72 km tile 14N-0020-0188 of the 30 m / 1024 px UTM grid (central Kansas).
    origin_x: float = 614_400.0
    origin_y: float = 4_224_640.0
    size_m: float = 30_720.0
    #: Simulated beyond the AOI on every side, so coarse pixels and block halos at the AOI
    #: edge see real data. A multiple of 480 m keeps the 30 m and 480 m grids aligned.
    margin_m: float = 1_920.0
    start: dt.date = dt.date(2023, 4, 1)
    end: dt.date = dt.date(2023, 9, 30)
    sensors: tuple[str, ...] = ("landsat", "modis")
    landsat_first: dt.date = dt.date(2023, 4, 6)
    sentinel2_first: dt.date = dt.date(2023, 4, 3)
    flood_date: dt.date | None = dt.date(2023, 7, 12)
    mean_cloudiness: float = 0.35

    def __post_init__(self) -> None:
        unknown = set(self.sensors) - set(SIMULATED_SENSORS)
        if unknown:
            raise ConfigError(
                f"cannot simulate sensor(s) {sorted(unknown)}; choose from {sorted(SIMULATED_SENSORS)}"
            )
        if not self.sensors:
            raise ConfigError("no sensors to simulate; pass at least one of landsat, modis, sentinel-2")
        if self.end < self.start:
            raise ConfigError(f"end {self.end} is before start {self.start}")
        if self.size_m <= 0 or self.size_m % 480 or self.margin_m % 480:
            raise ConfigError(
                f"size_m {self.size_m} and margin_m {self.margin_m} must be positive multiples of "
                "480 m so that the 10/20/30/480 m grids stay aligned"
            )
        if not 0.0 <= self.mean_cloudiness <= 1.0:
            raise ConfigError(f"mean_cloudiness must be within 0..1, got {self.mean_cloudiness}")
        CRS.from_epsg(self.epsg)

    @property
    def scene_bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) of the simulated area (AOI plus margin)."""
        m = self.margin_m
        return (
            self.origin_x - m,
            self.origin_y - self.size_m - m,
            self.origin_x + self.size_m + m,
            self.origin_y + m,
        )

    @property
    def aoi_bounds(self) -> tuple[float, float, float, float]:
        return (self.origin_x, self.origin_y - self.size_m, self.origin_x + self.size_m, self.origin_y)

    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(d) for d in range((self.end - self.start).days + 1)]

    def to_json(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in asdict(self).items()}
