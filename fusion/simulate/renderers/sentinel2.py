"""Sentinel-2 MSI Level-2A: 10 m and 20 m bands every 5 days, ``SCL`` classes.

The 10 m bands see the landscape on the 10 m grid shifted by a per-scene misregistration,
through a small Gaussian PSF; the 20 m bands integrate the 10 m surface over their larger
pixels. Platforms alternate between Sentinel-2A and 2B.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from scipy import ndimage

from fusion import sensors as S
from fusion.grid import block_mean
from fusion.rasterio_io import write_cog
from fusion.simulate.fields import RegularGrid
from fusion.simulate.items import AssetFile, SimulatedItem, cloud_percent, to_dn
from fusion.simulate.landscape import WATER
from fusion.simulate.renderers.base import SensorRenderer
from fusion.simulate.weather import Atmosphere, atmosphere_on, sentinel2_scl


class Sentinel2Renderer(SensorRenderer):
    """Sentinel-2 L2A scenes of the ``sentinel-2-l2a`` collection."""

    name = "sentinel-2"

    def dates(self) -> list[dt.date]:
        """Acquisition days: every 5 days from ``sentinel2_first``."""
        return self.ctx.schedule(self.ctx.cfg.sentinel2_first, 5)

    def truth_days(self) -> list[dt.date]:
        return self.dates()

    def render(self, out: Path) -> Iterator[SimulatedItem]:
        ctx = self.ctx
        sensor = S.SENTINEL2_L2A
        keys10 = ["B02", "B03", "B04", "B08"]
        keys20 = ["B8A", "B11", "B12"]
        b = ctx.cfg.scene_bounds
        n10 = round((b[2] - b[0]) / 10.0)
        grid10 = RegularGrid(b[0], b[3], 10.0, n10, n10)
        grid20 = RegularGrid(b[0], b[3], 20.0, n10 // 2, n10 // 2)
        bands10 = [sensor.band(k) for k in keys10]
        bands20 = [sensor.band(k) for k in keys20]
        m10, m20 = ctx.landscape.band_matrix(bands10), ctx.landscape.band_matrix(bands20)
        dates = self.dates()
        offset = -0.1
        for i, day in enumerate(dates):
            ctx.progress(f"sentinel-2 {i + 1}/{len(dates)} {day}")
            dx, dy = ctx.misregistration("sentinel-2", day, 10.0, 0.5)
            g10 = grid10.shifted(dx, dy)
            layers10 = ctx.landscape.static_layers(g10)
            s10 = ctx.landscape.reflectance(layers10, day, m10)
            # 20 m bands: the 10 m surface averaged (the sensor integrates the larger pixel).
            f10 = ctx.landscape.reflectance(layers10, day, m20)
            s20 = block_mean(f10, 2).astype(np.float32)
            s10 = np.stack([ndimage.gaussian_filter(x, 0.5, mode="nearest") for x in s10])
            atm10 = atmosphere_on(ctx.weather, day, g10)
            atm20 = Atmosphere(
                *(block_mean(a, 2).astype(np.float32) for a in (atm10.cloud, atm10.shadow, atm10.cirrus))
            )
            o10 = atm10.apply(s10, bands10) + ctx.noise("s2-10", day, s10.shape, 0.005)
            o20 = atm20.apply(s20, bands20) + ctx.noise("s2-20", day, s20.shape, 0.005)
            water20 = block_mean((layers10.landcover == WATER).astype(np.float32), 2) > 0.5
            green20 = block_mean(ctx.landscape.fractions(layers10, day)[0], 2)
            scl = sentinel2_scl(atm20, water20, green20)
            platform = "sentinel-2a" if i % 2 == 0 else "sentinel-2b"
            tile = "14SNG"
            stamp = f"{day:%Y%m%d}T171901"
            item_id = f"S2{platform[-1].upper()}_MSIL2A_{stamp}_R069_T{tile}_{day:%Y%m%d}T230000"
            folder = out / sensor.collection / item_id
            assets: dict[str, AssetFile] = {}
            for bands_, arrs, grid in ((bands10, o10, grid10), (bands20, o20, grid20)):
                for band, arr in zip(bands_, arrs, strict=True):
                    dn = to_dn(arr, band, offset)
                    path = folder / f"T{tile}_{stamp}_{band.name}_{int(band.resolution)}m.tif"
                    write_cog(path, dn, transform=grid.transform, crs=ctx.crs, nodata=band.nodata)
                    assets[band.asset_key] = AssetFile(path, dn.shape, grid.transform, band)
            path = folder / f"T{tile}_{stamp}_SCL_20m.tif"
            write_cog(
                path, scl, transform=grid20.transform, crs=ctx.crs, nodata=0, overview_resampling="nearest"
            )
            assets["SCL"] = AssetFile(path, scl.shape, grid20.transform, kind="qa", data_type="uint8")
            props = {
                "datetime": dt.datetime.combine(day, dt.time(17, 19, 1), dt.UTC),
                "platform": platform,
                "constellation": "sentinel-2",
                "instruments": ["msi"],
                "eo:cloud_cover": cloud_percent(sensor.decode_qa(scl), also_cirrus=True, digits=4),
                "s2:mgrs_tile": tile,
                "s2:processing_baseline": "05.10",
                "s2:product_type": "S2MSI2A",
                "sat:relative_orbit": 69,
            }
            yield SimulatedItem(
                sensor.collection, item_id, sensor, props, ctx.cfg.scene_bounds, None, ctx.cfg.epsg, assets
            )
