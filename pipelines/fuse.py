"""The fusion pipeline (DESIGN.md §3): ``build_pipeline`` wires the stages of
:mod:`pipelines.stages` for one request.

SearchScenes → AssessScenes → PlanJobs → PlanBlocks → ReadBlocks → FuseBlocks (RunInference)
→ AssembleProducts → PublishStac. The request's task (``get_task(request.task)``, asked once
here) decides roles, QA reduction, job planning, block alignment and block reading; the
pipeline never compares task names. Every stage returns ``{tag: PCollection}``
(:mod:`pipelines.records`); dead letters of every stage are flattened into one output.

``build_pipeline(request, pipeline, report_dir)`` adds the graph to a pipeline without running
it, so tests can pass a ``TestPipeline``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import PCollection

from fusion.errors import ConfigError
from fusion.models import get_choice, is_builtin_model, is_model_choice, resolve_model
from fusion.models.auto import JobModels, PackageRef
from fusion.models.package import load_model_package
from fusion.request import FusionRequest, check_catalog, check_output, check_request_credentials
from fusion.tasks import FusionTask
from pipelines.records import DEAD_LETTER, EMPTY, EXISTING, FAILED_BLOCKS, MAIN
from pipelines.stages.blocks import PlanBlocks, ReadBlocks
from pipelines.stages.inference import FuseBlocks
from pipelines.stages.products import AssembleProducts, PublishStac
from pipelines.stages.scenes import AssessScenes, PlanJobs, SearchScenes


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


def _record_json(record: Any) -> str:
    return json.dumps(record.to_json(), sort_keys=True, default=str)


@dataclass(frozen=True)
class PreparedModel:
    """What a run resolves and checks before any stage: the request's task and the model
    packages that fuse its jobs - the request's one package, or the packages of a model choice
    (``classical-auto``), each with its metadata, checksum and block alignment."""

    task: FusionTask
    models: JobModels


def _prepare_package(request: FusionRequest, task: FusionTask, model: str) -> PackageRef:
    """Load and check one package of the request's model (a built-in name or a folder)."""
    model_dir = resolve_model(model)
    # The whole package (metadata, SavedModel, signature against the metadata) here rather than
    # in the first inference bundle: a broken package is refused with one line, before any reading.
    loaded = load_model_package(model_dir)
    metadata, checksum = loaded.metadata, loaded.checksum
    if metadata.task != task.name:
        raise ConfigError(
            f"model {model!r} is a {metadata.task!r} model but the request's task is "
            f"{task.name!r}; choose a {task.name} model (`fusion models` lists tasks) or set task"
        )
    task.check_model(metadata, str(model_dir))
    align = task.block_alignment(metadata, request.resolution)
    for label, size in (("block_size", request.block_size), ("tile_size", request.tile_size)):
        if size % align:
            raise ConfigError(
                f"{label} {size} must be a multiple of {align} for model {metadata.name!r} "
                f"(its coarse ratio or source pixel sizes on the {request.resolution:g} m grid)"
            )
    # The stages name a built-in package by name (each worker resolves it in its own
    # installation: a Dataflow worker has eo-fusion elsewhere than the launching checkout).
    ref = model if is_builtin_model(model) else str(model_dir)
    return PackageRef(ref, metadata, checksum, align)


def prepare(request: FusionRequest, probe_output: bool = True) -> PreparedModel:
    """Refuse what would fail later (output location, catalog root, credentials, a model of
    another task or whose package does not check out, sizes the model cannot use) and resolve
    the model - for a model choice, every package it may pick; nothing is searched and no
    scene is read. ``probe_output``: also create and remove a probe file in the output (a dry
    run writes nothing there)."""
    check_output_location(request.output)
    check_catalog(request.catalog)
    check_output(request, probe=probe_output)
    check_request_credentials(request)
    task = request.fusion_task
    if not is_model_choice(request.model):
        return PreparedModel(task, JobModels((_prepare_package(request, task, request.model),)))
    choice = get_choice(request.model)
    if choice.task != task.name:
        raise ConfigError(
            f"model {request.model!r} picks {choice.task} models ({', '.join(choice.packages)}) but "
            f"the request's task is {task.name!r}; choose a {task.name} model (`fusion models`) or set task"
        )
    packages = tuple(_prepare_package(request, task, name) for name in choice.packages)
    choice.check({p.ref: p.metadata for p in packages})
    return PreparedModel(task, JobModels(packages, choice, request.pairing.max_pairs))


