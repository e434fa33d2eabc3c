"""Landsat 8 OLI, Collection 2 Level-2: 30 m every 16 days, ``QA_PIXEL`` bits.

The scene is observed on the 30 m grid shifted by a per-scene misregistration (stored on the
unshifted grid: the misregistration is in the pixels, not the header), through a small
Gaussian PSF, with noise, the shared weather and, on some days, a swath edge inside the area.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from fusion import sensors as S
from fusion.rasterio_io import write_cog
from fusion.simulate.fields import RegularGrid, named_rng
from fusion.simulate.items import AssetFile, SimulatedItem, cloud_percent, to_dn
from fusion.simulate.landscape import WATER
from fusion.simulate.renderers.base import SensorRenderer
from fusion.simulate.weather import atmosphere_on, landsat_qa_pixel

#: The simulated OLI bands (asset keys), in the order they are rendered.
LANDSAT_BANDS = ("coastal", "blue", "green", "red", "nir08", "swir16", "swir22")


class LandsatRenderer(SensorRenderer):
    """Landsat 8 OLI scenes of the ``landsat-c2-l2`` collection."""

    name = "landsat"

    def dates(self) -> list[dt.date]:
        """Acquisition days: every 16 days from ``landsat_first``."""
        return self.ctx.schedule(self.ctx.cfg.landsat_first, 16)

    def truth_days(self) -> list[dt.date]:
        return self.dates()

    def render(self, out: Path) -> Iterator[SimulatedItem]:
        ctx = self.ctx
        sensor = S.LANDSAT_OLI
        bands = [sensor.band(k) for k in LANDSAT_BANDS]
        matrix = ctx.landscape.band_matrix(bands)
        dates = self.dates()
        for i, day in enumerate(dates):
            ctx.progress(f"landsat {i + 1}/{len(dates)} {day}")
            dx, dy = ctx.misregistration("landsat", day, 30.0, 0.3)
            grid = ctx.grid30.shifted(dx, dy)
            layers = ctx.landscape.static_layers(grid)
            surface = ctx.landscape.reflectance(layers, day, matrix)
            surface = np.stack([ndimage.gaussian_filter(b, 0.45, mode="nearest") for b in surface])
            atm = atmosphere_on(ctx.weather, day, grid)
            obs = atm.apply(surface, bands) + ctx.noise("landsat", day, surface.shape, 0.004)
            fill = self._swath_fill(day, grid)
            qa = landsat_qa_pixel(atm, layers.landcover == WATER, fill)
            item_id = f"LC08_L2SP_028034_{day:%Y%m%d}_02_T1"
            folder = out / sensor.collection / item_id
            assets: dict[str, AssetFile] = {}
            # Stored on the unshifted grid: misregistration is in the pixels, not the header.
            for band, arr in zip(bands, obs, strict=True):
                dn = to_dn(arr, band, band.offset)
                dn[fill] = band.nodata
                path = folder / f"{item_id}_SR_B{band.name.split('_B')[1]}.TIF"
                write_cog(path, dn, transform=ctx.grid30.transform, crs=ctx.crs, nodata=band.nodata)
                assets[band.asset_key] = AssetFile(path, dn.shape, ctx.grid30.transform, band)
            path = folder / f"{item_id}_QA_PIXEL.TIF"
            write_cog(
                path,
                qa,
                transform=ctx.grid30.transform,
                crs=ctx.crs,
                nodata=1,
                overview_resampling="nearest",
            )
            assets["qa_pixel"] = AssetFile(path, qa.shape, ctx.grid30.transform, kind="qa")
            cloud_cover = cloud_percent(sensor.decode_qa(qa), also_cirrus=False)
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
                sensor.collection, item_id, sensor, props, ctx.cfg.scene_bounds, None, ctx.cfg.epsg, assets
            )

    def _swath_fill(self, day: dt.date, grid: RegularGrid) -> npt.NDArray[np.bool_]:
        """Some scenes end inside the area (a swath edge): those pixels are fill."""
        rng = named_rng(self.ctx.cfg.seed, "swath", day.isoformat())
        fill = np.zeros((grid.height, grid.width), bool)
        if rng.random() < 0.25:
            cols = np.arange(grid.width)
            rows = np.arange(grid.height)[:, None]
            edge = int(rng.uniform(0.05, 0.2) * grid.width)
            # A slanted edge, like a descending path's swath boundary.
            fill = cols[None, :] < edge + (rows * 0.2).astype(int) - grid.height // 10
        return fill
