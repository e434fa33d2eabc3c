"""The training-set pipeline: catalog + pairs → aligned patch triplets → sharded TFRecords.

SearchScenes → AssessScenes (both shared with the fusion pipeline) → TrainingJobs (per tile:
every clear pair as a target with its nearest other pairs as references; or, on a simulation
with ``truth``, every clear coarse target with the pipeline's references and the simulated truth
as label) → ReadAndCut (whole
tile read, patches, date + area split; a failed read is dead-lettered) → WriteToTFRecord per
split, plus ``index-*.jsonl`` (one line per example: key, split, dates, window) and
``dead-letter.jsonl``. :func:`run_trainset` runs it and writes ``manifest.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.io.tfrecordio import WriteToTFRecord
from apache_beam.metrics.metric import Metrics
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.pvalue import PCollection
from apache_beam.transforms import combiners

from fusion.errors import ConfigError, FusionError
from fusion.grid import Tile
from fusion.pairing import Observation
from fusion.request import FusionRequest
from fusion.training.dataset import OBSERVED_LABELS, write_manifest
from fusion.training.jobs import TrainingJob, read_job, training_jobs, truth_training_jobs
from fusion.training.patches import PatchConfig, cut_patches, serialize_patch
from fusion.training.splits import SPLITS, SplitConfig, area_boundary, validation_dates
from pipelines.records import DEAD_LETTER, MAIN, dead_letter, read_jsonl
from pipelines.run import beam_counters
from pipelines.stages.scenes import AssessScenes, SearchScenes

NAMESPACE = "eo-fusion-trainset"


def _count(name: str, n: int = 1) -> None:
    Metrics.counter(NAMESPACE, name).inc(n)


@dataclass
class TrainsetSpec:
    """What to build: bands, patch geometry, split and how many references per target."""

    bands: tuple[str, ...]
    patches: PatchConfig
    split: SplitConfig
    references: int = 2
    train_shards: int = 4
    validation_shards: int = 1
    #: A simulation's ``truth/`` folder: label every clear coarse target with the simulated
    #: truth (:func:`fusion.training.jobs.truth_training_jobs`) instead of the target pair's fine image.
    truth: str | None = None

    @property
    def labels(self) -> str:
        return f"simulated truth ({self.truth})" if self.truth else OBSERVED_LABELS


def composite_day(observation: Observation) -> dt.date:
    """The day a coarse observation saw (a MODIS composite's ``sur_refl_day_of_year``)."""
    from fusion.evaluation.simulated import observed_day

    href = observation.scene.item_href
    if href is None or "://" in href:
        return observation.date
    return observed_day(Path(href))


class _ReadAndCut(beam.DoFn):
    def __init__(self, spec: TrainsetSpec) -> None:
        self.spec = spec

    def process(self, element: tuple[TrainingJob, Tile], val_dates: frozenset[dt.date]) -> Iterator[Any]:
        job, tile = element
        spec = self.spec
        try:
            arrays = read_job(job, tile, spec.bands, spec.patches.ratio)
        except FusionError as exc:
            _count("jobs_dead_lettered")
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER,
                dead_letter("read", str(exc), key=job.key, asset=getattr(exc, "asset", None)),
            )
            return
        boundary = area_boundary(tile.shape[1], spec.split, spec.patches.ratio)
        n = 0
        for patch in cut_patches(job.key, job.dates, arrays, spec.patches, boundary, val_dates):
            n += 1
            _count(f"examples_{patch.split}")
            yield (
                patch.split,
                serialize_patch(patch, len(spec.bands)),
                json.dumps(patch.index_record(), sort_keys=True),
            )
        if n == 0:
            _count("jobs_without_examples")
        _count("jobs_read")


def check_split_fits(width: int, spec: TrainsetSpec) -> None:
    """Refuse a split whose training or validation strip is narrower than one patch."""
    boundary = area_boundary(width, spec.split, spec.patches.ratio)
    patch = spec.patches.fine_patch
    if boundary < patch or width - boundary < patch:
        raise ConfigError(
            f"tiles of {width} px split at column {boundary} (validation_area "
            f"{spec.split.validation_area}) leave a strip narrower than one {patch} px patch; "
            "use larger tiles (--tile-size) or another --validation-area"
        )


