"""DCSTFN throughput: fused megapixels per second inside the pipeline vs the bare model.

1. Simulates the demo's scenes over the benchmark period (unless --workdir already holds
   them): the demo's tile and period by default; a longer --start/--end gives more products
   on the same tile, so the pipeline's fixed costs (construction, runner start, model load,
   search) weigh less against the per-block work.
2. **Pipeline**: runs the whole fusion pipeline on the DirectRunner with the DCSTFN package
   (search, QA assessment, pairing, block reads, RunInference, COG + STAC writing) into a
   fresh output folder and times it end to end. Fused megapixels = the core pixels of every
   fused block (each product pixel once).
3. **Bare model**: reads the same blocks' inputs beforehand (not timed), then times
   ``LoadedModel.predict`` on them in full batches of ``--batch`` (the pipeline's largest;
   Beam's adaptive batching sent it batches of 1 and 2 here), after one untimed warm-up call
   per shape.
4. Repeats 2 and 3 ``--repeat`` times (one after the other, so both see the same machine
   state) and prints every pair and the median ratio; the target is pipeline >= 70% of the
   bare model.

    .venv/bin/python benchmarks/dcstfn_throughput.py [--workdir dcstfn-bench] [--model dcstfn] \
        [--start 2023-06-01 --end 2023-08-15]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from fusion.blockio import stack_batch, tile_clear_fraction
from fusion.grid import plan_blocks
from fusion.models import get_model, resolve_model
from fusion.pairing import Observation
from fusion.request import search_scenes
from fusion.simulate import simulate
from fusion.tasks import get_task
from pipelines.cli.run import DEMO_END, DEMO_START, demo_request, demo_simulation
from pipelines.run import run_fusion


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("dcstfn-bench"))
    parser.add_argument("--model", default="dcstfn")
    parser.add_argument(
        "--batch", type=int, default=4, help="RunInference max batch size (pipeline default 4)"
    )
    parser.add_argument(
        "--start", type=dt.date.fromisoformat, default=DEMO_START, help="First day (default: the demo's)."
    )
    parser.add_argument(
        "--end", type=dt.date.fromisoformat, default=DEMO_END, help="Last day (default: the demo's)."
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="Time the pipeline and the bare model this many times, one after the other, and "
        "report each pair and the median ratio (run-to-run noise on a shared VM is a few points).",
    )
    parser.add_argument(
        "beam_args",
        nargs="*",
        help="Beam options for the pipeline run, after --, e.g. -- --direct_num_workers 2",
    )
    args = parser.parse_args()
    work = args.workdir.resolve()
    scenes = work / f"scenes-{args.start}-{args.end}"
    if not (scenes / "catalog.json").exists():
        print(f"simulating the demo area {args.start}..{args.end} ...", file=sys.stderr)
        simulate(dataclasses.replace(demo_simulation(), start=args.start, end=args.end), scenes)
    out = work / "products"
    request = dataclasses.replace(
        demo_request(str(scenes), str(out), args.model), start=args.start, end=args.end
    )

    def run_pipeline() -> tuple[float, Any]:
        shutil.rmtree(out, ignore_errors=True)  # a fresh output: every product is fused again
        t0 = time.perf_counter()
        summary = run_fusion(request, work / "report", list(args.beam_args))
        return time.perf_counter() - t0, summary

    pipeline_s, summary = run_pipeline()
    print(summary.text())

    # The same blocks, read up front for the bare model.
    model = get_model(args.model)
    meta = model.metadata
    found = search_scenes(request)
    task = get_task(request.task)
    obs = []
    tiles = {}
    for s in found:
        factor = 8 if s.role == "fine" else meta.coarse_ratio
        obs.append(Observation(s.scene, s.role, s.tile.id, tile_clear_fraction(s.scene, s.tile, factor)))
        tiles[s.tile.id] = s.tile
    payloads = []
    for tile_id, tile in tiles.items():
        jobs, _ = task.jobs([o for o in obs if o.tile_id == tile_id], request.pairing, (args.start, args.end))
        halo = -(-meta.halo // meta.coarse_ratio) * meta.coarse_ratio
        for job in jobs:
            blocks = plan_blocks(*tile.shape, request.block_size, halo, align=meta.coarse_ratio)
            for block in blocks:
                inputs = task.block_inputs(job, tile, block, meta, "bench", len(blocks))
                if inputs.output_valid.any():  # the pipeline fuses these, others are empty
                    payloads.append(inputs)
    core_mpx = sum(p.block.core.height * p.block.core.width for p in payloads) / 1e6
    groups: dict[object, list] = {}
    for p in payloads:
        groups.setdefault(p.shape_key, []).append(p)
    batches = [
        members[i : i + args.batch] for members in groups.values() for i in range(0, len(members), args.batch)
    ]
    for members in groups.values():  # warm-up: one call per shape (graph tracing)
        model.predict(stack_batch(members[:1]))

    def run_bare() -> float:
        t0 = time.perf_counter()
        for batch in batches:
            model.predict(stack_batch(batch))
        return time.perf_counter() - t0

    print(
        f"\nmodel {meta.name} ({resolve_model(args.model)}), {os.cpu_count()} CPU cores, "
        f"{args.start}..{args.end}, "
        f"{len(summary.written)} products, {len(payloads)} fused blocks, {core_mpx:.2f} fused Mpx"
    )
    ratios = []
    for run in range(1, args.repeat + 1):
        if run > 1:
            pipeline_s, _ = run_pipeline()
        bare_s = run_bare()
        ratios.append(bare_s / pipeline_s)  # = pipeline rate / bare rate on the same pixels
        print(
            f"run {run}: pipeline (end to end, DirectRunner {' '.join(args.beam_args)}) {pipeline_s:6.1f} s "
            f"-> {core_mpx / pipeline_s:.3f} Mpx/s; bare model (same blocks, batch {args.batch}) "
            f"{bare_s:6.1f} s -> {core_mpx / bare_s:.3f} Mpx/s; pipeline / bare {ratios[-1]:.0%}"
        )
    ratio = float(np.median(ratios))
    spread = f" (runs: {', '.join(f'{r:.0%}' for r in ratios)})" if len(ratios) > 1 else ""
    print(
        f"pipeline / bare model, median of {len(ratios)}: {ratio:.0%}{spread} (target >= 70%): "
        f"{'met' if ratio >= 0.7 else 'NOT met'}"
    )
    return 0 if np.isfinite(ratio) else 1


if __name__ == "__main__":
    raise SystemExit(main())