def plan_jobs(
    request: FusionRequest, pipeline: beam.Pipeline, prepared: PreparedModel
) -> tuple[dict[str, PCollection], dict[str, PCollection]]:
    """SearchScenes → AssessScenes → PlanJobs on ``pipeline``: the outputs of AssessScenes
    (its dead letters, and those of SearchScenes: the items the search dropped) and of
    PlanJobs (``(job, tile)`` and a ``skipped`` dead letter per date not fused). Reads QA
    assets only. ``fusion run --dry-run`` stops here."""
    scenes = pipeline | "SearchScenes" >> SearchScenes(request)
    assessed = scenes[MAIN] | "AssessScenes" >> AssessScenes(
        prepared.task.qa_factors(prepared.models.coarse_ratio)
    )
    planned_jobs = assessed[MAIN] | "PlanJobs" >> PlanJobs(request)
    # Both are inputs the run leaves out; every caller reports them together.
    scene_dead = (scenes[DEAD_LETTER], assessed[DEAD_LETTER]) | "SceneDeadLetters" >> beam.Flatten()
    return {MAIN: assessed[MAIN], DEAD_LETTER: scene_dead}, planned_jobs


def build_pipeline(
    request: FusionRequest, pipeline: beam.Pipeline, report_dir: str | None = None
) -> PipelineOutputs:
    """Add the fusion graph for ``request`` to ``pipeline`` (not run). With ``report_dir``,
    product records and dead letters are also written there as JSON lines."""
    prepared = prepare(request)
    # Stages get the models' references, never this machine's folder of a built-in package.
    task, models = prepared.task, prepared.models
    assessed, planned_jobs = plan_jobs(request, pipeline, prepared)
    planned = planned_jobs[MAIN] | "PlanBlocks" >> PlanBlocks(
        request.output, task, models, request.block_size
    )
    read = planned[MAIN] | "ReadBlocks" >> ReadBlocks(task, models)
    fused = read[MAIN] | "FuseBlocks" >> FuseBlocks(models.refs)
    blocks = (
        fused[MAIN],
        read[EMPTY],
        read[FAILED_BLOCKS],
        fused[FAILED_BLOCKS],
    ) | "AllBlocks" >> beam.Flatten()
    assembled = blocks | "AssembleProducts" >> AssembleProducts(request.output, request.cog_profile)
    published = (assembled[MAIN], planned[EXISTING]) | "AllProducts" >> beam.Flatten()
    stac = published | "PublishStac" >> PublishStac(
        request.output,
        request.stac_api,
        models.refs,
        request.catalog,
        tuple(sorted(set(request.collections.values()))),
    )
    stages = (assessed, planned_jobs, planned, read, fused, assembled, stac)
    dead = tuple(stage[DEAD_LETTER] for stage in stages) | "DeadLetters" >> beam.Flatten()
    if report_dir is not None:
        for label, pcoll in (("products", published), ("dead-letter", dead)):
            _ = (
                pcoll
                | f"Json[{label}]" >> beam.Map(_record_json)
                | f"Write[{label}]"
                >> beam.io.WriteToText(
                    f"{report_dir}/{label}", file_name_suffix=".jsonl", shard_name_template=""
                )
            )
    return PipelineOutputs(assembled[MAIN], planned[EXISTING], dead, stac[MAIN])
