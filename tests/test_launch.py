"""`fusion launch`, the Dataflow settings, relative periods and the Flex Template entry point."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from click.testing import CliRunner

from fusion.errors import ConfigError
from fusion.request import FusionRequest, relative_period
from pipelines.cli import main
from pipelines.launch import plan_launch
from pipelines.main import main as template_main
from pipelines.options import DataflowSettings, request_from_options
from tests.pipeline_fixtures import PIPE_TILE

ROOT = Path(__file__).resolve().parents[1]
WORKER = "eo-fusion-worker@my-proj.iam.gserviceaccount.com"
IMAGE = "europe-west4-docker.pkg.dev/my-proj/eo-fusion/eo-fusion:0.1.0"
SUBNET = "regions/europe-west4/subnetworks/eo-fusion-workers"
TEMPLATE = "gs://my-proj-eo-fusion-templates/templates/eo-fusion.json"
REQUEST = "gs://my-proj-eo-fusion-templates/requests/scheduled.yaml"
CLOUD = [
    "--project", "my-proj",
    "--region", "europe-west4",
    "--temp-location", "gs://my-proj-eo-fusion-temp/tmp",
    "--image", IMAGE,
    "--service-account", WORKER,
    "--subnetwork", SUBNET,
]  # fmt: skip


def _no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ADC anywhere: no env file, no gcloud config, no metadata server."""
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    monkeypatch.setenv("NO_GCE_CHECK", "True")


def _settings(**overrides: Any) -> DataflowSettings:
    fields: dict[str, Any] = {
        "project": "my-proj",
        "region": "europe-west4",
        "temp_location": "gs://my-proj-eo-fusion-temp/tmp",
        "image": IMAGE,
        "service_account": WORKER,
        "subnetwork": SUBNET,
    }
    fields.update(overrides)
    return DataflowSettings(**fields)


# ------------------------------------------------------------------------------ dry run


