"""What every sensor renderer shares: the configuration, the landscape, the weather, the
Landsat 30 m scene grid, acquisition schedules and the per-sensor random streams."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cached_property

import numpy as np

from fusion.simulate.config import SimulationConfig
from fusion.simulate.fields import F32, RegularGrid, named_rng
from fusion.simulate.landscape import Landscape, StaticLayers
from fusion.simulate.weather import Weather

Progress = Callable[[str], None]


class SceneContext:
    """One simulation's shared state, built from its :class:`SimulationConfig`."""

    def __init__(self, cfg: SimulationConfig, progress: Progress | None = None) -> None:
        self.cfg = cfg
        self.progress: Progress = progress or (lambda _msg: None)
        self.landscape = Landscape(cfg)
        self.weather = Weather(cfg)
        b = cfg.scene_bounds
        n30 = round((b[2] - b[0]) / 30.0)
        self.grid30 = RegularGrid(b[0], b[3], 30.0, n30, n30)
        self.crs = f"EPSG:{cfg.epsg}"

    @cached_property
    def layers30(self) -> StaticLayers:
        """The static landscape on the (unshifted) 30 m scene grid."""
        return self.landscape.static_layers(self.grid30)

    def schedule(self, first: dt.date, every_days: int) -> list[dt.date]:
        """Acquisition days ``first + k * every_days`` within the simulated period."""
        d, out = first, []
        while d <= self.cfg.end:
            if d >= self.cfg.start:
                out.append(d)
            d += dt.timedelta(every_days)
        return out

    def misregistration(self, sensor: str, day: dt.date, res: float, max_px: float) -> tuple[float, float]:
        """Per-scene geolocation error (metres) of ``sensor`` on ``day``: uniform within
        ``max_px`` pixels of ``res`` metres."""
        rng = named_rng(self.cfg.seed, "misregistration", sensor, day.isoformat())
        dx, dy = rng.uniform(-max_px, max_px, size=2) * res
        return float(dx), float(dy)

    def noise(self, sensor: str, day: dt.date, shape: tuple[int, ...], sigma: float) -> F32:
        """Gaussian sensor noise (reflectance units), one stream per sensor and day."""
        rng = named_rng(self.cfg.seed, "noise", sensor, day.isoformat())
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma)
