"""`fusion fuse-files` on the real Shenzhen files: the same product as the pipeline.

The pipeline (``run_fusion`` / ``build_pipeline`` on the DirectRunner) fuses a static STAC
catalog built here that describes the very Shenzhen files: one VRT per band (an XML file that
selects band N of the shared GeoTIFF, no pixel copied) as each item's band asset, and a QA
raster that says "clear" wherever the file has data (HLS ``Fmask`` 0 for the Landsat-7 scene,
MODIS state 0 for the MOD09 scenes). ``fuse-files`` is given the files themselves and the
pipeline tile's grid (``--crs --resolution --origin --size``), so both put the same pixels on
the same grid and the COGs must be equal value for value.

The tile ``49N-0104-0976`` at 256 px lies inside both the Landsat and the (offset) MODIS
extents with its halo, so every pixel of it is fused by both.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pystac
import pytest
import rasterio
from click.testing import CliRunner
from rasterio.transform import Affine

from fusion.pairing import PairingConfig
from fusion.request import FusionRequest
from pipelines.cli import main
from tests.helpers import is_valid_cog

REAL = Path(__file__).resolve().parents[2] / "shared" / "data"
SHENZHEN = REAL / "shenzhen"
pytestmark = pytest.mark.skipif(
    not SHENZHEN.is_dir(), reason="shared/data/shenzhen is not beside the checkout"
)

BANDS = ("nir08", "red", "green")  # the files' band order (Landsat 4,3,2; MODIS 2,1,4)
REFERENCE, TARGET = dt.date(2000, 11, 1), dt.date(2002, 11, 7)
FINE_REF = SHENZHEN / "L72000306_SZ_B432_30m.tif"
COARSE_REF = SHENZHEN / "MOD09_2000306_SZ_B214_250m.tif"
COARSE_TARGET = SHENZHEN / "MOD09_2002311_SZ_B214_250m.tif"
TILE, TILE_SIZE, BLOCK_SIZE = "49N-0104-0976", 256, 128
NODATA = 32767

#: (collection, asset key per band, QA asset key, QA dtype, QA fill)
HLS = ("hls2-l30", {"nir08": "B05", "red": "B04", "green": "B03"}, "Fmask", "uint8", 255)
MODIS = (
    "modis-09A1-061",
    {"nir08": "sur_refl_b02", "red": "sur_refl_b01", "green": "sur_refl_b04"},
    "sur_refl_state_500m",
    "uint16",
    65535,
)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The naive difference for the Shenzhen bands (the built-ins have six bands)."""
    from fusion.models.classical.naive import export_naive

    return export_naive(tmp_path_factory.mktemp("pkg") / "naive", bands=BANDS)


def _band_vrt(src: Path, band: int, out: Path) -> Path:
    """A one-band VRT of band ``band`` of ``src`` (same grid, nodata, type)."""
    with rasterio.open(src) as ds:
        t = ds.transform
        xml = f"""<VRTDataset rasterXSize="{ds.width}" rasterYSize="{ds.height}">
  <SRS>{escape(ds.crs.to_wkt())}</SRS>
  <GeoTransform>{t.c!r}, {t.a!r}, {t.b!r}, {t.f!r}, {t.d!r}, {t.e!r}</GeoTransform>
  <VRTRasterBand dataType="Int16" band="1">
    <NoDataValue>{ds.nodata:g}</NoDataValue>
    <SimpleSource>
      <SourceFilename relativeToVRT="0">{escape(str(src))}</SourceFilename>
      <SourceBand>{band}</SourceBand>
    </SimpleSource>
  </VRTRasterBand>
</VRTDataset>
"""
    out.write_text(xml)
    return out


def _qa(src: Path, dtype: str, fill: int, out: Path) -> Path:
    """Clear (0) wherever every band of ``src`` has data, ``fill`` elsewhere."""
    with rasterio.open(src) as ds:
        data = ds.read()
        profile = {
            "driver": "GTiff",
            "width": ds.width,
            "height": ds.height,
            "count": 1,
            "crs": ds.crs,
            "transform": ds.transform,
        }
    qa = np.where(np.all(data != NODATA, axis=0), 0, fill).astype(dtype)
    with rasterio.open(out, "w", dtype=dtype, nodata=fill, **profile) as dst:
        dst.write(qa, 1)
    return out