def test_dry_run_prints_accelerator_image_and_service_account(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_credentials(monkeypatch, tmp_path)  # a dry run needs none
    result = CliRunner().invoke(
        main,
        ["launch", "--dry-run", "--runner", "DataflowRunner", *CLOUD,
         "--catalog", "gs://b/scenes/catalog.json", "--output", "gs://b/products",
         "--start", "2023-06-01", "--end", "2023-06-30", "--label", "team=eo"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for option in (
        "--dataflow_service_options=worker_accelerator=type:nvidia-tesla-t4;count:1;install-nvidia-driver",
        f"--sdk_container_image={IMAGE}",
        f"--service_account_email={WORKER}",
        "--runner=DataflowRunner",
        "--experiments=use_runner_v2",
        "--experiments=no_use_multiple_sdk_containers",
        "--machine_type=n1-standard-8",
        "--no_use_public_ips",
        f"--subnetwork={SUBNET}",
        "--labels=team=eo",
        "--job_name=eo-fusion-spatiotemporal-starfm-20230601-20230630",
    ):
        assert f"  {option}" in lines, option
    assert "dry run: nothing was sent" in result.output
    # The printed options are what Beam parses: GPU service option, container, account.
    args = [ln.strip() for ln in lines if ln.startswith("  --")]
    opts = PipelineOptions(args).get_all_options()
    assert opts["dataflow_service_options"] == [
        "worker_accelerator=type:nvidia-tesla-t4;count:1;install-nvidia-driver"
    ]
    assert opts["sdk_container_image"] == IMAGE
    assert opts["service_account_email"] == WORKER
    assert opts["use_public_ips"] is False


def test_dry_run_template_body_uses_only_valid_template_parameters(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_credentials(monkeypatch, tmp_path)
    result = CliRunner().invoke(
        main,
        ["launch", "--dry-run", *CLOUD, "--template", TEMPLATE, "--request", REQUEST,
         "--last-days", "16", "--lag-days", "8", "--tiles", "14N-0020-0188", "--gpu-type", "nvidia-l4"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = result.output
    body = json.loads(text[text.index("{") : text.rindex("}") + 1])
    launch = body["launchParameter"]
    assert launch["containerSpecGcsPath"] == TEMPLATE
    assert launch["environment"]["serviceAccountEmail"] == WORKER
    assert launch["environment"]["sdkContainerImage"] == IMAGE
    assert launch["environment"]["machineType"] == "g2-standard-8"
    assert launch["environment"]["ipConfiguration"] == "WORKER_IP_PRIVATE"
    metadata = json.loads((ROOT / "infra" / "metadata.json").read_text())
    regexes = {p["name"]: p["regexes"] for p in metadata["parameters"]}
    for name, value in launch["parameters"].items():
        assert name in regexes, name
        assert all(re.fullmatch(rx, value) for rx in regexes[name]), (name, value)
    assert launch["parameters"]["last_days"] == "16"
    assert "start" not in launch["parameters"]


def test_launch_without_credentials_fails_fast_and_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_credentials(monkeypatch, tmp_path)
    result = CliRunner().invoke(
        main,
        ["launch", *CLOUD, "--template", TEMPLATE, "--request", REQUEST, "--last-days", "16"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "no Google Cloud credentials found" in result.output
    assert "GOOGLE_APPLICATION_CREDENTIALS" in result.output
    assert "gcloud auth application-default login" in result.output
    assert "nothing was launched" in result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--gpu-type", "nvidia-l4", "--machine-type", "n1-standard-8"], "cannot carry nvidia-l4"),
        (["--gpu-type", "nvidia-tesla-k9"], "GPU type 'nvidia-tesla-k9' is unknown"),
        (["--label", "Team=EO"], "is not a valid Dataflow label"),
        (["--catalog", "scenes/catalog.json"], "is a local path"),
        (["--output", "products"], "gs://BUCKET/PATH only"),
        (["--catalog", "https://cmr.earthdata.nasa.gov/stac/LPCLOUD"], "cannot pass those credentials"),
    ],
)
def test_bad_launch_settings_are_refused_with_the_fix(extra: list[str], message: str) -> None:
    result = CliRunner().invoke(
        main,
        ["launch", "--dry-run", *CLOUD, "--template", "gs://t/t.json",
         "--request", "gs://t/r.yaml", "--last-days", "3", *extra],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_launch_names_every_missing_cloud_flag() -> None:
    result = CliRunner().invoke(main, ["launch", "--dry-run", "--project", "p", "--last-days", "3"])
    assert result.exit_code == 2
    assert "--temp-location, --image, --service-account" in result.output


def test_settings_refuse_default_compute_account_and_public_workers_without_subnet() -> None:
    with pytest.raises(ConfigError, match="default compute service account"):
        _settings(service_account="123-compute@developer.gserviceaccount.com")
    with pytest.raises(ConfigError, match="Private Google Access"):
        _settings(subnetwork=None)
    with pytest.raises(ConfigError, match="gs:// path"):
        _settings(temp_location="local/tmp")
    cpu = _settings(gpu_type=None)
    assert cpu.worker_accelerator is None
    assert cpu.experiments == ["use_runner_v2"]
    assert not any(a.startswith("--dataflow_service_options") for a in cpu.pipeline_args())


def test_template_launch_refuses_a_local_request_file() -> None:
    with pytest.raises(ConfigError, match="upload the file to gs://"):
        plan_launch(_settings(), {"request": "request.yaml"}, "gs://t/t.json")


# -------------------------------------------------------------------------- relative periods


def test_relative_period_is_the_last_n_days_ending_lag_days_before_today() -> None:
    assert relative_period(16, 0, dt.date(2024, 3, 20)) == (dt.date(2024, 3, 5), dt.date(2024, 3, 20))
    assert relative_period(1, 8, dt.date(2024, 3, 20)) == (dt.date(2024, 3, 12), dt.date(2024, 3, 12))
    with pytest.raises(ConfigError, match="at least 1"):
        relative_period(0)
    with pytest.raises(ConfigError, match="whole numbers"):
        relative_period("a week")


def test_request_with_last_days_resolves_against_the_launch_date(tmp_path: Path) -> None:
    base = {"catalog": "gs://b/c.json", "output": "gs://b/out"}
    req = FusionRequest.from_mapping({**base, "last_days": 16, "lag_days": 8}, today=dt.date(2024, 3, 20))
    assert (req.start, req.end) == (dt.date(2024, 2, 26), dt.date(2024, 3, 12))  # 2024 is a leap year
    # Two launches a day apart overlap by 15 days: the same dates, the same product paths.
    later = FusionRequest.from_mapping({**base, "last_days": 16, "lag_days": 8}, today=dt.date(2024, 3, 21))
    assert later.start - req.start == dt.timedelta(days=1)
    with pytest.raises(ConfigError, match="not both"):
        FusionRequest.from_mapping({**base, "last_days": 3, "start": "2024-01-01"})
    with pytest.raises(ConfigError, match="lag_days only applies"):
        FusionRequest.from_mapping({**base, "start": "2024-01-01", "end": "2024-01-02", "lag_days": 2})


def test_launch_flags_override_the_request_file(tmp_path: Path) -> None:
    request = tmp_path / "daily.yaml"
    request.write_text("catalog: gs://b/c.json\noutput: gs://b/out\nstart: 2023-01-01\nend: 2023-01-31\n")
    opts = PipelineOptions([f"--request={request}", "--last_days=10", "--tiles=14N-0001-0002,14N-0001-0003"])
    req = request_from_options(opts, today=dt.date(2024, 5, 10))
    assert (req.start, req.end) == (dt.date(2024, 5, 1), dt.date(2024, 5, 10))
    assert req.tiles == ("14N-0001-0002", "14N-0001-0003")
    assert req.catalog == "gs://b/c.json"
    plain = request_from_options(PipelineOptions([f"--request={request}"]))
    assert (plain.start, plain.end) == (dt.date(2023, 1, 1), dt.date(2023, 1, 31))


def test_fusion_run_accepts_a_rolling_period_instead_of_dates(tmp_path: Path) -> None:
    request = tmp_path / "req.yaml"
    request.write_text("catalog: scenes\noutput: out\nstart: 2023-01-01\nend: 2023-01-31\n")
    result = CliRunner().invoke(
        main, ["run", "--request", str(request), "--last-days", "2", "--end", "2023-01-05"]
    )
    assert result.exit_code == 2
    assert "not both" in result.output


# ------------------------------------------------------------------ Flex Template entry point


@pytest.mark.slow
def test_template_entry_point_runs_the_pipeline_from_a_request_file(
    pipe_scenes: Path, tmp_path: Path
) -> None:
    """What the Flex Template launcher runs, here on the DirectRunner: request file + overrides."""
    request = tmp_path / "request.yaml"
    request.write_text(
        f"catalog: {pipe_scenes}\noutput: {tmp_path / 'out'}\nmodel: naive\n"
        f"tile_size: 256\nblock_size: 128\ntiles: [{PIPE_TILE}]\nstart: 2023-06-01\nend: 2023-07-31\n"
    )
    rc = template_main(
        [f"--request={request}", "--start=2023-07-01", "--end=2023-07-12",
         f"--report_dir={tmp_path / 'reports'}", "--runner=DirectRunner"]
    )  # fmt: skip
    assert rc == 0
    (run_dir,) = (tmp_path / "reports").iterdir()
    products = [json.loads(x) for x in (run_dir / "products.jsonl").read_text().splitlines()]
    assert products and all(p["status"] == "written" for p in products)
    dates = sorted(p["product_id"].split("-")[-2] for p in products)
    assert all("20230701" <= d <= "20230712" for d in dates), dates
    assert (tmp_path / "out" / "catalog.json").is_file()


def test_template_entry_point_reports_a_bad_request_without_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    request = tmp_path / "request.yaml"
    request.write_text("catalog: c\noutput: o\nstart: 2023-02-01\nend: 2023-01-01\n")
    assert template_main([f"--request={request}"]) == 2
    assert "end 2023-01-01 is before start 2023-02-01" in caplog.text


def test_an_unsupported_output_scheme_is_refused_before_anything_is_written(
    pipe_scenes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main,
        ["run", "--catalog", str(pipe_scenes), "--output", "s3://my-bucket/products",
         "--start", "2023-07-01", "--end", "2023-07-02", "--report-dir", "report"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "not s3://" in result.output
    assert not (tmp_path / "s3:").exists()


# ------------------------------------------------------------------ built-in models on workers


def test_a_built_in_model_is_resolved_where_the_stage_runs_not_where_the_graph_was_built(
    pipe_scenes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fusion launch` builds the graph on a checkout; Dataflow workers run it from their own
    installation. The graph names a built-in model by name, and the workers resolve it: built
    here, then run with the packages installed somewhere else (the original folder hidden),
    the run succeeds, the handler loads the other copy, and no path of the building checkout
    reaches a stage, an Item or the model's MLM Item."""
    import shutil

    import apache_beam as beam
    from apache_beam.pipeline import PipelineVisitor

    import fusion.models as models
    from fusion.models.package import load_model_package
    from pipelines.fuse import build_pipeline
    from pipelines.stages import inference
    from tests.pipeline_fixtures import pipe_request

    built_here = str(models.PACKAGES_DIR)
    request = pipe_request(pipe_scenes, tmp_path / "products", model="naive")
    pipeline = beam.Pipeline(runner="DirectRunner")
    build_pipeline(request, pipeline)
    # What the stages were given (what is pickled for the workers): the model's name only.
    refs: dict[str, tuple[str, ...]] = {}

    class Refs(PipelineVisitor):
        def enter_composite_transform(self, node: Any) -> None:
            for attr in ("model_paths", "model_packages", "models"):
                value = getattr(node.transform, attr, None)
                if value is None:
                    continue
                # FuseBlocks: names; PublishStac: names; PlanBlocks: a JobModels (its refs)
                names = value.refs if hasattr(value, "refs") else value
                refs[f"{node.full_label}.{attr}"] = (names,) if isinstance(names, str) else tuple(names)

    pipeline.visit(Refs())
    assert {k.split(".")[0] for k in refs} == {"FuseBlocks", "PlanBlocks", "PublishStac", "ReadBlocks"}, refs
    assert {name for names in refs.values() for name in names} == {"naive"}, refs

    # The worker's installation: the packages elsewhere, the building checkout's folder gone.
    worker_install = tmp_path / "site-packages" / "fusion" / "models" / "packages"
    shutil.copytree(built_here, worker_install)
    monkeypatch.setattr(models, "PACKAGES_DIR", worker_install)
    loaded: list[str] = []
    monkeypatch.setattr(
        inference, "load_model_package", lambda path: loaded.append(str(path)) or load_model_package(path)
    )
    result = pipeline.run()
    result.wait_until_finish()
    assert loaded and all(p.startswith(str(worker_install)) for p in loaded), loaded
    written = [p for p in (tmp_path / "products").rglob("*") if p.is_file()]
    assert any(p.suffix == ".tif" for p in written)
    for path in written:
        if path.suffix == ".json":
            text = path.read_text()
            assert built_here not in text and str(ROOT) not in text, path
