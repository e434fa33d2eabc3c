"""Pipeline options: the fusion request as Beam options, and the Dataflow worker settings.

Two layers, kept apart on purpose:

* :class:`FusionOptions` are the *pipeline's own* options (request file or fields, relative
  period). They are exactly the Flex Template parameters of ``infra/metadata.json`` (a test
  keeps the two sets equal), so a scheduled launch passes nothing the template does not know.
* :class:`DataflowSettings` turn "run on Dataflow with GPUs" into standard Beam/Dataflow options
  (Runner v2, custom container, worker accelerator, machine type, service account, private
  workers, labels) and into the body of a ``flexTemplates:launch`` request.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions

from fusion.errors import ConfigError
from fusion.request import FusionRequest, override_fields, parse_request_text

#: Request fields that FusionOptions carries as flags (the rest come from a request file).
REQUEST_FLAGS = (
    "catalog", "output", "start", "end", "last_days", "lag_days", "aoi", "tiles", "model", "stac_api",
)  # fmt: skip


class FusionOptions(PipelineOptions):
    """The fusion pipeline's own options (also the Flex Template parameters)."""

    @classmethod
    def _add_argparse_args(cls, parser: Any) -> None:
        parser.add_argument(
            "--request",
            default=None,
            help="Request file (YAML or JSON), a local path or a gs:// URI; the flags below override it.",
        )
        parser.add_argument("--catalog", default=None, help="STAC catalog the scenes come from.")
        parser.add_argument("--output", default=None, help="Where products and their STAC catalog go.")
        parser.add_argument("--start", default=None, help="First target date, YYYY-MM-DD.")
        parser.add_argument("--end", default=None, help="Last target date, YYYY-MM-DD.")
        parser.add_argument(
            "--last_days",
            type=int,
            default=None,
            help="Instead of start/end: the last N days up to the launch date (UTC).",
        )
        parser.add_argument(
            "--lag_days", type=int, default=None, help="With last_days: end the period N days before launch."
        )
        parser.add_argument("--aoi", default=None, help="Area: 'minx,miny,maxx,maxy' in degrees (WGS 84).")
        parser.add_argument("--tiles", default=None, help="Comma-separated grid tile ids to produce.")
        parser.add_argument(
            "--model", default=None, help="Built-in model name or a model package folder in the image."
        )
        parser.add_argument(
            "--stac_api", default=None, help="Also publish the products to this STAC API (Transactions)."
        )
        parser.add_argument(
            "--report_dir",
            default=None,
            help="Folder or gs:// prefix for the run report (products and dead letters as JSON lines).",
        )


def read_text(uri: str) -> str:
    """Text of a local file or any URI Beam's FileSystems can open (gs://, s3://, ...)."""
    from apache_beam.io.filesystems import FileSystems

    try:
        with FileSystems.open(uri) as fh:
            data: bytes = fh.read()
    except Exception as exc:  # Beam raises IOError/BeamIOError/... depending on the scheme
        raise ConfigError(f"cannot read the request file {uri}: {exc}") from exc
    return data.decode("utf-8")


def request_from_options(options: PipelineOptions, today: dt.date | None = None) -> FusionRequest:
    """The FusionRequest a launch describes: the request file (if any) overridden by the flags.
    A relative period is resolved here, i.e. when the job is launched."""
    opts = options.view_as(FusionOptions)
    data: dict[str, Any] = {}
    if opts.request:
        data = parse_request_text(read_text(opts.request), opts.request)
    flags = {k: getattr(opts, k) for k in REQUEST_FLAGS}
    if flags["tiles"] is not None:
        flags["tiles"] = [t.strip() for t in str(flags["tiles"]).split(",") if t.strip()]
    return FusionRequest.from_mapping(override_fields(data, flags), today=today)


# ---------------------------------------------------------------------------- Dataflow

