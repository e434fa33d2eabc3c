"""The fusion pipeline (DESIGN.md §3) as composite Beam transforms.

SearchScenes → AssessScenes → PairScenes → PlanBlocks → ReadBlocks → FuseBlocks
(RunInference) → AssembleProducts → PublishStac. Every stage that can meet bad data has a
``dead_letter`` output of :class:`DeadLetter`-shaped dicts (stage, reason, asset, key) and
counts what it did in Beam counters (namespace ``eo-fusion``). The science lives in
``fusion``; these transforms only wrap it.

``build_pipeline(request, pipeline, report_dir)`` adds the graph to a pipeline without running
it, so tests can pass a ``TestPipeline``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import numpy as np
import numpy.typing as npt
from apache_beam.metrics.metric import Metrics
from apache_beam.ml.inference.base import ModelHandler, RunInference
from apache_beam.pvalue import DoOutputsTuple, PBegin, PCollection
from apache_beam.transforms import combiners, window

from fusion.blockio import BlockInputs, SceneReadCache, read_block, stack_batch, tile_clear_fraction
from fusion.errors import ConfigError, FusionError
from fusion.grid import Block, Tile, crop_halo, plan_blocks
from fusion.harmonize import block_alignment, harmonize_jobs, read_source_block
from fusion.models import resolve_model
from fusion.models.package import (
    LoadedModel,
    ModelMetadata,
    load_model_package,
    package_checksum,
    read_metadata,
)
from fusion.pairing import FusionJob, Observation, Skip, pair_tile
from fusion.publish import (
    ProductSpec,
    product_collections,
    product_spec,
    update_catalog,
    write_product,
)
from fusion.request import FusionRequest, SceneOnTile, check_request_credentials, search_scenes

NAMESPACE = "eo-fusion"
DEAD_LETTER = "dead_letter"
#: Markers of dead-lettered blocks, so AssembleProducts can refuse their products.
FAILED_BLOCKS = "failed_blocks"
log = logging.getLogger("eo-fusion")


def dead_letter(
    stage: str, reason: str, *, key: str = "", asset: str | None = None, kind: str = "failed"
) -> dict[str, Any]:
    """One dead-letter record: ``kind`` is ``failed`` (an error) or ``skipped`` (a decision)."""
    return {"stage": stage, "kind": kind, "key": key, "reason": reason, "asset": asset}


def _count(name: str, n: int = 1) -> None:
    Metrics.counter(NAMESPACE, name).inc(n)


def _asset_of(exc: FusionError) -> str | None:
    return getattr(exc, "asset", None)


# ------------------------------------------------------------------------------------------
# SearchScenes


@dataclass
class SearchScenes(beam.PTransform[Any, Any]):
    """The request's scenes per output tile, timestamped with their acquisition time."""

    request: FusionRequest

    def __post_init__(self) -> None:
        super().__init__()

    def expand(self, pbegin: PBegin) -> PCollection:
        def emit(request: FusionRequest) -> Iterator[Any]:
            found = search_scenes(request)
            _count("scenes_found", len({s.scene.id for s in found}))
            for s in found:
                yield window.TimestampedValue(s, s.scene.datetime.timestamp())

        return pbegin | "Request" >> beam.Create([self.request]) | "Search" >> beam.FlatMap(emit)


# ------------------------------------------------------------------------------------------
# AssessScenes


class _AssessDoFn(beam.DoFn):
    def __init__(self, coarse_factor: int, fine_factor: int) -> None:
        self.coarse_factor = coarse_factor
        self.fine_factor = fine_factor

    def process(self, item: SceneOnTile) -> Iterator[Any]:
        factor = self.coarse_factor if item.role == "coarse" else self.fine_factor
        try:
            clear = tile_clear_fraction(item.scene, item.tile, factor)
        except FusionError as exc:
            _count("scenes_dead_lettered")
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER,
                dead_letter(
                    "assess",
                    str(exc),
                    key=f"{item.tile.id}/{item.scene.id}",
                    asset=_asset_of(exc) or item.scene.qa_href,
                ),
            )
            return
        _count("observations_assessed")
        yield Observation(item.scene, item.role, item.tile.id, clear), item.tile


