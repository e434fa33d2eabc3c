"""PlanBlocks → ReadBlocks: a product spec per job (finished products are skipped), halo
blocks, and each block's model inputs as the task reads them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.metrics.metric import Metrics
from apache_beam.pvalue import PCollection

from fusion.blockfuse import has_usable_core, plan_product_blocks
from fusion.blockio import SceneReadCache
from fusion.errors import FusionError
from fusion.grid import Tile
from fusion.models.auto import JobModels, MethodChoice, PackageRef
from fusion.models.package import ModelMetadata
from fusion.pairing import FusionJob
from fusion.publish import ProductSpec, product_spec
from fusion.tasks import FusionTask
from pipelines.records import (
    DEAD_LETTER,
    EMPTY,
    EXISTING,
    FAILED_BLOCKS,
    MAIN,
    NAMESPACE,
    REDONE,
    BlockFailed,
    BlockJob,
    BlockOutput,
    BlockPayload,
    dead_letter,
    product_record,
)
from pipelines.stages import common
from pipelines.stages.common import asset_of, count


def job_product(
    job: FusionJob,
    task: FusionTask,
    metadata: ModelMetadata,
    checksum: str,
    model_href: str,
    block_size: int,
    method: MethodChoice | None = None,
) -> ProductSpec:
    """The product ``job`` makes with the model in blocks of ``block_size``: its deterministic
    id, paths and lineage (``method``: a model choice's decision that picked this model)."""
    return product_spec(
        job,
        metadata,
        checksum,
        model_href,
        dict(metadata.parameters),
        task.lineage(job, metadata),
        block_size=block_size,
        method=method,
    )


def job_spec(
    job: FusionJob, task: FusionTask, models: JobModels, block_size: int
) -> tuple[ProductSpec, PackageRef]:
    """The product of ``job`` and the package that makes it (for a model choice, the one it
    picks for this job)."""
    package, method = models.for_job(job)
    spec = job_product(job, task, package.metadata, package.checksum, package.ref, block_size, method)
    return spec, package


@dataclass
class PlanBlocks(beam.PTransform[Any, Any]):
    """A product spec per job (with the package that fuses it); finished products are skipped;
    the rest cut into halo blocks.

    Outputs: :data:`MAIN` block jobs, :data:`EXISTING` records of the finished products, and
    :data:`DEAD_LETTER` a ``redone`` record for each product of an earlier run whose Item or
    COG does not check out (:meth:`ProductSpec.state`), which is planned again."""

    output: str
    task: FusionTask
    models: JobModels
    block_size: int

    def __post_init__(self) -> None:
        super().__init__()
        for package in self.models.packages:
            if self.block_size % package.align:
                raise ValueError(
                    f"block_size {self.block_size} must be a multiple of {package.align} for model "
                    f"{package.metadata.name!r} (its coarse ratio or source pixel sizes)"
                )

    def expand(self, jobs: PCollection) -> dict[str, PCollection]:
        output, task, models, size = self.output, self.task, self.models, self.block_size

        def plan(element: tuple[FusionJob, Tile]) -> Iterator[Any]:
            job, tile = element
            spec, package = job_spec(job, task, models, size)
            state = spec.state(output)
            if state.finished:
                count("products_existing")
                yield beam.pvalue.TaggedOutput(
                    EXISTING, product_record(spec, "exists", spec.item_path(output))
                )
                return
            if state.problem is not None:
                # A product of an earlier run that does not check out (cut short, corrupt,
                # changed): written again below, and said so in the run's records.
                count("products_redone")
                logging.getLogger("eo-fusion").warning(
                    "product %s: %s; redoing", spec.product_id, state.problem
                )
                yield beam.pvalue.TaggedOutput(
                    DEAD_LETTER,
                    dead_letter(
                        "plan",
                        f"{state.location}: {state.problem}; redoing the product",
                        key=spec.product_id,
                        asset=state.location,
                        kind=REDONE,
                    ),
                )
            blocks = plan_product_blocks(tile, package.metadata, size, package.align)
            count("blocks_planned", len(blocks))
            # Through the module: a closure's globals are pickled by value, a module by name.
            common.PROGRESS.plan()
            for block in blocks:
                yield BlockJob(job, tile, spec, block, len(blocks))

        out = jobs | "PlanBlocks" >> beam.FlatMap(plan).with_outputs(EXISTING, DEAD_LETTER, main=MAIN)
        return {MAIN: out[MAIN], EXISTING: out[EXISTING], DEAD_LETTER: out[DEAD_LETTER]}


class _ReadDoFn(beam.DoFn):
    def __init__(self, task: FusionTask, models: JobModels) -> None:
        self.task = task
        self.models = models
        self.bytes_read = Metrics.distribution(NAMESPACE, "block_bytes_read")
        self.cache: SceneReadCache | None = None

    def setup(self) -> None:
        # Per DoFn instance (one per worker thread): what one block read, the next may reuse.
        self.cache = SceneReadCache()

    def process(self, bj: BlockJob) -> Iterator[Any]:
        try:
            # Each product's own package's inputs (a model choice's products differ).
            metadata = self.models.package(bj.spec.model_href).metadata
            inputs = self.task.block_inputs(
                bj.job, bj.tile, bj.block, metadata, bj.spec.product_id, bj.n_blocks, self.cache
            )
        except FusionError as exc:
            count("blocks_dead_lettered")
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER, dead_letter("read", str(exc), key=bj.key, asset=asset_of(exc))
            )
            yield beam.pvalue.TaggedOutput(
                FAILED_BLOCKS, BlockFailed(bj.spec.product_id, bj.block, bj.n_blocks)
            )
            return
        count("blocks_read")
        self.bytes_read.update(inputs.bytes_read)
        if not has_usable_core(inputs):
            # Nothing to fuse here (target cloud/fill or no usable reference): the block is
            # nodata in the product, recorded so the summary says why.
            count("blocks_empty")
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER,
                dead_letter(
                    "read",
                    "no usable pixels in block (target all cloud/fill or no clear reference); "
                    "written as nodata",
                    key=bj.key,
                    asset=bj.job.target.scene.qa_href,
                    kind="skipped",
                ),
            )
            yield beam.pvalue.TaggedOutput(EMPTY, BlockOutput.empty(bj.spec, bj.tile, bj.block, bj.n_blocks))
            return
        yield BlockPayload(inputs, bj.spec, bj.tile)


@dataclass
class ReadBlocks(beam.PTransform[Any, Any]):
    """Each block's model inputs, read by the task along the input specs of its product's package."""

    task: FusionTask
    models: JobModels

    def __post_init__(self) -> None:
        super().__init__()

    def expand(self, blocks: PCollection) -> dict[str, PCollection]:
        out = blocks | "Read" >> beam.ParDo(_ReadDoFn(self.task, self.models)).with_outputs(
            DEAD_LETTER, FAILED_BLOCKS, EMPTY, main=MAIN
        )
        return {tag: out[tag] for tag in (MAIN, DEAD_LETTER, FAILED_BLOCKS, EMPTY)}
