"""One definition of the request options: `fusion run`, `fusion launch`, the Beam options and
the Flex Template parameters accept the same fields, spelled alike, parsed to the same request."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from click.testing import CliRunner

from fusion.errors import ConfigError
from fusion.request import FusionRequest
from fusion.request_options import REQUEST_OPTIONS, apply_options, parse_roles
from pipelines.cli import main
from pipelines.cli.cloud import launch
from pipelines.cli.run import _request_from, run
from pipelines.launch import fusion_option_names, template_parameters
from pipelines.options import request_from_options, template_metadata

ROOT = Path(__file__).resolve().parents[1]

#: One text value per option, as a user would type it.
TEXT = {
    "catalog": "https://example.org/stac/catalog.json",
    "output": "gs://bucket/products",
    "start": "2023-06-01",
    "end": "2023-06-30",
    "aoi": "-98.6,38.1,-98.4,38.3",
    "tiles": "14N-0040-0376,14N-0041-0376",
    "task": "spatiotemporal",
    "collections": "fine=landsat-c2-l2,coarse=modis-09Q1-061",
    "model": "naive",
    "epsg": "32614",
    "tile_size": "512",
    "block_size": "256",
    "max_gap_days": "30",
    "stac_api": "https://stac.example.org",
}


def test_infra_metadata_is_generated_from_the_options() -> None:
    on_disk = json.loads((ROOT / "infra" / "metadata.json").read_text())
    assert on_disk == template_metadata(), "regenerate it: make template-metadata"


@pytest.mark.parametrize("command", [run, launch], ids=["run", "launch"])
def test_cli_commands_offer_every_request_option_with_the_same_help(command: click.Command) -> None:
    params = {p.name: p for p in command.params if isinstance(p, click.Option)}
    for option in REQUEST_OPTIONS:
        assert option.name in params, option.name
        assert params[option.name].opts == [option.flag]
        assert params[option.name].help == option.help


def test_beam_options_are_the_request_options_plus_request_and_report() -> None:
    assert fusion_option_names() == ["request", *(o.name for o in REQUEST_OPTIONS), "report_dir"]
    names = {p["name"] for p in template_metadata()["parameters"]}
    assert names == {*fusion_option_names(), "dataflow_service_options"}


def test_every_text_value_matches_its_template_regex() -> None:
    import re

    regexes = {p["name"]: p["regexes"] for p in template_metadata()["parameters"]}
    assert set(TEXT) | {"last_days", "lag_days"} == {o.name for o in REQUEST_OPTIONS}
    for name, value in TEXT.items():
        assert all(re.fullmatch(rx, value) for rx in regexes[name]), (name, value)


def test_cli_and_beam_options_give_the_same_request() -> None:
    args = [f"{o.flag}={TEXT[o.name]}" for o in REQUEST_OPTIONS if o.name in TEXT]
    ctx = run.make_context("run", list(args))
    fields = {k: v for k, v in ctx.params.items() if k in {o.name for o in REQUEST_OPTIONS}}
    from_cli = _request_from(None, fields)
    from_beam = request_from_options(PipelineOptions([f"--{k}={v}" for k, v in TEXT.items()]))
    assert from_cli.to_json() == from_beam.to_json()
    assert from_cli.collections == {"fine": "landsat-c2-l2", "coarse": "modis-09Q1-061"}
    assert from_cli.pairing.max_gap_days == 30
    assert from_cli.tiles == ("14N-0040-0376", "14N-0041-0376")
    # The launcher writes them back as template parameters that parse to the same values.
    params = template_parameters(fields)
    assert params == TEXT


def test_option_in_a_section_keeps_the_files_other_fields() -> None:
    data = {"pairing": {"max_gap_days": 64, "min_clear": 0.5}}
    assert apply_options(data, {"max_gap_days": "10"})["pairing"] == {"max_gap_days": 10, "min_clear": 0.5}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("fine", "must be ROLE=COLLECTION"),
        ("fine=a,fine=b", "given twice"),
        ("=landsat", "must be ROLE=COLLECTION"),
    ],
)
def test_bad_collections_are_refused_with_the_form(value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_roles(value)


def test_run_refuses_an_unknown_role_naming_the_tasks_roles(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["run", "--catalog", str(tmp_path), "--output", str(tmp_path / "out"), "--start", "2023-06-01",
         "--end", "2023-06-02", "--collections", "source=sentinel-2-l2a"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "collections for role(s) ['source']" in result.output
    assert "['coarse', 'fine']" in result.output


def test_run_refuses_a_bad_collections_value_up_front(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--collections", "landsat-c2-l2"])
    assert result.exit_code == 2
    assert "must be ROLE=COLLECTION" in result.output


def test_beam_option_errors_name_the_option() -> None:
    with pytest.raises(ConfigError, match="tile_size 'big' is not a whole number"):
        request_from_options(PipelineOptions([*(f"--{k}={v}" for k, v in TEXT.items() if k != "tile_size"),
                                              "--tile_size=big"]))  # fmt: skip
    with pytest.raises(ConfigError, match="last_days 0 must be at least 1"):
        FusionRequest.from_mapping(apply_options({"catalog": "x", "output": "y"}, {"last_days": "0"}))


def test_collections_option_sets_a_role_and_keeps_the_other_defaults() -> None:
    ctx = run.make_context(
        "run",
        ["--catalog", "https://example.org/catalog.json", "--output", "gs://b/p", "--start", "2023-06-01",
         "--end", "2023-06-02", "--task", "harmonize", "--collections", "source=sentinel-2-c1-l2a"],
    )  # fmt: skip
    fields = {k: v for k, v in ctx.params.items() if k in {o.name for o in REQUEST_OPTIONS}}
    request = _request_from(None, fields)
    assert request.collections == {"source": "sentinel-2-c1-l2a", "fine": "landsat-c2-l2"}
    assert request.search_request().collections == ("sentinel-2-c1-l2a",)