@dataclass
class AssessScenes(beam.PTransform[Any, Any]):
    """Clear fraction of each scene on each tile, from its QA asset read at reduced resolution."""

    coarse_factor: int
    fine_factor: int = 8

    def __post_init__(self) -> None:
        super().__init__()
        if self.coarse_factor < 1 or self.fine_factor < 1:
            raise ValueError("factors must be >= 1")

    def expand(self, scenes: PCollection) -> DoOutputsTuple:
        return scenes | "ClearFraction" >> beam.ParDo(
            _AssessDoFn(self.coarse_factor, self.fine_factor)
        ).with_outputs(DEAD_LETTER, main="observations")


# ------------------------------------------------------------------------------------------
# PairScenes


@dataclass
class PairScenes(beam.PTransform[Any, Any]):
    """Group observations per tile within the run's time window and choose reference pairs.

    Elements carry their acquisition time as event time; the run's search interval is one
    fixed window (a scheduled run processes one window), so a tile's group holds every
    observation a target may pair with.
    """

    request: FusionRequest

    def __post_init__(self) -> None:
        super().__init__()

    def expand(self, observations: PCollection) -> dict[str, PCollection]:
        search = self.request.search_request()
        assert search.start is not None and search.end is not None  # noqa: S101 - set by search_request
        span = (search.end - search.start).total_seconds() + 1
        period = (self.request.start, self.request.end)
        config = self.request.pairing
        task = self.request.task

        def pair(element: tuple[str, Iterable[tuple[Observation, Tile]]]) -> Iterator[Any]:
            _tile_id, group = element
            items = sorted(group, key=lambda ot: (ot[0].scene.datetime, ot[0].scene.id, ot[0].role))
            if not items:
                return
            tile = items[0][1]
            observations = [o for o, _ in items]
            if task == "harmonize":
                jobs, skips = harmonize_jobs(observations, config, period)
            else:
                jobs, skips = pair_tile(observations, config, period)
            _count("jobs_paired", len(jobs))
            _count("dates_not_fused", len(skips))
            for job in jobs:
                yield job, tile
            for s in skips:
                yield beam.pvalue.TaggedOutput(DEAD_LETTER, _skip_record(s))

        paired = (
            observations
            | "WindowByDate" >> beam.WindowInto(window.FixedWindows(span, offset=search.start.timestamp()))
            | "KeyByTile" >> beam.Map(lambda ot: (ot[1].id, ot))
            | "GroupByTile" >> beam.GroupByKey()
            | "ChoosePairs" >> beam.FlatMap(pair).with_outputs(DEAD_LETTER, main="jobs")
        )
        # Downstream stages are per job/product, not per time window.
        return {
            "jobs": paired.jobs | "Unwindow" >> beam.WindowInto(window.GlobalWindows()),
            DEAD_LETTER: paired[DEAD_LETTER] | "UnwindowSkips" >> beam.WindowInto(window.GlobalWindows()),
        }


def _skip_record(skip: Skip) -> dict[str, Any]:
    return dead_letter(
        "pair",
        skip.reason,
        key=f"{skip.tile_id}/{skip.date.isoformat()}/{skip.scene_id}",
        asset=skip.asset,
        kind="skipped",
    )


# ------------------------------------------------------------------------------------------
# PlanBlocks


@dataclass(frozen=True)
class BlockJob:
    job: FusionJob
    tile: Tile
    spec: ProductSpec
    block: Block
    n_blocks: int


