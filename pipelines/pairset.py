"""The pair training-set pipeline, for a task whose training set is ``pairs`` (e.g. harmonize):
catalog → the task's whole-tile input/target pairs → one ``.npz`` file each.

SearchScenes (with the task's target roles) → AssessScenes (both shared with the fusion
pipeline and the patch training set of :mod:`pipelines.trainset`) → TrainingPairs (per tile:
:meth:`~fusion.tasks.base.FusionTask.training_pairs`) → ReadPairs (the task's
:meth:`~fusion.tasks.base.FusionTask.read_training_pair`, written by
:func:`fusion.training.pairs.write_pair`; a failed read is dead-lettered) →
``index-*.jsonl`` and ``dead-letter.jsonl``. :func:`run_pairset` runs it and writes
``manifest.json`` (:mod:`fusion.training.pairs` describes the folder).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.metrics.metric import Metrics
from apache_beam.options.pipeline_options import PipelineOptions

from fusion.errors import ConfigError, FusionError
from fusion.grid import Tile
from fusion.pairing import Observation
from fusion.request import FusionRequest
from fusion.tasks.base import TrainingPair
from fusion.training.dataset import write_manifest
from fusion.training.pairs import PAIRS_DIR, SCHEMA, pair_order, write_pair
from pipelines.records import DEAD_LETTER, MAIN, dead_letter, read_jsonl
from pipelines.run import beam_counters
from pipelines.stages.common import asset_of
from pipelines.stages.scenes import AssessScenes, SearchScenes
from pipelines.trainset import write_dead_letters

NAMESPACE = "eo-fusion-pairset"
#: A pair is read at the output grid: no coarse input to reduce the QA reads by.
QA_RATIO = 1


def _count(name: str, n: int = 1) -> None:
    Metrics.counter(NAMESPACE, name).inc(n)


@dataclass(frozen=True)
class PairsetSpec:
    """What to build: the clear fraction of the tile both scenes of a pair need."""

    min_clear: float = 0.3


class _ReadAndWritePair(beam.DoFn):
    def __init__(self, request: FusionRequest, root: str) -> None:
        self.request = request
        self.root = root

    def process(self, element: tuple[TrainingPair, Tile]) -> Iterator[Any]:
        pair, tile = element
        key = f"{tile.id}/{pair.date.isoformat()}/{pair.source.scene.id}"
        try:
            read = self.request.fusion_task.read_training_pair(pair, tile)
        except ConfigError:
            raise  # the request's fault (e.g. a tile size the task cannot read), not the pair's
        except FusionError as exc:
            _count("pairs_dead_lettered")
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER, dead_letter("read", str(exc), key=key, asset=asset_of(exc))
            )
            return
        record = write_pair(self.root, pair, read)
        _count("pairs_written")
        yield json.dumps(record, sort_keys=True)


def build_pairset(request: FusionRequest, spec: PairsetSpec, pipeline: beam.Pipeline, out: str) -> None:
    """Add the pair training-set graph to ``pipeline`` (not run)."""
    task = request.fusion_task
    scenes = pipeline | "SearchScenes" >> SearchScenes(request, with_targets=True)
    assessed = scenes[MAIN] | "AssessScenes" >> AssessScenes(task.qa_factors(QA_RATIO))
    min_clear = spec.min_clear

    def pairs_of(element: tuple[str, Iterable[tuple[Observation, Tile]]]) -> Iterator[Any]:
        _tile_id, group = element
        items = sorted(group, key=lambda ot: (ot[0].scene.datetime, ot[0].scene.id, ot[0].role))
        tile = items[0][1]
        pairs = task.training_pairs([o for o, _ in items], min_clear)
        _count("training_pairs", len(pairs))
        for pair in pairs:
            yield pair, tile

    root = out.rstrip("/")
    written = (
        assessed[MAIN]
        | "KeyByTile" >> beam.Map(lambda ot: (ot[1].id, ot))
        | "GroupByTile" >> beam.GroupByKey()
        | "TrainingPairs" >> beam.FlatMap(pairs_of)
        | "Spread" >> beam.Reshuffle()
        | "ReadPairs" >> beam.ParDo(_ReadAndWritePair(request, root)).with_outputs(DEAD_LETTER, main=MAIN)
    )
    _ = written[MAIN] | "WriteIndex" >> beam.io.WriteToText(
        f"{root}/index", file_name_suffix=".jsonl", num_shards=1
    )
    write_dead_letters((scenes[DEAD_LETTER], assessed[DEAD_LETTER], written[DEAD_LETTER]), root)


def run_pairset(
    request: FusionRequest, spec: PairsetSpec, out: str | Path, beam_args: list[str] | None = None
) -> dict[str, Any]:
    """Build the pair training set under ``out`` and write its ``manifest.json``; returns it."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    old_pairs = list((root / PAIRS_DIR).glob("*.npz")) if (root / PAIRS_DIR).is_dir() else []
    for old in [*old_pairs, *root.glob("index-*.jsonl"), root / "dead-letter.jsonl", root / "manifest.json"]:
        old.unlink(missing_ok=True)
    t0 = time.perf_counter()
    pipeline = beam.Pipeline(options=PipelineOptions(beam_args or []))
    build_pairset(request, spec, pipeline, str(root))
    result = pipeline.run()
    result.wait_until_finish()
    records = sorted(read_jsonl(sorted(root.glob("index-*.jsonl"))), key=pair_order)
    dead = read_jsonl([root / "dead-letter.jsonl"])
    manifest = {
        "schema": SCHEMA,
        "task": request.task,
        "catalog": request.catalog,
        "period": [request.start.isoformat(), request.end.isoformat()],
        "tiles": list(request.tiles) if request.tiles else None,
        "tile_size": request.tile_size,
        "collections": dict(request.collections),
        "min_clear": spec.min_clear,
        "pairs": records,
        "dates": sorted({r["date"] for r in records}),
        "dead_letters": len(dead),
        "counters": beam_counters(result, NAMESPACE),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    write_manifest(root / "manifest.json", manifest)
    return manifest
