"""The simulated surface: parcels, land cover, phenology and an abrupt change (a flood).

A *landscape* is a continuous function of map position (metres, in a real UTM CRS) and day:
rectangular crop fields with their own phenology, forest, grassland, bare fields, a town, a
river with a lake and a flood plain. Each pixel is a linear mixture of the endmember spectra
(:mod:`fusion.simulate.spectra`) times a spatial texture.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fusion import sensors as S
from fusion.simulate.config import SimulationConfig
from fusion.simulate.fields import F32, RegularGrid, ValueNoise, named_rng
from fusion.simulate.spectra import SpectralLibrary

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

#: Phenology per class: start/end of season (day of year), slopes (days), min/max green
#: fraction, harvest day (None: not harvested), dry share of the non-green cover.
PHENOLOGY: dict[int, dict[str, Any]] = {
    WHEAT: dict(sos=75, eos=160, k1=8, k2=7, vmin=0.05, vmax=0.85, harvest=182, dry=0.15),
    CORN: dict(sos=155, eos=250, k1=7, k2=8, vmin=0.02, vmax=0.92, harvest=270, dry=0.10),
    SOYBEAN: dict(sos=172, eos=258, k1=6, k2=6, vmin=0.02, vmax=0.88, harvest=280, dry=0.10),
    GRASS: dict(sos=100, eos=285, k1=10, k2=12, vmin=0.25, vmax=0.62, harvest=None, dry=0.70),
    FOREST: dict(sos=110, eos=290, k1=7, k2=9, vmin=0.35, vmax=0.90, harvest=None, dry=0.60),
    BARE: dict(sos=0, eos=0, k1=1, k2=1, vmin=0.03, vmax=0.03, harvest=None, dry=0.05),
    URBAN: dict(sos=120, eos=280, k1=10, k2=10, vmin=0.08, vmax=0.18, harvest=None, dry=0.0),
    WATER: dict(sos=0, eos=0, k1=1, k2=1, vmin=0.0, vmax=0.0, harvest=None, dry=0.0),
}


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

    def __init__(self, cfg: SimulationConfig) -> None:
        self.cfg = cfg
        b = cfg.scene_bounds
        self.bounds = b
        rng = named_rng(cfg.seed, "layout")
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
        self.noise_forest = ValueNoise(named_rng(cfg.seed, "forest"), b, 3000.0)
        self.noise_town = ValueNoise(named_rng(cfg.seed, "town"), b, 900.0)
        self.noise_flood = ValueNoise(named_rng(cfg.seed, "flood"), b, 2500.0)
        self.noise_tex_a = ValueNoise(named_rng(cfg.seed, "texture-a"), b, 150.0)
        self.noise_tex_b = ValueNoise(named_rng(cfg.seed, "texture-b"), b, 60.0)
        self.noise_vigour = ValueNoise(named_rng(cfg.seed, "vigour"), b, 240.0)
        self.library = SpectralLibrary()

    # -- spectra ------------------------------------------------------------------------------

    def band_matrix(self, bands: tuple[S.Band, ...] | list[S.Band]) -> F32:
        """(endmembers, bands): endmember reflectance integrated over each band's response."""
        return self.library.band_matrix(bands)

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
        for cls, p in PHENOLOGY.items():
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