@dataclass
class PlanBlocks(beam.PTransform[Any, Any]):
    """A product spec per job; finished products are skipped; the rest cut into halo blocks."""

    output: str
    metadata: ModelMetadata
    checksum: str
    model_href: str
    block_size: int
    #: block sizes and halos are multiples of this (the coarse ratio; 2 for 20 m sources)
    align: int = 0

    def __post_init__(self) -> None:
        super().__init__()
        if not self.align:
            self.align = self.metadata.coarse_ratio
        if self.block_size % self.align:
            raise ValueError(
                f"block_size {self.block_size} must be a multiple of {self.align} for model "
                f"{self.metadata.name!r} (its coarse ratio or source pixel sizes)"
            )

    def expand(self, jobs: PCollection) -> DoOutputsTuple:
        ratio = self.align
        halo = -(-self.metadata.halo // ratio) * ratio
        output, metadata, checksum, href, size = (
            self.output,
            self.metadata,
            self.checksum,
            self.model_href,
            self.block_size,
        )

        def plan(element: tuple[FusionJob, Tile]) -> Iterator[Any]:
            job, tile = element
            spec = product_spec(job, metadata, checksum, href, dict(metadata.parameters))
            if spec.exists(output):
                _count("products_existing")
                yield beam.pvalue.TaggedOutput(
                    "existing", {"product_id": spec.product_id, "status": "exists"}
                )
                return
            blocks = plan_blocks(*tile.shape, size, halo, align=ratio)
            _count("blocks_planned", len(blocks))
            for block in blocks:
                yield BlockJob(job, tile, spec, block, len(blocks))

        return jobs | "PlanBlocks" >> beam.FlatMap(plan).with_outputs("existing", main="blocks")


# ------------------------------------------------------------------------------------------
# ReadBlocks


@dataclass
class BlockPayload:
    """Model inputs plus what AssembleProducts needs to place the output."""

    inputs: BlockInputs
    spec: ProductSpec
    tile: Tile


class _ReadDoFn(beam.DoFn):
    def __init__(self, metadata: ModelMetadata) -> None:
        self.metadata = metadata
        self.bytes_read = Metrics.distribution(NAMESPACE, "block_bytes_read")
        self.cache: SceneReadCache | None = None

    def setup(self) -> None:
        # Per DoFn instance (one per worker thread): what one block read, the next may reuse.
        self.cache = SceneReadCache()

    def process(self, bj: BlockJob) -> Iterator[Any]:
        key = f"{bj.spec.product_id}/block-{bj.block.index[0]}-{bj.block.index[1]}"
        try:
            if self.metadata.task == "harmonize":
                inputs = read_source_block(
                    bj.job, bj.tile, bj.block, self.metadata, bj.spec.product_id, bj.n_blocks
                )
            else:
                inputs = read_block(
                    bj.job, bj.tile, bj.block, self.metadata, bj.spec.product_id, bj.n_blocks, self.cache
                )
        except FusionError as exc:
            _count("blocks_dead_lettered")
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER, dead_letter("read", str(exc), key=key, asset=_asset_of(exc))
            )
            yield beam.pvalue.TaggedOutput(
                FAILED_BLOCKS, BlockFailed(bj.spec.product_id, bj.block, bj.n_blocks)
            )
            return
        _count("blocks_read")
        self.bytes_read.update(inputs.bytes_read)
        core = crop_halo(inputs.output_valid, bj.block)
        if not core.any():
            # Nothing to fuse here (target cloud/fill or no usable reference): the block is
            # nodata in the product, recorded so the summary says why.
            _count("blocks_empty")
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER,
                dead_letter(
                    "read",
                    "no usable pixels in block (target all cloud/fill or no clear reference); "
                    "written as nodata",
                    key=key,
                    asset=bj.job.target.scene.qa_href,
                    kind="skipped",
                ),
            )
            yield beam.pvalue.TaggedOutput(
                "empty", BlockOutput.empty(bj.spec, bj.tile, bj.block, bj.n_blocks)
            )
            return
        yield BlockPayload(inputs, bj.spec, bj.tile)


@dataclass
class ReadBlocks(beam.PTransform[Any, Any]):
    metadata: ModelMetadata

    def __post_init__(self) -> None:
        super().__init__()

    def expand(self, blocks: PCollection) -> DoOutputsTuple:
        return blocks | "Read" >> beam.ParDo(_ReadDoFn(self.metadata)).with_outputs(
            DEAD_LETTER, FAILED_BLOCKS, "empty", main="blocks"
        )


# ------------------------------------------------------------------------------------------
# FuseBlocks: Beam RunInference with the model package


@dataclass
class BlockOutput:
    spec: ProductSpec
    tile: Tile
    block: Block
    n_blocks: int
    fused: npt.NDArray[np.float32]  #: (B, h, w) core only
    valid: npt.NDArray[np.bool_]  #: (h, w) core only

    @classmethod
    def empty(cls, spec: ProductSpec, tile: Tile, block: Block, n_blocks: int) -> BlockOutput:
        h, w = block.core.height, block.core.width
        return cls(
            spec, tile, block, n_blocks, np.zeros((len(spec.bands), h, w), np.float32), np.zeros((h, w), bool)
        )


