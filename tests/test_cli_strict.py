"""A command line that cannot silently do the wrong thing: unknown options are refused with the
nearest spelling, Beam options go after `--` and are checked, an incomplete run exits non-zero
(unless --allow-partial), named sources and missing catalogs are handled before any pipeline."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from fusion.catalog import iter_item_files
from fusion.simulate import SimulationResult
from fusion.sources import SOURCES
from pipelines.cli import main
from tests.pipeline_fixtures import PIPE_TILE

PERIOD = ["--start", "2023-06-01", "--end", "2023-07-31"]


def _run_args(scenes: Path, tmp_path: Path) -> list[str]:
    return ["run", "--catalog", str(scenes), "--output", str(tmp_path / "products"), *PERIOD,
            "--tiles", PIPE_TILE, "--tile-size", "256", "--block-size", "128", "--model", "naive",
            "--report-dir", str(tmp_path / "report"), "-q"]  # fmt: skip


def test_a_misspelt_option_is_refused_naming_the_right_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--catalog", str(tmp_path), "--modle", "dcstfn"])
    assert result.exit_code == 2
    assert "No such option '--modle'. Did you mean '--model'?" in result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--direct_num_workrs", "2"], "did you mean --direct_num_workers?"),
        (["stray"], "unexpected argument 'stray'"),
    ],
)
def test_beam_options_after_the_separator_are_checked(tmp_path: Path, extra: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["run", "--catalog", str(tmp_path), "--", *extra])
    assert result.exit_code == 2
    assert message in result.output


def test_a_missing_local_catalog_is_refused_before_the_pipeline(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["run", "--catalog", str(tmp_path / "nowhere"), "--output", str(tmp_path / "out"), *PERIOD]
    )
    assert result.exit_code == 2
    assert "is neither a named source (cmr-stac, earth-search, planetary-computer)" in result.output
    assert "fusion simulate --out DIR" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_run_with_a_failed_read_exits_3_unless_partial_is_allowed(
    pipe_scenes: Path, tmp_path: Path
) -> None:
    scenes = tmp_path / "scenes"
    shutil.copytree(pipe_scenes, scenes)
    # Truncate the red band of every Landsat scene: no block of any product can be read.
    for item in iter_item_files(scenes):
        for red in item.parent.glob("*SR_B4.TIF"):
            red.write_bytes(red.read_bytes()[:2000])
    result = CliRunner().invoke(main, _run_args(scenes, tmp_path))
    assert result.exit_code == 3, result.output
    assert "incomplete run:" in result.output and "failed record(s)" in result.output
    result = CliRunner().invoke(main, [*_run_args(scenes, tmp_path), "--allow-partial"])
    assert result.exit_code == 0, result.output
    assert "failed" in result.output


@pytest.mark.slow
def test_a_complete_run_exits_0_and_a_rerun_that_writes_nothing_too(
    pipe_scenes: Path, tmp_path: Path
) -> None:
    first = CliRunner().invoke(main, _run_args(pipe_scenes, tmp_path))
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(main, _run_args(pipe_scenes, tmp_path))
    assert again.exit_code == 0, again.output
    assert "products written: 0, skipped as existing:" in again.output


def test_a_run_that_produces_nothing_exits_3(pipe_scenes: Path, tmp_path: Path) -> None:
    args = _run_args(pipe_scenes, tmp_path)
    args[args.index("2023-06-01")] = "2023-01-01"
    args[args.index("2023-07-31")] = "2023-01-02"  # before the simulation: nothing to fuse
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 3, result.output
    assert "no product was produced" in result.output


@pytest.mark.slow
def test_a_named_source_is_its_stac_api(
    small_sim: SimulationResult, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`--catalog planetary-computer` searches that source's STAC API (here a local
    stac-fastapi-pgstac stand-in of its own, holding the small simulation, put in its place)."""
    from fusion.stacapi import StacApiPublisher
    from tests.servers.pgstac import pgstac_api
    from tests.test_stacapi import _catalog_dicts

    with pgstac_api() as stac_api:
        publisher = StacApiPublisher(stac_api.url)
        for coll, items in _catalog_dicts(small_sim.catalog_path):
            publisher.publish(coll, items)
        source = dataclasses.replace(SOURCES["planetary-computer"], url=stac_api.url)
        monkeypatch.setitem(SOURCES, "planetary-computer", source)
        result = CliRunner().invoke(
            main,
            ["run", "--catalog", "planetary-computer", "--output", str(tmp_path / "out"),
             "--start", "2023-07-01", "--end", "2023-07-03", "--model", "naive",
             "--report-dir", str(tmp_path / "report"), "--allow-partial", "-q"],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "report" / "request.json").read_text())
    assert saved["catalog"] == stac_api.url
    found = re.search(r"scenes_found=(\d+)", result.output)
    assert found and int(found.group(1)) > 0, result.output


