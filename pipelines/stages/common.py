"""What every stage shares: counters and the asset an error names."""

from __future__ import annotations

from apache_beam.metrics.metric import Metrics

from fusion.errors import FusionError
from pipelines.records import NAMESPACE


def count(name: str, n: int = 1) -> None:
    """Add ``n`` to the run's counter ``name`` (namespace ``eo-fusion``)."""
    Metrics.counter(NAMESPACE, name).inc(n)


def asset_of(exc: FusionError) -> str | None:
    """The href a read error names (``BlockReadError.asset``), if any."""
    return getattr(exc, "asset", None)