def build_trainset(request: FusionRequest, spec: TrainsetSpec, pipeline: beam.Pipeline, out: str) -> None:
    """Add the training-set graph to ``pipeline`` (not run)."""
    check_split_fits(request.tile_size, spec)
    scenes = pipeline | "SearchScenes" >> SearchScenes(request)
    qa_factors = request.fusion_task.qa_factors(spec.patches.ratio)
    assessed = scenes[MAIN] | "AssessScenes" >> AssessScenes(qa_factors)
    config = request.pairing
    references = spec.references
    split = spec.split
    truth = spec.truth

    def jobs_of(element: tuple[str, Iterable[tuple[Observation, Tile]]]) -> Iterator[Any]:
        _tile_id, group = element
        items = sorted(group, key=lambda ot: (ot[0].scene.datetime, ot[0].scene.id, ot[0].role))
        tile = items[0][1]
        observations = [o for o, _ in items]
        jobs = (
            truth_training_jobs(observations, config, truth, composite_day, references)
            if truth
            else training_jobs(observations, config, references)
        )
        _count("training_jobs", len(jobs))
        for job in jobs:
            yield job, tile

    jobs = (
        assessed[MAIN]
        | "KeyByTile" >> beam.Map(lambda ot: (ot[1].id, ot))
        | "GroupByTile" >> beam.GroupByKey()
        | "TrainingJobs" >> beam.FlatMap(jobs_of)
    )
    # Validation dates are chosen once over all tiles: a date held out on one tile must not
    # train on another.
    val_dates = (
        jobs
        | "JobDates" >> beam.FlatMap(lambda jt: [d.isoformat() for d in jt[0].dates])
        | "Dates" >> beam.Distinct()
        | "AllDates" >> combiners.ToList()
        | "ValidationDates"
        >> beam.Map(lambda dates: validation_dates([dt.date.fromisoformat(d) for d in dates], split))
    )
    examples = (
        jobs
        | "Spread" >> beam.Reshuffle()
        | "ReadAndCut"
        >> beam.ParDo(_ReadAndCut(spec), beam.pvalue.AsSingleton(val_dates)).with_outputs(
            DEAD_LETTER, main=MAIN
        )
    )
    root = out.rstrip("/")
    for name in SPLITS:
        chosen: PCollection = examples[MAIN] | f"Only{name}" >> beam.Filter(lambda e, n=name: e[0] == n)
        (
            chosen
            | f"Bytes{name}" >> beam.Map(lambda e: e[1])
            | f"Write{name}"
            >> WriteToTFRecord(
                f"{root}/{name}",
                file_name_suffix=".tfrecord.gz",
                num_shards=spec.train_shards if name == "train" else spec.validation_shards,
            )
        )
    _ = (
        examples[MAIN]
        | "IndexLines" >> beam.Map(lambda e: e[2])
        | "WriteIndex" >> beam.io.WriteToText(f"{root}/index", file_name_suffix=".jsonl", num_shards=1)
    )
    write_dead_letters((scenes[DEAD_LETTER], assessed[DEAD_LETTER], examples[DEAD_LETTER]), root)


def write_dead_letters(dead: tuple[PCollection, ...], root: str) -> None:
    """Every stage's dead letters of a training-set pipeline as ``root/dead-letter.jsonl``."""
    (
        dead
        | "AllDead" >> beam.Flatten()
        | "DeadJson" >> beam.Map(lambda r: json.dumps(r.to_json(), sort_keys=True))
        | "WriteDead"
        >> beam.io.WriteToText(
            f"{root}/dead-letter", file_name_suffix=".jsonl", num_shards=1, shard_name_template=""
        )
    )


def run_trainset(
    request: FusionRequest, spec: TrainsetSpec, out: str | Path, beam_args: list[str] | None = None
) -> dict[str, Any]:
    """Build the training set under ``out`` and write its ``manifest.json``; returns it."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    for old in [*root.glob("*.tfrecord.gz"), *root.glob("index-*.jsonl"), root / "dead-letter.jsonl"]:
        old.unlink(missing_ok=True)
    t0 = time.perf_counter()
    pipeline = beam.Pipeline(options=PipelineOptions(beam_args or []))
    build_trainset(request, spec, pipeline, str(root))
    result = pipeline.run()
    result.wait_until_finish()
    counters = beam_counters(result, NAMESPACE)
    records = read_jsonl(sorted(root.glob("index-*.jsonl")))
    dead = read_jsonl([root / "dead-letter.jsonl"])
    manifest = {
        "schema": "eo-fusion/trainset/1",
        "catalog": request.catalog,
        "period": [request.start.isoformat(), request.end.isoformat()],
        "tiles": list(request.tiles) if request.tiles else None,
        "fine_collection": request.collections["fine"],
        "coarse_collection": request.collections["coarse"],
        "bands": list(spec.bands),
        "patch": {
            "coarse": spec.patches.patch,
            "stride": spec.patches.stride,
            "ratio": spec.patches.ratio,
            "fine": spec.patches.fine_patch,
            "min_valid": spec.patches.min_valid,
        },
        "split": spec.split.as_json(),
        "references": spec.references,
        "labels": spec.labels,
        "examples": {s: sum(1 for r in records if r["split"] == s) for s in SPLITS},
        "dates": {
            s: sorted({r[k] for r in records if r["split"] == s for k in ("t0", "tk")}) for s in SPLITS
        },
        "target_dates": {s: sorted({r["t0"] for r in records if r["split"] == s}) for s in SPLITS},
        "files": {s: sorted(p.name for p in root.glob(f"{s}-*.tfrecord.gz")) for s in SPLITS},
        "dead_letters": len(dead),
        "counters": counters,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    write_manifest(root / "manifest.json", manifest)
    return manifest
