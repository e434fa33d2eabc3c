"""Scoring fused products against the simulated truth (the demo's table), and side-by-side
comparisons of several models' products for :func:`fusion.evaluation.report.write_report`."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.windows import from_bounds

from fusion.catalog import item_datetime
from fusion.errors import SceneNotFound
from fusion.evaluation.report import Comparison
from fusion.metrics import evaluate
from fusion.publish import read_product
from fusion.simulate import TRUTH_BANDS, read_truth


@dataclass(frozen=True)
class ProductScore:
    product_id: str
    #: the model the run named: a package, or a model choice (classical-auto) whose products
    #: are scored together, whichever package each one came from
    model: str
    date: dt.date
    truth_date: dt.date
    valid_fraction: float  #: of the product
    scored_fraction: float  #: pixels valid in every model's product of this tile and date
    rmse: float
    ssim: float
    per_band_rmse: dict[str, float]
    method: str = ""  #: the package a model choice picked for this product ("" without a choice)

    @property
    def label(self) -> str:
        """``model``, with the package a model choice picked (``classical-auto: estarfm``)."""
        return f"{self.model}: {self.method}" if self.method else self.model


def run_model(properties: dict[str, Any]) -> tuple[str, str]:
    """``(model, method)`` of a product Item's properties: the model its run named (a model
    choice, or the package) and the package a choice picked ("" without a choice)."""
    package = str(properties["eo-fusion:model"]["name"])
    choice = properties.get("eo-fusion:method_choice")
    return (str(choice), package) if choice else (package, "")


def observed_day(item_path: Path) -> dt.date:
    """The day a (possibly composite) input item observed: the most common value of its
    ``sur_refl_day_of_year`` asset for MODIS composites, else its datetime."""
    item = json.loads(item_path.read_text())
    props = item["properties"]
    asset = item.get("assets", {}).get("sur_refl_day_of_year")
    if asset is None:
        # The UTC date the pipeline pairs and names products by (+14:00 is a UTC day earlier).
        return item_datetime(props).date()
    # The day-of-year values count from the composite's own year, as its period states it.
    start = dt.datetime.fromisoformat(
        (props.get("start_datetime") or props["datetime"]).replace("Z", "+00:00")
    )
    with rasterio.open(item_path.parent / asset["href"]) as src:
        doy = src.read(1)
        nodata = src.nodata
    values = doy[doy != nodata] if nodata is not None else doy.ravel()
    day = Counter(values.tolist()).most_common(1)[0][0]
    return dt.date(start.year, 1, 1) + dt.timedelta(days=int(day) - 1)


@dataclass
class _Loaded:
    item: dict[str, Any]
    fused: npt.NDArray[np.float32]
    valid: npt.NDArray[np.bool_]
    truth: npt.NDArray[np.float32]
    truth_day: dt.date
    bands: list[str]


def _load(item_path: Path, simulation_dir: Path) -> _Loaded:
    item = json.loads(item_path.read_text())
    target_link = next(
        lk for lk in item["links"] if lk["rel"] == "derived_from" and lk["title"].startswith("target")
    )
    truth_day = observed_day((item_path.parent / target_link["href"]).resolve())
    cog = item_path.parent / item["assets"]["data"]["href"]
    fused, valid = read_product(cog)
    truth_path = simulation_dir / "truth" / f"{truth_day.isoformat()}.tif"
    if not truth_path.exists():
        raise SceneNotFound(f"no simulated truth for {truth_day} ({truth_path})")
    with rasterio.open(cog) as prod, rasterio.open(truth_path) as tsrc:
        window = from_bounds(*prod.bounds, transform=tsrc.transform).round_offsets().round_lengths()
    full = read_truth(simulation_dir, truth_day)
    rows = slice(int(window.row_off), int(window.row_off + window.height))
    cols = slice(int(window.col_off), int(window.col_off + window.width))
    names = [b["common_name"] for b in item["assets"]["data"]["eo:bands"]]
    truth = full[[TRUTH_BANDS.index(n) for n in names], rows, cols]
    return _Loaded(item, fused, valid, truth, truth_day, names)


def _products_by_tile_and_date(
    output: str | os.PathLike[str], simulation_dir: str | os.PathLike[str]
) -> dict[tuple[str, str], list[_Loaded]]:
    """Every product under ``output`` with its truth, grouped by (tile, start datetime)."""
    groups: dict[tuple[str, str], list[_Loaded]] = {}
    for path in sorted(Path(output).glob("eo-fusion-*/*/*/*.json")):
        loaded = _load(path, Path(simulation_dir))
        props = loaded.item["properties"]
        groups.setdefault((props["eo-fusion:tile"], props["start_datetime"]), []).append(loaded)
    return groups


def score_output(
    output: str | os.PathLike[str], simulation_dir: str | os.PathLike[str]
) -> list[ProductScore]:
    """RMSE and SSIM (reflectance, data range 1) of every product under ``output`` against the
    simulated truth of the day its target observation saw.

    Products of the same tile and date (one per model) are scored on the pixels valid in *all*
    of them, so models are compared on the same pixels (a model that fills more pixels is not
    penalised for the harder ones). Sorted by (date, model).
    """
    groups = _products_by_tile_and_date(output, simulation_dir)
    out = []
    for members in groups.values():
        common = np.logical_and.reduce([m.valid for m in members])
        for m in members:
            props = m.item["properties"]
            scores = evaluate(
                m.truth, m.fused, common, bands=m.bands, metrics=["rmse", "ssim"], data_range=1.0
            )
            model, method = run_model(props)
            out.append(
                ProductScore(
                    product_id=m.item["id"],
                    model=model,
                    method=method,
                    date=dt.date.fromisoformat(props["start_datetime"][:10]),
                    truth_date=m.truth_day,
                    valid_fraction=float(props["eo-fusion:valid_fraction"]),
                    scored_fraction=float(common.mean()),
                    rmse=scores.overall["rmse"],
                    ssim=scores.overall["ssim"],
                    per_band_rmse=dict(zip(m.bands, scores.per_band["rmse"], strict=True)),
                )
            )
    return sorted(out, key=lambda s: (s.date, s.model))


def score_table(scores: list[ProductScore]) -> str:
    """A Markdown table: one row per product, then the mean per model."""
    lines = [
        "| date | observed | model | valid | scored | RMSE | SSIM |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for s in scores:
        lines.append(
            f"| {s.date} | {s.truth_date} | {s.label} | {s.valid_fraction:.0%} | "
            f"{s.scored_fraction:.0%} | {s.rmse:.4f} | {s.ssim:.4f} |"
        )
    for model, mean in mean_by_model(scores).items():
        lines.append(f"| **mean** | | **{model}** | | | **{mean['rmse']:.4f}** | **{mean['ssim']:.4f}** |")
    return "\n".join(lines)


def mean_by_model(scores: list[ProductScore]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for model in sorted({s.model for s in scores}):
        group = [s for s in scores if s.model == model]
        out[model] = {
            "products": len(group),
            "rmse": float(np.mean([g.rmse for g in group])),
            "ssim": float(np.mean([g.ssim for g in group])),
        }
    return out


# ------------------------------------------------------------------------------------------
# Side-by-side comparisons (fusion evaluate)


def simulated_comparisons(
    output: str | os.PathLike[str], simulation_dir: str | os.PathLike[str], models: list[str]
) -> list[Comparison]:
    """One comparison per (tile, date) that every model in ``models`` produced: the simulated
    truth of the observed day, each model's product, scored on the pixels valid in all."""
    out = []
    for (tile, start), group in sorted(_products_by_tile_and_date(output, simulation_dir).items()):
        # By the model each run named (a model choice's products together).
        members = {
            run_model(m.item["properties"])[0]: m
            for m in group
            if run_model(m.item["properties"])[0] in models
        }
        if set(members) != set(models):
            continue
        first = members[models[0]]
        common = np.logical_and.reduce([m.valid for m in members.values()])
        if not common.any():
            continue
        out.append(
            Comparison(
                title=f"{tile} {start[:10]} (observed {first.truth_day})",
                bands=first.bands,
                observed=first.truth,
                mask=common,
                predictions={m: members[m].fused for m in models},
            )
        )
    return out
