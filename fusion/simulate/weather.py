"""One weather for all sensors: daily clouds, their shadows, cirrus, and the QA they cause.

Clouds, cloud shadows and cirrus come from one shared daily weather sampled as continuous
fields, so a cloud over Landsat is over MODIS on the same day. :class:`Atmosphere` applies
them to a surface; :func:`landsat_qa_pixel`, :func:`modis_state` and :func:`sentinel2_scl`
encode them in each sensor's native QA format (``QA_PIXEL`` bits, ``state_500m`` bits, ``SCL``
classes), which :mod:`fusion.sensors.qa` decodes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from fusion import sensors as S
from fusion.simulate.config import SimulationConfig
from fusion.simulate.fields import F32, RegularGrid, ValueNoise, named_rng


@dataclass(frozen=True)
class DailyWeather:
    """The weather of one day over the whole scene."""

    cover: float  #: target cloud-cover fraction over the scene
    cirrus: float  #: cirrus optical weight (0: none)


class Weather:
    """One weather for all sensors: daily cloud cover and continuous cloud fields."""

    def __init__(self, cfg: SimulationConfig) -> None:
        self.cfg = cfg
        self.bounds = cfg.scene_bounds
        rng = named_rng(cfg.seed, "weather")
        self.daily: dict[dt.date, DailyWeather] = {}
        for day in cfg.days():
            u = rng.random()
            clear_p = 1.0 - cfg.mean_cloudiness
            if u < clear_p * 0.8:
                cover = rng.uniform(0.0, 0.03)
            elif u < clear_p * 0.8 + 0.3 * (1 - clear_p * 0.8):
                cover = rng.uniform(0.05, 0.4)
            else:
                cover = rng.uniform(0.45, 1.0)
            cirrus = rng.uniform(0.05, 0.15) if rng.random() < 0.15 else 0.0
            self.daily[day] = DailyWeather(float(cover), float(cirrus))

    def cloud_opacity(self, day: dt.date, grid: RegularGrid) -> F32:
        """Cloud opacity in [0, 1] on ``grid``: thick cores, thin edges."""
        w = self.daily[day]
        if w.cover < 0.005:
            return np.zeros((grid.height, grid.width), np.float32)
        seed_day = day.toordinal()
        big = ValueNoise(named_rng(self.cfg.seed, "cloud-a", str(seed_day)), self.bounds, 4000.0).sample(grid)
        small = ValueNoise(named_rng(self.cfg.seed, "cloud-b", str(seed_day)), self.bounds, 900.0).sample(
            grid
        )
        field_ = big + 0.45 * small
        # Threshold from the field's own distribution (a stand-in for the unit normal quantile).
        thr = float(
            np.quantile(field_[:: max(1, grid.height // 256), :: max(1, grid.width // 256)], 1.0 - w.cover)
        )
        return np.clip((field_ - thr) / 0.35, 0.0, 1.0).astype(np.float32)

    def cirrus_opacity(self, day: dt.date, grid: RegularGrid) -> F32:
        w = self.daily[day]
        if w.cirrus == 0.0:
            return np.zeros((grid.height, grid.width), np.float32)
        n = ValueNoise(named_rng(self.cfg.seed, "cirrus", str(day.toordinal())), self.bounds, 6000.0).sample(
            grid
        )
        return (w.cirrus * np.clip(n, 0.0, None)).astype(np.float32)

    @staticmethod
    def shadow_shift(res: float) -> tuple[int, int]:
        """Pixel offset from cloud to its shadow (sun in the south-east at mid-morning)."""
        return round(900.0 / res), round(-700.0 / res)


def _shift_array(a: F32, drow: int, dcol: int) -> F32:
    out = np.zeros_like(a)
    h, w = a.shape
    rs, rd = (slice(0, h - drow), slice(drow, h)) if drow >= 0 else (slice(-drow, h), slice(0, h + drow))
    cs, cd = (slice(0, w - dcol), slice(dcol, w)) if dcol >= 0 else (slice(-dcol, w), slice(0, w + dcol))
    out[rd, cd] = a[rs, cs]
    return out


#: Cloud top reflectance in the simulated bands (flat in the visible, lower in the SWIR).
def _cloud_reflectance(bands: list[S.Band]) -> F32:
    return np.array(
        [0.62 if b.center_wavelength < 1.0 else (0.45 if b.center_wavelength < 2.0 else 0.32) for b in bands],
        np.float32,
    )


@dataclass
class Atmosphere:
    """Cloud, cloud-shadow and cirrus opacity of one day on one grid."""

    cloud: F32
    shadow: F32
    cirrus: F32

    def apply(self, surface: F32, bands: list[S.Band]) -> F32:
        """Surface reflectance ``surface`` (bands, H, W) as seen through this atmosphere."""
        c = self.cloud[None]
        sh = self.shadow[None]
        ci = self.cirrus[None]
        cloud_r = _cloud_reflectance(bands)[:, None, None]
        out = surface * (1.0 - 0.75 * sh * (1.0 - c))
        out = out * (1.0 - c) + cloud_r * c
        out = out * (1.0 - ci) + 0.3 * ci
        return np.asarray(out, dtype=np.float32)


def atmosphere_on(weather: Weather, day: dt.date, grid: RegularGrid) -> Atmosphere:
    """The atmosphere of ``day`` on ``grid``: clouds, their shadows (offset by the sun), cirrus."""
    cloud = weather.cloud_opacity(day, grid)
    drow, dcol = Weather.shadow_shift(grid.res)
    shadow = _shift_array(cloud, drow, dcol)
    return Atmosphere(cloud, shadow, weather.cirrus_opacity(day, grid))


# --------------------------------------------------------------------------------------------
# QA in each sensor's native encoding


def landsat_qa_pixel(
    atm: Atmosphere, water: npt.NDArray[np.bool_], fill: npt.NDArray[np.bool_]
) -> npt.NDArray[np.uint16]:
    """Landsat C2 L2 ``QA_PIXEL`` bits for an atmosphere, a water mask and swath fill."""
    cloud = atm.cloud > 0.35
    dilated = ndimage.binary_dilation(cloud, iterations=3) & ~cloud
    shadow = (atm.shadow > 0.35) & ~cloud & ~dilated
    cirrus = atm.cirrus > 0.06
    clear = ~(cloud | dilated)
    qa = np.zeros(cloud.shape, np.uint16)
    qa |= dilated.astype(np.uint16) << 1
    qa |= cirrus.astype(np.uint16) << 2
    qa |= cloud.astype(np.uint16) << 3
    qa |= shadow.astype(np.uint16) << 4
    qa |= clear.astype(np.uint16) << 6
    qa |= (water & ~cloud).astype(np.uint16) << 7
    qa |= np.where(cloud, 3, 1).astype(np.uint16) << 8
    qa |= np.where(shadow, 3, 1).astype(np.uint16) << 10
    qa |= np.uint16(1) << 12
    qa |= np.where(cirrus, 3, 1).astype(np.uint16) << 14
    qa[fill] = 1
    return qa


def modis_state(cloud: F32, shadow: F32, cirrus: F32, water: F32) -> npt.NDArray[np.uint16]:
    """MOD09A1 ``sur_refl_state_500m`` bits from cloud, shadow, cirrus and water fractions."""
    state = np.zeros(cloud.shape, np.uint16)
    cloud_state = np.where(cloud > 0.4, 1, np.where(cloud > 0.08, 2, 0)).astype(np.uint16)
    state |= cloud_state
    state |= ((shadow > 0.35) & (cloud <= 0.4)).astype(np.uint16) << 2
    land_water = np.where(water > 0.5, 3, 1).astype(np.uint16)  # shallow inland water / land
    state |= land_water << 3
    state |= np.uint16(1) << 6  # aerosol: low
    state |= np.where(cirrus > 0.06, 2, 0).astype(np.uint16) << 8
    state |= (cloud > 0.4).astype(np.uint16) << 10
    near = ndimage.binary_dilation(cloud > 0.4, iterations=1) & ~(cloud > 0.4)
    state |= near.astype(np.uint16) << 13
    return state


def sentinel2_scl(atm: Atmosphere, water: npt.NDArray[np.bool_], green: F32) -> npt.NDArray[np.uint8]:
    """Sentinel-2 L2A ``SCL`` classes from an atmosphere, a water mask and green cover."""
    scl = np.where(green > 0.3, 4, 5).astype(np.uint8)
    scl[water] = 6
    scl[(atm.shadow > 0.35) & (atm.cloud <= 0.35)] = 3
    scl[atm.cirrus > 0.06] = 10
    scl[atm.cloud > 0.2] = 8
    scl[atm.cloud > 0.6] = 9
    return scl
