"""The ``fusion`` command line, in-process (click CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipelines.cli import main
from tests.helpers import broken_links_and_assets


def test_help_lists_the_commands() -> None:
    out = CliRunner().invoke(main, ["--help"])
    assert out.exit_code == 0
    for cmd in ("simulate", "search", "sensors", "demo", "run", "models", "export-model"):
        assert cmd in out.output


def test_simulate_and_search(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(
        main,
        [
            "simulate",
            "--out",
            str(tmp_path / "s"),
            "--size-km",
            "1.92",
            "--start",
            "2023-07-01",
            "--end",
            "2023-07-20",
            "-q",
        ],
    )
    assert out.exit_code == 0, out.output
    assert "landsat-c2-l2" in out.output and "modis-09A1-061" in out.output
    res = runner.invoke(main, ["search", str(tmp_path / "s"), "--collections", "landsat-c2-l2", "--json"])
    assert res.exit_code == 0, res.output
    lines = [json.loads(line) for line in res.output.splitlines()]
    assert [s["collection"] for s in lines] == ["landsat-c2-l2"]  # 07-06 only (first = start + 5 days)
    assert lines[0]["bands"]["red"].endswith("_SR_B4.TIF")
    table = runner.invoke(
        main,
        [
            "search",
            str(tmp_path / "s" / "catalog.json"),
            "--start",
            "2023-07-01",
            "--end",
            "2023-07-08",
            "--max-cloud",
            "100",
        ],
    )
    assert table.exit_code == 0 and "scene(s)" in table.output


def test_simulate_into_a_relative_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(
        main,
        [
            "simulate",
            "--out",
            "rel/s",
            "--size-km",
            "0.96",
            "--start",
            "2023-07-01",
            "--end",
            "2023-07-09",
            "-q",
        ],
    )
    assert out.exit_code == 0, out.output
    assert broken_links_and_assets(tmp_path / "rel" / "s" / "catalog.json") == []


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    runner = CliRunner()
    bad_date = runner.invoke(main, ["search", str(tmp_path), "--start", "2023-13-01"])
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.output
    missing = runner.invoke(main, ["search", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "fusion simulate" in missing.output
    bad_sensor = runner.invoke(main, ["simulate", "--out", str(tmp_path / "x"), "--sensors", "landsat,goes"])
    assert bad_sensor.exit_code == 2 and "goes" in bad_sensor.output
    bad_size = runner.invoke(main, ["simulate", "--out", str(tmp_path / "x"), "--size-km", "1"])
    assert bad_size.exit_code == 2 and "480" in bad_size.output


def test_sensors_lists_every_table() -> None:
    out = CliRunner().invoke(main, ["sensors"])
    assert out.exit_code == 0
    assert "landsat-oli" in out.output and "SCL (sentinel2-scl)" in out.output


def test_run_from_a_yaml_request_with_flag_overrides(pipe_scenes: Path, tmp_path: Path) -> None:
    request = tmp_path / "request.yaml"
    request.write_text(
        "\n".join(
            [
                f"catalog: {pipe_scenes}",
                "output: products",
                "start: 2023-06-01",
                "end: 2023-06-30",
                "model: starfm",
                "tile_size: 256",
                "block_size: 128",
                "tiles: [14N-0080-0752]",
                "pairing: {max_gap_days: 40}",
            ]
        )
    )
    runner = CliRunner()
    args = ["run", "--request", str(request), "--model", "naive", "--report-dir", str(tmp_path / "rep"), "-q"]
    out = runner.invoke(main, [*args, "--", "--direct_num_workers", "1"])
    assert out.exit_code == 0, out.output
    assert "products written:" in out.output
    items = list((tmp_path / "products").glob("eo-fusion-spatiotemporal-naive/*/*/*.json"))
    assert items, out.output
    saved = json.loads((tmp_path / "rep" / "request.json").read_text())
    assert saved["model"] == "naive" and saved["pairing"]["max_gap_days"] == 40


def test_run_refuses_bad_requests_with_a_clear_message(tmp_path: Path) -> None:
    request = tmp_path / "r.yaml"
    request.write_text("catalog: x\noutput: y\nstart: 2023-06-01\nend: 2023-06-30\nwindow: 31\n")
    out = CliRunner().invoke(main, ["run", "--request", str(request)])
    assert out.exit_code == 2
    assert "unknown request field(s) ['window']" in out.output
    out = CliRunner().invoke(
        main, ["run", "--catalog", "x", "--output", "y", "--start", "2023-06-30", "--end", "2023-06-01"]
    )
    assert out.exit_code == 2 and "before start" in out.output


def test_models_lists_builtins() -> None:
    out = CliRunner().invoke(main, ["models"])
    assert out.exit_code == 0
    assert "starfm" in out.output and "naive" in out.output and "dcstfn" in out.output
