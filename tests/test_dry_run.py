"""`fusion run --dry-run` plans what a real run does (same dates fused, same reasons for the
rest) without writing to the output; a tile its scenes cover only partly says so, with the tile
size and the fix; a --tiles id of another tile size is refused before anything is read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from pyproj import Transformer

from fusion.grid import utm_grid
from pipelines.cli import main
from pipelines.records import read_jsonl
from tests.pipeline_fixtures import PIPE_TILE

PERIOD = ["--start", "2023-06-01", "--end", "2023-07-31"]


def _args(scenes: Path, tmp_path: Path, report: str, *extra: str) -> list[str]:
    return ["run", "--catalog", str(scenes), "--output", str(tmp_path / "products"), *PERIOD,
            "--model", "naive", "--report-dir", str(tmp_path / report), "-q", *extra]  # fmt: skip


def _tiled(scenes: Path, tmp_path: Path, report: str, *extra: str) -> list[str]:
    return _args(scenes, tmp_path, report, "--tiles", PIPE_TILE, "--tile-size", "256",
                 "--block-size", "128", *extra)  # fmt: skip


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


@pytest.mark.slow
def test_the_plan_lists_the_dates_a_real_run_fuses_and_the_reasons_for_the_rest(
    pipe_scenes: Path, tmp_path: Path
) -> None:
    plan = CliRunner().invoke(main, _tiled(pipe_scenes, tmp_path, "plan", "--dry-run"))
    assert plan.exit_code == 0, plan.output
    assert not (tmp_path / "products").exists()  # nothing under the output folder
    assert "tile" in plan.output and "action" in plan.output and "references" in plan.output
    rows = read_jsonl([tmp_path / "plan" / "plan.jsonl"])
    fuse = [r for r in rows if r["action"] == "fuse"]
    skip = [r for r in rows if r["action"] == "skip"]
    assert fuse and skip and all(r["references"] and r["inputs"] for r in fuse)
    for r in fuse:  # each fused date is a line of the table with its reference dates
        assert f"{r['tile']}  {r['date']}  fuse    {', '.join(r['references'])}" in plan.output

    real = CliRunner().invoke(main, _tiled(pipe_scenes, tmp_path, "real"))
    assert real.exit_code == 0, real.output
    written = read_jsonl([tmp_path / "real" / "products.jsonl"])
    assert sorted(r["product_id"] for r in fuse) == sorted(p["product_id"] for p in written)
    assert {r["date"] for r in fuse} == {
        d for p in written for d in [p["product_id"].split("-")[-2]]
        for d in [f"{d[:4]}-{d[4:6]}-{d[6:]}"]
    }  # fmt: skip
    dead = read_jsonl([tmp_path / "real" / "dead-letter.jsonl"])
    assert sorted((f"{r['tile']}/{r['date']}/{r['scene']}", r["reason"]) for r in skip) == sorted(
        (d["key"], d["reason"]) for d in dead if d["stage"] == "pair"
    )

    # Products now there: the plan says `exists` (the run's skip-existing) and writes nothing.
    before = _files(tmp_path / "products")
    again = CliRunner().invoke(main, _tiled(pipe_scenes, tmp_path, "plan2", "--dry-run"))
    assert again.exit_code == 0, again.output
    assert _files(tmp_path / "products") == before
    rows2 = read_jsonl([tmp_path / "plan2" / "plan.jsonl"])
    assert sorted(r["product_id"] for r in rows2 if r["action"] == "exists") == sorted(
        r["product_id"] for r in fuse
    )
    assert not [r for r in rows2 if r["action"] == "fuse"]
    assert f"plan: 0 to fuse, {len(fuse)} already in the output, {len(skip)} skipped" in again.output


def test_the_dry_run_plans_here_only(pipe_scenes: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, [*_tiled(pipe_scenes, tmp_path, "plan", "--dry-run"), "--", "--runner", "DataflowRunner"]
    )
    assert result.exit_code == 2, result.output
    assert "--dry-run plans here" in result.output
    assert not (tmp_path / "products").exists()


def test_the_dry_run_flag_is_a_run_option_only() -> None:
    from fusion.request_options import OPTIONS_BY_NAME

    assert "dry_run" not in OPTIONS_BY_NAME
    assert "--dry-run" in CliRunner().invoke(main, ["run", "--help"]).output


@pytest.mark.slow
def test_a_tile_the_scenes_cover_only_partly_says_so_with_the_tile_size_and_the_fix(
    pipe_scenes: Path, tmp_path: Path
) -> None:
    """At the default tile size (1024 px) the 7.68 km simulation covers a small part of its
    tiles: no pair can reach the clear threshold, and every record says why and what to do."""
    real = CliRunner().invoke(main, _args(pipe_scenes, tmp_path, "real"))
    assert real.exit_code == 3, real.output  # nothing produced
    dead = read_jsonl([tmp_path / "real" / "dead-letter.jsonl"])
    pair = [d for d in dead if d["stage"] == "pair"]
    assert pair
    for d in pair:
        assert "the fine scenes cover at most" in d["reason"], d
        assert "(tile size 1024 px), below min_reference_clear 50%" in d["reason"], d
        assert d["reason"].endswith(
            "Use a smaller --tile-size (the demo uses 512) or an --aoi inside the scenes"
        )
        assert "no clear reference pairs at all" not in d["reason"]
    main_tile = [d for d in pair if d["key"].startswith("14N-0020-0188/")]
    assert main_tile and all("at most 8% of tile 14N-0020-0188" in d["reason"] for d in main_tile)
    # The summary keeps the figures and the fix.
    assert "at most 8% of tile 14N-0020-0188 (tile size 1024 px)" in real.output
    assert "or an --aoi inside the scenes" in real.output

    plan = CliRunner().invoke(main, _args(pipe_scenes, tmp_path, "plan", "--dry-run"))
    assert plan.exit_code == 0, plan.output
    rows = read_jsonl([tmp_path / "plan" / "plan.jsonl"])
    assert sorted((f"{r['tile']}/{r['date']}/{r['scene']}", r["reason"]) for r in rows) == sorted(
        (d["key"], d["reason"]) for d in pair
    )


def _aoi_of_tile(tile_size: int, col: int, row: int) -> str:
    minx, miny, maxx, maxy = utm_grid(32614, 30.0, tile_size).tile(col, row).bounds
    to_wgs84 = Transformer.from_crs("EPSG:32614", "EPSG:4326", always_xy=True)
    lon0, lat0 = to_wgs84.transform(minx + 500, miny + 500)
    lon1, lat1 = to_wgs84.transform(maxx - 500, maxy - 500)
    return f"{lon0:.5f},{lat0:.5f},{lon1:.5f},{lat1:.5f}"


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_tile_id_of_another_tile_size_is_refused_naming_the_size_it_fits(
    pipe_scenes: Path, tmp_path: Path, dry_run: bool
) -> None:
    """14N-0080-0752 is the simulation's tile at 256 px; at 1024 px it lies thousands of km away."""
    args = _args(pipe_scenes, tmp_path, "real", "--tiles", PIPE_TILE, *(["--dry-run"] if dry_run else []))
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert f"tile {PIPE_TILE} at --tile-size 1024 lies outside the scenes found" in result.output
    assert "Tile ids depend on --tile-size" in result.output
    assert f"{PIPE_TILE} is inside the scenes found at --tile-size 256" in result.output
    assert "14N-0020-0188" in result.output  # the scenes' tile at 1024 px
    assert not (tmp_path / "products").exists()
    assert not read_jsonl([tmp_path / "real" / "products.jsonl"])


def test_with_an_aoi_the_tile_is_checked_against_it(pipe_scenes: Path, tmp_path: Path) -> None:
    aoi = _aoi_of_tile(256, 80, 752)
    wrong = CliRunner().invoke(
        main, _args(pipe_scenes, tmp_path, "r1", "--aoi", aoi, "--tiles", PIPE_TILE, "--dry-run")
    )
    assert wrong.exit_code == 2, wrong.output
    assert f"tile {PIPE_TILE} at --tile-size 1024 lies outside the --aoi" in wrong.output
    assert "is inside the --aoi at --tile-size 256" in wrong.output
    # An id of this tile size inside the AOI passes the check.
    right = CliRunner().invoke(
        main,
        _args(pipe_scenes, tmp_path, "r2", "--aoi", aoi, "--tiles", PIPE_TILE, "--tile-size", "256",
              "--block-size", "128", "--dry-run"),
    )  # fmt: skip
    assert right.exit_code == 0, right.output
    assert json.loads((tmp_path / "r2" / "plan.jsonl").read_text().splitlines()[0])["tile"] == PIPE_TILE
