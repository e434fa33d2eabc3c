"""``fusion run --dry-run``: what a run would do, without reading reflectance or running the model.

The plan runs the run's own first stages (:func:`pipelines.fuse.plan_jobs`: SearchScenes →
AssessScenes → PlanJobs) on a local Beam runner, so it searches the catalog and reads the QA
assets (cloud masks) of the scenes found, then names every target date of every tile: ``fuse``
(with its reference dates and input scenes), ``exists`` (its product is already in the output,
so the run's skip-existing leaves it) or ``skip`` (with the reason the run records as a dead
letter). Nothing is written under the output folder; the plan goes to a temporary folder, and
to ``REPORT/plan.jsonl`` when a report folder is given.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from fusion.errors import ConfigError
from fusion.models.auto import JobModels
from fusion.pairing import FusionJob
from fusion.request import FusionRequest
from pipelines.fuse import plan_jobs, prepare
from pipelines.records import DEAD_LETTER, MAIN, NAMESPACE, DeadLetter, read_jsonl
from pipelines.run import beam_counters, is_remote_runner
from pipelines.stages.blocks import job_spec

#: The actions of a plan row.
FUSE, EXISTS, SKIP = "fuse", "exists", "skip"


@dataclass(frozen=True)
class PlanRow:
    """One target date of one tile (or one scene whose QA could not be assessed, or one item
    the search could not use)."""

    tile: str  #: "-" for an item the search dropped
    date: str  #: YYYY-MM-DD; "-" for a scene that failed assessment or an item the search dropped
    action: str  #: fuse | exists | skip
    reason: str  #: why it is skipped; for fuse its input scenes (role=id), for exists its product
    references: tuple[str, ...] = ()  #: reference dates (fuse / exists)
    scene: str = ""  #: the target scene (the scene a skip is about)
    inputs: tuple[str, ...] = ()  #: every input item id (fuse / exists)
    product_id: str = ""
    model: str = ""  #: the package that fuses it (fuse / exists)
    #: why a model choice (``classical-auto``) picked ``model``; "" when the request named it
    method_reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlanRow:
        return cls(**{**data, "references": tuple(data["references"]), "inputs": tuple(data["inputs"])})


@dataclass
class RunPlan:
    rows: list[PlanRow]
    counters: dict[str, int]

    def actions(self) -> Counter[str]:
        return Counter(r.action for r in self.rows)

    def text(self) -> str:
        """A table: tile, date, action, references, reason; then the totals."""
        header = ("tile", "date", "action", "references", "reason / inputs")
        cells = [(r.tile, r.date, r.action, ", ".join(r.references) or "-", r.reason) for r in self.rows]
        widths = [max(len(c[i]) for c in [header, *cells]) for i in range(4)]

        def line(c: tuple[str, ...]) -> str:
            return "  ".join(v.ljust(w) for v, w in zip(c[:4], widths, strict=True)) + "  " + c[4]

        n = self.actions()
        chosen = Counter(r.model for r in self.rows if r.method_reason)
        by_method = (
            "; by method: " + ", ".join(f"{m} {k}" for m, k in sorted(chosen.items())) if chosen else ""
        )
        scenes = self.counters.get("scenes_found", 0)
        assessed = self.counters.get("observations_assessed", 0)
        lines = [
            f"dry run: {scenes} scene(s) found, {assessed} scene/tile cloud mask(s) assessed; "
            "no reflectance read, no model run, nothing written",
        ]
        if self.rows:
            lines += [line(header), *(line(c) for c in cells)]
        else:
            lines.append("no target date on any tile (no scenes of every input role on a tile)")
        tiles = len({r.tile for r in self.rows if r.tile != "-"})  # "-": an item the search dropped
        lines.append(
            f"plan: {n[FUSE]} to fuse, {n[EXISTS]} already in the output, {n[SKIP]} skipped "
            f"on {tiles} tile(s){by_method}"
        )
        return "\n".join(lines)


def _job_row(
    element: tuple[FusionJob, Any], output: str, task: Any, models: JobModels, block_size: int
) -> str:
    job, _tile = element
    spec, _package = job_spec(job, task, models, block_size)
    state = spec.state(output)
    exists = state.finished
    inputs = tuple(item_id for _, item_id, _ in spec.input_items)
    refs = tuple(d.isoformat() for d in spec.reference_dates)
    reason = (
        f"product {spec.product_id} exists (the run skips it)"
        if exists
        else " ".join(f"{role}={item_id}" for role, item_id, _ in spec.input_items)
    )
    if spec.method_reason:  # a model choice picked the package: which, and why
        reason = f"{spec.model}: {spec.method_reason}; {reason}"
    if state.problem is not None:  # there, but broken: the run writes it again
        reason = f"redo: {state.location}: {state.problem}; {reason}"
    row = PlanRow(
        job.tile_id,
        job.date.isoformat(),
        EXISTS if exists else FUSE,
        reason,
        refs,
        job.target.scene.id,
        inputs,
        spec.product_id,
        spec.model,
        spec.method_reason or "",
    )
    return json.dumps(row.to_json())


def _dead_letter_row(record: DeadLetter) -> str:
    """A ``skipped`` date of PlanJobs (key tile/date/scene), a scene AssessScenes could not
    assess (key tile/scene) or an item SearchScenes dropped (key its href or id; on no tile)."""
    if record.stage == "pair":
        tile, date, scene = record.key.split("/", 2)
        row = PlanRow(tile, date, SKIP, record.reason, scene=scene)
    elif record.stage == "search":
        row = PlanRow("-", "-", SKIP, f"search {record.kind}: {record.reason}", scene=record.key)
    else:
        tile, _, scene = record.key.partition("/")
        row = PlanRow(tile, "-", SKIP, f"{record.stage} {record.kind}: {record.reason}", scene=scene)
    return json.dumps(row.to_json())


def plan_run(
    request: FusionRequest, beam_args: list[str] | None = None, report_dir: str | Path | None = None
) -> RunPlan:
    """The plan of ``request``'s run (see the module): search, QA assessment and job planning on
    the local Beam runner. With ``report_dir`` the rows are also written to
    ``REPORT/plan.jsonl`` and the table to ``REPORT/plan.txt``."""
    options = PipelineOptions(beam_args or [])
    if is_remote_runner(options):
        raise ConfigError("--dry-run plans here, on the local runner; drop --runner from the Beam options")
    prepared = prepare(request, probe_output=False)
    output, task, models = request.output, prepared.task, prepared.models
    with tempfile.TemporaryDirectory(prefix="fusion-plan-") as tmp:
        pipeline = beam.Pipeline(options=options)
        assessed, planned = plan_jobs(request, pipeline, prepared)
        jobs = planned[MAIN] | "PlanRows" >> beam.Map(_job_row, output, task, models, request.block_size)
        skips = (assessed[DEAD_LETTER], planned[DEAD_LETTER]) | "NotFused" >> beam.Flatten()
        rows = (jobs, skips | "SkipRows" >> beam.Map(_dead_letter_row)) | "AllRows" >> beam.Flatten()
        _ = rows | "WritePlan" >> beam.io.WriteToText(
            f"{tmp}/plan", file_name_suffix=".jsonl", shard_name_template=""
        )
        result = pipeline.run()
        result.wait_until_finish()
        records = read_jsonl([Path(tmp) / "plan.jsonl"])
    plan = RunPlan(
        sorted(
            (PlanRow.from_json(r) for r in records),
            key=lambda r: (r.tile, r.date, r.scene, r.action),
        ),
        beam_counters(result, NAMESPACE),
    )
    if report_dir is not None:
        report = Path(report_dir)
        report.mkdir(parents=True, exist_ok=True)
        (report / "plan.jsonl").write_text("".join(json.dumps(r.to_json()) + "\n" for r in plan.rows))
        (report / "plan.txt").write_text(plan.text() + "\n")
    return plan
