"""``fusion launch``: start the fusion pipeline on Dataflow, directly or through the Flex Template.

``--dry-run`` prints the exact pipeline options and the launch request body and sends nothing.
Without Google Cloud credentials a real launch stops before doing anything, saying what to set.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions

from fusion.errors import ConfigError, LaunchError
from fusion.request import FusionRequest, catalog_url
from pipelines.options import DataflowSettings, FusionOptions, fusion_options, request_from_options
from pipelines.run import report_location, run

DATAFLOW_API = "https://dataflow.googleapis.com/v1b3"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


@dataclass(frozen=True)
class LaunchPlan:
    """What a launch would send: pipeline options, and for a template launch the request body."""

    mode: str  #: "template" or "direct"
    pipeline_args: list[str]
    url: str | None = None
    body: dict[str, Any] | None = None
    request: FusionRequest | None = None

    def text(self) -> str:
        head = "pipeline options:" if self.mode == "direct" else "template parameters (launcher options):"
        lines = [head] + [f"  {a}" for a in self.pipeline_args]
        if self.body is not None:
            lines += [f"launch request: POST {self.url}", json.dumps(self.body, indent=2)]
        else:
            lines += ["launch request: the DataflowRunner builds the job from these options and submits it"]
        return "\n".join(lines)


def template_parameters(fields: dict[str, Any]) -> dict[str, str]:
    """FusionOptions values (``name -> value``, None = not given) as Flex Template parameter
    strings, each written by its option so the launcher parses it back to the same value."""
    options = {o.name: o for o in fusion_options()}
    out: dict[str, str] = {}
    for key, value in fields.items():
        if value is None:
            continue
        if key not in options:
            raise ConfigError(f"{key!r} is not a template parameter; known are {sorted(options)}")
        out[key] = options[key].format(value)
    return out


def fusion_option_names() -> list[str]:
    """Names of FusionOptions' own options (the Flex Template parameters), as Beam parses them."""
    import argparse

    parser = argparse.ArgumentParser()
    FusionOptions._add_argparse_args(parser)
    return [a.dest for a in parser._actions if a.dest != "help"]


def plan_launch(
    settings: DataflowSettings, parameters: dict[str, str], template: str | None = None
) -> LaunchPlan:
    """Build (not send) a launch. With ``template`` it is a Flex Template launch whose
    ``parameters`` the launcher resolves at launch time; without, the request is resolved now
    and the pipeline is submitted from here."""
    if parameters.get("catalog") is not None:
        parameters = {**parameters, "catalog": catalog_url(parameters["catalog"])}
    catalog, output = parameters.get("catalog"), parameters.get("output")
    if catalog is not None and "://" not in catalog:
        raise ConfigError(
            f"catalog {catalog!r} is a local path; Dataflow workers cannot read it: give a gs:// or "
            "https:// catalog.json, or a STAC API URL"
        )
    if output is not None and not output.startswith("gs://"):
        raise ConfigError(f"output {output!r}: Dataflow workers write products to gs://BUCKET/PATH only")
    _refuse_earthdata(catalog)
    if template is not None:
        request_uri = parameters.get("request")
        if request_uri is not None and not request_uri.startswith("gs://"):
            raise ConfigError(
                f"request {request_uri!r}: the template launcher runs in the cloud; upload the file "
                "to gs:// and pass that URI"
            )
        # Unique per launch; the scheduler uses a fixed name so two scheduled runs never overlap.
        job = settings.job_name or dt.datetime.now(dt.UTC).strftime("eo-fusion-%Y%m%d-%H%M%S")
        body = settings.flex_launch_body(template, parameters, job)
        url = f"{DATAFLOW_API}/projects/{settings.project}/locations/{settings.region}/flexTemplates:launch"
        args = [f"--{k}={v}" for k, v in body["launchParameter"]["parameters"].items()]
        return LaunchPlan("template", args, url, body)
    fusion_args = [f"--{k}={v}" for k, v in parameters.items()]
    request = request_from_options(PipelineOptions(fusion_args))
    if "://" not in request.catalog:
        raise ConfigError(
            f"catalog {request.catalog!r} is a local path; Dataflow workers cannot read it: give a gs:// "
            "or https:// catalog.json, or a STAC API URL"
        )
    _refuse_earthdata(request.catalog)
    if not request.output.startswith("gs://"):
        raise ConfigError(
            f"output {request.output!r}: Dataflow workers write products to gs://BUCKET/PATH only"
        )
    return LaunchPlan("direct", settings.pipeline_args(request) + fusion_args, request=request)


def _refuse_earthdata(catalog: str | None) -> None:
    from fusion.sources import source_for_catalog

    source = source_for_catalog(catalog or "")
    if source is not None and source.auth == "earthdata":
        raise ConfigError(
            f"{source.name}: its assets need Earthdata Login on every worker, and eo-fusion cannot "
            "pass those credentials to Dataflow yet; run this request with `fusion run`"
        )


def google_credentials() -> tuple[Any, str | None]:
    """Application Default Credentials, or a LaunchError that says how to provide them."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, project = google.auth.default(scopes=SCOPES)
    except DefaultCredentialsError as exc:
        raise LaunchError(
            "no Google Cloud credentials found: run `gcloud auth application-default login`, or set "
            "GOOGLE_APPLICATION_CREDENTIALS to a credentials file (e.g. workload identity federation); "
            f"nothing was launched ({exc.__class__.__name__})"
        ) from exc
    return credentials, project


def send_launch(plan: LaunchPlan, echo: Callable[[str], None] = print) -> str:
    """Send a planned launch; returns the Dataflow job id."""
    credentials, _ = google_credentials()
    if plan.mode == "template":
        from google.auth.transport.requests import AuthorizedSession

        if plan.url is None or plan.body is None:
            raise LaunchError("a template launch plan lacks its URL or body")
        response = AuthorizedSession(credentials).post(plan.url, json=plan.body, timeout=60)
        if response.status_code != 200:
            raise LaunchError(f"Dataflow refused the launch (HTTP {response.status_code}): {response.text}")
        job_id = str(response.json().get("job", {}).get("id", ""))
        echo(f"launched Flex Template job {job_id}")
        return job_id
    if plan.request is None:
        raise LaunchError("a direct launch plan lacks its request")
    options = PipelineOptions(plan.pipeline_args)
    result = run(plan.request, options, report_location(options), wait=False)
    job_id = str(getattr(result, "job_id", lambda: "")())
    echo(f"submitted Dataflow job {job_id}")
    return job_id