def test_launch_takes_a_source_name_as_its_stac_api_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.test_launch import CLOUD, REQUEST, TEMPLATE, _no_credentials

    _no_credentials(monkeypatch, tmp_path)
    result = CliRunner().invoke(
        main,
        ["launch", "--dry-run", *CLOUD, "--template", TEMPLATE, "--request", REQUEST,
         "--catalog", "planetary-computer", "--last-days", "16"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    body = json.loads(result.output[result.output.index("{") : result.output.rindex("}") + 1])
    assert body["launchParameter"]["parameters"]["catalog"] == SOURCES["planetary-computer"].url


@pytest.mark.slow
def test_a_run_shows_progress_and_no_tensorflow_or_beam_noise(pipe_scenes: Path, tmp_path: Path) -> None:
    """In a real process (TensorFlow's lines go to file descriptor 2, past Python)."""
    import subprocess
    import sys

    fusion = Path(sys.executable).parent / "fusion"
    args = [a for a in _run_args(pipe_scenes, tmp_path)[1:] if a != "-q"]
    args[args.index("2023-07-31")] = "2023-06-25"
    quiet = subprocess.run([str(fusion), "run", *args], capture_output=True, text=True, timeout=600)
    assert quiet.returncode == 0, quiet.stderr
    for noise in ("absl", "oneDNN", "cpu_feature_guard", "Resource module is not available"):
        assert noise not in quiet.stderr + quiet.stdout, noise
    assert "products written:" in quiet.stdout
    # Progress: every product written says how many of the planned ones are done.
    counts = re.findall(r"\[(\d+)/(\d+) products", quiet.stderr)
    assert counts and counts[-1][0] == counts[-1][1], quiet.stderr
    loud = subprocess.run(
        [str(fusion), "--verbose", "run", *args], capture_output=True, text=True, timeout=600
    )
    assert "absl" in loud.stderr  # --verbose keeps them, so the test above is not vacuous


def test_fusion_models_prints_only_its_table_and_never_imports_tensorflow() -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom pipelines.cli import main\n"
        "r = CliRunner().invoke(main, ['models'])\nprint(r.exit_code, 'tensorflow' in sys.modules)\n"
    )
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert probe.stdout.split()[-2:] == ["0", "False"], probe.stdout + probe.stderr
    fusion = Path(sys.executable).parent / "fusion"
    shown = subprocess.run([str(fusion), "models"], capture_output=True, text=True, timeout=300)
    lines = (shown.stdout + shown.stderr).splitlines()
    from fusion.models import list_choices, list_models

    # The packages, then the model choices (classical-auto).
    assert [line.split()[0] for line in lines] == list_models() + list_choices(), lines


def _every_command(group: click.Group, ctx: click.Context, path: list[str]) -> list[list[str]]:
    out = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        out.append([*path, name])
        if isinstance(command, click.Group):
            out += _every_command(command, click.Context(command, parent=ctx), [*path, name])
    return out


def test_every_commands_help_renders_and_names_only_commands_that_exist() -> None:
    """`--help` of every command and subcommand, in-process; a command named in backticks in
    any help text must exist (help that points to a removed command is false)."""
    ctx = click.Context(main)
    commands = _every_command(main, ctx, [])
    assert ["train", "dcstfn"] in commands and ["train", "mgan"] in commands and ["run"] in commands
    names = {" ".join(c) for c in commands}
    for command in commands:
        result = CliRunner().invoke(main, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        for named in re.findall(r"`fusion ([a-z-]+(?: [a-z-]+)?)", result.output):
            first = named.split()[0]
            assert named in names or first in names, (command, named)