@dataclass
class BlockFailed:
    """Tells AssembleProducts that a block of its product was dead-lettered upstream."""

    product_id: str
    block: Block
    n_blocks: int


class FusionModelHandler(ModelHandler[BlockPayload, BlockOutput, LoadedModel]):
    """Loads a model package once per worker process and fuses batches of equal-shaped blocks."""

    def __init__(self, model_path: str, max_batch_size: int = 4) -> None:
        super().__init__(min_batch_size=1, max_batch_size=max_batch_size)
        self.model_path = model_path
        self._max_batch_size = max_batch_size

    def load_model(self) -> LoadedModel:
        return load_model_package(self.model_path)

    def batch_elements_kwargs(self) -> dict[str, Any]:
        return {"min_batch_size": 1, "max_batch_size": self._max_batch_size}

    def get_metrics_namespace(self) -> str:
        return NAMESPACE

    def get_num_bytes(self, batch: Sequence[BlockPayload]) -> int:
        return sum(sum(a.nbytes for a in p.inputs.arrays.values()) for p in batch)

    def run_inference(
        self, batch: Sequence[BlockPayload], model: LoadedModel, inference_args: dict[str, Any] | None = None
    ) -> Iterable[BlockOutput]:
        groups: dict[Any, list[BlockPayload]] = {}
        for payload in batch:
            groups.setdefault(payload.inputs.shape_key, []).append(payload)
        outputs: dict[int, BlockOutput] = {}
        for members in groups.values():
            fused = model.predict(stack_batch([m.inputs for m in members]))
            for payload, result in zip(members, fused, strict=True):
                block = payload.inputs.block
                core = crop_halo(np.moveaxis(result, -1, 0), block)
                valid = crop_halo(payload.inputs.output_valid, block) & np.all(np.isfinite(core), axis=0)
                outputs[id(payload)] = BlockOutput(
                    payload.spec, payload.tile, block, payload.inputs.n_blocks, core.astype(np.float32), valid
                )
        _count("blocks_fused", len(batch))
        return [outputs[id(p)] for p in batch]


@dataclass
class FuseBlocks(beam.PTransform[Any, Any]):
    model_path: str
    max_batch_size: int = 4

    def __post_init__(self) -> None:
        super().__init__()

    def expand(self, payloads: PCollection) -> dict[str, PCollection]:
        main, failed = (
            payloads
            | "RunInference"
            >> RunInference(
                FusionModelHandler(self.model_path, self.max_batch_size)
            ).with_exception_handling()
        )

        def to_record(element: tuple[Sequence[BlockPayload], Any]) -> dict[str, Any]:
            """Beam gives (failed batch, exception); one record names every block of it."""
            batch, error = element
            _count("blocks_dead_lettered", len(batch))
            keys = sorted(
                {
                    f"{p.spec.product_id}/block-{p.inputs.block.index[0]}-{p.inputs.block.index[1]}"
                    for p in batch
                }
            )
            return dead_letter(
                "inference", f"model failed on {len(batch)} block(s): {error}", key=",".join(keys)
            )

        dead = failed.failed_inferences | "FailedInference" >> beam.Map(to_record)
        markers = failed.failed_inferences | "FailedBlocks" >> beam.FlatMap(
            lambda element: [
                BlockFailed(p.spec.product_id, p.inputs.block, p.inputs.n_blocks) for p in element[0]
            ]
        )
        return {"blocks": main, DEAD_LETTER: dead, FAILED_BLOCKS: markers}


# ------------------------------------------------------------------------------------------
# AssembleProducts and PublishStac


@dataclass
class _ProductToWrite:
    spec: ProductSpec
    tile: Tile
    data: npt.NDArray[np.float32]
    valid: npt.NDArray[np.bool_]


