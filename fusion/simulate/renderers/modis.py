"""MODIS Terra MOD09A1: 8-day composites at 463 m in the sinusoidal projection, ``state_500m``.

The composite of each 8-day period takes its least cloudy day, observed through the MODIS
point-spread function at the sinusoidal pixel centres (aligned to the global MODIS grid),
shifted by a per-composite misregistration.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Transformer
from scipy import ndimage

from fusion import sensors as S
from fusion.grid import block_mean
from fusion.rasterio_io import write_cog
from fusion.simulate.fields import F32, RegularGrid
from fusion.simulate.items import AssetFile, SimulatedItem, cloud_percent, to_dn
from fusion.simulate.landscape import WATER
from fusion.simulate.renderers.base import SensorRenderer
from fusion.simulate.weather import atmosphere_on, modis_state

#: MODIS sinusoidal CRS (sphere of radius 6 371 007.181 m), as in the MODIS items' proj:wkt2.
MODIS_SINUSOIDAL = "+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs"
MODIS_PIXEL = 463.3127165274999
MODIS_TILE = 1111950.519667  # width of one MODIS tile (2400 px)


class ModisRenderer(SensorRenderer):
    """MOD09A1 composites of the ``modis-09A1-061`` collection."""

    name = "modis"

    def periods(self) -> list[tuple[dt.date, dt.date, dt.date]]:
        """MOD09A1 8-day periods (start, end, chosen day) overlapping the simulated days.

        Periods start on day-of-year 1, 9, 17 ... like the real product; the composite takes
        the least cloudy day of its period (one day per period - a simplification of MODIS'
        per-pixel selection, recorded in ``sur_refl_day_of_year``).
        """
        cfg, weather = self.ctx.cfg, self.ctx.weather
        out = []
        year = cfg.start.year
        while year <= cfg.end.year:
            start = dt.date(year, 1, 1)
            while start.year == year:
                end = min(start + dt.timedelta(7), dt.date(year, 12, 31))
                days = [start + dt.timedelta(i) for i in range((end - start).days + 1)]
                days = [d for d in days if cfg.start <= d <= cfg.end]
                if days:
                    best = min(days, key=lambda d: (weather.daily[d].cover + weather.daily[d].cirrus, d))
                    out.append((start, end, best))
                start += dt.timedelta(8)
            year += 1
        return out

    def truth_days(self) -> list[dt.date]:
        return [day for _start, _end, day in self.periods()]

    @cached_property
    def geometry(
        self,
    ) -> tuple[RegularGrid, npt.NDArray[np.float64], npt.NDArray[np.float64], tuple[int, int]]:
        """The sinusoidal 463 m grid covering the AOI (aligned to the global MODIS grid), and
        the UTM position of each of its pixel centres."""
        to_sin = Transformer.from_crs(self.ctx.crs, MODIS_SINUSOIDAL, always_xy=True)
        b = self.ctx.cfg.aoi_bounds
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
        to_utm = Transformer.from_crs(MODIS_SINUSOIDAL, self.ctx.crs, always_xy=True)
        GX, GY = np.meshgrid(grid.xs, grid.ys)
        ux, uy = to_utm.transform(GX, GY)
        tile_hv = (int(c0 // 2400), int(r0 // 2400))
        return grid, np.asarray(ux), np.asarray(uy), tile_hv

    def _sample_modis(self, fine: F32, dx: float, dy: float) -> tuple[F32, npt.NDArray[np.bool_]]:
        """Observe a 30 m field (bands, H, W) through the MODIS PSF at the sinusoidal pixel
        centres (shifted by the misregistration). Returns values and 'inside the scene'."""
        _grid, ux, uy, _ = self.geometry
        agg = 4  # 120 m working grid: the PSF is ~ 4 of those pixels wide
        coarse = block_mean(fine, agg).astype(np.float32)
        sigma = 0.5 * MODIS_PIXEL / (30.0 * agg)
        blurred = np.stack([ndimage.gaussian_filter(b, sigma, mode="nearest") for b in coarse])
        g = self.ctx.grid30
        col = ((ux + dx) - g.x0) / (30.0 * agg) - 0.5
        row = (g.y0 - (uy + dy)) / (30.0 * agg) - 0.5
        inside = (col >= 0) & (row >= 0) & (col <= coarse.shape[2] - 1) & (row <= coarse.shape[1] - 1)
        out = np.stack([ndimage.map_coordinates(b, [row, col], order=1, mode="nearest") for b in blurred])
        return out.astype(np.float32), inside

    def render(self, out: Path) -> Iterator[SimulatedItem]:
        ctx = self.ctx
        sensor = S.MODIS_MOD09A1
        bands = list(sensor.bands)
        matrix = ctx.landscape.band_matrix(bands)
        grid, _ux, _uy, (h, v) = self.geometry
        wkt2 = CRS.from_proj4(MODIS_SINUSOIDAL).to_wkt("WKT2_2019")
        periods = self.periods()
        for i, (start, end, day) in enumerate(periods):
            ctx.progress(f"modis {i + 1}/{len(periods)} {start}")
            surface = ctx.landscape.reflectance(ctx.layers30, day, matrix)
            atm = atmosphere_on(ctx.weather, day, ctx.grid30)
            obs30 = atm.apply(surface, bands)
            layers_stack = np.concatenate(
                [
                    obs30,
                    atm.cloud[None],
                    atm.shadow[None],
                    atm.cirrus[None],
                    (ctx.layers30.landcover == WATER)[None].astype(np.float32),
                ]
            )
            dx, dy = ctx.misregistration("modis", day, MODIS_PIXEL, 0.15)
            sampled, inside = self._sample_modis(layers_stack, dx, dy)
            refl = sampled[: len(bands)] + ctx.noise("modis", day, sampled[: len(bands)].shape, 0.006)
            cloud, shadow, cirrus, water = sampled[len(bands) :]
            state = modis_state(cloud, shadow, cirrus, water)
            state[~inside] = S.MODIS_STATE_FILL
            doy = start.timetuple().tm_yday
            item_id = f"MOD09A1.A{start.year}{doy:03d}.h{h:02d}v{v:02d}.061"
            folder = out / sensor.collection / item_id
            assets: dict[str, AssetFile] = {}
            transform = grid.transform
            for band, arr in zip(bands, refl, strict=True):
                dn = to_dn(arr, band, 0.0)
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
                "eo:cloud_cover": cloud_percent(sensor.decode_qa(state), also_cirrus=False),
                "modis:horizontal-tile": h,
                "modis:vertical-tile": v,
                "modis:tile-id": f"51{h:03d}{v:03d}",
            }
            minx, maxx = grid.x0, grid.x0 + grid.width * grid.res
            maxy, miny = grid.y0, grid.y0 - grid.height * grid.res
            yield SimulatedItem(
                sensor.collection, item_id, sensor, props, (minx, miny, maxx, maxy), wkt2, None, assets
            )
