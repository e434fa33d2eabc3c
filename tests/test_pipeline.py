"""The Beam pipeline: each transform under TestPipeline + assert_that, then whole runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import apache_beam as beam
import numpy as np
import pytest
import rasterio
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from fusion.blockio import tile_clear_fraction
from fusion.grid import plan_blocks
from fusion.models import get_metadata, resolve_model
from fusion.models.auto import JobModels
from fusion.models.package import package_checksum
from fusion.pairing import Observation, pair_tile
from fusion.publish import NODATA, multihash_sha256, product_spec
from fusion.rasterio_io import write_cog
from fusion.request import search_scenes
from fusion.tasks import get_task
from pipelines.records import (
    DEAD_LETTER,
    EXISTING,
    MAIN,
    BlockFailed,
    BlockJob,
    BlockOutput,
    BlockPayload,
)
from pipelines.run import run_fusion
from pipelines.stages.blocks import PlanBlocks, ReadBlocks
from pipelines.stages.inference import FuseBlocks
from pipelines.stages.products import AssembleProducts, PublishStac
from pipelines.stages.scenes import AssessScenes, PlanJobs, SearchScenes
from tests.helpers import broken_links_and_assets, is_valid_cog, stac_validate_recursive
from tests.pipeline_fixtures import pipe_request

TASK = get_task("spatiotemporal")


def _spec(job: Any, meta: Any, checksum: str, href: str, block_size: int = 128) -> Any:
    return product_spec(
        job, meta, checksum, href, dict(meta.parameters), TASK.lineage(job, meta), block_size=block_size
    )


def read_block(job: Any, tile: Any, block: Any, meta: Any, product_id: str, n: int, cache: Any = None) -> Any:
    return TASK.block_inputs(job, tile, block, meta, product_id, n, cache)


def _observations(request: Any) -> list[tuple[Observation, Any]]:
    out = []
    for s in search_scenes(request):
        factor = 16 if s.role == "coarse" else 8
        out.append(
            (Observation(s.scene, s.role, s.tile.id, tile_clear_fraction(s.scene, s.tile, factor)), s.tile)
        )
    return out


def _jobs(request: Any) -> list[tuple[Any, Any]]:
    obs = _observations(request)
    jobs, _ = pair_tile([o for o, _ in obs], request.pairing, (request.start, request.end))
    tile = obs[0][1]
    return [(j, tile) for j in jobs]


# ------------------------------------------------------------------ transforms one by one


def test_search_scenes_emits_every_scene_on_the_tile(pipe_scenes: Path, tmp_path: Path) -> None:
    request = pipe_request(pipe_scenes, tmp_path / "out")
    expected = sorted((s.scene.id, s.role) for s in search_scenes(request))
    assert {r for _, r in expected} == {"fine", "coarse"}
    with BeamTestPipeline() as p:
        got = (p | SearchScenes(request))[MAIN] | beam.Map(lambda s: (s.scene.id, s.role))
        assert_that(got, equal_to(expected))


def test_assess_scenes_gives_clear_fractions_and_dead_letters_a_missing_qa(
    pipe_scenes: Path, tmp_path: Path
) -> None:
    request = pipe_request(pipe_scenes, tmp_path / "out")
    items = search_scenes(request)
    broken = items[0]
    from dataclasses import replace

    broken = replace(broken, scene=replace(broken.scene, qa_href=str(tmp_path / "missing_QA.TIF")))
    expected = [
        (s.scene.id, tile_clear_fraction(s.scene, s.tile, 16 if s.role == "coarse" else 8)) for s in items[1:]
    ]
    with BeamTestPipeline() as p:
        out = p | beam.Create([broken, *items[1:]]) | AssessScenes({"coarse": 16, "fine": 8})
        fractions = out[MAIN] | beam.Map(lambda ot: (ot[0].scene.id, ot[0].clear_fraction))
        assert_that(fractions, equal_to(expected), label="fractions")
        dead = out[DEAD_LETTER] | beam.Map(lambda r: (r.stage, r.asset, "missing_QA.TIF" in r.reason))
        assert_that(dead, equal_to([("assess", str(tmp_path / "missing_QA.TIF"), True)]), label="dead")


def test_pair_scenes_matches_the_plain_function(pipe_scenes: Path, tmp_path: Path) -> None:
    request = pipe_request(pipe_scenes, tmp_path / "out")
    obs = _observations(request)
    jobs, skips = pair_tile([o for o, _ in obs], request.pairing, (request.start, request.end))
    assert jobs, "the test simulation must give at least one fusion job"
    with BeamTestPipeline() as p:
        out = p | beam.Create(obs) | PlanJobs(request)
        got = out[MAIN] | beam.Map(lambda jt: (jt[0].date, tuple(pr.fine.scene.id for pr in jt[0].pairs)))
        assert_that(
            got, equal_to([(j.date, tuple(pr.fine.scene.id for pr in j.pairs)) for j in jobs]), label="jobs"
        )
        reasons = out[DEAD_LETTER] | beam.Map(lambda r: r.reason)
        assert_that(reasons, equal_to([s.reason for s in skips]), label="skips")


def test_plan_blocks_cuts_halo_blocks_and_skips_existing(pipe_scenes: Path, tmp_path: Path) -> None:
    request = pipe_request(pipe_scenes, tmp_path / "out")
    jobs = _jobs(request)
    meta = get_metadata("starfm")
    model_dir = resolve_model("starfm")
    checksum = package_checksum(model_dir)
    done = _spec(jobs[0][0], meta, checksum, str(model_dir))
    # Finished: an Item recording the size and checksum of the COG beside it.
    cog, item = Path(done.cog_path(request.output)), Path(done.item_path(request.output))
    cog.parent.mkdir(parents=True, exist_ok=True)
    cog.write_text("finished earlier")
    data = {"file:size": cog.stat().st_size, "file:checksum": multihash_sha256(cog)}
    item.write_text(json.dumps({"type": "Feature", "id": done.product_id, "assets": {"data": data}}))
    with BeamTestPipeline() as p:
        out = (
            p
            | beam.Create(jobs)
            | PlanBlocks(request.output, TASK, JobModels.single(str(model_dir), meta, checksum), 128)
        )
        shapes = out[MAIN] | beam.Map(
            lambda b: (b.spec.product_id, b.n_blocks, b.block.read.height, b.block.read.width)
        )
        expected = [
            (_spec(j, meta, checksum, str(model_dir)).product_id, 4, 192, 192)
            for j, _ in jobs[1:]
            for _ in range(4)
        ]
        assert_that(shapes, equal_to(expected), label="blocks")
        assert_that(
            out[EXISTING] | beam.Map(lambda r: r.product_id), equal_to([done.product_id]), label="existing"
        )


def test_the_block_size_is_part_of_the_product_id(pipe_scenes: Path, tmp_path: Path) -> None:
    """Another block layout gives (slightly) other pixels, so it is another product: the same
    job with block_size 128 and 256 must not be skipped as the other's existing product."""
    request = pipe_request(pipe_scenes, tmp_path / "out")
    job = _jobs(request)[0][0]
    meta = get_metadata("starfm")
    model_dir = resolve_model("starfm")
    checksum = package_checksum(model_dir)
    a, b = (_spec(job, meta, checksum, str(model_dir), size) for size in (128, 256))
    assert a.product_id != b.product_id and a.cog_path(request.output) != b.cog_path(request.output)
    assert a.product_id == _spec(job, meta, checksum, str(model_dir), 128).product_id


