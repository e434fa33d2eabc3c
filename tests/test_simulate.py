"""The scene simulator: valid COGs, determinism, physically sensible observations."""

from __future__ import annotations

import datetime as dt
import filecmp
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from fusion import sensors as S
from fusion.errors import ConfigError
from fusion.simulate import SimulationConfig, SimulationResult, read_truth, simulate
from tests.helpers import is_valid_cog


def test_catalog_layout_mirrors_real_collections(small_sim: SimulationResult) -> None:
    summary = small_sim.summary()
    assert set(summary["items"]) == {"landsat-c2-l2", "modis-09A1-061", "sentinel-2-l2a"}
    assert summary["items"]["landsat-c2-l2"] == 3  # 06-27, 07-13, 07-29
    assert summary["items"]["sentinel-2-l2a"] == 8  # every 5 days from 06-26
    by_coll = {it.collection: it for it in small_sim.items}
    assert set(by_coll["landsat-c2-l2"].assets) == {
        "coastal",
        "blue",
        "green",
        "red",
        "nir08",
        "swir16",
        "swir22",
        "qa_pixel",
    }
    assert {f"sur_refl_b0{i}" for i in range(1, 8)} | {"sur_refl_state_500m", "sur_refl_day_of_year"} == set(
        by_coll["modis-09A1-061"].assets
    )
    assert {"B02", "B03", "B04", "B08", "B8A", "B11", "B12", "SCL"} == set(by_coll["sentinel-2-l2a"].assets)


def test_every_raster_is_a_valid_cog(small_sim: SimulationResult) -> None:
    tifs = sorted(small_sim.out_dir.rglob("*.tif")) + sorted(small_sim.out_dir.rglob("*.TIF"))
    assert len(tifs) > 100
    for path in tifs:
        valid, errors, _ = is_valid_cog(path)
        assert valid, (path, errors)
    # And through the command line a user would run.
    rio = Path(sys.executable).parent / "rio"
    out = subprocess.run(
        [str(rio), "cogeo", "validate", str(tifs[0])], capture_output=True, text=True, check=True
    )
    assert "is a valid cloud optimized GeoTIFF" in out.stdout


@pytest.mark.slow
def test_same_seed_gives_byte_identical_outputs(small_sim: SimulationResult, tmp_path: Path) -> None:
    from tests.conftest import SMALL

    again = simulate(SMALL, tmp_path / "again")
    first_files = sorted(
        p.relative_to(small_sim.out_dir) for p in small_sim.out_dir.rglob("*") if p.is_file()
    )
    second_files = sorted(p.relative_to(again.out_dir) for p in again.out_dir.rglob("*") if p.is_file())
    assert first_files == second_files
    for rel in first_files:
        assert filecmp.cmp(small_sim.out_dir / rel, again.out_dir / rel, shallow=False), rel


def test_other_seed_differs(tmp_path: Path) -> None:
    base = SimulationConfig(
        seed=1,
        size_m=1920.0,
        margin_m=480.0,
        start=dt.date(2023, 7, 1),
        end=dt.date(2023, 7, 2),
        sensors=("landsat",),
        landsat_first=dt.date(2023, 7, 1),
    )
    a = simulate(base, tmp_path / "a")
    b = simulate(SimulationConfig(**{**base.__dict__, "seed": 2}), tmp_path / "b")
    pa = next((a.out_dir / "landsat-c2-l2").rglob("*_SR_B4.TIF"))
    pb = next((b.out_dir / "landsat-c2-l2").rglob("*_SR_B4.TIF"))
    assert not filecmp.cmp(pa, pb, shallow=False)


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read()


