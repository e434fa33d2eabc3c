"""Classical spatiotemporal packages on the real Bouconne Sentinel-2 series (shared/data/bouconne_s2).

A semi-real spatiotemporal case: seven Theia Level-3A monthly syntheses of 2018 over the
Bouconne forest (148 x 227 px at 10 m, cropped to 144 x 224), the 10 m bands B2, B3, B4, B8 as
the fine images and their 16 x 16 block means as the coarse ones. Every inner date is predicted
from the pairs of the dates before and after it and the coarse image of the date, by ESTARFM
(both pairs), STARFM (both pairs) and the naive difference (the nearest pair), each exported by
our own exporter for these bands (the shipped packages' parameters) and called through the
package contract like the pipeline does.

Protocol: *deployable* - the methods are not trained; nothing of a target date but its coarse
image is an input. The coarse images are exact block means of the fine ones (no sensor
difference, no misregistration), so this tests the temporal model, not cross-sensor effects.

Prints RMSE per band and the mean per method for every target date, and the mean over dates.

    .venv/bin/python benchmarks/classical_bouconne.py [--data ../shared/data/bouconne_s2]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path

import numpy as np
import rasterio

from fusion.grid import block_mean
from fusion.metrics import evaluate
from fusion.models import get_metadata
from fusion.models.classical.estarfm import EstarfmConfig, export_estarfm
from fusion.models.classical.naive import export_naive
from fusion.models.classical.starfm import StarfmConfig, export_starfm
from fusion.models.package import LoadedModel, load_model_package

BANDS = ("blue", "green", "red", "nir08")  # B2, B3, B4, B8: the 10 m bands
RATIO = 16
DATES_BANDS = 10


def load(data: Path) -> tuple[list[str], np.ndarray]:
    """Dates and the (date, H, W, band) reflectance of the 10 m bands, cropped to multiples of 16."""
    with rasterio.open(data / "bouconne_2018_s2_l3a_north.tif") as src:
        cube = src.read().astype(np.float32) * np.float32(1e-4)
    n_dates = cube.shape[0] // DATES_BANDS
    cube = cube.reshape(n_dates, DATES_BANDS, *cube.shape[1:])[:, :4]
    h, w = (cube.shape[2] // RATIO) * RATIO, (cube.shape[3] // RATIO) * RATIO
    with open(data / "bands_dates.csv") as f:
        dates = sorted({row["date"] for row in csv.DictReader(f)})
    return dates, np.moveaxis(cube[:, :, :h, :w], 1, -1)


def coarse(fine: np.ndarray) -> np.ndarray:
    """16 x 16 block means, (H/16, W/16, B)."""
    return np.moveaxis(block_mean(np.moveaxis(fine, -1, 0), RATIO), 0, -1).astype(np.float32)


def predict(model: LoadedModel, c0: np.ndarray, pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    inputs = {"coarse_t0": c0[np.newaxis]}
    for k, (fine, crs) in enumerate(pairs, start=1):
        inputs[f"fine_tk{k}"] = fine[np.newaxis]
        inputs[f"coarse_tk{k}"] = crs[np.newaxis]
        inputs[f"valid_tk{k}"] = np.ones((1, *fine.shape[:2], 1), np.float32)
    names = {spec.name for spec in model.metadata.inputs}
    out: np.ndarray = model.predict({k: v for k, v in inputs.items() if k in names})[0]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "bouconne_s2"
    parser.add_argument("--data", type=Path, default=default)
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no Bouconne data at {args.data}; pass --data", file=sys.stderr)
        return 2
    dates, fine = load(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        models = {
            "estarfm": load_model_package(
                export_estarfm(
                    Path(tmp) / "e", EstarfmConfig(**get_metadata("estarfm").parameters), BANDS, RATIO
                )
            ),
            "starfm": load_model_package(
                export_starfm(
                    Path(tmp) / "s", StarfmConfig(**get_metadata("starfm").parameters), BANDS, RATIO
                )
            ),
            "naive": load_model_package(export_naive(Path(tmp) / "n", BANDS, RATIO)),
        }
        print(
            f"Bouconne, {fine.shape[1]} x {fine.shape[2]} px at 10 m, bands {', '.join(BANDS)}; "
            "coarse = 16 x 16 block means; RMSE (reflectance), deployable"
        )
        print(f"| target | before, after | method | {' | '.join(BANDS)} | mean |")
        print("|---|---|---|" + "---:|" * (len(BANDS) + 1))
        means: dict[str, list[float]] = {m: [] for m in models}
        for t in range(1, len(dates) - 1):
            before, after = (fine[t - 1], coarse(fine[t - 1])), (fine[t + 1], coarse(fine[t + 1]))
            gaps = (dates[t - 1], dates[t + 1])
            nearest = before if _days(dates[t - 1], dates[t]) <= _days(dates[t], dates[t + 1]) else after
            for name, model in models.items():
                pairs = [nearest] if name == "naive" else [before, after]
                pred = predict(model, coarse(fine[t]), pairs)
                rmse = evaluate(
                    np.moveaxis(fine[t], -1, 0), np.moveaxis(pred, -1, 0), bands=list(BANDS), metrics=["rmse"]
                ).per_band["rmse"]
                means[name].append(float(np.mean(rmse)))
                cells = " | ".join(f"{v:.4f}" for v in rmse)
                print(f"| {dates[t]} | {gaps[0]}, {gaps[1]} | {name} | {cells} | {np.mean(rmse):.4f} |")
        print(
            "\nmean RMSE over the inner dates: "
            + ", ".join(f"{m} {np.mean(v):.4f}" for m, v in means.items())
        )
    return 0


def _days(a: str, b: str) -> int:
    import datetime as dt

    return abs((dt.date.fromisoformat(b) - dt.date.fromisoformat(a)).days)


if __name__ == "__main__":
    raise SystemExit(main())
