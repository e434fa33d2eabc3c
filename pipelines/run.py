"""Run the fusion pipeline: :func:`run` is the one build-and-run of every entry point (the CLI,
the Flex Template's ``pipelines.main``, a direct Dataflow launch); :func:`run_fusion` runs it
locally and summarises what it did."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from fusion.request import FusionRequest
from pipelines.fuse import build_pipeline
from pipelines.options import FusionOptions
from pipelines.records import NAMESPACE, read_jsonl
from pipelines.stages.common import PROGRESS

log = logging.getLogger("eo-fusion")


@dataclass
class RunSummary:
    products: list[dict[str, Any]]
    dead_letters: list[dict[str, Any]]
    counters: dict[str, int] = field(default_factory=dict)

    @property
    def written(self) -> list[dict[str, Any]]:
        return [p for p in self.products if p["status"] == "written"]

    @property
    def existing(self) -> list[dict[str, Any]]:
        return [p for p in self.products if p["status"] == "exists"]

    def by_method(self) -> dict[str, Counter[str]]:
        """Products a model choice made (written or existing), per choice and package."""
        out: dict[str, Counter[str]] = {}
        for p in self.products:
            if p.get("choice"):
                out.setdefault(p["choice"], Counter())[str(p.get("model"))] += 1
        return out

    def reasons(self) -> Counter[tuple[str, str, str]]:
        """(stage, kind, reason without per-item detail) -> count."""
        out: Counter[tuple[str, str, str]] = Counter()
        for rec in self.dead_letters:
            reason = rec["reason"].split(";")[0]
            if rec.get("asset") and rec["reason"].startswith(str(rec["asset"])):
                reason = rec["reason"][len(rec["asset"]) + 2 :]
            out[(rec["stage"], rec["kind"], reason[:240])] += 1
        return out

    def why_no_product(self) -> str | None:
        """Why a run produced nothing (None when it wrote or found a product), from its
        counters and dead letters: a run that says "0 products" always says why."""
        if self.written or self.existing:
            return None
        kinds = {(r["stage"], r["kind"]) for r in self.dead_letters}
        if not self.counters.get("scenes_found"):
            return (
                "the search found no scene for the request's period, area and collections; check "
                "--start/--end, --aoi/--tiles and --catalog (`fusion search` lists what a catalog has)"
            )
        if not self.counters.get("jobs_paired"):
            return (
                "scenes were found, but no date had a target scene with clear enough reference pairs "
                "(the skipped records above say why for each; `fusion run --dry-run` shows the plan)"
            )
        if any(kind == "failed" for _, kind in kinds):
            return "every planned product failed (the failed records above say why)"
        return "every planned product was dead-lettered (see the records above)"

    def text(self) -> str:
        redone = sum(1 for r in self.dead_letters if r["kind"] == "redone")
        lines = [
            f"products written: {len(self.written)}, skipped as existing: {len(self.existing)}, "
            f"dead-letter records: {len(self.dead_letters)} "
            f"({sum(1 for r in self.dead_letters if r['kind'] == 'failed')} failed, "
            f"{sum(1 for r in self.dead_letters if r['kind'] == 'skipped')} skipped"
            # only when there are some: the line of an ordinary run stays as it was
            + (f", {redone} redone: an earlier product did not check out" if redone else "")
            + ")"
        ]
        for choice, counts in sorted(self.by_method().items()):
            methods = ", ".join(f"{model} {n}" for model, n in sorted(counts.items()))
            lines.append(f"  products by method ({choice}): {methods}")
        for (stage, kind, reason), n in sorted(self.reasons().items()):
            lines.append(f"  {n:4d} x {stage:8s} {kind:7s} {reason}")
        why = self.why_no_product()
        if why:
            lines.append(f"  no product: {why}")
        if self.counters:
            lines.append("  counters: " + ", ".join(f"{k}={v}" for k, v in sorted(self.counters.items())))
        return "\n".join(lines)


def beam_counters(result: Any, namespace: str) -> dict[str, int]:
    """The committed (else attempted) value of every counter of ``namespace``, by name."""
    counters: dict[str, int] = {}
    try:
        for c in result.metrics().query(MetricsFilter().with_namespace(namespace))["counters"]:
            counters[c.key.metric.name] = counters.get(c.key.metric.name, 0) + int(
                c.committed or c.attempted or 0
            )
    except Exception:  # some runners report no metrics; the summary still holds
        log.debug("metrics not available from this runner")
    return counters


def report_location(options: PipelineOptions, now: dt.datetime | None = None) -> str | None:
    """``report_dir/<UTC launch time>``: every launched run keeps its own report."""
    base = options.view_as(FusionOptions).report_dir
    if not base:
        return None
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{base.rstrip('/')}/{stamp}"


def is_remote_runner(options: PipelineOptions) -> bool:
    """Whether the runner submits the job elsewhere (Dataflow) instead of running it here."""
    return "Dataflow" in str(options.view_as(StandardOptions).runner or "DirectRunner")


def run(
    request: FusionRequest, options: PipelineOptions, report_dir: str | None = None, wait: bool = True
) -> Any:
    """Build the fusion pipeline for ``request`` and run it with ``options``; waits for the end
    unless ``wait`` is false (a Dataflow submission returns once the job is created). Returns
    Beam's PipelineResult."""
    pipeline = beam.Pipeline(options=options)
    build_pipeline(request, pipeline, report_dir)
    result = pipeline.run()
    if wait:
        result.wait_until_finish()
    return result


def interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is Ctrl-C: a KeyboardInterrupt, or one that a Beam stage re-raised as
    ``RuntimeError("KeyboardInterrupt [while running '...']")``."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt) or str(seen).startswith("KeyboardInterrupt"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def remove_leftovers(report: Path, own: bool = False) -> None:
    """Remove the scratch folders of runs that no longer run (with ``own``: this one's too) and
    the ``beam-temp-*`` folders Beam's report writers leave in ``report`` when stopped."""
    from fusion.scratch import remove_scratch

    removed = remove_scratch(own=own)
    for temp in report.glob("beam-temp-*"):
        shutil.rmtree(temp, ignore_errors=True)
        removed.append(temp)
    if removed:
        log.info("removed %d temporary folder(s) of an interrupted run", len(removed))


def run_fusion(
    request: FusionRequest, report_dir: str | Path, beam_args: list[str] | None = None
) -> RunSummary:
    """Run the pipeline here (DirectRunner unless ``beam_args`` say otherwise) and summarise it."""
    from fusion.request import probe_writable

    report = Path(report_dir)
    probe_writable(str(report), "report dir")  # before any work, not at the end of it
    report.mkdir(parents=True, exist_ok=True)
    # What an interrupted or killed run left: its scratch folders, Beam's temporary report files.
    remove_leftovers(report)
    for name in ("products.jsonl", "dead-letter.jsonl"):
        (report / name).unlink(missing_ok=True)
    (report / "request.json").write_text(json.dumps(request.to_json(), indent=2, default=str) + "\n")
    PROGRESS.reset()
    try:
        result = run(request, PipelineOptions(beam_args or []), str(report))
    except BaseException as exc:
        if not interrupted(exc):
            raise
        remove_leftovers(report, own=True)
        raise KeyboardInterrupt from None
    counters = beam_counters(result, NAMESPACE)
    summary = RunSummary(
        read_jsonl([report / "products.jsonl"]), read_jsonl([report / "dead-letter.jsonl"]), counters
    )
    (report / "summary.txt").write_text(summary.text() + "\n")
    return summary


def run_each_model(
    base: FusionRequest, models: Sequence[str], out: Path, progress: Callable[[str], None], verb: str
) -> dict[str, RunSummary]:
    """Run ``base`` once per model into OUT/products (finished products are reused), with each
    run's report in OUT/reports/<model name>; says "<verb> start..end with <name>" and the
    first line of each summary. Returns the summaries by model name, in ``models`` order."""
    from fusion.models import get_metadata, is_model_choice

    summaries: dict[str, RunSummary] = {}
    for model in models:
        name = model if is_model_choice(model) else get_metadata(model).name
        request = dataclasses.replace(base, model=model, output=str(out / "products"))
        progress(f"{verb} {base.start}..{base.end} with {name}")
        summary = run_fusion(request, out / "reports" / name)
        progress(summary.text().splitlines()[0])
        summaries[name] = summary
    return summaries
