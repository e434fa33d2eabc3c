"""A task is a plug-in: a toy task and an identity model defined only here run through the real
pipeline (``build_pipeline`` on the DirectRunner) and publish a valid COG and Item.

Nothing under fusion/ or pipelines/ knows this task: it is registered with
``fusion.tasks.register_task`` and its model package is exported into ``tmp_path``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import pytest
import rasterio
from rasterio.enums import Resampling

from fusion.blockio import GridWindow, SceneReadCache, fill_invalid, read_scene
from fusion.catalog import scene_from_item
from fusion.grid import Block, Tile, Window
from fusion.models.package import ModelMetadata, TensorSpecJson, export_package
from fusion.pairing import FusionJob, Observation, PairingConfig, Skip
from fusion.publish import from_int16
from fusion.request import FusionRequest
from fusion.tasks import (
    BlockRead,
    FusionTask,
    JobLineage,
    Role,
    get_task,
    list_tasks,
    register_task,
    unregister_task,
)
from pipelines.run import run_fusion
from tests.helpers import is_valid_cog, stac_validate_recursive
from tests.pipeline_fixtures import PIPE_TILE

BANDS = ("red", "green", "blue")


class ToyTask(FusionTask):
    """Every clear-enough fine scene, as it is: the smallest task there is."""

    name = "toy-copy"
    description = "copy clear Landsat-like scenes onto the grid (a test plug-in)"
    default_model = "none"
    roles = (Role("image", "landsat-c2-l2", defines_grid=True),)
    input_roles = ("image",)
    metrics = ("rmse",)

    def search_period(
        self, start: dt.date, end: dt.date, pairing: PairingConfig, with_targets: bool = False
    ) -> tuple[dt.date, dt.date]:
        return start, end

    def jobs(
        self,
        observations: Sequence[Observation],
        pairing: PairingConfig,
        period: tuple[dt.date, dt.date] | None = None,
    ) -> tuple[list[FusionJob], list[Skip]]:
        jobs, skips = [], []
        for obs in observations:
            if obs.clear_fraction >= pairing.min_target_clear:
                jobs.append(FusionJob(obs.tile_id, obs, ()))
            else:
                skips.append(Skip(obs.tile_id, obs.date, obs.scene.id, "toy: too cloudy", obs.scene.qa_href))
        return jobs, skips

    def lineage(self, job: FusionJob, metadata: ModelMetadata) -> JobLineage:
        scene = job.target.scene
        return JobLineage((("image", scene.id, scene.item_href),), scene.start_datetime, scene.end_datetime)

    def read_block(
        self,
        job: FusionJob,
        tile: Tile,
        block: Block,
        metadata: ModelMetadata,
        cache: SceneReadCache | None = None,
    ) -> BlockRead:
        grid = GridWindow.of(tile, block.read)
        arrays, usable, nbytes = {}, None, 0
        for spec in metadata.inputs:
            got = read_scene(job.target.scene, spec.bands, grid, Resampling.nearest)
            arrays[spec.name] = fill_invalid(got.reflectance)
            usable = got.usable if usable is None else usable & got.usable
            nbytes += got.reflectance.nbytes
        return BlockRead(arrays, usable, nbytes)


@pytest.fixture
def toy_task() -> Iterator[FusionTask]:
    task = register_task(ToyTask())
    yield task
    unregister_task(task.name)


def identity_package(path: Path) -> Path:
    import tensorflow as tf

    metadata = ModelMetadata(
        name="identity",
        version="1",
        task=ToyTask.name,
        description="returns its input",
        bands=BANDS,
        inputs=(TensorSpecJson("image", "image", "t0", 1, BANDS),),
    )
    return export_package(path, metadata, lambda image: {"fused": tf.identity(image)}, jit_compile=False)


def test_a_task_and_model_defined_in_a_test_run_end_to_end(
    toy_task: FusionTask, pipe_scenes: Path, tmp_path: Path
) -> None:
    assert ToyTask.name in list_tasks() and get_task(ToyTask.name) is toy_task
    package = identity_package(tmp_path / "identity")
    request = FusionRequest(
        catalog=str(pipe_scenes),
        output=str(tmp_path / "out"),
        start=dt.date(2023, 6, 1),
        end=dt.date(2023, 6, 30),
        task=ToyTask.name,
        model=str(package),
        tile_size=256,
        block_size=128,
        tiles=(PIPE_TILE,),
    )
    assert request.collections == {"image": "landsat-c2-l2"}
    summary = run_fusion(request, tmp_path / "report")
    assert summary.written, summary.text()
    assert not [r for r in summary.dead_letters if r["kind"] == "failed"], summary.text()

    item_path = Path(summary.written[0]["item"])
    item = json.loads(item_path.read_text())
    assert item["collection"] == f"eo-fusion-{ToyTask.name}-identity"
    cog = item_path.with_suffix(".tif")
    ok, errors, _ = is_valid_cog(cog)
    assert ok, errors
    rc, results, text = stac_validate_recursive(Path(request.output) / "catalog.json", tmp_path)
    # catalog, product collection and Item, models collection and the model's MLM Item
    assert rc == 0 and len(results) == 5 and all(r["valid_stac"] for r in results), text

    # Identity: the product is the Landsat scene it names on the tile, to the int16 step.
    derived = [
        lk["href"]
        for lk in item["links"]
        if lk["rel"] == "derived_from" and not lk["title"].startswith("model: ")
    ]
    assert len(derived) == 1
    scene = scene_from_item(pystac.Item.from_file(str((item_path.parent / derived[0]).resolve())))
    tile = request.grid([scene]).tile_by_id(PIPE_TILE)
    truth = read_scene(scene, BANDS, GridWindow.of(tile, Window(0, 0, *tile.shape)), Resampling.nearest)
    with rasterio.open(cog) as src:
        fused = np.moveaxis(from_int16(src.read()), 0, -1)
    both = np.isfinite(fused).all(axis=-1) & truth.usable
    assert both.mean() > 0.5
    assert np.abs(fused[both] - truth.reflectance[both]).max() <= 0.5e-4 + 1e-6


@pytest.mark.parametrize(
    ("name", "make_output", "reason"),
    [
        ("times-ten", lambda tf, image: image * 10.0 + 3.0, "outside the physical range"),
        ("all-nan", lambda tf, image: image * float("nan"), "not finite on any"),
    ],
)
def test_a_model_fusing_garbage_is_dead_lettered_as_a_model_fault(
    toy_task: FusionTask, pipe_scenes: Path, tmp_path: Path, name: str, make_output: Any, reason: str
) -> None:
    """A package whose output is no reflectance (|value| far above 2, or NaN everywhere) writes
    no product; every block is dead-lettered as a model fault and the summary says so."""
    import tensorflow as tf

    metadata = ModelMetadata(
        name=name,
        version="1",
        task=ToyTask.name,
        description="a broken model",
        bands=BANDS,
        inputs=(TensorSpecJson("image", "image", "t0", 1, BANDS),),
    )
    package = export_package(
        tmp_path / name, metadata, lambda image: {"fused": make_output(tf, image)}, jit_compile=False
    )
    request = FusionRequest(
        catalog=str(pipe_scenes),
        output=str(tmp_path / "out"),
        start=dt.date(2023, 6, 1),
        end=dt.date(2023, 6, 30),
        task=ToyTask.name,
        model=str(package),
        tile_size=256,
        block_size=128,
        tiles=(PIPE_TILE,),
    )
    summary = run_fusion(request, tmp_path / "report")
    assert not summary.written, summary.text()
    faults = [r for r in summary.dead_letters if r["stage"] == "inference"]
    assert faults and all("model fault" in r["reason"] and reason in r["reason"] for r in faults)
    assert summary.counters.get("blocks_model_fault") == len(faults)
    assert "model fault" in summary.text()
    assert not list((tmp_path / "out").rglob("*.tif"))
