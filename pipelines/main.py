"""Entry point of the Flex Template (and of any scripted launch): build and submit the pipeline.

The Flex Template launcher runs ``python -m pipelines.main --request gs://... --last_days 16
<Dataflow options>`` inside the eo-fusion image at launch time; relative periods are resolved
here, against the launch date. On Dataflow the program submits the job and exits; on the
DirectRunner it runs to the end and prints the summary.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from fusion.errors import FusionError
from pipelines.fuse import build_pipeline
from pipelines.options import FusionOptions, request_from_options

log = logging.getLogger("eo-fusion")


def report_location(options: PipelineOptions, now: dt.datetime | None = None) -> str | None:
    """``report_dir/<UTC launch time>``: every run keeps its own report."""
    base = options.view_as(FusionOptions).report_dir
    if not base:
        return None
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{base.rstrip('/')}/{stamp}"


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    options = PipelineOptions(argv if argv is not None else sys.argv[1:])
    try:
        request = request_from_options(options)
    except FusionError as exc:
        log.error("%s", exc)
        return 2
    log.info("request: %s", request.to_json())
    pipeline = beam.Pipeline(options=options)
    build_pipeline(request, pipeline, report_location(options))
    result = pipeline.run()
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    if "Dataflow" not in str(runner):
        result.wait_until_finish()
    log.info("submitted: %s", getattr(result, "job_id", lambda: "local run")())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
