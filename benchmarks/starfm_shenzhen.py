"""STARFM package on the real Shenzhen Landsat-7/MODIS pair (shared/data/shenzhen).

Predicts Landsat 2002-11-07 from the 2000-11-01 Landsat/MODIS pair and MODIS 2002-11-07
(500 x 500 px, bands nir, red, green; MODIS already on the 30 m grid, so resolution ratio 1),
with a STARFM model package exported by our own exporter with the built-in package's
parameters, loaded and called through the package contract like the pipeline does.

Prints RMSE per band against the observed Landsat, the naive difference for reference, and
wall time: first call (includes XLA compilation) and the median of repeated calls. Compare with
the figures in shared/data/README.md (public Python STARFM, 31 x 31 window, 2 cores: NIR RMSE
0.0315 in 83 s per band).

    .venv/bin/python benchmarks/starfm_shenzhen.py [--data ../shared/data/shenzhen] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio

from fusion.models import get_metadata
from fusion.models.classical.starfm import StarfmConfig, export_starfm
from fusion.models.package import load_model_package

REFERENCE_NIR_RMSE = 0.0315
REFERENCE_SECONDS_PER_BAND = 83.0
BANDS = ("nir08", "red", "green")  # files hold bands 4,3,2 (Landsat) / 2,1,4 (MODIS)


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return np.moveaxis(src.read().astype(np.float32) * np.float32(1e-4), 0, -1)[np.newaxis]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "shenzhen"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no Shenzhen data at {args.data}; pass --data", file=sys.stderr)
        return 2
    fine_tk = read(args.data / "L72000306_SZ_B432_30m.tif")
    observed = read(args.data / "L72002311_SZ_B432_30m.tif")
    coarse_tk = read(args.data / "MOD09_2000306_SZ_B214_250m.tif")
    coarse_t0 = read(args.data / "MOD09_2002311_SZ_B214_250m.tif")
    shipped = get_metadata("starfm")
    config = StarfmConfig(**shipped.parameters)
    with tempfile.TemporaryDirectory() as tmp:
        model = load_model_package(export_starfm(Path(tmp) / "starfm", config, bands=BANDS, ratio=1))
        valid = np.ones((*fine_tk.shape[:3], 1), np.float32)
        inputs = {
            "coarse_t0": coarse_t0,
            "fine_tk1": fine_tk,
            "coarse_tk1": coarse_tk,
            "valid_tk1": valid,
            "fine_tk2": fine_tk,
            "coarse_tk2": coarse_tk,
            "valid_tk2": np.zeros_like(valid),  # one reference pair
        }
        t0 = time.perf_counter()
        fused = model.predict(inputs)
        first = time.perf_counter() - t0
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            fused = model.predict(inputs)
            times.append(time.perf_counter() - t0)
    naive = fine_tk + coarse_t0 - coarse_tk
    rmse = np.sqrt(np.mean((fused - observed) ** 2, axis=(0, 1, 2)))
    rmse_naive = np.sqrt(np.mean((naive - observed) ** 2, axis=(0, 1, 2)))
    median = statistics.median(times)
    per_band = median / len(BANDS)
    print(
        f"Shenzhen 500 x 500, window {config.window}, similarity {config.similarity!r}, "
        f"n_classes {config.n_classes:g}, {os.cpu_count()} CPU cores"
    )
    print("band     STARFM RMSE   naive RMSE")
    for band, a, b in zip(BANDS, rmse, rmse_naive, strict=True):
        print(f"{band:<8} {a:11.4f} {b:12.4f}")
    print(f"reference (public Python STARFM): nir08 RMSE {REFERENCE_NIR_RMSE}, naive 0.0336")
    print(
        f"time, 3 bands: first call {first:.2f} s (includes XLA compilation), "
        f"median of {args.repeat} calls {median:.3f} s"
    )
    print(
        f"time per band: {per_band:.3f} s -> {REFERENCE_SECONDS_PER_BAND / per_band:.0f}x faster than "
        f"{REFERENCE_SECONDS_PER_BAND:.0f} s per band; counting the first call: "
        f"{REFERENCE_SECONDS_PER_BAND / (first / len(BANDS)):.0f}x"
    )
    nir_ok = rmse[0] <= REFERENCE_NIR_RMSE
    print(f"NIR RMSE no worse than the reference: {'yes' if nir_ok else 'NO'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
