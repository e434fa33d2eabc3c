"""The demo request over the network: inputs from an HTTP range server, products into a GCS
emulator, compared byte for byte with the same request on local folders.

    .venv/bin/python benchmarks/remote_demo.py [--model starfm] [--workdir DIR] [--faults]

Prints the wall time of both runs, the HTTP requests the server answered (and the 429/503 it
injected with --faults: the first two requests of every file), and whether every COG and
thumbnail in the bucket has the same bytes as the local one. Uses the servers of tests/servers.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fusion import storage  # noqa: E402
from pipelines.cli.run import demo_request, demo_simulation, simulate_once  # noqa: E402
from pipelines.run import run_fusion  # noqa: E402
from tests.servers.gcs import gcs_emulator  # noqa: E402
from tests.servers.http_range import range_server  # noqa: E402


def tree(root: str) -> dict[str, bytes]:
    return {f[len(root) :].lstrip("/"): storage.read_bytes(f) for f in storage.list_files(root)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="starfm")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--faults", action="store_true", help="429/503 on the first two requests of every file"
    )
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="eo-fusion-remote-demo-"))
    scenes = work / "scenes"
    cfg = demo_simulation()
    simulate_once(cfg, scenes, lambda message: None)
    local = demo_request(str(scenes), str(work / "local-products"), args.model)
    t0 = time.perf_counter()
    local_summary = run_fusion(local, work / "report-local")
    t_local = time.perf_counter() - t0
    with gcs_emulator() as gcs, range_server(scenes) as srv:
        bucket = gcs.create_bucket("eo-fusion-remote-demo")
        if args.faults:
            srv.faults.fail_first["*"] = (2, 429)
            for path in scenes.rglob("*_SR_B4.TIF"):
                srv.faults.fail_first["/" + path.relative_to(scenes).as_posix()] = (2, 503)
        remote = dataclasses.replace(local, catalog=f"{srv.url}/catalog.json", output=f"{bucket}/products")
        t0 = time.perf_counter()
        remote_summary = run_fusion(remote, work / "report-remote")
        t_remote = time.perf_counter() - t0
        here, there = tree(local.output), tree(remote.output)
        n_requests = sum(srv.requests.values())
        n_refused = sum(srv.faults.failed.values())
    binary = [r for r in here if r.endswith((".tif", ".png"))]
    same = [r for r in binary if there.get(r) == here[r]]
    print(f"model {args.model}, demo request {local.start}..{local.end}, tile {local.tiles}")
    print(f"local run:  {t_local:6.1f} s, {len(local_summary.written)} products written")
    print(
        f"remote run: {t_remote:6.1f} s, {len(remote_summary.written)} products written, "
        f"{n_requests} HTTP requests answered ({n_refused} refused with 429/503 on purpose)"
    )
    print(f"dead letters: local {len(local_summary.dead_letters)}, remote {len(remote_summary.dead_letters)}")
    print(
        f"same file set: {sorted(here) == sorted(there)}; "
        f"byte-identical COGs+thumbnails: {len(same)}/{len(binary)}"
    )
    return 0 if sorted(here) == sorted(there) and len(same) == len(binary) else 1


if __name__ == "__main__":
    sys.exit(main())
