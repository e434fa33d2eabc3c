"""Sensor tables and QA decoders, checked with hand-built bit patterns per product guide."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pystac
import pytest

from fusion import sensors as S
from fusion.catalog import scene_from_item
from fusion.errors import ConfigError, UnknownNameError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "stac-examples"


def flags(masks: S.QaMasks) -> set[str]:
    """Names of the flags set for a single-pixel decode."""
    return {name for name, arr in masks.as_dict().items() if bool(arr.ravel()[0])}


def test_registry_is_complete() -> None:
    assert set(S.list_sensors()) == {
        "landsat-oli",
        "landsat-etm",
        "landsat-tm",
        "sentinel-2-msi",
        "modis-mod09a1",
        "modis-mod09ga",
        "hls-l30",
        "hls-s30",
    }
    for sensor in S.SENSORS.values():
        assert S.get_qa_decoder(sensor.qa.decoder)
        assert sensor.bands
        for band in sensor.bands:
            assert band.min_wavelength < band.max_wavelength
            assert band.resolution > 0
            assert np.dtype(band.data_type)
    collections = {s.collection for s in S.SENSORS.values()}
    assert {"landsat-c2-l2", "sentinel-2-l2a", "modis-09A1-061", "hls2-l30", "hls2-s30"} <= collections


def test_unknown_names_say_what_exists() -> None:
    with pytest.raises(UnknownNameError, match="landsat-oli"):
        S.get_sensor("landsat-99")
    with pytest.raises(KeyError):  # the built-in parent still catches it
        S.get_sensor("nope")
    with pytest.raises(UnknownNameError, match="ambiguous"):
        S.SENTINEL2_L2A.band("rededge")
    assert S.SENTINEL2_L2A.band("B05").common_name == "rededge"
    with pytest.raises(UnknownNameError, match="no sensor table"):
        S.sensor_for_item("landsat-c2-l1", "landsat-8")


def test_sensor_for_item_picks_instrument_by_platform() -> None:
    assert S.sensor_for_item("landsat-c2-l2", "landsat-7").name == "landsat-etm"
    assert S.sensor_for_item("landsat-c2-l2", "LANDSAT_5").name == "landsat-tm"
    assert S.sensor_for_item("landsat-c2-l2", "landsat-9").name == "landsat-oli"
    with pytest.raises(UnknownNameError, match="platform"):
        S.sensor_for_item("landsat-c2-l2", "sentinel-2a")


def test_landsat_radiometry() -> None:
    red = S.LANDSAT_OLI.band("red")
    dn = np.array([0, 7273, 43636], np.uint16)
    refl = S.LANDSAT_OLI.to_reflectance(dn, red)
    assert np.isnan(refl[0])
    assert refl[1] == pytest.approx(0.0, abs=1e-4)
    assert refl[2] == pytest.approx(1.0, abs=1e-4)


def test_sentinel2_processing_baseline_offset() -> None:
    b04 = S.SENTINEL2_L2A.band("red")
    assert S.SENTINEL2_L2A.scale_offset(b04, {"s2:processing_baseline": "04.00"}) == (1e-4, -0.1)
    assert S.SENTINEL2_L2A.scale_offset(b04, {"s2:processing_baseline": "05.11"}) == (1e-4, -0.1)
    assert S.SENTINEL2_L2A.scale_offset(b04, {"s2:processing_baseline": "03.01"}) == (1e-4, 0.0)
    assert S.SENTINEL2_L2A.scale_offset(b04, {"s2:processing_baseline": "02.14"}) == (1e-4, 0.0)
    assert S.SENTINEL2_L2A.scale_offset(
        b04, {"s2:processing_baseline": "02.14", "earthsearch:boa_offset_applied": True}
    ) == (1e-4, -0.1)
    with pytest.raises(ConfigError, match=r"NN\.NN"):
        S.sentinel2_boa_offset({"s2:processing_baseline": "v4"})
    # DN 1000 is zero reflectance from baseline 04.00 on.
    refl = S.SENTINEL2_L2A.to_reflectance(
        np.array([1000, 0], np.uint16), b04, {"s2:processing_baseline": "05.10"}
    )
    assert refl[0] == pytest.approx(0.0, abs=1e-7) and np.isnan(refl[1])


# --- Landsat QA_PIXEL -----------------------------------------------------------------------


def lqa(
    *bits: int, cloud_conf: int = 1, shadow_conf: int = 1, snow_conf: int = 1, cirrus_conf: int = 1
) -> np.ndarray:
    v = sum(1 << b for b in bits) | cloud_conf << 8 | shadow_conf << 10 | snow_conf << 12 | cirrus_conf << 14
    return np.array([v], np.uint16)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.array([1], np.uint16), {"fill"}),
        (lqa(6), {"clear"}),  # 21824: clear land, all confidences low
        (lqa(6, 7), {"clear", "water"}),  # 21952: clear water
        (lqa(3, 1, cloud_conf=3), {"cloud"}),  # cloud + dilated, high confidence
        (lqa(1), {"cloud"}),  # dilated cloud alone is not clear
        (lqa(2, 6, cirrus_conf=3), {"cirrus"}),
        (lqa(4, 6, shadow_conf=3), {"shadow"}),
        (lqa(5, 6, snow_conf=3), {"snow"}),
        (lqa(4, 7, 6), {"shadow", "water"}),
    ],
)
def test_landsat_qa_pixel(value: np.ndarray, expected: set[str]) -> None:
    assert flags(S.decode_landsat_qa_pixel(value)) == expected


def test_landsat_qa_typical_values() -> None:
    # Common OLI values, with their bits: 21824 = clear(6) + low confidences (clear land);
    # 21952 = 21824 + water(7); 22280 = cloud(3) + medium cloud confidence(8-9 = 2);
    # 23888 = shadow(4) + clear(6) + high shadow confidence(10-11 = 3); 55052 = cirrus(2) +
    # cloud(3) + high cloud and cirrus confidence; 1 = fill.
    out = S.LANDSAT_OLI.decode_qa(np.array([21824, 21952, 22280, 23888, 55052, 1], np.uint16))
    assert out.clear.tolist() == [True, True, False, False, False, False]
    assert out.water.tolist() == [False, True, False, False, False, False]
    assert out.cloud.tolist() == [False, False, True, False, True, False]
    assert out.shadow.tolist() == [False, False, False, True, False, False]
    assert out.cirrus.tolist() == [False, False, False, False, True, False]
    assert out.fill.tolist() == [False, False, False, False, False, True]


# --- Sentinel-2 SCL ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scl", "expected"),
    [
        (0, {"fill"}),
        (1, set()),
        (2, set()),
        (3, {"shadow"}),
        (4, {"clear"}),
        (5, {"clear"}),
        (6, {"clear", "water"}),
        (7, set()),
        (8, {"cloud"}),
        (9, {"cloud"}),
        (10, {"cirrus"}),
        (11, {"snow"}),
    ],
)
def test_sentinel2_scl(scl: int, expected: set[str]) -> None:
    assert flags(S.decode_sentinel2_scl(np.array([scl], np.uint8))) == expected
    assert S.SCL_CLASSES[scl]


# --- MODIS state_500m ------------------------------------------------------------------------


def mstate(
    cloud: int = 0,
    shadow: int = 0,
    land_water: int = 1,
    cirrus: int = 0,
    internal_cloud: int = 0,
    mod35_snow: int = 0,
    adjacent: int = 0,
    internal_snow: int = 0,
) -> np.ndarray:
    v = (
        cloud
        | shadow << 2
        | land_water << 3
        | 1 << 6
        | cirrus << 8
        | internal_cloud << 10
        | mod35_snow << 12
        | adjacent << 13
        | internal_snow << 15
    )
    return np.array([v], np.uint16)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.array([65535], np.uint16), {"fill"}),
        (mstate(), {"clear"}),
        (mstate(cloud=3), {"clear"}),  # "not set, assumed clear"
        (mstate(cloud=1), {"cloud"}),
        (mstate(cloud=2), {"cloud"}),  # mixed
        (mstate(internal_cloud=1), {"cloud"}),
        (mstate(shadow=1), {"shadow"}),
        (mstate(land_water=0), {"clear", "water"}),  # shallow ocean
        (mstate(land_water=2), {"clear"}),  # coastline: not water
        (mstate(land_water=3), {"clear", "water"}),  # shallow inland water
        (mstate(land_water=5), {"clear", "water"}),  # deep inland water
        (mstate(land_water=7), {"clear", "water"}),  # deep ocean
        (mstate(cirrus=1), {"cirrus"}),
        (mstate(cirrus=3), {"cirrus"}),
        (mstate(mod35_snow=1), {"snow"}),
        (mstate(internal_snow=1), {"snow"}),
        (mstate(adjacent=1), set()),  # adjacent to cloud: not clear, no other flag
    ],
)
def test_modis_state(value: np.ndarray, expected: set[str]) -> None:
    assert flags(S.decode_modis_state(value)) == expected


# --- HLS Fmask -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (255, {"fill"}),
        (0, {"clear"}),
        (0b01000000, {"clear"}),  # aerosol level low only
        (1 << 0, {"cirrus"}),
        (1 << 1, {"cloud"}),
        (1 << 2, set()),  # adjacent to cloud/shadow
        (1 << 3, {"shadow"}),
        (1 << 4, {"snow"}),
        (1 << 5, {"clear", "water"}),
        (1 << 5 | 1 << 1, {"cloud", "water"}),
    ],
)
def test_hls_fmask(value: int, expected: set[str]) -> None:
    assert flags(S.decode_hls_fmask(np.array([value], np.uint8))) == expected


def test_qa_decoders_keep_shape() -> None:
    qa = np.full((3, 4), 21824, np.uint16)
    masks = S.LANDSAT_OLI.decode_qa(qa)
    for arr in masks.as_dict().values():
        assert arr.shape == (3, 4) and arr.dtype == bool


# --- Real item JSON (shared/stac-examples) through the adapter -------------------------------

needs_examples = pytest.mark.skipif(not SHARED.exists(), reason="../shared/stac-examples is not present")


@needs_examples
def test_adapter_on_real_planetary_computer_landsat_item() -> None:
    item = pystac.Item.from_file(
        str(SHARED / "landsat-c2-l2" / "pc-item-LC09_L2SP_084069_20250722_02_T2.json")
    )
    scene = scene_from_item(item)
    assert scene.sensor == "landsat-oli"
    assert set(scene.bands) == {"coastal", "blue", "green", "red", "nir08", "swir16", "swir22"}
    assert scene.scale_offset["red"] == (2.75e-05, -0.2)
    assert scene.qa_href and scene.qa_href.endswith("QA_PIXEL.TIF")
    assert scene.projection.epsg == 32658


@needs_examples
def test_adapter_on_real_earth_search_sentinel2_item() -> None:
    item = pystac.Item.from_file(str(SHARED / "sentinel-2-l2a" / "es-item-S2B_20EPT_20250731_0_L2A.json"))
    scene = scene_from_item(item)
    assert scene.sensor == "sentinel-2-msi"
    # Earth Search keys assets by common name; the adapter falls back to them.
    assert scene.bands["red"].endswith("B04.tif")
    assert scene.scale_offset["red"] == (0.0001, -0.1)
    assert scene.qa_href and scene.qa_href.endswith("SCL.tif")


@needs_examples
def test_adapter_on_real_modis_composite_item() -> None:
    path = SHARED / "modis-09A1-061" / "stactools-example-MOD09A1.A2022033.h19v10.061.json"
    d = json.loads(path.read_text())
    item = pystac.Item.from_dict(d)
    scene = scene_from_item(item)
    assert scene.sensor == "modis-mod09a1"
    assert scene.datetime == scene.start_datetime  # composite: datetime is null, period start used
    assert scene.bands["nir08"].endswith("sur_refl_b02.tif")
    assert scene.scale_offset["red"] == (0.0001, 0.0)
    assert scene.projection.epsg is None and scene.projection.wkt2


@needs_examples
def test_adapter_on_real_earth_search_collection_1_sentinel2_item() -> None:
    item = pystac.Item.from_file(
        str(SHARED / "sentinel-2-c1-l2a" / "es-item-S2B_T20EPT_20250731T131905_L2A.json")
    )
    scene = scene_from_item(item)
    assert scene.sensor == "sentinel-2-msi" and scene.collection == "sentinel-2-c1-l2a"
    assert scene.bands["red"] == item.assets["red"].href
    # Collection 1 states the BOA offset in raster:bands; the adapter takes it from there.
    assert scene.scale_offset["red"] == (0.0001, -0.1)
    assert scene.qa_href == item.assets["scl"].href


@needs_examples
def test_adapter_on_real_cmr_stac_hls_item_and_its_credentials() -> None:
    from fusion.sources import needs_earthdata

    item = pystac.Item.from_file(str(SHARED / "hls2-l30" / "cmr-stac-item-G1994512890-LPCLOUD.json"))
    scene = scene_from_item(item)
    assert scene.sensor == "hls-l30" and scene.collection == "HLSL30.v1.5"
    assert scene.bands["red"].endswith(".B04.tif") and scene.qa_href and scene.qa_href.endswith(".Fmask.tif")
    assert all(needs_earthdata(h) for h in scene.bands.values())


def test_unreadable_collections_are_refused_with_the_reason() -> None:
    with pytest.raises(UnknownNameError, match="HDF4"):
        S.sensor_for_item("MOD09GA.v061", "terra")
