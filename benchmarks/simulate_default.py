"""Benchmark: wall time of simulating the default demo area (the issue's 'under a minute').

Run: .venv/bin/python benchmarks/simulate_default.py [--sensors landsat,modis]
Prints the seconds per phase and in total, and the output size.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from fusion.simulate import SimulationConfig, simulate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sensors", default="landsat,modis")
    args = parser.parse_args()
    cfg = SimulationConfig(sensors=tuple(args.sensors.split(",")))
    phases: dict[str, float] = {}
    start = last = time.perf_counter()
    phase = "setup"

    def progress(message: str) -> None:
        nonlocal last, phase
        now = time.perf_counter()
        phases[phase] = phases.get(phase, 0.0) + now - last
        phase, last = message.split(" ")[0], now

    with tempfile.TemporaryDirectory() as tmp:
        result = simulate(cfg, Path(tmp) / "scenes", progress=progress)
        phases[phase] = phases.get(phase, 0.0) + time.perf_counter() - last
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
    total = time.perf_counter() - start
    print(f"cores: {os.cpu_count()}  sensors: {','.join(cfg.sensors)}  area: {cfg.size_m / 1000:.2f} km")
    print(f"period: {cfg.start} .. {cfg.end}  items: {result.summary()['items']}")
    for name, secs in phases.items():
        print(f"  {name:<12} {secs:7.1f} s")
    print(f"total        {total:7.1f} s   output {size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