def _block_jobs(request: Any, n: int = 1) -> list[BlockJob]:
    meta = get_metadata(request.model)
    model_dir = resolve_model(request.model)
    job, tile = _jobs(request)[0]
    spec = _spec(job, meta, package_checksum(model_dir), str(model_dir))
    blocks = plan_blocks(*tile.shape, request.block_size, 32, align=16)
    return [BlockJob(job, tile, spec, b, len(blocks)) for b in blocks[:n]]


def test_read_blocks_gives_finite_model_inputs_and_dead_letters_a_truncated_cog(
    pipe_scenes: Path, tmp_path: Path
) -> None:
    scenes = tmp_path / "scenes"
    shutil.copytree(pipe_scenes, scenes)
    request = pipe_request(scenes, tmp_path / "out")
    good, bad = _block_jobs(request, 2)
    href = bad.job.pairs[0].fine.scene.bands["red"]
    # The bad block reads the same files, so break a file only the second element sees:
    # a copy of the scene whose red band is truncated.
    from dataclasses import replace

    broken_href = str(tmp_path / "truncated_SR_B4.TIF")
    data = Path(href).read_bytes()
    Path(broken_href).write_bytes(data[: len(data) // 3])
    fine = replace(
        bad.job.pairs[0].fine.scene, bands={**bad.job.pairs[0].fine.scene.bands, "red": broken_href}
    )
    pair = replace(bad.job.pairs[0], fine=replace(bad.job.pairs[0].fine, scene=fine))
    bad = replace(bad, job=replace(bad.job, pairs=(pair, *bad.job.pairs[1:])))
    meta = get_metadata("starfm")

    def check(payload: Any) -> tuple[int, bool, bool]:
        arrays = payload.inputs.arrays
        return (
            len(arrays),
            all(np.isfinite(a).all() for a in arrays.values()),
            arrays["fine_tk1"].shape == (192, 192, 6) and arrays["coarse_t0"].shape == (12, 12, 6),
        )

    with BeamTestPipeline() as p:
        out = p | beam.Create([good, bad]) | ReadBlocks(TASK, JobModels.single("starfm", meta, ""))
        assert_that(out[MAIN] | beam.Map(check), equal_to([(7, True, True)]), label="inputs")
        dead = out[DEAD_LETTER] | beam.Map(lambda r: (r.stage, r.kind, r.asset))
        assert_that(dead, equal_to([("read", "failed", broken_href)]), label="dead")


@pytest.mark.slow
def test_fuse_blocks_runs_the_model_package_through_run_inference(pipe_scenes: Path, tmp_path: Path) -> None:
    request = pipe_request(pipe_scenes, tmp_path / "out")
    meta = get_metadata("starfm")
    payloads = []
    for bj in _block_jobs(request, 2):
        inputs = read_block(bj.job, bj.tile, bj.block, meta, bj.spec.product_id, bj.n_blocks)
        payloads.append(BlockPayload(inputs, bj.spec, bj.tile))

    def check(out: BlockOutput) -> tuple[tuple[int, ...], bool, bool]:
        return out.fused.shape, bool(np.isfinite(out.fused[:, out.valid]).all()), bool(out.valid.mean() > 0.2)

    with BeamTestPipeline() as p:
        out = p | beam.Create(payloads) | FuseBlocks(str(resolve_model("starfm")))
        assert_that(out[MAIN] | beam.Map(check), equal_to([((6, 128, 128), True, True)] * 2), label="fused")
        assert_that(out[DEAD_LETTER], equal_to([]), label="none failed")


def test_assemble_products_writes_complete_products_only(pipe_scenes: Path, tmp_path: Path) -> None:
    request = pipe_request(pipe_scenes, tmp_path / "out")
    bjs = _block_jobs(request, 4)
    outputs = []
    for bj in bjs:
        out = BlockOutput.empty(bj.spec, bj.tile, bj.block, bj.n_blocks)
        out.fused[:] = 0.1 * (1 + bj.block.index[0])
        out.valid[:] = True
        outputs.append(out)
    from dataclasses import replace

    other = replace(bjs[0].spec, product_id=bjs[0].spec.product_id + "-other")
    incomplete = replace(outputs[0], spec=other)
    # A product whose every block was dead-lettered upstream still gets a product-level record.
    lost = [BlockFailed(bjs[0].spec.product_id + "-lost", bj.block, bj.n_blocks) for bj in bjs]
    with BeamTestPipeline() as p:
        out = p | beam.Create([*outputs, incomplete, *lost]) | AssembleProducts(request.output)
        assert_that(out[MAIN] | beam.Map(lambda r: r.status), equal_to(["written"]), label="written")
        dead = out[DEAD_LETTER] | beam.Map(lambda r: (r.key, r.reason.split(" (")[0]))
        expected = [
            (other.product_id, "incomplete: 1 of 4 blocks fused, 0 dead-lettered"),
            (bjs[0].spec.product_id + "-lost", "incomplete: 0 of 4 blocks fused, 4 dead-lettered"),
        ]
        assert_that(dead, equal_to(expected), label="incomplete")
    cog = bjs[0].spec.cog_path(request.output)
    with rasterio.open(cog) as src:
        data = src.read()
        assert src.nodata == NODATA and src.dtypes[0] == "int16"
    assert data[:, :128].min() == 1000 and data[:, 128:].max() == 2000
    assert not Path(other.item_path(request.output)).exists()


def test_publish_stac_lists_products_and_rewrites_nothing_unchanged(
    pipe_scenes: Path, tmp_path: Path
) -> None:
    request = pipe_request(pipe_scenes, tmp_path / "out", model="naive")
    run_fusion(request, tmp_path / "report")
    catalog = Path(request.output) / "catalog.json"
    before = catalog.stat().st_mtime_ns
    with BeamTestPipeline() as p:
        written = p | beam.Create([{"product_id": "x"}]) | PublishStac(request.output)
        assert_that(written[MAIN], equal_to([[]]))
    assert catalog.stat().st_mtime_ns == before
    assert (
        json.loads(catalog.read_text())["links"][1]["href"]
        == "./eo-fusion-spatiotemporal-naive/collection.json"
    )


# ------------------------------------------------------------------ whole runs


@pytest.fixture(scope="module")
def starfm_run(pipe_scenes: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    root = tmp_path_factory.mktemp("run")
    request = pipe_request(pipe_scenes, root / "products")
    summary = run_fusion(request, root / "report")
    return request, summary, root


@pytest.mark.slow
def test_run_writes_valid_cogs_and_a_valid_self_contained_catalog(starfm_run: Any, tmp_path: Path) -> None:
    request, summary, _ = starfm_run
    assert summary.written, summary.text()
    assert not [r for r in summary.dead_letters if r["kind"] == "failed"], summary.text()
    out = Path(request.output)
    cogs = sorted(out.rglob("*.tif"))
    assert len(cogs) == len(summary.written)
    for cog in cogs:
        valid, errors, _ = is_valid_cog(cog)
        assert valid, (cog, errors)
        with rasterio.open(cog) as src:
            assert src.nodata == NODATA and src.count == 6 and src.overviews(1)
    code, results, text = stac_validate_recursive(out / "catalog.json", tmp_path)
    assert code == 0, text
    assert results and all(r["valid_stac"] for r in results)
    assert broken_links_and_assets(out / "catalog.json") == []
    for item_path in out.glob("eo-fusion-*/*/*/*.json"):
        item = json.loads(item_path.read_text())
        derived = [lk for lk in item["links"] if lk["rel"] == "derived_from"]
        assert len(derived) >= 3  # target + at least one (fine, coarse) pair
        for link in derived:
            target = json.loads((item_path.parent / link["href"]).read_text())
            assert target["type"] == "Feature"
        data = item["assets"]["data"]
        assert data["file:checksum"].startswith("1220") and len(data["file:checksum"]) == 68
        assert data["raster:bands"][0]["scale"] == 1e-4 and data["raster:bands"][0]["nodata"] == -9999
        assert item["properties"]["eo-fusion:model"]["checksum"].startswith("sha256:")
        assert item["properties"]["proj:code"].startswith("EPSG:") and "proj:epsg" not in item["properties"]
        inputs = [lk for lk in derived if not lk["title"].startswith("model: ")]
        assert inputs and all(Path(lk["href"]).is_absolute() for lk in inputs)
        # The model link stays inside the folder (relative), so it survives the copy below.
        (model_link,) = [lk for lk in derived if lk["title"].startswith("model: ")]
        assert model_link["href"].startswith("../") and (item_path.parent / model_link["href"]).exists()
    # The products folder copied elsewhere keeps every link and asset.
    copy = tmp_path / "elsewhere" / "products"
    shutil.copytree(out, copy)
    assert broken_links_and_assets(copy / "catalog.json") == []
    copied = sorted(copy.glob("eo-fusion-*/*/*/*.json"))
    assert len(copied) == len(summary.written)


@pytest.mark.slow
def test_products_describe_themselves(starfm_run: Any) -> None:
    """Items validate with pystac against the core STAC 1.1 schemas (pystac's bundled copies,
    offline) and read back through pystac's extension classes; the collection names licence,
    providers, keywords and item_assets; the model is copied beside the products as a STAC MLM
    Item that every product links to; COG bands carry their wavelengths."""
    import pystac
    from pystac.extensions.eo import EOExtension
    from pystac.extensions.grid import GridExtension
    from pystac.extensions.mlm import MLMExtension
    from pystac.extensions.projection import ProjectionExtension
    from pystac.extensions.raster import RasterExtension

    from fusion.models.package import package_checksum as checksum_of
    from fusion.sensors import get_sensor

    request, summary, _ = starfm_run
    out = Path(request.output)
    oli = {b.common_name: b for b in get_sensor("landsat-oli").bands}
    items = sorted(out.glob("eo-fusion-*/*/*/*.json"))
    assert len(items) == len(summary.written)
    for item_path in items:
        data = json.loads(item_path.read_text())
        # Core schema, offline: the extension schemas are not bundled by any package (see
        # tests/schemas/), so they are left out of this call and checked field by field below.
        assert pystac.validation.validate_dict({**data, "stac_extensions": []})
        item = pystac.Item.from_dict(data)
        proj = ProjectionExtension.ext(item)
        assert proj.code == "EPSG:32614" and proj.shape == [256, 256]
        assert GridExtension.ext(item).code == f"EOFUSION-256PX-{data['properties']['eo-fusion:tile']}"
        asset = item.assets["data"]
        bands = EOExtension.ext(asset).bands
        assert [b.name for b in bands] == ["blue", "green", "red", "nir08", "swir16", "swir22"]
        for band in bands:
            assert band.center_wavelength == oli[band.common_name].center_wavelength
            assert band.full_width_half_max == oli[band.common_name].full_width_half_max
        raster = RasterExtension.ext(asset).bands
        assert raster and {(r.scale, r.offset, r.nodata, r.unit) for r in raster} == {
            (1e-4, 0.0, -9999, "reflectance")
        }
        assert data["properties"]["eo-fusion:input_collections"] == ["landsat-c2-l2", "modis-09A1-061"]
        assert "href" not in data["properties"]["eo-fusion:model"]  # no path of the machine that ran it
    # COG band metadata: GDAL's IMAGERY domain wavelengths.
    with rasterio.open(items[0].with_suffix(".tif")) as src:
        tags = src.tags(4, ns="IMAGERY")
        assert float(tags["CENTRAL_WAVELENGTH_UM"]) == oli["nir08"].center_wavelength
        assert float(tags["FWHM_UM"]) == oli["nir08"].full_width_half_max
    # The product collection: licence, providers (the inputs' own, and eo-fusion), item_assets.
    (coll_path,) = out.glob("eo-fusion-*/collection.json")
    coll_data = json.loads(coll_path.read_text())
    assert pystac.validation.validate_dict({**coll_data, "stac_extensions": []})
    coll = pystac.Collection.from_dict(coll_data)
    assert coll.license not in ("proprietary", "various")
    scenes = Path(request.catalog) if Path(request.catalog).is_dir() else Path(request.catalog).parent
    simulated = json.loads((scenes / "landsat-c2-l2" / "collection.json").read_text())
    assert coll.license == simulated["license"]
    names = {p.name: p.roles for p in coll.providers or []}
    assert names["eo-fusion"] == ["processor"] and "eo-fusion simulator" in names
    assert {"eo-fusion", "starfm", "spatiotemporal"} <= set(coll.keywords or [])
    assert set(coll.item_assets) == {"data", "thumbnail"}
    assert len(coll.item_assets["data"].properties["eo:bands"]) == 6
    # The model: package copied once, described as an MLM Item, checksum intact.
    (model_item_path,) = out.glob("models/*/*.json")
    model = pystac.Item.from_dict(json.loads(model_item_path.read_text()))
    assert pystac.validation.validate_dict({**model.to_dict(), "stac_extensions": []})
    assert MLMExtension.has_extension(model) and model.properties["mlm:name"] == "starfm"
    assert model.properties["eo-fusion:model"]["checksum"] == f"sha256:{checksum_of(resolve_model('starfm'))}"
    assert checksum_of(model_item_path.parent / "package") == checksum_of(resolve_model("starfm"))
    for asset in model.assets.values():
        assert (model_item_path.parent / asset.href).is_file()
    catalog = json.loads((out / "catalog.json").read_text())
    assert "./models/collection.json" in [lk["href"] for lk in catalog["links"] if lk["rel"] == "child"]


def test_second_run_writes_nothing_and_reports_existing(starfm_run: Any) -> None:
    request, first, root = starfm_run
    out = Path(request.output)
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}
    again = run_fusion(request, root / "report-2")
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert again.written == []
    assert sorted(p["product_id"] for p in again.existing) == sorted(p["product_id"] for p in first.written)
    assert f"skipped as existing: {len(first.written)}" in again.text()


@pytest.mark.slow
def test_same_request_gives_same_paths_and_pixels(starfm_run: Any, tmp_path: Path) -> None:
    request, _, _ = starfm_run
    from dataclasses import replace

    other = replace(request, output=str(tmp_path / "again"))
    run_fusion(other, tmp_path / "report")
    a = sorted(p.relative_to(request.output) for p in Path(request.output).rglob("*.tif"))
    b = sorted(p.relative_to(other.output) for p in Path(other.output).rglob("*.tif"))
    assert a == b
    for rel in a:
        with rasterio.open(Path(request.output) / rel) as x, rasterio.open(Path(other.output) / rel) as y:
            assert np.array_equal(x.read(), y.read())


@pytest.mark.slow
def test_truncated_cog_and_all_cloud_target_are_dead_lettered(pipe_scenes: Path, tmp_path: Path) -> None:
    scenes = tmp_path / "scenes"
    shutil.copytree(pipe_scenes, scenes)
    request = pipe_request(scenes, tmp_path / "products")
    jobs = _jobs(request)
    assert len(jobs) >= 2, "need two fusion dates to break one of each"
    # 1. all-cloud target: set every QA value of the first job's MODIS target to "cloudy".
    target = jobs[0][0].target.scene
    with rasterio.open(target.qa_href) as src:
        qa, transform, crs, nodata = src.read(1), src.transform, src.crs, src.nodata
    # MOD09 state bits 0-1 = 01: cloudy, everywhere.
    write_cog(target.qa_href, np.full_like(qa, 0b01), transform=transform, crs=crs.to_wkt(), nodata=nodata)
    # 2. truncated COG: cut the red band of the second job's nearest Landsat reference.
    red = Path(jobs[1][0].pairs[0].fine.scene.bands["red"])
    blob = red.read_bytes()
    red.write_bytes(blob[: len(blob) // 2])
    summary = run_fusion(request, tmp_path / "report")
    by_stage = {(r["stage"], r["kind"]) for r in summary.dead_letters}
    cloudy = [r for r in summary.dead_letters if r["stage"] == "pair" and "too cloudy" in r["reason"]]
    assert any(target.id in r["key"] and r["asset"] == target.qa_href for r in cloudy), summary.dead_letters
    broken = [r for r in summary.dead_letters if r["kind"] == "failed" and r["asset"] == str(red)]
    assert broken and all(r["stage"] in ("read", "assess") for r in broken), summary.dead_letters
    assert ("read", "failed") in by_stage
    incomplete = [r for r in summary.dead_letters if r["stage"] == "assemble"]
    assert incomplete and all("incomplete" in r["reason"] and r["kind"] == "failed" for r in incomplete)
    assert {r["key"] for r in incomplete} == {r["key"].split("/")[0] for r in broken}
    assert all(r["key"].startswith("spatiotemporal-starfm-") and "/block-" in r["key"] for r in broken)
    text = summary.text()
    assert "too cloudy" in text and "failed" in text
    assert f"dead-letter records: {len(summary.dead_letters)}" in text
    # The rest of the run completed: every job that used neither broken input was written.
    assert summary.written, text
    assert (tmp_path / "report" / "dead-letter.jsonl").read_text().count("\n") == len(summary.dead_letters)


def test_fuse_blocks_dead_letters_a_failing_batch(pipe_scenes: Path, tmp_path: Path) -> None:
    request = pipe_request(pipe_scenes, tmp_path / "out")
    meta = get_metadata("starfm")
    (bj,) = _block_jobs(request, 1)
    inputs = read_block(bj.job, bj.tile, bj.block, meta, bj.spec.product_id, bj.n_blocks)
    del inputs.arrays["coarse_t0"]  # the model cannot run without its target
    with BeamTestPipeline() as p:
        out = (
            p
            | beam.Create([BlockPayload(inputs, bj.spec, bj.tile)])
            | FuseBlocks(str(resolve_model("starfm")))
        )
        assert_that(out[MAIN], equal_to([]), label="nothing fused")
        dead = out[DEAD_LETTER] | beam.Map(
            lambda r: (r.stage, "coarse_t0" in r.reason, r.key.endswith("block-0-0"))
        )
        assert_that(dead, equal_to([("inference", True, True)]), label="dead")


@pytest.mark.parametrize("fine_per_tile", [True, False])
def test_scene_read_cache_reads_scenes_once_per_tile_and_matches_block_reads(
    pipe_scenes: Path, tmp_path: Path, fine_per_tile: bool
) -> None:
    from fusion.blockio import SceneReadCache

    request = pipe_request(pipe_scenes, tmp_path / "out")
    block_jobs = _block_jobs(request, 4)
    meta = get_metadata("starfm")
    first = block_jobs[0]
    # Just small enough that a fine tile does not fit (a big tile): fine scenes per block.
    cache = SceneReadCache() if fine_per_tile else SceneReadCache(max_bytes=16 * 2**20)
    assert cache.fine_per_tile(first.tile, first.block, len(meta.bands)) is fine_per_tile
    job = first.job
    coarse_scenes = {job.target.scene.id} | {p.coarse.scene.id for p in job.pairs[: meta.reference_pairs[1]]}
    for bj in block_jobs:
        direct = read_block(bj.job, bj.tile, bj.block, meta, "p", bj.n_blocks)
        cached = read_block(bj.job, bj.tile, bj.block, meta, "p", bj.n_blocks, cache)
        assert direct.arrays.keys() == cached.arrays.keys()
        for name, array in direct.arrays.items():
            assert cached.arrays[name].shape == array.shape, name
            # Bit-identical: read_asset warps with the exact transformer, so a pixel does not
            # depend on the window it is warped in.
            np.testing.assert_array_equal(cached.arrays[name], array, err_msg=name)
        np.testing.assert_array_equal(cached.output_valid, direct.output_valid)
    fine_scenes = {p.fine.scene.id for p in job.pairs[: meta.reference_pairs[1]]}
    # coarse scenes once per tile, fine scenes once per tile or once per block
    fine_reads = len(fine_scenes) * (1 if fine_per_tile else len(block_jobs))
    assert cache.reads == len(coarse_scenes) + fine_reads
    reads = cache.reads
    for bj in block_jobs:  # another product of the tile with the same references reads nothing
        again = read_block(bj.job, bj.tile, bj.block, meta, "q", bj.n_blocks, cache)
        assert again.arrays.keys() == direct.arrays.keys()
    assert cache.reads == reads
    tiny = SceneReadCache(max_bytes=1)  # keeps only the latest entry
    read_block(first.job, first.tile, first.block, meta, "p", first.n_blocks, tiny)
    once = tiny.reads
    read_block(first.job, first.tile, first.block, meta, "p", first.n_blocks, tiny)
    assert tiny.reads == 2 * once
