"""Pipeline options: the fusion request as Beam options, and the Dataflow worker settings.

Two layers, kept apart on purpose:

* :class:`FusionOptions` are the *pipeline's own* options (request file, request fields,
  report folder), generated from the one definition of the request options
  (:mod:`fusion.request_options`) that also makes the click options of ``fusion run`` and
  ``fusion launch``. ``infra/metadata.json``, the Flex Template parameters, is generated from
  them too (:func:`template_metadata`; a test keeps the file equal), so a scheduled launch
  passes nothing the template does not know.
* :class:`DataflowSettings` turn "run on Dataflow with GPUs" into standard Beam/Dataflow options
  (Runner v2, custom container, worker accelerator, machine type, service account, private
  workers, labels) and into the body of a ``flexTemplates:launch`` request.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions

from fusion.errors import ConfigError
from fusion.request import FusionRequest, parse_request_text
from fusion.request_options import REQUEST_OPTIONS, RequestOption, apply_options

#: Launch options that are not request fields: the request file, and where the run report
#: goes. Together with :data:`fusion.request_options.REQUEST_OPTIONS` they are FusionOptions.
LAUNCH_OPTIONS: tuple[RequestOption, ...] = (
    RequestOption(
        "request",
        "Request file",
        "Request file (YAML or JSON), a local path or a gs:// URI; the options below override its fields.",
        regex=r"^gs://[a-z0-9][-_.a-z0-9]*[a-z0-9]/.+\.(ya?ml|json)$",
    ),
)
REPORT_OPTION = RequestOption(
    "report_dir",
    "Report prefix",
    "Folder or gs:// prefix for the run report (products and dead letters as JSON lines, one "
    "folder per run).",
    regex=r"^gs://[a-z0-9][-_.a-z0-9]*[a-z0-9](/\S*)?$",
)
#: The job-level GPU option a template launch passes (a Beam option of its own).
GPU_PARAMETER = RequestOption(
    "dataflow_service_options",
    "Dataflow service options",
    "GPU workers: worker_accelerator=type:GPU_TYPE;count:N;install-nvidia-driver.",
    regex=r"^worker_accelerator=type:[a-z0-9-]+;count:[1-8];install-nvidia-driver$",
)


def fusion_options() -> tuple[RequestOption, ...]:
    """FusionOptions in order: the request file, every request option, the report folder."""
    return (*LAUNCH_OPTIONS, *REQUEST_OPTIONS, REPORT_OPTION)


class FusionOptions(PipelineOptions):
    """The fusion pipeline's own options (also the Flex Template parameters), generated from
    :func:`fusion_options`. Values arrive as text and are parsed by their option."""

    @classmethod
    def _add_argparse_args(cls, parser: Any) -> None:
        for option in fusion_options():
            parser.add_argument(f"--{option.name}", default=None, help=option.help)


def template_metadata() -> dict[str, Any]:
    """The Flex Template metadata (``infra/metadata.json``): every FusionOptions option plus the
    GPU service option, each with its label, help and regular expression. The file is
    generated from this (``make template-metadata``) and a test keeps the two equal."""
    return {
        "name": "eo-fusion",
        "description": (
            "Fuse satellite scenes from a STAC catalog (a registered fusion task: spatiotemporal, "
            "harmonize, ...) into Cloud-Optimized GeoTIFFs with STAC Items. Parameters are the "
            "pipeline's own options (pipelines/options.py FusionOptions, generated from "
            "fusion/request_options.py) plus the GPU service option."
        ),
        "streaming": False,
        "parameters": [
            {
                "name": option.name,
                "label": option.label,
                "helpText": option.help,
                "isOptional": True,
                "regexes": [option.regex],
            }
            for option in (*fusion_options(), GPU_PARAMETER)
        ],
    }


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
    """The FusionRequest a launch describes: the request file (if any) overridden by the
    options. A relative period is resolved here, i.e. when the job is launched."""
    opts = options.view_as(FusionOptions)
    data: dict[str, Any] = {}
    if opts.request:
        data = parse_request_text(read_text(opts.request), opts.request)
    values = {o.name: getattr(opts, o.name) for o in REQUEST_OPTIONS}
    return FusionRequest.from_mapping(apply_options(data, values), today=today)


def write_template_metadata(path: str) -> None:
    """Write :func:`template_metadata` to ``path`` (``python -m pipelines.options PATH``)."""
    Path(path).write_text(json.dumps(template_metadata(), indent=2) + "\n")


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


if __name__ == "__main__":  # pragma: no cover - `make template-metadata`
    import sys

    write_template_metadata(sys.argv[1] if len(sys.argv) > 1 else "infra/metadata.json")
