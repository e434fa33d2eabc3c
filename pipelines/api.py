"""The Python API with the pipeline: every name of :mod:`fusion.api`, and :func:`run_request`.

Running a request needs Apache Beam, which ``fusion/`` must not import (not even inside a
function: ``tests/test_layering.py`` walks every import), so this call lives here, above the
science, as the command line does. See docs/api.md.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fusion.api import *  # noqa: F403 - this module is fusion.api plus the pipeline
from fusion.api import __all__ as _science
from fusion.request import FusionRequest
from pipelines.run import RunSummary, run_fusion

__all__ = [*_science, "FusionRequest", "RunSummary", "make_request", "run_request"]


def make_request(fields: Mapping[str, Any], base: str | os.PathLike[str] | None = None) -> FusionRequest:
    """A :class:`FusionRequest` from plain fields, as a request file holds them (``catalog``,
    ``output``, ``start``, ``end`` as ``YYYY-MM-DD`` or dates, ``model``, ``tile_size``, ...);
    relative paths are taken from ``base``."""
    return FusionRequest.from_mapping(fields, Path(base) if base is not None else None)


def run_request(
    request: FusionRequest | Mapping[str, Any],
    report_dir: str | os.PathLike[str] | None = None,
    beam_args: list[str] | None = None,
) -> RunSummary:
    """Run a request through the pipeline here (DirectRunner unless ``beam_args`` say otherwise,
    e.g. ``["--runner", "DataflowRunner", ...]``), as ``fusion run`` does, and return its
    summary (``written`` products with their Item paths, ``dead_letters``, counters).
    ``report_dir`` (default ``fusion-reports/<UTC time>``, as ``fusion run``) gets
    ``products.jsonl``, ``dead-letter.jsonl`` and ``summary.txt``."""
    req = request if isinstance(request, FusionRequest) else make_request(request)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    report = Path(report_dir) if report_dir is not None else Path("fusion-reports") / stamp
    return run_fusion(req, report, beam_args)
