"""Scoring harmonize products against the observed Landsat, in the layout of seed 002 Table IV.

For every Sentinel-2 product date with a Landsat scene within ±1 day (both clear enough on
the tile), each method's product is compared with the observed Landsat on the pixels usable in
the Landsat scene and valid in *every* method's product, so the methods are scored on the same
pixels. Metrics (seed 002 eqs. 5-10): SAM (degrees), ERGAS (pixel-size ratio 1), RMSE, UIQI on
32 × 32 windows, PSNR (data range 1, reflectance); per band and overall, averaged over dates
as in the seed. Per band, ERGAS is 100 · RMSE_b / μ_b and SAM is undefined (a one-band
spectrum has no angle), shown as "–".

Producing the products (running the pipeline once per model) and scoring them in one go is
:func:`pipelines.evaluation.run_and_score`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.enums import Resampling

from fusion.blockio import GridWindow, read_scene
from fusion.evaluation.report import Comparison, mean_scores, write_csv, write_figure
from fusion.grid import Window
from fusion.metrics import Scores, evaluate
from fusion.publish import from_int16
from fusion.request import FusionRequest
from fusion.tasks.harmonize import NAME, OUTPUT_BANDS, tile_pairs
from fusion.tasks.harmonize import TASK as HARMONIZE

#: The task these scores are for.
TASK = NAME

METRICS = HARMONIZE.metrics
LABELS = {"sam": "SAM (°)", "ergas": "ERGAS", "rmse": "RMSE", "uiqi": "UIQI", "psnr": "PSNR (dB)"}
#: Seed 002 Table IV names the bands by Landsat-8 band number.
BAND_NUMBERS = {"blue": 2, "green": 3, "red": 4, "nir08": 5, "swir16": 6, "swir22": 7}
F32 = npt.NDArray[np.float32]


@dataclass
class HarmonizeCase:
    """One Sentinel-2 date of one tile: the observed Landsat and every method's product."""

    tile: str
    date: dt.date
    landsat_id: str
    sentinel2_id: str
    comparison: Comparison

    def scores(self) -> dict[str, Scores]:
        return {
            name: score(self.comparison.observed, pred, self.comparison.mask)
            for name, pred in self.comparison.predictions.items()
        }


def score(observed: F32, predicted: F32, mask: npt.NDArray[np.bool_]) -> Scores:
    """Seed 002's metrics; per-band ERGAS added (100 · RMSE_b / μ_b)."""
    s = evaluate(observed, predicted, mask, bands=list(OUTPUT_BANDS), metrics=METRICS, data_range=1.0)
    s.per_band["ergas"] = [
        float(100.0 * s.per_band["rmse"][b] / np.mean(observed[b][mask])) for b in range(len(OUTPUT_BANDS))
    ]
    return s


def product_path(products: Path, model: str, tile: str, day: dt.date) -> Path | None:
    """The COG of ``model``'s product for ``tile`` on ``day`` (the first by name if several)."""
    found = sorted(
        products.glob(
            f"eo-fusion-harmonize-{model}/{tile}/{day:%Y}/harmonize-{model}-{tile}-{day:%Y%m%d}-*.tif"
        )
    )
    return found[0] if found else None


def read_product(path: Path) -> tuple[F32, npt.NDArray[np.bool_]]:
    with rasterio.open(path) as src:
        data = from_int16(src.read(list(range(1, len(OUTPUT_BANDS) + 1))))
    return data, np.all(np.isfinite(data), axis=0)


