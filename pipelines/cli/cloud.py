"""`fusion launch`: the pipeline on Google Cloud Dataflow."""

from __future__ import annotations

from typing import Any

import click

from fusion.errors import ConfigError
from pipelines.cli.common import exit_on_fusion_error, request_options


@click.command()
@click.option(
    "--request",
    "request_uri",
    help="Request file (YAML/JSON): a gs:// URI, or for a direct launch also a local file.",
)
@request_options
@click.option("--report-dir", help="gs:// prefix for run reports (one sub-folder per launch).")
@click.option(
    "--runner",
    type=click.Choice(["DataflowRunner"]),
    default="DataflowRunner",
    show_default=True,
    help="Only Dataflow is launched from here; use `fusion run` for local runs.",
)
@click.option(
    "--template", help="gs:// path of the Flex Template spec: launch it instead of submitting directly."
)
@click.option("--project", envvar="GOOGLE_CLOUD_PROJECT", help="GCP project id. [$GOOGLE_CLOUD_PROJECT]")
@click.option("--region", default="europe-west4", show_default=True, help="Dataflow region.")
@click.option("--temp-location", help="gs:// folder for Dataflow temp files.")
@click.option("--staging-location", help="gs:// folder for staged files. [TEMP/staging]")
@click.option("--image", help="Worker (and launcher) container image in Artifact Registry.")
@click.option("--service-account", help="Worker service-account email (terraform output).")
@click.option("--subnetwork", help="regions/REGION/subnetworks/NAME (with Private Google Access).")
@click.option("--public-ips", is_flag=True, help="Give workers public IPs (default: private only).")
@click.option(
    "--gpu-type",
    default="nvidia-tesla-t4",
    show_default=True,
    help="Accelerator per worker, or 'none' for CPU workers.",
)
@click.option("--gpu-count", type=click.IntRange(1), default=1, show_default=True, help="GPUs per worker.")
@click.option("--machine-type", help="Worker machine type. [matches the GPU, e.g. n1-standard-8 for T4]")
@click.option("--max-workers", type=click.IntRange(1), default=10, show_default=True, help="Autoscaling cap.")
@click.option("--label", "labels", multiple=True, help="Job label KEY=VALUE (repeatable).")
@click.option("--job-name", help="Dataflow job name. [derived from task, model and period]")
@click.option("--dry-run", is_flag=True, help="Print the pipeline options and launch request; send nothing.")
@exit_on_fusion_error
def launch(
    request_uri: str | None,
    runner: str,
    template: str | None,
    project: str | None,
    region: str,
    temp_location: str | None,
    staging_location: str | None,
    image: str | None,
    service_account: str | None,
    subnetwork: str | None,
    public_ips: bool,
    gpu_type: str,
    gpu_count: int,
    machine_type: str | None,
    max_workers: int,
    labels: tuple[str, ...],
    job_name: str | None,
    dry_run: bool,
    **fields: Any,
) -> None:
    """Launch the fusion pipeline on Google Cloud Dataflow (GPU workers).

    Without --template the request is resolved here and the job submitted with the
    DataflowRunner; with --template the Flex Template launcher resolves it in the cloud
    (a relative --last-days period then counts from the launch date). The catalog must be a
    URL (a gs:// or https:// static catalog, or a STAC API), the output a gs:// prefix, a
    template's request file a gs:// URI. Values come from `terraform output` (README, Deploy).

    --stac-api publishing runs on the Dataflow workers: an API that needs a bearer token reads
    it from EO_FUSION_STAC_API_TOKEN in the workers' environment (it is not sent with the job).
    """
    from pipelines.launch import plan_launch, send_launch, template_parameters
    from pipelines.options import DataflowSettings

    missing = [
        flag
        for flag, value in (
            ("--project", project),
            ("--temp-location", temp_location),
            ("--image", image),
            ("--service-account", service_account),
        )
        if not value
    ]
    if missing:
        raise ConfigError(f"fusion launch needs {', '.join(missing)} (see `terraform output`)")
    label_map: dict[str, str] = {}
    for item in labels:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"label {item!r} must be KEY=VALUE")
        label_map[key] = value
    settings = DataflowSettings(
        project=str(project),
        region=region,
        temp_location=str(temp_location),
        staging_location=staging_location,
        image=str(image),
        service_account=str(service_account),
        subnetwork=subnetwork,
        public_ips=public_ips,
        gpu_type=None if gpu_type == "none" else gpu_type,
        gpu_count=gpu_count,
        machine_type=machine_type,
        max_workers=max_workers,
        labels=label_map,
        job_name=job_name,
    )
    params = template_parameters({"request": request_uri, **fields})
    plan = plan_launch(settings, params, template)
    click.echo(plan.text())
    if dry_run:
        click.echo("dry run: nothing was sent")
        return
    send_launch(plan, click.echo)
