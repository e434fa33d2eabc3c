"""What every stage shares: counters and the asset an error names."""

from __future__ import annotations

import threading
import time

from apache_beam.metrics.metric import Metrics

from fusion.errors import FusionError
from pipelines.records import NAMESPACE


def count(name: str, n: int = 1) -> None:
    """Add ``n`` to the run's counter ``name`` (namespace ``eo-fusion``)."""
    Metrics.counter(NAMESPACE, name).inc(n)


def asset_of(exc: FusionError) -> str | None:
    """The href a read error names (``BlockReadError.asset``), if any."""
    return getattr(exc, "asset", None)


class ProductProgress:
    """Products planned and finished in this process, for the progress lines of a local run.

    The DirectRunner runs every stage in the one process, so these are the run's counts (the
    plan, behind a GroupByKey, is complete before the first product is assembled). On Dataflow
    each worker counts its own share; the job page has the totals."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.planned = 0
            self.finished = 0
            self._started = time.perf_counter()

    def plan(self) -> None:
        with self._lock:
            self.planned += 1

    def finish(self) -> str:
        """Count one product as finished (written or dead-lettered); returns e.g.
        ``3/12 products, about 40 s left``."""
        with self._lock:
            self.finished += 1
            done, planned = self.finished, max(self.planned, self.finished)
            elapsed = time.perf_counter() - self._started
        text = f"{done}/{planned} products"
        if done < planned:
            text += f", about {elapsed / done * (planned - done):.0f} s left"
        return text


#: This process's product progress (reset by each local run).
PROGRESS = ProductProgress()