#: Accelerator type -> machine-type prefixes it can be attached to (Compute Engine GPU platforms).
GPU_MACHINE_PREFIXES: dict[str, tuple[str, ...]] = {
    "nvidia-tesla-t4": ("n1-",),
    "nvidia-tesla-p4": ("n1-",),
    "nvidia-tesla-p100": ("n1-",),
    "nvidia-tesla-v100": ("n1-",),
    "nvidia-l4": ("g2-",),
    "nvidia-tesla-a100": ("a2-highgpu-", "a2-megagpu-"),
    "nvidia-a100-80gb": ("a2-ultragpu-",),
    "nvidia-h100-80gb": ("a3-highgpu-",),
}
#: A sensible machine type per accelerator when none is given.
DEFAULT_MACHINE_TYPE = {
    "nvidia-tesla-t4": "n1-standard-8",
    "nvidia-tesla-p4": "n1-standard-8",
    "nvidia-tesla-p100": "n1-standard-8",
    "nvidia-tesla-v100": "n1-standard-8",
    "nvidia-l4": "g2-standard-8",
    "nvidia-tesla-a100": "a2-highgpu-1g",
    "nvidia-a100-80gb": "a2-ultragpu-1g",
    "nvidia-h100-80gb": "a3-highgpu-1g",
}
CPU_MACHINE_TYPE = "n2-standard-4"

_LABEL = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_JOB_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_SUBNETWORK = re.compile(
    r"^(https://www\.googleapis\.com/compute/v1/projects/[^/]+/)?regions/[a-z0-9-]+/subnetworks/[a-z0-9-]+$"
)