def _item(src: Path, date: dt.date, kind: tuple, folder: Path) -> pystac.Item:
    from fusion.catalog import wgs84_polygon

    collection, keys, qa_key, qa_dtype, qa_fill = kind
    with rasterio.open(src) as ds:
        b = ds.bounds
        bounds = (b.left, b.bottom, b.right, b.top)
        epsg, shape, transform = ds.crs.to_epsg(), [ds.height, ds.width], list(ds.transform)[:6]
    geom = wgs84_polygon(bounds, f"EPSG:{epsg}")
    item = pystac.Item(
        id=src.stem,
        geometry=json.loads(json.dumps(geom.__geo_interface__)),
        bbox=list(geom.bounds),
        datetime=dt.datetime.combine(date, dt.time(3, 0), dt.UTC),
        properties={
            "platform": "landsat-7" if collection == HLS[0] else "terra",
            "proj:epsg": epsg,
            "proj:shape": shape,
            "proj:transform": transform,
            "eo:cloud_cover": 0.0,
        },
        collection=collection,
    )
    folder.mkdir(parents=True, exist_ok=True)
    for i, band in enumerate(BANDS, start=1):
        vrt = _band_vrt(src, i, folder / f"{src.stem}_{band}.vrt")
        raster = {"data_type": "int16", "nodata": NODATA, "scale": 1e-4, "offset": 0.0}
        item.add_asset(
            keys[band],
            pystac.Asset(str(vrt), roles=["data"], extra_fields={"raster:bands": [raster]}),
        )
    qa = _qa(src, qa_dtype, qa_fill, folder / f"{src.stem}_qa.tif")
    item.add_asset(qa_key, pystac.Asset(str(qa), roles=["cloud"]))
    return item


def shenzhen_catalog(root: Path) -> Path:
    """A static STAC catalog of the reference pair and the target date's MODIS image."""
    catalog = pystac.Catalog("shenzhen", "The Shenzhen files (shared/data/shenzhen)")
    for kind, files in (
        (HLS, [(FINE_REF, REFERENCE)]),
        (MODIS, [(COARSE_REF, REFERENCE), (COARSE_TARGET, TARGET)]),
    ):
        items = [_item(src, date, kind, root / "assets") for src, date in files]
        extent = pystac.Extent(
            pystac.SpatialExtent([items[0].bbox]),
            pystac.TemporalExtent([[min(i.datetime for i in items), max(i.datetime for i in items)]]),
        )
        collection = pystac.Collection(kind[0], f"Shenzhen {kind[0]}", extent, license="MIT")
        for item in items:
            collection.add_item(item)
        catalog.add_child(collection)
    catalog.normalize_hrefs(str(root / "catalog"))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog" / "catalog.json"


def fuse_files_args(out: Path, package: Path, *extra: str) -> list[str]:
    return [
        "fuse-files",
        "--fine",
        f"{REFERENCE}={FINE_REF}",
        "--coarse",
        f"{REFERENCE}={COARSE_REF}",
        "--coarse",
        f"{TARGET}={COARSE_TARGET}",
        "--target",
        str(TARGET),
        "--bands",
        ",".join(BANDS),
        "--model",
        str(package),
        "--out",
        str(out),
        *extra,
    ]


def test_fuse_files_writes_the_pipelines_cog_for_the_same_files(package: Path, tmp_path: Path) -> None:
    from pipelines.run import run_fusion

    catalog = shenzhen_catalog(tmp_path)
    request = FusionRequest(
        catalog=str(catalog),
        output=str(tmp_path / "pipeline"),
        start=TARGET,
        end=TARGET,
        collections={"fine": HLS[0], "coarse": MODIS[0]},
        model=str(package),
        tile_size=TILE_SIZE,
        block_size=BLOCK_SIZE,
        tiles=(TILE,),
        pairing=PairingConfig(max_gap_days=800),
    )
    summary = run_fusion(request, tmp_path / "report")
    assert len(summary.written) == 1, summary.text()
    pipeline_cog = Path(summary.written[0]["item"]).with_suffix(".tif")
    with rasterio.open(pipeline_cog) as src:
        expected, transform, crs = src.read(), src.transform, src.crs
    assert transform.a == 30.0 and (transform.c, transform.f) == (104 * 7680.0, 10_000_000 - 976 * 7680.0)

    out = tmp_path / "files"
    result = CliRunner().invoke(
        main,
        fuse_files_args(
            out,
            package,
            "--crs",
            "EPSG:32649",
            "--resolution",
            "30",
            "--origin",
            f"{transform.c},{transform.f}",
            "--size",
            str(TILE_SIZE),
            "--block-size",
            str(BLOCK_SIZE),
            "--stac",
        ),
    )
    assert result.exit_code == 0, result.output
    item_path = Path(result.stdout.strip().splitlines()[-1])
    cog = item_path.with_suffix(".tif")
    ok, errors, _ = is_valid_cog(cog)
    assert ok, errors
    with rasterio.open(cog) as src:
        got = src.read()
        assert src.transform == transform and src.crs == crs
        assert src.scales == (1e-4,) * 3 and src.offsets == (0.0,) * 3 and src.nodata == -9999
        assert src.descriptions == BANDS
    assert got.dtype == np.int16 and got.shape == expected.shape == (3, TILE_SIZE, TILE_SIZE)
    valid = expected != -9999
    assert valid.mean() > 0.99
    np.testing.assert_array_equal(got == -9999, ~valid)
    diff = int(np.abs(got.astype(np.int32) - expected.astype(np.int32)).max())
    assert diff == 0, f"max difference {diff} x 1e-4 reflectance"

    item = json.loads(item_path.read_text())
    derived = {link["href"] for link in item["links"] if link["rel"] == "derived_from"}
    assert {str(FINE_REF), str(COARSE_REF), str(COARSE_TARGET)} <= derived
    assert (out / "catalog.json").is_file()


