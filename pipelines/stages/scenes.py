"""SearchScenes → AssessScenes → PlanJobs: from a request to fusion jobs per grid tile.

The task (:mod:`fusion.tasks`) decides which collections are searched for which role, how
coarse each role's QA is read, and how a tile's observations become jobs; these transforms
only distribute that work.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
from apache_beam.pvalue import PBegin, PCollection
from apache_beam.transforms import window

from fusion.blockio import tile_clear_fraction
from fusion.catalog import DroppedItem
from fusion.errors import FusionError
from fusion.grid import Tile
from fusion.pairing import Observation, Skip
from fusion.request import FusionRequest, SceneOnTile, search_scenes
from pipelines.records import DEAD_LETTER, MAIN, dead_letter
from pipelines.stages.common import asset_of, count


@dataclass
class SearchScenes(beam.PTransform[Any, Any]):
    """The request's scenes per output tile, timestamped with their acquisition time
    (``with_targets``: also the task's target-only roles, for training and scoring); an item
    the search could not use (e.g. a null or unreadable datetime, a file that is not JSON) is a
    ``skipped`` dead letter of stage ``search`` instead of the end of the run."""

    request: FusionRequest
    with_targets: bool = False

    def __post_init__(self) -> None:
        super().__init__()

    def expand(self, pbegin: PBegin) -> dict[str, PCollection]:
        with_targets = self.with_targets

        def emit(request: FusionRequest) -> Iterator[Any]:
            dropped: list[DroppedItem] = []
            found = search_scenes(request, with_targets, dropped)
            count("scenes_found", len({s.scene.id for s in found}))
            if dropped:
                count("items_dropped", len(dropped))
            for item in dropped:
                yield beam.pvalue.TaggedOutput(DEAD_LETTER, dropped_item_record(item))
            for s in found:
                yield window.TimestampedValue(s, s.scene.datetime.timestamp())

        out = (
            pbegin
            | "Request" >> beam.Create([self.request])
            | "Search" >> beam.FlatMap(emit).with_outputs(DEAD_LETTER, main=MAIN)
        )
        return {MAIN: out[MAIN], DEAD_LETTER: out[DEAD_LETTER]}


def dropped_item_record(item: DroppedItem) -> Any:
    """An item the search could not use, as a ``skipped`` dead letter of stage ``search``
    (key: the item's href, or a STAC API item's id; reason prefixed with the href, which the
    run summary strips when it groups the reasons)."""
    where = item.href or item.item
    return dead_letter("search", f"{where}: {item.reason}", key=item.item, asset=item.href, kind="skipped")


class _AssessDoFn(beam.DoFn):
    def __init__(self, factors: Mapping[str, int], default_factor: int) -> None:
        self.factors = dict(factors)
        self.default_factor = default_factor

    def process(self, item: SceneOnTile) -> Iterator[Any]:
        factor = self.factors.get(item.role, self.default_factor)
        try:
            clear = tile_clear_fraction(item.scene, item.tile, factor)
        except FusionError as exc:
            count("scenes_dead_lettered")
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER,
                dead_letter(
                    "assess",
                    str(exc),
                    key=f"{item.tile.id}/{item.scene.id}",
                    asset=asset_of(exc) or item.scene.qa_href,
                ),
            )
            return
        count("observations_assessed")
        yield (
            Observation(item.scene, item.role, item.tile.id, clear, item.coverage, item.tile.grid.tile_size),
            item.tile,
        )


@dataclass
class AssessScenes(beam.PTransform[Any, Any]):
    """Clear fraction of each scene on each tile, from its QA asset read at reduced resolution:
    ``factors[role]`` output pixels per QA pixel (the task's :meth:`qa_factors`)."""

    factors: Mapping[str, int] = field(default_factory=dict)
    default_factor: int = 8

    def __post_init__(self) -> None:
        super().__init__()
        if any(f < 1 for f in (*self.factors.values(), self.default_factor)):
            raise ValueError("QA reduction factors must be >= 1")

    def expand(self, scenes: PCollection) -> dict[str, PCollection]:
        out = scenes | "ClearFraction" >> beam.ParDo(
            _AssessDoFn(self.factors, self.default_factor)
        ).with_outputs(DEAD_LETTER, main=MAIN)
        return {MAIN: out[MAIN], DEAD_LETTER: out[DEAD_LETTER]}


@dataclass
class PlanJobs(beam.PTransform[Any, Any]):
    """Group observations per tile within the run's time window and let the task plan jobs.

    Elements carry their acquisition time as event time; the run's search interval is one
    fixed window (a scheduled run processes one window), so a tile's group holds every
    observation a job may use. Every date the request's task does not fuse becomes a
    ``skipped`` dead letter with its reason.
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
        task = self.request.fusion_task

        def plan(element: tuple[str, Iterable[tuple[Observation, Tile]]]) -> Iterator[Any]:
            _tile_id, group = element
            items = sorted(group, key=lambda ot: (ot[0].scene.datetime, ot[0].scene.id, ot[0].role))
            if not items:
                return
            tile = items[0][1]
            jobs, skips = task.jobs([o for o, _ in items], config, period)
            count("jobs_paired", len(jobs))
            count("dates_not_fused", len(skips))
            for job in jobs:
                yield job, tile
            for s in skips:
                yield beam.pvalue.TaggedOutput(DEAD_LETTER, skip_record(s))

        planned = (
            observations
            | "WindowByDate" >> beam.WindowInto(window.FixedWindows(span, offset=search.start.timestamp()))
            | "KeyByTile" >> beam.Map(lambda ot: (ot[1].id, ot))
            | "GroupByTile" >> beam.GroupByKey()
            | "ChoosePairs" >> beam.FlatMap(plan).with_outputs(DEAD_LETTER, main=MAIN)
        )
        # Downstream stages are per job/product, not per time window.
        return {
            MAIN: planned[MAIN] | "Unwindow" >> beam.WindowInto(window.GlobalWindows()),
            DEAD_LETTER: planned[DEAD_LETTER] | "UnwindowSkips" >> beam.WindowInto(window.GlobalWindows()),
        }


def skip_record(skip: Skip) -> Any:
    """A date the task does not fuse, as a ``skipped`` dead letter of stage ``pair``."""
    return dead_letter(
        "pair",
        skip.reason,
        key=f"{skip.tile_id}/{skip.date.isoformat()}/{skip.scene_id}",
        asset=skip.asset,
        kind="skipped",
    )