@dataclass(frozen=True)
class DataflowSettings:
    """Where and how Dataflow runs the pipeline. ``gpu_type=None`` runs on CPU workers."""

    project: str
    region: str
    temp_location: str
    image: str  #: the eo-fusion container (infra/Dockerfile) in Artifact Registry
    service_account: str  #: worker service account email (never the default compute account)
    subnetwork: str | None = None
    staging_location: str | None = None
    gpu_type: str | None = "nvidia-tesla-t4"
    gpu_count: int = 1
    machine_type: str | None = None
    max_workers: int = 10
    public_ips: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    job_name: str | None = None

    def __post_init__(self) -> None:
        for name in ("project", "region", "image", "service_account"):
            if not getattr(self, name):
                raise ConfigError(f"Dataflow needs --{name.replace('_', '-')}")
        for name in ("temp_location", "staging_location"):
            value = getattr(self, name)
            if value is not None and not str(value).startswith("gs://"):
                raise ConfigError(
                    f"{name} {value!r} must be a gs:// path (Dataflow workers cannot see local folders)"
                )
        if self.service_account.endswith("-compute@developer.gserviceaccount.com"):
            raise ConfigError("do not run workers as the default compute service account; use the worker one")
        if not self.service_account.endswith(".iam.gserviceaccount.com"):
            raise ConfigError(
                f"service account {self.service_account!r} is not a service-account email "
                "(NAME@PROJECT.iam.gserviceaccount.com); terraform output worker_service_account gives it"
            )
        if self.gpu_type is not None:
            if self.gpu_type not in GPU_MACHINE_PREFIXES:
                raise ConfigError(
                    f"GPU type {self.gpu_type!r} is unknown; choose one of {sorted(GPU_MACHINE_PREFIXES)}"
                )
            if self.gpu_count < 1:
                raise ConfigError(f"GPU count {self.gpu_count} must be at least 1")
            prefixes = GPU_MACHINE_PREFIXES[self.gpu_type]
            if not self.worker_machine_type.startswith(prefixes):
                raise ConfigError(
                    f"machine type {self.worker_machine_type!r} cannot carry {self.gpu_type}; "
                    f"use a {' or '.join(p + '*' for p in prefixes)} machine, e.g. "
                    f"{DEFAULT_MACHINE_TYPE[self.gpu_type]}"
                )
        if self.max_workers < 1:
            raise ConfigError(f"max workers {self.max_workers} must be at least 1")
        if not self.public_ips and self.subnetwork is None:
            raise ConfigError(
                "workers without public IPs need a subnetwork with Private Google Access: give "
                "--subnetwork regions/REGION/subnetworks/NAME (terraform output subnetwork), or --public-ips"
            )
        if self.subnetwork is not None and not _SUBNETWORK.match(self.subnetwork):
            raise ConfigError(
                f"subnetwork {self.subnetwork!r} must look like regions/REGION/subnetworks/NAME "
                "or its full https://www.googleapis.com/compute/v1/projects/... URL"
            )
        for key, value in self.labels.items():
            if not _LABEL.match(key) or not _LABEL_VALUE.match(value):
                raise ConfigError(
                    f"label {key}={value} is not a valid Dataflow label: lowercase letters, digits, "
                    "'_' and '-', keys starting with a letter, at most 63 characters"
                )
        if self.job_name is not None and not _JOB_NAME.match(self.job_name):
            raise ConfigError(
                f"job name {self.job_name!r}: use lowercase letters, digits and '-', starting with a letter"
            )

    @property
    def worker_machine_type(self) -> str:
        if self.machine_type:
            return self.machine_type
        return DEFAULT_MACHINE_TYPE[self.gpu_type] if self.gpu_type else CPU_MACHINE_TYPE

    @property
    def worker_accelerator(self) -> str | None:
        """The ``dataflow_service_options`` value that attaches GPUs and installs the driver."""
        if self.gpu_type is None:
            return None
        return f"worker_accelerator=type:{self.gpu_type};count:{self.gpu_count};install-nvidia-driver"

    @property
    def experiments(self) -> list[str]:
        # Runner v2 is required for custom containers. With GPUs, one SDK process per worker
        # VM owns the GPU instead of one per vCPU each trying to allocate all of its memory.
        out = ["use_runner_v2"]
        if self.gpu_type is not None:
            out.append("no_use_multiple_sdk_containers")
        return out

    def default_job_name(self, request: FusionRequest) -> str:
        name = f"eo-fusion-{request.task}-{request.model}-{request.start:%Y%m%d}-{request.end:%Y%m%d}"
        return re.sub(r"[^a-z0-9-]", "-", name.lower())[:63].rstrip("-")

    def pipeline_args(self, request: FusionRequest | None = None) -> list[str]:
        """Beam/Dataflow command-line options for a direct DataflowRunner launch."""
        args = [
            "--runner=DataflowRunner",
            f"--project={self.project}",
            f"--region={self.region}",
            f"--temp_location={self.temp_location}",
            f"--staging_location={self.staging_location or self.temp_location.rstrip('/') + '/staging'}",
        ]
        job = self.job_name or (self.default_job_name(request) if request is not None else None)
        if job:
            args.append(f"--job_name={job}")
        args += [f"--experiments={e}" for e in self.experiments]
        args += [
            f"--sdk_container_image={self.image}",
            # The image already holds eo-fusion and the SDK: stage neither.
            "--sdk_location=container",
            f"--machine_type={self.worker_machine_type}",
            f"--max_num_workers={self.max_workers}",
            f"--service_account_email={self.service_account}",
        ]
        if self.worker_accelerator:
            args.append(f"--dataflow_service_options={self.worker_accelerator}")
        if self.subnetwork:
            args.append(f"--subnetwork={self.subnetwork}")
        args.append("--use_public_ips" if self.public_ips else "--no_use_public_ips")
        args += [f"--labels={k}={v}" for k, v in sorted(self.labels.items())]
        return args

    def flex_launch_body(self, template: str, parameters: dict[str, str], job_name: str) -> dict[str, Any]:
        """Body of ``POST .../flexTemplates:launch`` for the template spec at ``template``."""
        if not template.startswith("gs://"):
            raise ConfigError(f"template {template!r} must be the gs:// path of the Flex Template spec")
        params = dict(parameters)
        if self.worker_accelerator:
            # Job-level service option; Flex Templates take pipeline options as parameters.
            params["dataflow_service_options"] = self.worker_accelerator
        environment: dict[str, Any] = {
            "serviceAccountEmail": self.service_account,
            "tempLocation": self.temp_location,
            "stagingLocation": self.staging_location or self.temp_location.rstrip("/") + "/staging",
            "machineType": self.worker_machine_type,
            "maxWorkers": self.max_workers,
            "sdkContainerImage": self.image,
            "additionalExperiments": self.experiments,
            "ipConfiguration": "WORKER_IP_PUBLIC" if self.public_ips else "WORKER_IP_PRIVATE",
        }
        if self.subnetwork:
            environment["subnetwork"] = self.subnetwork
        if self.labels:
            environment["additionalUserLabels"] = dict(sorted(self.labels.items()))
        return {
            "launchParameter": {
                "jobName": job_name,
                "containerSpecGcsPath": template,
                "parameters": params,
                "environment": environment,
            }
        }
