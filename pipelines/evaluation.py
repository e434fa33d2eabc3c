"""Evaluation runs: the pipeline run once per model, then the products scored.

:func:`run_and_score` harmonizes a period with every model (:func:`pipelines.run.run_each_model`)
and scores the products against the observed Landsat (:mod:`fusion.evaluation.harmonize`, pure
scoring without Beam).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fusion.errors import ConfigError
from fusion.evaluation.harmonize import TASK, harmonize_cases, write_harmonize_report
from fusion.models import get_choice, get_metadata, is_model_choice
from fusion.request import FusionRequest
from pipelines.run import run_each_model


def run_and_score(
    catalog: str,
    out: Path,
    models: Sequence[str],
    start: dt.date,
    end: dt.date,
    tiles: tuple[str, ...] | None,
    tile_size: int,
    block_size: int,
    progress: Any,
    caption: str,
    require_cases: bool = True,
) -> dict[str, Any]:
    """Harmonize ``start..end`` with every model into OUT/products (finished products are
    reused), score them against the observed Landsat and write the report under ``out``.
    Without ``require_cases`` a period with no date to score is not an error (the summary
    then has no cases and no report is written)."""
    for model in models:
        task = get_choice(model).task if is_model_choice(model) else get_metadata(model).task
        if task != TASK:
            raise ConfigError(f"model {model!r} is a {task!r} model; name {TASK} models")
    request = FusionRequest(
        catalog=catalog,
        output=str(out / "products"),
        start=start,
        end=end,
        task=TASK,
        model=models[0],
        tiles=tiles,
        tile_size=tile_size,
        block_size=block_size,
    )
    summaries = run_each_model(request, models, out, progress, "harmonizing")
    names = list(summaries)
    runs = {name: summary.text() for name, summary in summaries.items()}
    cases, notes = harmonize_cases(request, out / "products", names)
    if not cases and not require_cases:
        return {"cases": [], "left_out": notes, "mean": {}, "per_case": [], "runs": runs}
    if not cases:
        raise ConfigError(
            f"no Sentinel-2 date in {start}..{end} has a clear Landsat scene within a day and products "
            f"of all of {names}; widen the period ({'; '.join(notes[:5])})"
        )
    return {**write_harmonize_report(out, cases, notes, caption), "runs": runs}
