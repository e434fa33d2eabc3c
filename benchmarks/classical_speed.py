"""Speed of the classical spatiotemporal packages on one 400 x 400 x 3-band image.

The case of the peers' figures in issue 25 (public Python ports, 2 cores): ESTARFM 62.5 s
(51 px window), FSDAF 30.6 s (41 px window), 16 x 16 coarse pixels. Each package is exported by
our own exporter with the shipped package's parameters for 3 bands and ratio 16, loaded and
called through the package contract (``LoadedModel.predict``) as the pipeline calls it, on
patchy synthetic fields (four land covers, noise, a change between the dates): the work of
these methods does not depend on the values. The first call (XLA compilation) is timed apart;
then the median of ``--repeat`` calls. FSDAF's classes, unmixing and spline are per call, as in the
pipeline (one block, one call).

    .venv/bin/python benchmarks/classical_speed.py [--repeat 5] [--size 400] [--only fsdaf,estarfm]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from fusion.models import get_metadata
from fusion.models.classical.estarfm import EstarfmConfig, export_estarfm
from fusion.models.classical.fsdaf import FsdafConfig, export_fsdaf
from fusion.models.classical.naive import export_naive
from fusion.models.classical.starfm import StarfmConfig, export_starfm
from fusion.models.package import LoadedModel, load_model_package

BANDS = ("green", "red", "nir08")
RATIO = 16
#: seconds per 400 x 400 x 3 image of the public Python ports (issue 25, measured on 2 cores)
PEERS = {"estarfm": 62.5, "fsdaf": 30.6}


def inputs(size: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 4, (size // 8, size // 8)).repeat(8, 0).repeat(8, 1)
    base = rng.uniform(0.03, 0.4, (4, 3))[classes]
    drift = rng.uniform(-0.05, 0.05, (4, 3))[classes]

    def noisy(x: np.ndarray) -> np.ndarray:
        return (x + rng.normal(0, 0.008, x.shape)).astype(np.float32)[np.newaxis]

    def coarse(x: np.ndarray) -> np.ndarray:
        c = x.reshape(size // RATIO, RATIO, size // RATIO, RATIO, 3).mean(axis=(1, 3))
        return c.astype(np.float32)[np.newaxis]

    f1, f2 = noisy(base), noisy(base + drift)
    valid = np.ones((1, size, size, 1), np.float32)
    return {
        "coarse_t0": coarse(base + 0.5 * drift),
        "fine_tk1": f1,
        "coarse_tk1": coarse(f1[0]),
        "valid_tk1": valid,
        "fine_tk2": f2,
        "coarse_tk2": coarse(f2[0]),
        "valid_tk2": valid,
    }


def time_model(model: LoadedModel, data: dict[str, np.ndarray], repeat: int) -> tuple[float, float]:
    names = {spec.name for spec in model.metadata.inputs}
    feed = {k: v for k, v in data.items() if k in names}
    start = time.perf_counter()
    model.predict(feed)
    first = time.perf_counter() - start
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        model.predict(feed)
        times.append(time.perf_counter() - start)
    return first, statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--size", type=int, default=400)
    parser.add_argument("--only", default="", help="comma-separated packages (default: all)")
    args = parser.parse_args()
    data = inputs(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        exports = {
            "naive": lambda p: export_naive(p, BANDS, RATIO),
            "starfm": lambda p: export_starfm(
                p, StarfmConfig(**get_metadata("starfm").parameters), BANDS, RATIO
            ),
            "estarfm": lambda p: export_estarfm(
                p, EstarfmConfig(**get_metadata("estarfm").parameters), BANDS, RATIO
            ),
            "fsdaf": lambda p: export_fsdaf(p, FsdafConfig(**get_metadata("fsdaf").parameters), BANDS, RATIO),
        }
        if args.only:
            exports = {k: v for k, v in exports.items() if k in args.only.split(",")}
        print(f"{args.size} x {args.size} x {len(BANDS)} bands, ratio {RATIO}, median of {args.repeat} calls")
        print("| package | first call (s) | median (s) | peer (s) | speed-up |")
        print("|---|---:|---:|---:|---:|")
        for name, export in exports.items():
            model = load_model_package(export(Path(tmp) / name))
            first, median = time_model(model, data, args.repeat)
            peer = PEERS.get(name)
            ratio = f"{peer / median:.0f}x" if peer else ""
            print(f"| {name} | {first:.3f} | {median:.3f} | {peer or ''} | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
