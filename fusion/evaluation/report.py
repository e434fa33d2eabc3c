"""Evaluation reports in the layout of seed 001's Tables 1-3 and Figure 6.

A *comparison* is ``{method: (reference, predicted, mask)}`` on the same pixels; the table
has one row per metric (RMSE, R², KGE, SSIM) and, per band, one column per method; the CSV
has one row per (method, band, metric); the figure shows the observed image next to every
method's prediction and a density scatter plot of observed vs predicted per method.
:func:`write_report` writes all of them, with ``scores.json``, for a list of comparisons.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fusion.metrics import Scores, evaluate
from fusion.tasks.spatiotemporal import TASK as SPATIOTEMPORAL

TABLE_METRICS = SPATIOTEMPORAL.metrics
LABELS = {"rmse": "RMSE", "r2": "R²", "kge": "KGE", "ssim": "SSIM"}
F32 = npt.NDArray[np.float32]


@dataclass
class Comparison:
    """Several methods' predictions of the same observed image (B, H, W) on one mask."""

    title: str
    bands: list[str]
    observed: F32
    mask: npt.NDArray[np.bool_]
    predictions: dict[str, F32]

    def scores(self) -> dict[str, Scores]:
        return {
            name: evaluate(
                self.observed, pred, self.mask, bands=self.bands, metrics=list(TABLE_METRICS), data_range=1.0
            )
            for name, pred in self.predictions.items()
        }


def mean_scores(per_case: Sequence[Mapping[str, Scores]]) -> dict[str, Scores]:
    """Average per-band and overall scores over cases (e.g. the dates of a period)."""
    methods = list(per_case[0])
    out = {}
    for m in methods:
        cases = [c[m] for c in per_case]
        bands = cases[0].bands
        per_band = {
            k: [float(np.mean([c.per_band[k][i] for c in cases])) for i in range(len(bands))]
            for k in cases[0].per_band
        }
        overall = {k: float(np.mean([c.overall[k] for c in cases])) for k in cases[0].overall}
        out[m] = Scores(bands, overall, per_band)
    return out


def markdown_table(scores: Mapping[str, Scores], caption: str = "") -> str:
    """Seed 001 layout: metrics as rows; per band, one column per method; plus the band mean."""
    methods = list(scores)
    bands = scores[methods[0]].bands
    head = ["metric"] + [f"{b} {m}" for b in [*bands, "mean"] for m in methods]
    lines = []
    if caption:
        lines += [caption, ""]
    lines += ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for metric in TABLE_METRICS:
        row = [LABELS[metric]]
        for i in range(len(bands) + 1):
            for m in methods:
                values = scores[m].per_band[metric]
                v = values[i] if i < len(bands) else float(np.mean(values))
                row.append(f"{v:.4f}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def write_csv(path: Path, rows: Sequence[Mapping[str, object]]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def csv_rows(case: str, scores: Mapping[str, Scores]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for method, s in scores.items():
        for metric in TABLE_METRICS:
            for band, value in zip(s.bands, s.per_band[metric], strict=True):
                rows.append({"case": case, "method": method, "band": band, "metric": metric, "value": value})
            rows.append(
                {
                    "case": case,
                    "method": method,
                    "band": "mean",
                    "metric": metric,
                    "value": float(np.mean(s.per_band[metric])),
                }
            )
    return rows


def _display(image: F32, bands: list[str]) -> F32:
    """(H, W, 3) for display: NIR-red-green false colour when present, else the first band."""
    want = [b for b in ("nir08", "red", "green") if b in bands]
    idx = [bands.index(b) for b in want] if len(want) == 3 else [0, 0, 0]
    rgb = np.moveaxis(image[idx], 0, -1)
    out: F32 = np.clip(np.nan_to_num(rgb / 0.4), 0, 1).astype(np.float32)
    return out


def write_figure(path: Path, comparison: Comparison, scatter_band: str | None = None) -> Path:
    """Observed vs fused images (top) and density scatter plots, as in seed 001 Figure 6."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(comparison.predictions)
    band = scatter_band if scatter_band in comparison.bands else comparison.bands[-1]
    b = comparison.bands.index(band)
    n = len(methods) + 1
    fig, axes = plt.subplots(2, n, figsize=(3.2 * n, 6.6), squeeze=False)
    mask = comparison.mask
    axes[0][0].imshow(_display(np.where(mask, comparison.observed, np.nan), comparison.bands))
    axes[0][0].set_title("observed")
    axes[1][0].axis("off")
    obs = comparison.observed[b][mask]
    hi = float(np.nanpercentile(obs, 99.5)) * 1.1 if obs.size else 1.0
    for j, m in enumerate(methods, start=1):
        pred = comparison.predictions[m]
        axes[0][j].imshow(_display(np.where(mask, pred, np.nan), comparison.bands))
        axes[0][j].set_title(m)
        p = pred[b][mask]
        ok = np.isfinite(p)
        axes[1][j].hist2d(obs[ok], p[ok], bins=120, range=[[0, hi], [0, hi]], cmap="viridis", cmin=1)
        axes[1][j].plot([0, hi], [0, hi], color="red", linewidth=0.8)
        rmse = float(np.sqrt(np.mean((obs[ok] - p[ok]) ** 2))) if ok.any() else float("nan")
        axes[1][j].set_title(f"{m}, {band}: RMSE {rmse:.4f}", fontsize=9)
        axes[1][j].set_xlabel("observed")
        axes[1][j].set_ylabel("predicted")
    for ax in axes[0]:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(comparison.title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_report(
    out: Path, comparisons: list[Comparison], caption: str, scatter_band: str = "nir08"
) -> dict[str, Any]:
    """table.md (mean over the comparisons, seed 001 layout), table.csv (every case and the
    mean), figure.png (the comparison with most scored pixels) and scores.json."""
    out.mkdir(parents=True, exist_ok=True)
    per_case = [c.scores() for c in comparisons]
    mean = mean_scores(per_case)
    table = markdown_table(mean, caption)
    (out / "table.md").write_text(table + "\n")
    rows = [r for c, s in zip(comparisons, per_case, strict=True) for r in csv_rows(c.title, s)]
    rows += csv_rows("mean", mean)
    write_csv(out / "table.csv", rows)
    best = max(comparisons, key=lambda c: int(c.mask.sum()))
    write_figure(out / "figure.png", best, scatter_band)
    summary = {
        "cases": [c.title for c in comparisons],
        "mean": {
            m: {
                "overall": s.overall,
                "per_band": dict(
                    zip(
                        TABLE_METRICS,
                        [dict(zip(s.bands, s.per_band[k], strict=True)) for k in TABLE_METRICS],
                        strict=True,
                    )
                ),
            }
            for m, s in mean.items()
        },
        "mean_rmse_over_bands": {m: float(np.mean(s.per_band["rmse"])) for m, s in mean.items()},
    }
    (out / "scores.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return {"table": table, **summary}