def assemble(element: tuple[str, Iterable[BlockOutput | BlockFailed]]) -> _ProductToWrite | dict[str, Any]:
    """One product's blocks stitched into its tile, or the dead-letter record saying why not."""
    product_id, group = element
    members = list(group)
    parts = sorted((m for m in members if isinstance(m, BlockOutput)), key=lambda b: b.block.index)
    failed = [m for m in members if isinstance(m, BlockFailed)]
    expected = members[0].n_blocks
    if failed or len(parts) != expected:
        return dead_letter(
            "assemble",
            f"incomplete: {len(parts)} of {expected} blocks fused, {len(failed)} dead-lettered "
            "(see the block records); not published, a re-run retries it",
            key=product_id,
        )
    first = parts[0]
    tile = first.tile
    height, width = tile.shape
    data = np.full((len(first.spec.bands), height, width), np.nan, np.float32)
    valid = np.zeros((height, width), bool)
    for part in parts:
        rows, cols = part.block.core.slices
        data[:, rows, cols] = part.fused
        valid[rows, cols] = part.valid
    if not valid.any():
        return dead_letter(
            "assemble", "no valid pixel in the whole product; not published", key=product_id, kind="skipped"
        )
    return _ProductToWrite(first.spec, tile, data, valid)


#: Products written at the same time by one assembling DoFn instance.
PARALLEL_WRITES = 2


class _AssembleDoFn(beam.DoFn):
    """Assemble each product and write its COG, quicklook and Item.

    The writes run ``PARALLEL_WRITES`` at a time in threads: a product's write is almost all
    ZSTD and zlib compression inside GDAL, which does not hold the GIL, and on the
    DirectRunner nothing else runs while the products are written. Counters and outputs stay
    on the DoFn's thread (Beam metrics are per thread); a write error fails the bundle as
    before."""

    def __init__(self, output: str, cog_profile: str) -> None:
        self.output = output
        self.cog_profile = cog_profile

    def setup(self) -> None:
        self._pool = ThreadPoolExecutor(PARALLEL_WRITES, thread_name_prefix="product-write")

    def teardown(self) -> None:
        self._pool.shutdown(wait=True)

    def start_bundle(self) -> None:
        self._writing: list[tuple[_ProductToWrite, Future[str]]] = []

    def process(self, element: tuple[str, Iterable[BlockOutput | BlockFailed]]) -> Iterator[Any]:
        product = assemble(element)
        if isinstance(product, dict):
            _count("products_dead_lettered")
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, product)
            return
        write = self._pool.submit(
            write_product,
            product.spec,
            self.output,
            product.tile,
            product.data,
            product.valid,
            cog_profile=self.cog_profile,
        )
        self._writing.append((product, write))
        while len(self._writing) >= PARALLEL_WRITES:
            yield self._written(*self._writing.pop(0))

    def finish_bundle(self) -> Iterator[Any]:
        while self._writing:
            yield window.GlobalWindows.windowed_value(self._written(*self._writing.pop(0)))

    def _written(self, product: _ProductToWrite, write: Future[str]) -> dict[str, Any]:
        item = write.result()
        _count("products_written")
        valid = float(product.valid.mean())
        log.info("wrote %s (%.0f%% valid)", product.spec.product_id, 100 * valid)
        return {
            "product_id": product.spec.product_id,
            "status": "written",
            "item": str(item),
            "valid_fraction": valid,
        }


@dataclass
class AssembleProducts(beam.PTransform[Any, Any]):
    output: str
    cog_profile: str = "zstd"

    def __post_init__(self) -> None:
        super().__init__()

    def expand(self, blocks: PCollection) -> DoOutputsTuple:
        return (
            blocks
            | "KeyByProduct"
            >> beam.Map(lambda b: (b.product_id if isinstance(b, BlockFailed) else b.spec.product_id, b))
            | "GroupBlocks" >> beam.GroupByKey()
            | "WriteCog"
            >> beam.ParDo(_AssembleDoFn(self.output, self.cog_profile)).with_outputs(
                DEAD_LETTER, main="products"
            )
        )


@dataclass
class PublishStac(beam.PTransform[Any, Any]):
    """Once every product is written: update collection and catalog JSON (writes only changes)."""

    output: str
    stac_api: str | None = None

    def __post_init__(self) -> None:
        super().__init__()

    def expand(self, products: PCollection) -> PCollection:
        output = self.output
        stac_api = self.stac_api

        def publish(records: list[dict[str, Any]]) -> list[str]:
            if not records:
                return []
            written = update_catalog(output)
            if stac_api:
                from fusion.stacapi import StacApiPublisher

                publisher = StacApiPublisher(stac_api)
                for collection, items in product_collections(output):
                    try:
                        result = publisher.publish(collection, items)
                    except FusionError as exc:  # the products are written; only the API copy is missing
                        _count("stac_api_failed", len(items))
                        log.error("publishing %s to %s failed: %s", collection["id"], stac_api, exc)
                        continue
                    _count("stac_api_created", len(result.created))
                    _count("stac_api_updated", len(result.updated))
                    _count("stac_api_unchanged", len(result.unchanged))
                    log.info("STAC API %s, %s: %s", stac_api, collection["id"], result.text())
            _count("stac_files_written", len(written))
            return [str(p) for p in written]

        return (
            products
            | "Global" >> beam.WindowInto(window.GlobalWindows())
            | "AllProducts" >> combiners.ToList()
            | "UpdateCatalog" >> beam.Map(publish)
        )