def harmonize_cases(
    request: FusionRequest, products: Path, models: Sequence[str], min_clear: float = 0.5
) -> tuple[list[HarmonizeCase], list[str]]:
    """Cases for every Sentinel-2 date with Landsat within a day; also what was left out, why."""
    notes: list[str] = []
    cases = []
    for tile, pair in tile_pairs(request, min_clear, notes.append):
        tile_id = tile.id
        window = Window(0, 0, *tile.shape)
        if not request.start <= pair.date <= request.end:
            continue
        paths = {m: product_path(products, m, tile_id, pair.date) for m in models}
        missing = [m for m, p in paths.items() if p is None]
        if missing:
            notes.append(f"{tile_id} {pair.date}: no product of {', '.join(missing)}")
            continue
        landsat = read_scene(
            pair.target.scene, list(OUTPUT_BANDS), GridWindow.of(tile, window), Resampling.nearest
        )
        mask = landsat.usable.copy()
        predictions = {}
        for model, path in paths.items():
            assert path is not None  # noqa: S101 - checked above
            data, valid = read_product(path)
            predictions[model] = data
            mask &= valid
        if mask.mean() < 0.05:
            notes.append(
                f"{tile_id} {pair.date}: only {mask.mean():.0%} of the tile is valid in every product "
                "and in Landsat"
            )
            continue
        observed = np.moveaxis(landsat.reflectance, -1, 0)
        title = f"{tile_id} {pair.date} (Landsat {pair.target.date})"
        cases.append(
            HarmonizeCase(
                tile_id,
                pair.date,
                pair.target.scene.id,
                pair.source.scene.id,
                Comparison(title, list(OUTPUT_BANDS), observed, mask, predictions),
            )
        )
    return cases, notes


def table_iv(scores: Mapping[str, Scores], caption: str = "") -> str:
    """Markdown: one block of rows per metric, one row per method, columns Band 2-7 + Overall."""
    header = "| Data | " + " | ".join(f"Band {BAND_NUMBERS[b]} ({b})" for b in OUTPUT_BANDS) + " | Overall |"
    lines = (
        [caption, "", header, "|" + "---|" * (len(OUTPUT_BANDS) + 2)]
        if caption
        else [header, "|" + "---|" * (len(OUTPUT_BANDS) + 2)]
    )
    for metric in METRICS:
        lines.append(f"| **{LABELS[metric]}** |" + " |" * (len(OUTPUT_BANDS) + 1))
        for name, s in scores.items():
            fmt = "{:.2f}" if metric in ("sam", "ergas", "psnr") else "{:.4f}"
            cells = [
                "–" if metric == "sam" else fmt.format(v)
                for v in s.per_band.get(metric, [np.nan] * len(OUTPUT_BANDS))
            ]
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {fmt.format(s.overall[metric])} |")
    return "\n".join(lines)


def csv_rows(cases: Sequence[HarmonizeCase], means: Mapping[str, Scores]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for label, scores in [*((f"{c.tile} {c.date}", c.scores()) for c in cases), ("mean", means)]:
        for method, s in scores.items():
            for metric in METRICS:
                for i, band in enumerate(OUTPUT_BANDS):
                    if metric in s.per_band:
                        rows.append(
                            {
                                "case": label,
                                "method": method,
                                "band": band,
                                "metric": metric,
                                "value": s.per_band[metric][i],
                            }
                        )
                rows.append(
                    {
                        "case": label,
                        "method": method,
                        "band": "overall",
                        "metric": metric,
                        "value": s.overall[metric],
                    }
                )
    return rows


def write_harmonize_report(
    out: Path, cases: Sequence[HarmonizeCase], notes: Sequence[str], caption: str
) -> dict[str, Any]:
    """table.md, table.csv, scores.json and figure.png (the first case) under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    per_case = [c.scores() for c in cases]
    means = mean_scores(per_case)
    table = table_iv(means, caption.format(n=len(cases)))
    (out / "table.md").write_text(table + "\n")
    write_csv(out / "table.csv", csv_rows(cases, means))
    summary = {
        "cases": [
            {
                "tile": c.tile,
                "date": c.date.isoformat(),
                "sentinel-2": c.sentinel2_id,
                "landsat": c.landsat_id,
            }
            for c in cases
        ],
        "left_out": list(notes),
        "mean": {m: {"overall": s.overall, "per_band": s.per_band} for m, s in means.items()},
        "per_case": [{m: s.overall for m, s in scores.items()} for scores in per_case],
    }
    (out / "scores.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if cases:
        write_figure(out / "figure.png", cases[0].comparison, scatter_band="nir08")
    return summary