def test_default_grid_is_the_fine_files_and_progress_goes_to_stderr(package: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, fuse_files_args(tmp_path / "out", package))
    assert result.exit_code == 0, result.output
    cog = Path(result.stdout.strip())
    assert cog.parent == tmp_path / "out" and cog.suffix == ".tif"
    assert "block 1/1" in result.stderr and "wrote" in result.stderr
    with rasterio.open(cog) as src, rasterio.open(FINE_REF) as fine:
        assert src.crs == fine.crs and src.transform == fine.transform
        assert src.shape == (512, 512)  # 500 px rounded up to the model's 16 px alignment
        data = src.read()
    assert (data[:, :500, :500] != -9999).mean() > 0.99 and (data[:, 500:, :] == -9999).all()


def test_a_mask_file_leaves_its_zero_pixels_out(package: Path, tmp_path: Path) -> None:
    with rasterio.open(COARSE_TARGET) as src:
        profile = {**src.profile, "count": 1, "dtype": "uint8", "nodata": None}
    mask = np.ones((500, 500), np.uint8)
    mask[:, :256] = 0  # the west half of the target date is "cloud"
    with rasterio.open(tmp_path / "mask.tif", "w", **profile) as dst:
        dst.write(mask, 1)
    args = fuse_files_args(tmp_path / "out", package, "--coarse-mask", f"{TARGET}={tmp_path / 'mask.tif'}")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    with rasterio.open(result.stdout.strip()) as src:
        valid = src.read(1) != -9999
    assert not valid[:, :240].any() and valid[:500, 272:500].mean() > 0.99


def _write_far_away(path: Path) -> Path:
    """A small seeded GeoTIFF 100 km east of the Shenzhen files."""
    rng = np.random.default_rng(28)
    data = rng.integers(200, 3000, (3, 32, 32), dtype=np.int16)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=32,
        height=32,
        count=3,
        dtype="int16",
        crs="EPSG:32649",
        transform=Affine(30.0, 0, 896_065.0, 0, -30.0, 2_510_655.0),
        nodata=NODATA,
    ) as dst:
        dst.write(data)
    return path


def _refusal(args: list[str]) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_file_outside_the_fine_grid_is_refused_naming_it(package: Path, tmp_path: Path) -> None:
    far = _write_far_away(tmp_path / "elsewhere.tif")
    args = fuse_files_args(tmp_path / "out", package)
    args[args.index(f"{TARGET}={COARSE_TARGET}")] = f"{TARGET}={far}"
    line = _refusal(args)
    assert str(far) in line and "does not overlap the output grid" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("--bands", "nir08,red"), "names 2 band(s) (nir08,red) but the file has 3"),
        (("--bands", "nir08,red,blue"), "needs band(s) green"),
        (("--target", "2002-11-08"), "no coarse file for the target date 2002-11-08"),
        (("--model", "mgan"), "'harmonize' model; fuse-files fuses spatiotemporal"),
    ],
)
def test_clear_refusals(package: Path, tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    args = fuse_files_args(tmp_path / "out", package)
    args[args.index(change[0]) + 1] = change[1]
    assert expected in _refusal(args)


def test_an_unreadable_file_is_refused_naming_it(package: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"not a tiff")
    args = fuse_files_args(tmp_path / "out", package)
    args[args.index(f"{REFERENCE}={COARSE_REF}")] = f"{REFERENCE}={broken}"
    line = _refusal(args)
    assert str(broken) in line and "cannot be read as a raster" in line
    missing = tmp_path / "missing.tif"
    args[args.index(f"{REFERENCE}={broken}")] = f"{REFERENCE}={missing}"
    assert f"{missing} does not exist" in _refusal(args)