# ------------------------------------------------------------------------------------------
# The whole pipeline


@dataclass(frozen=True)
class PipelineOutputs:
    products: PCollection
    existing: PCollection
    dead_letters: PCollection
    stac: PCollection


def check_output_location(output: str) -> None:
    """Refuse an output the publisher cannot write: a local folder or ``gs://`` only (any other
    scheme would otherwise fail at the first product, after all the reading and fusing)."""
    if "://" in output and not output.startswith("gs://"):
        scheme = output.split("://", 1)[0]
        raise ConfigError(
            f"output {output!r}: products can be written to a local folder or gs://BUCKET/PATH, not {scheme}://"
        )


def build_pipeline(
    request: FusionRequest, pipeline: beam.Pipeline, report_dir: str | None = None
) -> PipelineOutputs:
    """Add the fusion graph for ``request`` to ``pipeline`` (not run). With ``report_dir``,
    product records and dead letters are also written there as JSON lines."""
    check_output_location(request.output)
    check_request_credentials(request)
    model_dir = resolve_model(request.model)
    metadata = read_metadata(model_dir)
    checksum = package_checksum(model_dir)
    if metadata.task != request.task:
        raise ConfigError(
            f"model {request.model!r} is a {metadata.task!r} model but the request's task is "
            f"{request.task!r}; choose a {request.task} model (`fusion models` lists tasks) or set task"
        )
    ratio = metadata.coarse_ratio
    align = block_alignment(metadata, request.resolution)
    for label, size in (("block_size", request.block_size), ("tile_size", request.tile_size)):
        if size % align:
            raise ConfigError(
                f"{label} {size} must be a multiple of {align} for model {metadata.name!r} "
                f"(its coarse ratio or source pixel sizes on the {request.resolution:g} m grid)"
            )

    scenes = pipeline | "SearchScenes" >> SearchScenes(request)
    assessed = scenes | "AssessScenes" >> AssessScenes(coarse_factor=ratio)
    paired = assessed.observations | "PairScenes" >> PairScenes(request)
    planned = paired["jobs"] | "PlanBlocks" >> PlanBlocks(
        request.output, metadata, checksum, str(model_dir), request.block_size, align
    )
    read = planned.blocks | "ReadBlocks" >> ReadBlocks(metadata)
    fused = read.blocks | "FuseBlocks" >> FuseBlocks(str(model_dir))
    blocks = (
        fused["blocks"],
        read.empty,
        read[FAILED_BLOCKS],
        fused[FAILED_BLOCKS],
    ) | "AllBlocks" >> beam.Flatten()
    assembled = blocks | "AssembleProducts" >> AssembleProducts(request.output, request.cog_profile)
    dead = (
        assessed[DEAD_LETTER],
        paired[DEAD_LETTER],
        read[DEAD_LETTER],
        fused[DEAD_LETTER],
        assembled[DEAD_LETTER],
    ) | "DeadLetters" >> beam.Flatten()
    published = (assembled.products, planned.existing) | "AllProducts" >> beam.Flatten()
    stac = published | "PublishStac" >> PublishStac(request.output, request.stac_api)
    if report_dir is not None:
        for label, pcoll in (("products", published), ("dead-letter", dead)):
            _ = (
                pcoll
                | f"Json[{label}]" >> beam.Map(lambda r: json.dumps(r, sort_keys=True, default=str))
                | f"Write[{label}]"
                >> beam.io.WriteToText(
                    f"{report_dir}/{label}", file_name_suffix=".jsonl", shard_name_template=""
                )
            )
    return PipelineOutputs(assembled.products, planned.existing, dead, stac)


def request_fingerprint(request: FusionRequest) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(request.to_json(), sort_keys=True, default=str).encode()).hexdigest()[:8]
