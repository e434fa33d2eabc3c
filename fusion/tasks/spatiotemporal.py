"""The ``spatiotemporal`` task (seed 001): coarse(t0), fine(tk), coarse(tk) → fine(t0).

Landsat-like fine scenes and MODIS-like coarse scenes on an aligned grid whose pixel is an
integer multiple (``coarse_ratio``) of the fine pixel. Every clear-enough coarse observation
without a clear fine observation of its own is a target; its references are the nearest clear
fine/coarse pairs before and after it (:func:`fusion.pairing.pair_tile`).

A model reads, per declared input spec: ``coarse``/``t0`` the target, ``fine``/``tkK`` and
``coarse``/``tkK`` the K-th reference pair (nearest first), ``valid``/``tkK`` where both of
that pair are usable. A model that can use more pairs than a job has gets an all-invalid
stand-in for the missing ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
from rasterio.enums import Resampling

from fusion.blockio import (
    FloatArray,
    GridWindow,
    SceneBlock,
    SceneReadCache,
    fill_invalid,
    read_scene,
    upsample_mask,
)
from fusion.catalog import Scene
from fusion.errors import ModelPackageError
from fusion.grid import Block, Tile
from fusion.models.package import ModelMetadata, TensorSpecJson
from fusion.pairing import FusionJob, Observation, PairingConfig, Skip, pair_tile
from fusion.tasks import SPATIOTEMPORAL
from fusion.tasks.base import BlockRead, FusionTask, InputItem, JobLineage, Role

NAME = SPATIOTEMPORAL


class SpatiotemporalTask(FusionTask):
    name = NAME
    description = "coarse(t0), fine(tk), coarse(tk) -> fine(t0): Landsat-like images on MODIS dates"
    default_model = "starfm"
    roles = (
        Role("fine", "landsat-c2-l2", defines_grid=True, description="fine scenes (references)"),
        Role("coarse", "modis-09A1-061", description="coarse scenes (targets and references)"),
    )
    input_roles = ("fine", "coarse", "valid")
    input_times = ("t0", "tk1", "tk2")
    metrics = ("rmse", "r2", "kge", "ssim")  # seed 001 Tables 1-3

    def search_period(
        self, start: dt.date, end: dt.date, pairing: PairingConfig, with_targets: bool = False
    ) -> tuple[dt.date, dt.date]:
        # References may lie up to the maximum gap outside the target period.
        gap = dt.timedelta(days=pairing.max_gap_days)
        return start - gap, end + gap

    def qa_factors(self, coarse_ratio: int) -> dict[str, int]:
        return {"fine": 8, "coarse": coarse_ratio}

    def jobs(
        self,
        observations: Sequence[Observation],
        pairing: PairingConfig,
        period: tuple[dt.date, dt.date] | None = None,
    ) -> tuple[list[FusionJob], list[Skip]]:
        return pair_tile(observations, pairing, period)

    def lineage(self, job: FusionJob, metadata: ModelMetadata) -> JobLineage:
        pairs = job.pairs[: metadata.reference_pairs[1]]
        inputs: list[InputItem] = [("target", job.target.scene.id, job.target.scene.item_href)]
        for k, pair in enumerate(pairs, start=1):
            inputs.append((f"fine_tk{k}", pair.fine.scene.id, pair.fine.scene.item_href))
            inputs.append((f"coarse_tk{k}", pair.coarse.scene.id, pair.coarse.scene.item_href))
        scene = job.target.scene
        scenes = [scene] + [s for p in pairs for s in (p.fine.scene, p.coarse.scene)]
        return JobLineage(
            tuple(inputs),
            scene.start_datetime,
            scene.end_datetime,
            tuple(p.date for p in pairs),
            input_collections=tuple(sorted({s.collection for s in scenes})),
            # The products are fine-sensor images of the target date: that sensor's bands.
            output_sensor=pairs[0].fine.scene.sensor if pairs else None,
        )

    def check_model(self, metadata: ModelMetadata, source: str = "") -> None:
        super().check_model(metadata, source)
        if metadata.input("coarse", "t0") is None:
            raise ModelPackageError(
                f"model {metadata.name!r}: a {self.name} model needs a coarse/t0 input (the target)"
            )

    def read_block(
        self,
        job: FusionJob,
        tile: Tile,
        block: Block,
        metadata: ModelMetadata,
        cache: SceneReadCache | None = None,
    ) -> BlockRead:
        """Read the target and reference pairs of ``job`` for ``block``, each input spec with
        its own bands. With ``cache`` (the pipeline's readers keep one) scenes are read once per
        tile (see :class:`~fusion.blockio.SceneReadCache`)."""
        ratio = metadata.coarse_ratio
        fine_grid = GridWindow.of(tile, block.read)
        coarse_grid = GridWindow.of(tile, block.read, ratio)
        reads: dict[tuple[str, str, tuple[str, ...]], SceneBlock] = {}

        def read(scene: Scene, role: str, bands: tuple[str, ...]) -> SceneBlock:
            key = (scene.id, role, bands)
            if key not in reads:
                if role == "coarse":
                    reads[key] = (
                        read_scene(scene, bands, coarse_grid, Resampling.average)
                        if cache is None
                        else cache.coarse(scene, bands, tile, block, ratio, Resampling.average)
                    )
                else:
                    reads[key] = (
                        read_scene(scene, bands, fine_grid, Resampling.nearest)
                        if cache is None
                        else cache.fine(scene, bands, tile, block, Resampling.nearest)
                    )
            return reads[key]

        def spec_bands(role: str, time: str) -> tuple[str, ...]:
            spec: TensorSpecJson | None = metadata.input(role, time)
            return spec.bands if spec is not None else metadata.bands

        target = read(job.target.scene, "coarse", spec_bands("coarse", "t0"))
        max_pairs = metadata.reference_pairs[1]
        pairs = list(job.pairs[:max_pairs])
        arrays: dict[str, FloatArray] = {}
        any_pair = np.zeros((fine_grid.height, fine_grid.width), dtype=bool)
        pair_valid: dict[str, np.ndarray] = {}
        for k in range(1, max_pairs + 1):
            time = f"tk{k}"
            if k <= len(pairs):
                fine = read(pairs[k - 1].fine.scene, "fine", spec_bands("fine", time))
                coarse = read(pairs[k - 1].coarse.scene, "coarse", spec_bands("coarse", time))
                valid = fine.usable & upsample_mask(coarse.usable, ratio)
            else:  # fewer pairs than the model can use: an all-invalid stand-in it ignores
                valid = np.zeros_like(any_pair)
            pair_valid[time] = valid
            any_pair |= valid
        for spec in metadata.inputs:
            if spec.role == "valid":
                arrays[spec.name] = pair_valid[spec.time][..., np.newaxis].astype(np.float32)
            elif spec.time == "t0":
                arrays[spec.name] = fill_invalid(read(job.target.scene, spec.role, spec.bands).reflectance)
            else:
                k = min(int(spec.time[2:]), len(pairs))  # a stand-in repeats the first pair
                pair = pairs[k - 1]
                scene = pair.fine.scene if spec.role == "fine" else pair.coarse.scene
                arrays[spec.name] = fill_invalid(read(scene, spec.role, spec.bands).reflectance)
        return BlockRead(
            arrays=arrays,
            output_valid=upsample_mask(target.usable, ratio) & any_pair,
            bytes_read=sum(r.reflectance.nbytes for r in reads.values()),
            notes={"target_usable": target.usable_fraction},
        )


TASK = SpatiotemporalTask()
