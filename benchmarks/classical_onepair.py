"""One reference pair: FSDAF against STARFM and the naive difference (issue 25, item 5).

Every figure is *deployable*: nothing of the target date but its coarse image is an input, and
none of the methods is trained. Each method is the shipped package, restricted to the set's
bands by exporting it with the same parameters for those bands (``export_*(bands=...)``), loaded
and called through ``LoadedModel.predict`` on the whole image as one block, as
``fusion evaluate real`` does. Sets (the loaders of ``starfm_diagnosis.py``):

* ``gwydir_flood``: Lower Gwydir Catchment, Landsat-5 TM 2004-11-26 -> 2004-12-28 (the flood),
  coarse = 16 x 16 block means (the FSDAF paper's own test case);
* ``shenzhen``: Landsat-7 2000-11-01 -> 2002-11-07 with real MODIS, block means to 1/16;
* ``simulated``: the demo's noise-free truth, 2023-07-11 -> 2023-07-14 (the flood of 07-12),
  coarse = block means (needs ``--demo``, the output of ``make demo``).

RMSE per band over the whole image, and over the east half (the hold-out of
``fusion evaluate real``), plus the mean over bands.

    PYTHONPATH=. .venv/bin/python benchmarks/classical_onepair.py [--data ../shared/data]
        [--demo demo-output] [--sets gwydir_flood shenzhen simulated]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from starfm_diagnosis import Case, real_case, simulated_case

from fusion.evaluation.real import RATIO, default_data_dir
from fusion.models import get_metadata
from fusion.models.classical.fsdaf import FsdafConfig, export_fsdaf
from fusion.models.classical.naive import export_naive
from fusion.models.classical.starfm import StarfmConfig, export_starfm
from fusion.models.package import load_model_package

EXPORTS: dict[str, Callable[[Path, tuple[str, ...]], Path]] = {
    "naive": lambda p, b: export_naive(p, b, RATIO),
    "starfm": lambda p, b: export_starfm(p, StarfmConfig(**get_metadata("starfm").parameters), b, RATIO),
    "fsdaf": lambda p, b: export_fsdaf(p, FsdafConfig(**get_metadata("fsdaf").parameters), b, RATIO),
}


def predict(package: Path, case: Case) -> np.ndarray:
    model = load_model_package(package)
    valid = np.ones((1, *case.fine_tk.shape[:2], 1), np.float32)
    empty = np.zeros_like(valid)
    feed = {
        "coarse_t0": case.coarse_t0[np.newaxis],
        "fine_tk1": case.fine_tk[np.newaxis],
        "coarse_tk1": case.coarse_tk[np.newaxis],
        "valid_tk1": valid,
        # STARFM's second pair slot: all invalid, so it uses the one pair (as the pipeline does)
        "fine_tk2": case.fine_tk[np.newaxis],
        "coarse_tk2": case.coarse_tk[np.newaxis],
        "valid_tk2": empty,
    }
    names = {s.name for s in model.metadata.inputs}
    out: np.ndarray = model.predict({k: v for k, v in feed.items() if k in names})[0]
    return out


def rmse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean((a.astype(np.float64) - b) ** 2, axis=(0, 1)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--demo", type=Path, default=Path("demo-output"))
    parser.add_argument("--sets", nargs="+", default=["gwydir_flood", "shenzhen", "simulated"])
    args = parser.parse_args()
    data = args.data or default_data_dir()
    for name in args.sets:
        case = simulated_case(args.demo) if name == "simulated" else real_case(name, data)
        bands = tuple(case.bands)
        east = case.fine_tk.shape[1] // 2 // RATIO * RATIO
        scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for method, export in EXPORTS.items():
                fused = predict(export(Path(tmp) / method, bands), case)
                scores[method] = (rmse(fused, case.observed), rmse(fused[:, east:], case.observed[:, east:]))
        print(f"\n{case.name}: {case.fine_tk.shape[0]} x {case.fine_tk.shape[1]} px, RMSE per band")
        for part, label in ((0, "whole image"), (1, f"east half (columns {east}-)")):
            print(f"\n{label}\n| method | {' | '.join(bands)} | mean |\n|---|{'---:|' * (len(bands) + 1)}")
            best = np.min([s[part] for s in scores.values()], axis=0)
            for method, s in scores.items():
                cells = [f"**{v:.4f}**" if v <= b else f"{v:.4f}" for v, b in zip(s[part], best, strict=True)]
                print(f"| {method} | {' | '.join(cells)} | {s[part].mean():.4f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
