"""Deterministic multi-sensor scene simulator: the demo's, the tests' and the models' data.

A *landscape* is a continuous function of map position (metres, in a real UTM CRS) and day:
rectangular crop fields with their own phenology, forest, grassland, bare fields, a town, a
river with a lake and a flood plain. Each pixel is a linear mixture of five endmember spectra
(green vegetation, soil, dry vegetation, water, impervious) times a spatial texture; each
sensor band integrates the endmember spectra over a Gaussian spectral-response function of
that band, so Landsat, Sentinel-2 and MODIS see the same surface through different bands.

Sensors observe the landscape with their own geometry (Landsat 30 m every 16 days, MODIS in
its sinusoidal projection at 463 m as an 8-day MOD09A1 composite, Sentinel-2 10/20 m every 5
days), point-spread function, per-scene misregistration, noise, and clouds, cloud shadows and
cirrus from one shared daily weather, so a cloud over Landsat is over MODIS on the same day.
QA is encoded in each sensor's native format (``QA_PIXEL`` bits, ``state_500m`` bits, ``SCL``
classes). The noise-free, cloud-free surface in Landsat OLI bands is kept apart as truth.

Everything derives from one seed through named :class:`numpy.random.SeedSequence` children,
so the same configuration gives byte-identical outputs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine
from pyproj import CRS, Transformer
from scipy import ndimage, sparse

from fusion import sensors as S
from fusion.errors import ConfigError, SceneNotFound
from fusion.grid import block_mean
from fusion.rasterio_io import write_cog

F32 = npt.NDArray[np.float32]
Progress = Callable[[str], None]

#: Land-cover classes of the truth map.
CLASSES: dict[int, str] = {
    0: "water",
    1: "urban",
    2: "bare",
    3: "forest",
    4: "grass",
    5: "wheat",
    6: "corn",
    7: "soybean",
}
WATER, URBAN, BARE, FOREST, GRASS, WHEAT, CORN, SOYBEAN = range(8)
CROPS = (WHEAT, CORN, SOYBEAN)

#: Endmembers, in the order of the fraction stack.
ENDMEMBERS = ("green_vegetation", "soil", "dry_vegetation", "water", "impervious")

#: Endmember reflectance spectra: (wavelength µm, reflectance) anchor points, linearly
#: interpolated. Shapes follow typical library spectra (red edge, SWIR water absorption ...).
_SPECTRA: dict[str, list[tuple[float, float]]] = {
    "green_vegetation": [
        (0.40, 0.030),
        (0.45, 0.035),
        (0.50, 0.045),
        (0.55, 0.090),
        (0.60, 0.060),
        (0.65, 0.035),
        (0.68, 0.030),
        (0.70, 0.080),
        (0.74, 0.350),
        (0.78, 0.450),
        (0.90, 0.470),
        (1.10, 0.450),
        (1.25, 0.400),
        (1.40, 0.150),
        (1.50, 0.250),
        (1.65, 0.280),
        (1.80, 0.200),
        (1.95, 0.060),
        (2.10, 0.130),
        (2.20, 0.120),
        (2.35, 0.080),
        (2.50, 0.060),
    ],
    "soil": [
        (0.40, 0.060),
        (0.50, 0.090),
        (0.60, 0.130),
        (0.70, 0.170),
        (0.90, 0.220),
        (1.30, 0.280),
        (1.65, 0.330),
        (1.95, 0.260),
        (2.20, 0.300),
        (2.50, 0.270),
    ],
    "dry_vegetation": [
        (0.40, 0.050),
        (0.50, 0.080),
        (0.60, 0.130),
        (0.70, 0.190),
        (0.90, 0.270),
        (1.30, 0.350),
        (1.65, 0.380),
        (1.95, 0.220),
        (2.20, 0.300),
        (2.50, 0.240),
    ],
    "water": [
        (0.40, 0.060),
        (0.50, 0.055),
        (0.60, 0.040),
        (0.70, 0.020),
        (0.80, 0.010),
        (1.00, 0.005),
        (2.50, 0.003),
    ],
    "impervious": [
        (0.40, 0.080),
        (0.60, 0.120),
        (0.90, 0.160),
        (1.65, 0.200),
        (2.20, 0.180),
        (2.50, 0.170),
    ],
}

#: Phenology per class: start/end of season (day of year), slopes (days), min/max green
#: fraction, harvest day (None: not harvested), dry share of the non-green cover.
_PHENOLOGY: dict[int, dict[str, Any]] = {
    WHEAT: dict(sos=75, eos=160, k1=8, k2=7, vmin=0.05, vmax=0.85, harvest=182, dry=0.15),
    CORN: dict(sos=155, eos=250, k1=7, k2=8, vmin=0.02, vmax=0.92, harvest=270, dry=0.10),
    SOYBEAN: dict(sos=172, eos=258, k1=6, k2=6, vmin=0.02, vmax=0.88, harvest=280, dry=0.10),
    GRASS: dict(sos=100, eos=285, k1=10, k2=12, vmin=0.25, vmax=0.62, harvest=None, dry=0.70),
    FOREST: dict(sos=110, eos=290, k1=7, k2=9, vmin=0.35, vmax=0.90, harvest=None, dry=0.60),
    BARE: dict(sos=0, eos=0, k1=1, k2=1, vmin=0.03, vmax=0.03, harvest=None, dry=0.05),
    URBAN: dict(sos=120, eos=280, k1=10, k2=10, vmin=0.08, vmax=0.18, harvest=None, dry=0.0),
    WATER: dict(sos=0, eos=0, k1=1, k2=1, vmin=0.0, vmax=0.0, harvest=None, dry=0.0),
}

#: MODIS sinusoidal CRS (sphere of radius 6 371 007.181 m), as in the MODIS items' proj:wkt2.
MODIS_SINUSOIDAL = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"
MODIS_PIXEL = 463.3127165274999
TRUTH_SCALE = 1e-4
#: Bands of the truth rasters, in order (Landsat OLI common names).
TRUTH_BANDS: tuple[str, ...] = ("blue", "green", "red", "nir08", "swir16", "swir22")
TRUTH_NODATA = -9999
MODIS_TILE = 1111950.519667  # width of one MODIS tile (2400 px)


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


SIMULATED_SENSORS = ("landsat", "modis", "sentinel-2")


# --------------------------------------------------------------------------------------------
# Random streams and noise


def _rng(seed: int, *names: str) -> np.random.Generator:
    """A generator for one named purpose: independent of how many draws others make."""
    key = int.from_bytes(hashlib.sha256("/".join(names).encode()).digest()[:8], "little")
    return np.random.default_rng(np.random.SeedSequence([seed, key]))


@dataclass(frozen=True)
class RegularGrid:
    """Pixel-centre coordinates of a north-up grid: top-left corner, pixel size, shape."""

    x0: float
    y0: float
    res: float
    height: int
    width: int

    @property
    def xs(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.x0 + (np.arange(self.width) + 0.5) * self.res, dtype=np.float64)

    @property
    def ys(self) -> npt.NDArray[np.float64]:
        return np.asarray(self.y0 - (np.arange(self.height) + 0.5) * self.res, dtype=np.float64)

    @property
    def transform(self) -> Affine:
        return Affine(self.res, 0.0, self.x0, 0.0, -self.res, self.y0)

    def shifted(self, dx: float, dy: float) -> RegularGrid:
        return RegularGrid(self.x0 + dx, self.y0 + dy, self.res, self.height, self.width)


class ValueNoise:
    """Smooth random field: Gaussian values on a lattice of ``spacing`` metres, cubic spline
    interpolated. Resolution-independent: any grid samples the same continuous field."""

    def __init__(self, rng: np.random.Generator, bounds: tuple[float, float, float, float], spacing: float):
        self.x0, self.y0 = bounds[0] - 2 * spacing, bounds[3] + 2 * spacing
        self.spacing = spacing
        nx = math.ceil((bounds[2] - bounds[0]) / spacing) + 5
        ny = math.ceil((bounds[3] - bounds[1]) / spacing) + 5
        self.coeffs = ndimage.spline_filter(rng.standard_normal((ny, nx)), order=3)

    def sample(self, grid: RegularGrid) -> F32:
        # On a regular grid the cubic B-spline is separable: f = By @ C @ Bx.T with sparse
        # basis matrices of four taps per row, i.e. about 4 multiply-adds per output pixel.
        bx = _bspline_basis((grid.xs - self.x0) / self.spacing, self.coeffs.shape[1])
        by = _bspline_basis((self.y0 - grid.ys) / self.spacing, self.coeffs.shape[0])
        rows = (bx @ self.coeffs.T).T  # (lattice rows, W)
        return np.asarray(by @ rows, dtype=np.float32)


def _bspline_basis(coords: npt.NDArray[np.float64], n: int) -> sparse.csr_matrix:
    """Sparse (len(coords), n) matrix of cubic B-spline weights at fractional positions."""
    i = np.floor(coords).astype(np.int64)
    t = coords - i
    w = np.stack(
        [(1 - t) ** 3 / 6, (3 * t**3 - 6 * t**2 + 4) / 6, (-3 * t**3 + 3 * t**2 + 3 * t + 1) / 6, t**3 / 6],
        axis=1,
    )
    cols = np.clip(i[:, None] + np.arange(-1, 3)[None, :], 0, n - 1)
    rows = np.repeat(np.arange(len(coords)), 4)
    return sparse.csr_matrix((w.ravel(), (rows, cols.ravel())), shape=(len(coords), n))


# --------------------------------------------------------------------------------------------
# Landscape


@dataclass
class StaticLayers:
    """Time-invariant layers of the landscape sampled on one grid."""

    grid: RegularGrid
    landcover: npt.NDArray[np.uint8]
    field_id: npt.NDArray[np.int32]
    texture: F32
    vigour: F32
    flood_zone: npt.NDArray[np.bool_]


class Landscape:
    """The simulated surface: static layout from the seed, reflectance for any day."""

    def __init__(self, cfg: SimulationConfig):
        self.cfg = cfg
        b = cfg.scene_bounds
        self.bounds = b
        rng = _rng(cfg.seed, "layout")
        # Field strips (west to east) and fields within strips (north to south).
        widths = rng.uniform(420.0, 1250.0, size=200)
        self.strip_edges = b[0] + np.concatenate([[0.0], np.cumsum(widths)])
        n_strips = len(self.strip_edges)
        self.field_heights = rng.uniform(300.0, 950.0, size=(n_strips, 200))
        self.field_offsets = rng.uniform(0.0, 900.0, size=n_strips)
        self.row_edges = (
            b[3]
            + self.field_offsets[:, None]
            - np.concatenate([np.zeros((n_strips, 1)), np.cumsum(self.field_heights, axis=1)], axis=1)
        )
        n_fields = n_strips * 201
        crop_classes = np.array([WHEAT, CORN, SOYBEAN, GRASS, BARE], dtype=np.uint8)
        self.field_class = rng.choice(crop_classes, size=n_fields, p=[0.24, 0.28, 0.24, 0.17, 0.07])
        self.field_shift = rng.normal(0.0, 6.0, size=n_fields).astype(np.float32)
        self.field_vmax = rng.uniform(0.85, 1.05, size=n_fields).astype(np.float32)
        self.field_brightness = rng.uniform(0.9, 1.1, size=n_fields).astype(np.float32)
        # River: a meander across the scene; lake; town.
        w = b[2] - b[0]
        h = b[3] - b[1]
        self.river_y0 = b[1] + h * rng.uniform(0.3, 0.45)
        self.river_amp = rng.uniform(800.0, 1600.0)
        self.river_wavelength = rng.uniform(7000.0, 12000.0)
        self.river_phase = rng.uniform(0, 2 * math.pi)
        self.lake = (
            b[0] + w * rng.uniform(0.6, 0.8),
            b[1] + h * rng.uniform(0.65, 0.8),
            rng.uniform(500, 900),
            rng.uniform(300, 600),
        )
        self.town = (
            b[0] + w * rng.uniform(0.2, 0.4),
            b[1] + h * rng.uniform(0.6, 0.8),
            rng.uniform(1800, 2600),
        )
        self.noise_forest = ValueNoise(_rng(cfg.seed, "forest"), b, 3000.0)
        self.noise_town = ValueNoise(_rng(cfg.seed, "town"), b, 900.0)
        self.noise_flood = ValueNoise(_rng(cfg.seed, "flood"), b, 2500.0)
        self.noise_tex_a = ValueNoise(_rng(cfg.seed, "texture-a"), b, 150.0)
        self.noise_tex_b = ValueNoise(_rng(cfg.seed, "texture-b"), b, 60.0)
        self.noise_vigour = ValueNoise(_rng(cfg.seed, "vigour"), b, 240.0)
        self.spectra_x = np.linspace(0.35, 2.55, 2201)
        self.spectra = np.stack([np.interp(self.spectra_x, *np.asarray(_SPECTRA[e]).T) for e in ENDMEMBERS])

    # -- spectra ------------------------------------------------------------------------------

    def band_matrix(self, bands: tuple[S.Band, ...] | list[S.Band]) -> F32:
        """(endmembers, bands): endmember reflectance integrated over each band's response."""
        out = np.zeros((len(ENDMEMBERS), len(bands)), dtype=np.float64)
        for j, band in enumerate(bands):
            sigma = band.full_width_half_max / 2.3548
            srf = np.exp(-0.5 * ((self.spectra_x - band.center_wavelength) / sigma) ** 2)
            out[:, j] = (self.spectra * srf).sum(axis=1) / srf.sum()
        return out.astype(np.float32)

    # -- layout -------------------------------------------------------------------------------

    def river_centre(self, xs: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out: npt.NDArray[np.float64] = self.river_y0 + self.river_amp * np.sin(
            2 * math.pi * xs / self.river_wavelength + self.river_phase
        )
        return out

    def static_layers(self, grid: RegularGrid) -> StaticLayers:
        xs, ys = grid.xs, grid.ys
        X, Y = np.meshgrid(xs, ys)
        strip = np.clip(np.searchsorted(self.strip_edges, xs, side="right") - 1, 0, len(self.strip_edges) - 1)
        # Row index within each pixel's strip: edges decrease southwards.
        row = np.empty(X.shape, dtype=np.int64)
        for s in np.unique(strip):
            cols = strip == s
            edges = -self.row_edges[s]
            row[:, cols] = (np.searchsorted(edges, -ys, side="right") - 1)[:, None]
        row = np.clip(row, 0, 200)
        field_id = (strip[None, :] * 201 + row).astype(np.int32)
        lc = self.field_class[field_id].copy()

        forest = self.noise_forest.sample(grid) > 1.05
        river_dist = np.abs(Y - self.river_centre(X))
        forest |= (river_dist < 220.0) & (river_dist >= 0)
        lc[forest] = FOREST
        tx, ty, tr = self.town
        town_r = tr * (1.0 + 0.25 * self.noise_town.sample(grid))
        lc[np.hypot(X - tx, Y - ty) < town_r] = URBAN
        half_width = 45.0 + 20.0 * np.sin(X / 1700.0) ** 2
        lx, ly, la, lb = self.lake
        water = (river_dist < half_width) | (((X - lx) / la) ** 2 + ((Y - ly) / lb) ** 2 < 1.0)
        lc[water] = WATER
        flood_zone = (river_dist < 1900.0 * (1.0 + 0.35 * self.noise_flood.sample(grid))) & np.isin(
            lc, (GRASS, BARE, *CROPS)
        )
        texture = 1.0 + 0.05 * self.noise_tex_a.sample(grid) + 0.03 * self.noise_tex_b.sample(grid)
        texture *= self.field_brightness[field_id]
        vigour = (1.0 + 0.07 * self.noise_vigour.sample(grid)) * self.field_vmax[field_id]
        return StaticLayers(
            grid,
            lc.astype(np.uint8),
            field_id,
            texture.astype(np.float32),
            vigour.astype(np.float32),
            flood_zone,
        )

    # -- dynamics -----------------------------------------------------------------------------

    def flood_water(self, day: dt.date) -> float:
        """Water fraction over the flood zone on ``day``: abrupt rise, 10 days, 20-day recession."""
        if self.cfg.flood_date is None:
            return 0.0
        d = (day - self.cfg.flood_date).days
        if d < 0:
            return 0.0
        if d < 10:
            return 0.85
        return max(0.0, 0.85 * (1.0 - (d - 10) / 20.0))

    def fractions(self, layers: StaticLayers, day: dt.date) -> F32:
        """(endmembers, H, W) cover fractions on ``day`` (they sum to 1)."""
        lc = layers.landcover
        doy = day.timetuple().tm_yday
        shift = self.field_shift[layers.field_id]
        green = np.zeros(lc.shape, np.float32)
        dry_share = np.zeros(lc.shape, np.float32)
        for cls, p in _PHENOLOGY.items():
            sel = lc == cls
            if not sel.any():
                continue
            t = doy - shift[sel] if cls in CROPS else np.full(int(sel.sum()), doy, np.float32)
            rise = 1.0 / (1.0 + np.exp(-(t - p["sos"]) / p["k1"]))
            fall = 1.0 / (1.0 + np.exp(-(t - p["eos"]) / p["k2"]))
            g = p["vmin"] + (p["vmax"] - p["vmin"]) * np.clip(rise - fall, 0.0, 1.0)
            if cls not in (WATER, URBAN, BARE):
                g = g * layers.vigour[sel]
            ds = np.full(g.shape, p["dry"], np.float32)
            if cls in CROPS:
                # Senescence turns the canopy into dry matter until harvest leaves stubble.
                ds = np.clip(p["dry"] + 0.8 * fall, 0.0, 0.9)
                if p["harvest"] is not None:
                    harvested = t >= p["harvest"]
                    g = np.where(harvested, 0.03, g)
                    ds = np.where(harvested, 0.55, ds)
            green[sel] = np.clip(g, 0.0, 0.98)
            dry_share[sel] = ds
        water = (lc == WATER).astype(np.float32)
        impervious = np.where(lc == URBAN, 1.0 - green, 0.0).astype(np.float32)
        w_flood = self.flood_water(day)
        if w_flood > 0.0 or (self.cfg.flood_date is not None and day >= self.cfg.flood_date):
            zone = layers.flood_zone
            # The flood drowns crops: lasting damage to the green cover of flooded fields.
            green = np.where(zone, green * 0.45, green)
            water = np.where(zone, np.float32(w_flood), water)
        rest = np.clip(1.0 - green - water - impervious, 0.0, 1.0)
        dry = rest * dry_share
        soil = rest - dry
        return np.stack([green, soil, dry, water, impervious]).astype(np.float32)

    def reflectance(self, layers: StaticLayers, day: dt.date, matrix: F32) -> F32:
        """(bands, H, W) noise-free surface reflectance on ``day`` for a band matrix."""
        mixed = np.tensordot(matrix.T, self.fractions(layers, day), axes=1)
        # Texture must not brighten water.
        refl = np.where(layers.landcover[None] == WATER, mixed, mixed * layers.texture[None])
        return refl.astype(np.float32)


# --------------------------------------------------------------------------------------------
# Weather


@dataclass(frozen=True)
class DailyWeather:
    cover: float  #: target cloud-cover fraction over the scene
    cirrus: float  #: cirrus optical weight (0: none)


class Weather:
    """One weather for all sensors: daily cloud cover and continuous cloud fields."""

    def __init__(self, cfg: SimulationConfig):
        self.cfg = cfg
        self.bounds = cfg.scene_bounds
        rng = _rng(cfg.seed, "weather")
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
        big = ValueNoise(_rng(self.cfg.seed, "cloud-a", str(seed_day)), self.bounds, 4000.0).sample(grid)
        small = ValueNoise(_rng(self.cfg.seed, "cloud-b", str(seed_day)), self.bounds, 900.0).sample(grid)
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
        n = ValueNoise(_rng(self.cfg.seed, "cirrus", str(day.toordinal())), self.bounds, 6000.0).sample(grid)
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
    cloud: F32
    shadow: F32
    cirrus: F32

    def apply(self, surface: F32, bands: list[S.Band]) -> F32:
        c = self.cloud[None]
        sh = self.shadow[None]
        ci = self.cirrus[None]
        cloud_r = _cloud_reflectance(bands)[:, None, None]
        out = surface * (1.0 - 0.75 * sh * (1.0 - c))
        out = out * (1.0 - c) + cloud_r * c
        out = out * (1.0 - ci) + 0.3 * ci
        return np.asarray(out, dtype=np.float32)


def atmosphere_on(weather: Weather, day: dt.date, grid: RegularGrid) -> Atmosphere:
    cloud = weather.cloud_opacity(day, grid)
    drow, dcol = Weather.shadow_shift(grid.res)
    shadow = _shift_array(cloud, drow, dcol)
    return Atmosphere(cloud, shadow, weather.cirrus_opacity(day, grid))


# --------------------------------------------------------------------------------------------
# Outputs


@dataclass(frozen=True)
class AssetFile:
    """One written raster of a simulated item, as the catalog writer describes it."""

    path: Path
    shape: tuple[int, int]
    transform: Affine
    #: The spectral band stored, or None for the QA / auxiliary assets.
    band: S.Band | None = None
    #: For assets without a band: "qa" (the sensor's QA asset) or "day_of_year".
    kind: str = "band"
    data_type: str | None = None


@dataclass
class SimulatedItem:
    """What the catalog writer needs to know of one simulated scene."""

    collection: str
    item_id: str
    sensor: S.Sensor
    properties: dict[str, Any]
    geometry_bounds: tuple[float, float, float, float]  #: in the item's CRS
    crs_wkt2: str | None
    epsg: int | None
    assets: dict[str, AssetFile]


@dataclass
class SimulationResult:
    out_dir: Path
    catalog_path: Path
    items: list[SimulatedItem] = field(default_factory=list)
    truth_dates: list[dt.date] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        per_collection: dict[str, int] = {}
        for it in self.items:
            per_collection[it.collection] = per_collection.get(it.collection, 0) + 1
        return {
            "catalog": str(self.catalog_path),
            "items": per_collection,
            "truth_dates": len(self.truth_dates),
            "seconds": round(self.seconds, 1),
        }


def _cloud_percent(masks: S.QaMasks, *, also_cirrus: bool, digits: int = 2) -> float:
    """``eo:cloud_cover``: percent of non-fill pixels flagged cloud (and cirrus if asked)."""
    valid = ~masks.fill
    if not valid.any():
        return 100.0
    cloudy = masks.cloud | masks.cirrus if also_cirrus else masks.cloud
    return round(100.0 * float(cloudy[valid].mean()), digits)


def _dn(refl: F32, band: S.Band, offset: float) -> npt.NDArray[Any]:
    """Reflectance to stored integers of ``band`` (clipped to the valid range)."""
    info = np.iinfo(np.dtype(band.data_type))
    lo = info.min + 1 if band.nodata == info.min else (1 if band.nodata == 0 else info.min)
    dn = np.round((refl - offset) / band.scale)
    dn = np.clip(dn, lo, info.max)
    return dn.astype(band.data_type)


class Simulator:
    """Runs a :class:`SimulationConfig` into a folder of COGs, a static STAC catalog and truth."""

    def __init__(self, cfg: SimulationConfig, progress: Progress | None = None):
        self.cfg = cfg
        self.progress: Progress = progress or (lambda _msg: None)
        self.landscape = Landscape(cfg)
        self.weather = Weather(cfg)
        b = cfg.scene_bounds
        n30 = round((b[2] - b[0]) / 30.0)
        self.grid30 = RegularGrid(b[0], b[3], 30.0, n30, n30)
        self.crs = f"EPSG:{cfg.epsg}"
        self.landsat = S.LANDSAT_OLI
        self.landsat_bands = [
            self.landsat.band(k) for k in ("coastal", "blue", "green", "red", "nir08", "swir16", "swir22")
        ]
        self.truth_bands = [self.landsat.band(k) for k in TRUTH_BANDS]

    @cached_property
    def layers30(self) -> StaticLayers:
        return self.landscape.static_layers(self.grid30)

    # -- schedules ----------------------------------------------------------------------------

    def _schedule(self, first: dt.date, every_days: int) -> list[dt.date]:
        """Acquisition days ``first + k * every_days`` within the simulated period."""
        d, out = first, []
        while d <= self.cfg.end:
            if d >= self.cfg.start:
                out.append(d)
            d += dt.timedelta(every_days)
        return out

    def landsat_dates(self) -> list[dt.date]:
        return self._schedule(self.cfg.landsat_first, 16)

    def sentinel2_dates(self) -> list[dt.date]:
        return self._schedule(self.cfg.sentinel2_first, 5)

    def modis_periods(self) -> list[tuple[dt.date, dt.date, dt.date]]:
        """MOD09A1 8-day periods (start, end, chosen day) overlapping the simulated days.

        Periods start on day-of-year 1, 9, 17 ... like the real product; the composite takes
        the least cloudy day of its period (one day per period - a simplification of MODIS'
        per-pixel selection, recorded in ``sur_refl_day_of_year``).
        """
        out = []
        year = self.cfg.start.year
        while year <= self.cfg.end.year:
            start = dt.date(year, 1, 1)
            while start.year == year:
                end = min(start + dt.timedelta(7), dt.date(year, 12, 31))
                days = [start + dt.timedelta(i) for i in range((end - start).days + 1)]
                days = [d for d in days if self.cfg.start <= d <= self.cfg.end]
                if days:
                    best = min(
                        days, key=lambda d: (self.weather.daily[d].cover + self.weather.daily[d].cirrus, d)
                    )
                    out.append((start, end, best))
                start += dt.timedelta(8)
            year += 1
        return out

    # -- runs ---------------------------------------------------------------------------------

    def run(self, out_dir: str | Path) -> SimulationResult:
        from fusion.catalog import write_simulated_catalog

        t0 = time.perf_counter()
        # Absolute, so that asset hrefs are made relative to the right place however the
        # caller spelled the folder.
        out = Path(out_dir).resolve()
        out.mkdir(parents=True, exist_ok=True)
        result = SimulationResult(out, out / "catalog.json")
        truth_days: set[dt.date] = set()
        if "landsat" in self.cfg.sensors:
            for item in self._landsat(out):
                result.items.append(item)
            truth_days.update(self.landsat_dates())
        if "modis" in self.cfg.sensors:
            for item in self._modis(out):
                result.items.append(item)
            truth_days.update(day for _s, _e, day in self.modis_periods())
        if "sentinel-2" in self.cfg.sensors:
            for item in self._sentinel2(out):
                result.items.append(item)
            truth_days.update(self.sentinel2_dates())
        result.truth_dates = sorted(truth_days)
        self._truth(out / "truth", result.truth_dates)
        self.progress("writing STAC catalog")
        write_simulated_catalog(self.cfg, result)
        result.seconds = time.perf_counter() - t0
        return result

    def _truth(self, out: Path, days: list[dt.date]) -> None:
        matrix = self.landscape.band_matrix(self.truth_bands)
        names = [b.common_name or b.name for b in self.truth_bands]
        for i, day in enumerate(days):
            self.progress(f"truth {i + 1}/{len(days)} {day}")
            refl = self.landscape.reflectance(self.layers30, day, matrix)
            # Stored like the products (int16 x 1e-4): quantisation (<= 5e-5) is far below the
            # sensors' noise, and the files are less than half the size of float32.
            dn = np.clip(np.round(refl / TRUTH_SCALE), -9998, 32767).astype(np.int16)
            write_cog(
                out / f"{day.isoformat()}.tif",
                dn,
                transform=self.grid30.transform,
                crs=self.crs,
                nodata=TRUTH_NODATA,
                band_descriptions=names,
            )
        write_cog(
            out / "landcover.tif",
            self.layers30.landcover,
            transform=self.grid30.transform,
            crs=self.crs,
            nodata=None,
            overview_resampling="mode",
        )
        meta = {
            "description": "Noise-free, cloud-free simulated surface reflectance in Landsat OLI bands "
            "on the Landsat 30 m grid, one file per simulated acquisition day. Not part of the STAC catalog.",
            "bands": names,
            "scale": TRUTH_SCALE,
            "nodata": TRUTH_NODATA,
            "classes": CLASSES,
            "dates": [d.isoformat() for d in days],
            "config": self.cfg.to_json(),
        }
        (out / "truth.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    def _misregistration(self, sensor: str, day: dt.date, res: float, max_px: float) -> tuple[float, float]:
        rng = _rng(self.cfg.seed, "misregistration", sensor, day.isoformat())
        dx, dy = rng.uniform(-max_px, max_px, size=2) * res
        return float(dx), float(dy)

    def _noise(self, sensor: str, day: dt.date, shape: tuple[int, ...], sigma: float) -> F32:
        """Gaussian sensor noise (reflectance units), one stream per sensor and day."""
        rng = _rng(self.cfg.seed, "noise", sensor, day.isoformat())
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma)

    def _landsat(self, out: Path) -> Iterator[SimulatedItem]:
        sensor = self.landsat
        bands = self.landsat_bands
        matrix = self.landscape.band_matrix(bands)
        dates = self.landsat_dates()
        for i, day in enumerate(dates):
            self.progress(f"landsat {i + 1}/{len(dates)} {day}")
            dx, dy = self._misregistration("landsat", day, 30.0, 0.3)
            grid = self.grid30.shifted(dx, dy)
            layers = self.landscape.static_layers(grid)
            surface = self.landscape.reflectance(layers, day, matrix)
            surface = np.stack([ndimage.gaussian_filter(b, 0.45, mode="nearest") for b in surface])
            atm = atmosphere_on(self.weather, day, grid)
            obs = atm.apply(surface, bands) + self._noise("landsat", day, surface.shape, 0.004)
            fill = self._swath_fill(day, grid)
            qa = self._landsat_qa(atm, layers, fill)
            item_id = f"LC08_L2SP_028034_{day:%Y%m%d}_02_T1"
            folder = out / sensor.collection / item_id
            assets: dict[str, AssetFile] = {}
            # Stored on the unshifted grid: misregistration is in the pixels, not the header.
            for band, arr in zip(bands, obs, strict=True):
                dn = _dn(arr, band, band.offset)
                dn[fill] = band.nodata
                path = folder / f"{item_id}_SR_B{band.name.split('_B')[1]}.TIF"
                write_cog(path, dn, transform=self.grid30.transform, crs=self.crs, nodata=band.nodata)
                assets[band.asset_key] = AssetFile(path, dn.shape, self.grid30.transform, band)
            path = folder / f"{item_id}_QA_PIXEL.TIF"
            write_cog(
                path,
                qa,
                transform=self.grid30.transform,
                crs=self.crs,
                nodata=1,
                overview_resampling="nearest",
            )
            assets["qa_pixel"] = AssetFile(path, qa.shape, self.grid30.transform, kind="qa")
            cloud_cover = _cloud_percent(sensor.decode_qa(qa), also_cirrus=False)
            props = {
                "datetime": dt.datetime.combine(day, dt.time(17, 2, 11), dt.UTC),
                "platform": "landsat-8",
                "instruments": ["oli", "tirs"],
                "gsd": 30,
                "eo:cloud_cover": cloud_cover,
                "view:off_nadir": 0,
                "view:sun_elevation": round(
                    45.0 + 20.0 * math.sin(math.pi * (day.timetuple().tm_yday - 80) / 365.0), 4
                ),
                "view:sun_azimuth": 135.0,
                "landsat:wrs_path": "028",
                "landsat:wrs_row": "034",
                "landsat:wrs_type": "2",
                "landsat:correction": "L2SP",
                "landsat:collection_number": "02",
                "landsat:collection_category": "T1",
                "landsat:cloud_cover_land": cloud_cover,
            }
            yield SimulatedItem(
                sensor.collection, item_id, sensor, props, self.cfg.scene_bounds, None, self.cfg.epsg, assets
            )

    def _swath_fill(self, day: dt.date, grid: RegularGrid) -> npt.NDArray[np.bool_]:
        """Some scenes end inside the area (a swath edge): those pixels are fill."""
        rng = _rng(self.cfg.seed, "swath", day.isoformat())
        fill = np.zeros((grid.height, grid.width), bool)
        if rng.random() < 0.25:
            cols = np.arange(grid.width)
            rows = np.arange(grid.height)[:, None]
            edge = int(rng.uniform(0.05, 0.2) * grid.width)
            # A slanted edge, like a descending path's swath boundary.
            fill = cols[None, :] < edge + (rows * 0.2).astype(int) - grid.height // 10
        return fill

    @staticmethod
    def _landsat_qa(
        atm: Atmosphere, layers: StaticLayers, fill: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.uint16]:
        cloud = atm.cloud > 0.35
        dilated = ndimage.binary_dilation(cloud, iterations=3) & ~cloud
        shadow = (atm.shadow > 0.35) & ~cloud & ~dilated
        cirrus = atm.cirrus > 0.06
        water = layers.landcover == WATER
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

    # -- MODIS --------------------------------------------------------------------------------

    @cached_property
    def modis_geometry(
        self,
    ) -> tuple[RegularGrid, npt.NDArray[np.float64], npt.NDArray[np.float64], tuple[int, int]]:
        """The sinusoidal 463 m grid covering the AOI (aligned to the global MODIS grid), and
        the UTM position of each of its pixel centres."""
        to_sin = Transformer.from_crs(self.crs, MODIS_SINUSOIDAL, always_xy=True)
        b = self.cfg.aoi_bounds
        xs = np.linspace(b[0], b[2], 21)
        ys = np.linspace(b[1], b[3], 21)
        X, Y = np.meshgrid(xs, ys)
        sx, sy = to_sin.transform(X, Y)
        # Snap outwards to the global MODIS pixel lattice (origin -20015109.354, 10007554.677).
        gx0, gy0 = -20015109.355798, 10007554.677899
        c0 = math.floor((sx.min() - gx0) / MODIS_PIXEL) - 1
        c1 = math.ceil((sx.max() - gx0) / MODIS_PIXEL) + 1
        r0 = math.floor((gy0 - sy.max()) / MODIS_PIXEL) - 1
        r1 = math.ceil((gy0 - sy.min()) / MODIS_PIXEL) + 1
        grid = RegularGrid(gx0 + c0 * MODIS_PIXEL, gy0 - r0 * MODIS_PIXEL, MODIS_PIXEL, r1 - r0, c1 - c0)
        to_utm = Transformer.from_crs(MODIS_SINUSOIDAL, self.crs, always_xy=True)
        GX, GY = np.meshgrid(grid.xs, grid.ys)
        ux, uy = to_utm.transform(GX, GY)
        tile_hv = (int(c0 // 2400), int(r0 // 2400))
        return grid, np.asarray(ux), np.asarray(uy), tile_hv

    def _sample_modis(self, fine: F32, dx: float, dy: float) -> tuple[F32, npt.NDArray[np.bool_]]:
        """Observe a 30 m field (bands, H, W) through the MODIS PSF at the sinusoidal pixel
        centres (shifted by the misregistration). Returns values and 'inside the scene'."""
        _grid, ux, uy, _ = self.modis_geometry
        agg = 4  # 120 m working grid: the PSF is ~ 4 of those pixels wide
        coarse = block_mean(fine, agg).astype(np.float32)
        sigma = 0.5 * MODIS_PIXEL / (30.0 * agg)
        blurred = np.stack([ndimage.gaussian_filter(b, sigma, mode="nearest") for b in coarse])
        g = self.grid30
        col = ((ux + dx) - g.x0) / (30.0 * agg) - 0.5
        row = (g.y0 - (uy + dy)) / (30.0 * agg) - 0.5
        inside = (col >= 0) & (row >= 0) & (col <= coarse.shape[2] - 1) & (row <= coarse.shape[1] - 1)
        out = np.stack([ndimage.map_coordinates(b, [row, col], order=1, mode="nearest") for b in blurred])
        return out.astype(np.float32), inside

    def _modis(self, out: Path) -> Iterator[SimulatedItem]:
        sensor = S.MODIS_MOD09A1
        bands = list(sensor.bands)
        matrix = self.landscape.band_matrix(bands)
        grid, _ux, _uy, (h, v) = self.modis_geometry
        wkt2 = CRS.from_proj4(MODIS_SINUSOIDAL).to_wkt("WKT2_2019")
        periods = self.modis_periods()
        for i, (start, end, day) in enumerate(periods):
            self.progress(f"modis {i + 1}/{len(periods)} {start}")
            surface = self.landscape.reflectance(self.layers30, day, matrix)
            atm = atmosphere_on(self.weather, day, self.grid30)
            obs30 = atm.apply(surface, bands)
            layers_stack = np.concatenate(
                [
                    obs30,
                    atm.cloud[None],
                    atm.shadow[None],
                    atm.cirrus[None],
                    (self.layers30.landcover == WATER)[None].astype(np.float32),
                ]
            )
            dx, dy = self._misregistration("modis", day, MODIS_PIXEL, 0.15)
            sampled, inside = self._sample_modis(layers_stack, dx, dy)
            refl = sampled[: len(bands)] + self._noise("modis", day, sampled[: len(bands)].shape, 0.006)
            cloud, shadow, cirrus, water = sampled[len(bands) :]
            state = self._modis_state(cloud, shadow, cirrus, water)
            state[~inside] = S.MODIS_STATE_FILL
            doy = start.timetuple().tm_yday
            item_id = f"MOD09A1.A{start.year}{doy:03d}.h{h:02d}v{v:02d}.061"
            folder = out / sensor.collection / item_id
            assets: dict[str, AssetFile] = {}
            transform = grid.transform
            for band, arr in zip(bands, refl, strict=True):
                dn = _dn(arr, band, 0.0)
                dn[~inside] = band.nodata
                path = folder / f"{item_id}_{band.name}.tif"
                write_cog(path, dn, transform=transform, crs=wkt2, nodata=band.nodata)
                assets[band.asset_key] = AssetFile(path, dn.shape, transform, band)
            path = folder / f"{item_id}_sur_refl_state_500m.tif"
            write_cog(path, state, transform=transform, crs=wkt2, nodata=None, overview_resampling="nearest")
            assets["sur_refl_state_500m"] = AssetFile(
                path, state.shape, transform, kind="qa", data_type="uint16"
            )
            doy_arr = np.full(state.shape, day.timetuple().tm_yday, np.uint16)
            doy_arr[~inside] = 65535
            path = folder / f"{item_id}_sur_refl_day_of_year.tif"
            write_cog(
                path, doy_arr, transform=transform, crs=wkt2, nodata=65535, overview_resampling="nearest"
            )
            assets["sur_refl_day_of_year"] = AssetFile(
                path, state.shape, transform, kind="day_of_year", data_type="uint16"
            )
            props = {
                "datetime": None,
                "start_datetime": dt.datetime.combine(start, dt.time(0, 0), dt.UTC),
                "end_datetime": dt.datetime.combine(end, dt.time(23, 59, 59), dt.UTC),
                "platform": "terra",
                "instruments": ["modis"],
                "eo:cloud_cover": _cloud_percent(sensor.decode_qa(state), also_cirrus=False),
                "modis:horizontal-tile": h,
                "modis:vertical-tile": v,
                "modis:tile-id": f"51{h:03d}{v:03d}",
            }
            minx, maxx = grid.x0, grid.x0 + grid.width * grid.res
            maxy, miny = grid.y0, grid.y0 - grid.height * grid.res
            yield SimulatedItem(
                sensor.collection, item_id, sensor, props, (minx, miny, maxx, maxy), wkt2, None, assets
            )

    @staticmethod
    def _modis_state(cloud: F32, shadow: F32, cirrus: F32, water: F32) -> npt.NDArray[np.uint16]:
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

    # -- Sentinel-2 ---------------------------------------------------------------------------

    def _sentinel2(self, out: Path) -> Iterator[SimulatedItem]:
        sensor = S.SENTINEL2_L2A
        keys10 = ["B02", "B03", "B04", "B08"]
        keys20 = ["B8A", "B11", "B12"]
        b = self.cfg.scene_bounds
        n10 = round((b[2] - b[0]) / 10.0)
        grid10 = RegularGrid(b[0], b[3], 10.0, n10, n10)
        grid20 = RegularGrid(b[0], b[3], 20.0, n10 // 2, n10 // 2)
        bands10 = [sensor.band(k) for k in keys10]
        bands20 = [sensor.band(k) for k in keys20]
        m10, m20 = self.landscape.band_matrix(bands10), self.landscape.band_matrix(bands20)
        dates = self.sentinel2_dates()
        offset = -0.1
        for i, day in enumerate(dates):
            self.progress(f"sentinel-2 {i + 1}/{len(dates)} {day}")
            dx, dy = self._misregistration("sentinel-2", day, 10.0, 0.5)
            g10 = grid10.shifted(dx, dy)
            layers10 = self.landscape.static_layers(g10)
            s10 = self.landscape.reflectance(layers10, day, m10)
            # 20 m bands: the 10 m surface averaged (the sensor integrates the larger pixel).
            f10 = self.landscape.reflectance(layers10, day, m20)
            s20 = block_mean(f10, 2).astype(np.float32)
            s10 = np.stack([ndimage.gaussian_filter(x, 0.5, mode="nearest") for x in s10])
            atm10 = atmosphere_on(self.weather, day, g10)
            atm20 = Atmosphere(
                *(block_mean(a, 2).astype(np.float32) for a in (atm10.cloud, atm10.shadow, atm10.cirrus))
            )
            o10 = atm10.apply(s10, bands10) + self._noise("s2-10", day, s10.shape, 0.005)
            o20 = atm20.apply(s20, bands20) + self._noise("s2-20", day, s20.shape, 0.005)
            water20 = block_mean((layers10.landcover == WATER).astype(np.float32), 2) > 0.5
            green20 = block_mean(self.landscape.fractions(layers10, day)[0], 2)
            scl = self._scl(atm20, water20, green20)
            platform = "sentinel-2a" if i % 2 == 0 else "sentinel-2b"
            tile = "14SNG"
            stamp = f"{day:%Y%m%d}T171901"
            item_id = f"S2{platform[-1].upper()}_MSIL2A_{stamp}_R069_T{tile}_{day:%Y%m%d}T230000"
            folder = out / sensor.collection / item_id
            assets: dict[str, AssetFile] = {}
            for bands_, arrs, grid in ((bands10, o10, grid10), (bands20, o20, grid20)):
                for band, arr in zip(bands_, arrs, strict=True):
                    dn = _dn(arr, band, offset)
                    path = folder / f"T{tile}_{stamp}_{band.name}_{int(band.resolution)}m.tif"
                    write_cog(path, dn, transform=grid.transform, crs=self.crs, nodata=band.nodata)
                    assets[band.asset_key] = AssetFile(path, dn.shape, grid.transform, band)
            path = folder / f"T{tile}_{stamp}_SCL_20m.tif"
            write_cog(
                path, scl, transform=grid20.transform, crs=self.crs, nodata=0, overview_resampling="nearest"
            )
            assets["SCL"] = AssetFile(path, scl.shape, grid20.transform, kind="qa", data_type="uint8")
            props = {
                "datetime": dt.datetime.combine(day, dt.time(17, 19, 1), dt.UTC),
                "platform": platform,
                "constellation": "sentinel-2",
                "instruments": ["msi"],
                "eo:cloud_cover": _cloud_percent(sensor.decode_qa(scl), also_cirrus=True, digits=4),
                "s2:mgrs_tile": tile,
                "s2:processing_baseline": "05.10",
                "s2:product_type": "S2MSI2A",
                "sat:relative_orbit": 69,
            }
            yield SimulatedItem(
                sensor.collection, item_id, sensor, props, self.cfg.scene_bounds, None, self.cfg.epsg, assets
            )

    @staticmethod
    def _scl(atm: Atmosphere, water: npt.NDArray[np.bool_], green: F32) -> npt.NDArray[np.uint8]:
        scl = np.where(green > 0.3, 4, 5).astype(np.uint8)
        scl[water] = 6
        scl[(atm.shadow > 0.35) & (atm.cloud <= 0.35)] = 3
        scl[atm.cirrus > 0.06] = 10
        scl[atm.cloud > 0.2] = 8
        scl[atm.cloud > 0.6] = 9
        return scl


def read_truth(out_dir: str | Path, day: dt.date) -> F32:
    """The truth on ``day`` of a simulation written to ``out_dir``: float32 (6, H, W) reflectance
    in Landsat OLI blue, green, red, nir08, swir16, swir22 on the Landsat 30 m grid."""
    path = Path(out_dir) / "truth" / f"{day.isoformat()}.tif"
    if not path.exists():
        raise SceneNotFound(f"no truth for {day} at {path}; truth exists for simulated acquisition days only")
    with rasterio.open(path) as src:
        return truth_reflectance(src.read())


def truth_reflectance(dn: npt.NDArray[np.int16]) -> F32:
    """Stored truth values (int16, ``TRUTH_SCALE``) as float32 reflectance, NaN at ``TRUTH_NODATA``."""
    out: F32 = dn.astype(np.float32) * np.float32(TRUTH_SCALE)
    out[dn == TRUTH_NODATA] = np.nan
    return out


def simulate(
    cfg: SimulationConfig, out_dir: str | Path, progress: Progress | None = None
) -> SimulationResult:
    """Simulate ``cfg`` into ``out_dir``: per-band COGs, ``catalog.json`` and ``truth/``."""
    return Simulator(cfg, progress).run(out_dir)