def test_landsat_observes_the_truth_where_clear(small_sim: SimulationResult) -> None:
    truth_dir = small_sim.out_dir / "truth"
    meta = json.loads((truth_dir / "truth.json").read_text())
    assert meta["bands"] == ["blue", "green", "red", "nir08", "swir16", "swir22"]
    checked = 0
    for item in (i for i in small_sim.items if i.collection == "landsat-c2-l2"):
        day = item.properties["datetime"].date()
        truth = read_truth(small_sim.out_dir, day)
        qa = _read(item.assets["qa_pixel"].path)[0]
        masks = S.LANDSAT_OLI.decode_qa(qa)
        red = S.LANDSAT_OLI.to_reflectance(_read(item.assets["red"].path)[0], S.LANDSAT_OLI.band("red"))
        clear = masks.clear & np.isfinite(red)
        if clear.mean() > 0.2:
            diff = red[clear] - truth[2][clear]
            # Noise (0.004), PSF and a sub-pixel misregistration: small, unbiased differences.
            assert abs(float(np.median(diff))) < 0.003
            assert float(np.median(np.abs(diff))) < 0.01
            checked += 1
        cloud = masks.cloud & np.isfinite(red)
        if cloud.sum() > 500:
            assert float(np.mean(red[cloud])) > float(np.mean(truth[2][cloud])) + 0.1
    assert checked >= 1


def test_sentinel2_differs_spectrally_from_landsat(small_sim: SimulationResult) -> None:
    """Sentinel-2's broad B08 and Landsat's narrow nir08 see the same surface differently."""
    s2 = next(i for i in small_sim.items if i.collection == "sentinel-2-l2a")
    b08 = _read(s2.assets["B08"].path)[0].astype(np.float64) * 1e-4 - 0.1
    b8a = _read(s2.assets["B8A"].path)[0].astype(np.float64) * 1e-4 - 0.1
    scl = _read(s2.assets["SCL"].path)[0]
    clear20 = S.SENTINEL2_L2A.decode_qa(scl).clear
    b08_20 = b08.reshape(b08.shape[0] // 2, 2, b08.shape[1] // 2, 2).mean(axis=(1, 3))
    ok = clear20 & (b8a > 0.05)
    rel = np.median((b08_20[ok] - b8a[ok]) / b8a[ok])
    assert abs(rel) > 0.005
    assert b08.shape == (2 * b8a.shape[0], 2 * b8a.shape[1])


def test_modis_is_sinusoidal_with_state_qa(small_sim: SimulationResult) -> None:
    item = next(i for i in small_sim.items if i.collection == "modis-09A1-061")
    with rasterio.open(item.assets["sur_refl_b01"].path) as src:
        assert "Sinusoidal" in src.crs.to_wkt() or "sinu" in src.crs.to_proj4()
        assert src.res[0] == pytest.approx(463.3127165, rel=1e-6)
        assert src.nodata == -28672
    state = _read(item.assets["sur_refl_state_500m"].path)[0]
    masks = S.MODIS_MOD09A1.decode_qa(state)
    assert masks.fill.any() and (~masks.fill).any()
    doy = _read(item.assets["sur_refl_day_of_year"].path)[0]
    valid_doy = np.unique(doy[doy != 65535])
    start = item.properties["start_datetime"].date()
    assert len(valid_doy) == 1
    assert 0 <= valid_doy[0] - start.timetuple().tm_yday <= 7


def test_flood_is_an_abrupt_change_in_the_truth(
    small_sim: SimulationResult, small_config: SimulationConfig
) -> None:
    assert small_config.flood_date is not None
    before = sorted(d for d in small_sim.truth_dates if d < small_config.flood_date)[-1]
    after = sorted(d for d in small_sim.truth_dates if d >= small_config.flood_date)[0]
    nir_before = read_truth(small_sim.out_dir, before)[3]
    nir_after = read_truth(small_sim.out_dir, after)[3]
    # Flood water darkens NIR strongly over the flood plain, within days.
    assert float(np.mean((nir_before - nir_after) > 0.1)) > 0.05


def test_config_errors_name_the_value() -> None:
    with pytest.raises(ConfigError, match="landsat-9"):
        SimulationConfig(sensors=("landsat-9",))
    with pytest.raises(ConfigError, match="480"):
        SimulationConfig(size_m=1000.0)
    with pytest.raises(ConfigError, match="before start"):
        SimulationConfig(start=dt.date(2023, 5, 1), end=dt.date(2023, 4, 1))
