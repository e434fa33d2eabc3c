"""Entry point of the Flex Template (and of any scripted launch): build and submit the pipeline.

The Flex Template launcher runs ``python -m pipelines.main --request gs://... --last_days 16
<Dataflow options>`` inside the eo-fusion image at launch time; relative periods are resolved
here, against the launch date. On Dataflow the program submits the job and exits; on the
DirectRunner it runs to the end and prints the summary.
"""

from __future__ import annotations

import logging
import sys

from apache_beam.options.pipeline_options import PipelineOptions

from fusion.errors import FusionError
from pipelines.options import request_from_options
from pipelines.run import is_remote_runner, report_location, run

log = logging.getLogger("eo-fusion")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    options = PipelineOptions(argv if argv is not None else sys.argv[1:])
    try:
        request = request_from_options(options)
    except FusionError as exc:
        log.error("%s", exc)
        return 2
    log.info("request: %s", request.to_json())
    result = run(request, options, report_location(options), wait=not is_remote_runner(options))
    log.info("submitted: %s", getattr(result, "job_id", lambda: "local run")())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
