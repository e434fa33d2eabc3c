"""Product files describe themselves: GDAL sees the scale, offset, unit, band names and nodata
of a product COG; thumbnails are RGBA with nodata transparent."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import rasterio

from fusion.publish import NODATA, SCALE, read_product
from fusion.quicklook import write_png
from pipelines.run import run_fusion
from tests.pipeline_fixtures import pipe_request


def test_a_product_cog_carries_scale_offset_unit_band_names_and_nodata(
    pipe_scenes: Path, tmp_path: Path
) -> None:
    request = pipe_request(
        pipe_scenes, tmp_path / "products", model="naive", start=dt.date(2023, 6, 20), end=dt.date(2023, 7, 5)
    )
    summary = run_fusion(request, tmp_path / "report")
    assert summary.written, summary.text()
    cog = Path(summary.written[0]["item"]).with_suffix(".tif")
    with rasterio.open(cog) as src:
        assert src.scales == (SCALE,) * src.count
        assert src.offsets == (0.0,) * src.count
        assert src.units == ("reflectance",) * src.count
        assert src.descriptions == ("blue", "green", "red", "nir08", "swir16", "swir22")
        assert src.nodata == NODATA
        dn = src.read(1, masked=True)
    # What a GDAL reader computes from the file alone equals the product's reflectance.
    reflectance, valid = read_product(cog)
    np.testing.assert_allclose(dn.astype(np.float64).filled(np.nan) * SCALE, reflectance[0], rtol=1e-6)
    assert valid.any()
    with rasterio.open(cog.with_suffix(".png")) as png:
        assert png.count == 4 and png.colorinterp[3].name == "alpha"


def test_thumbnail_nodata_is_transparent_not_black(tmp_path: Path) -> None:
    rgb = np.full((3, 8, 8), 0.2, np.float32)
    rgb[:, :4, :4] = 0.0  # a dark pixel (water) stays opaque
    rgb[0, 6:, 6:] = np.nan  # nodata in any band is transparent
    with rasterio.open(write_png(rgb, tmp_path / "t.png")) as png:
        alpha = png.read(4)
        color = png.read(1)
    assert (alpha[6:, 6:] == 0).all() and (alpha[:6, :] == 255).all()
    assert (color[:4, :4] == 0).all() and (alpha[:4, :4] == 255).all()
