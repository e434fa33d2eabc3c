"""Wall-clock training budgets: a ceiling on training time, not a point after which one more
step runs.

A trainer stops when another step (a DCSTFN epoch, an MGAN optimisation step) of the length it
expects would pass the budget: :meth:`TimeBudget.overruns`. The DCSTFN trainer expects the
slowest epoch so far (:func:`keras_time_budget`, a Keras callback), the MGAN trainer the mean
step so far.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TimeBudget:
    """``seconds`` of training (None: no limit)."""

    seconds: float | None

    def overruns(self, elapsed: float, next_step: float) -> bool:
        """Would a step of ``next_step`` seconds, started after ``elapsed`` seconds of training,
        end past the budget?"""
        return self.seconds is not None and elapsed + next_step > self.seconds


def keras_time_budget(seconds: float | None) -> Any:
    """A Keras callback that stops ``fit`` when another epoch as long as the slowest so far
    would pass ``seconds``; its ``stopped_for_time`` says whether it did."""
    import keras

    budget = TimeBudget(seconds)

    class TimeBudgetCallback(keras.callbacks.Callback):  # type: ignore[misc]
        def on_train_begin(self, logs: Any = None) -> None:
            self.start = time.perf_counter()
            self.epoch_start = self.start
            self.slowest = 0.0
            self.stopped_for_time = False

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.epoch_start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            now = time.perf_counter()
            self.slowest = max(self.slowest, now - self.epoch_start)
            if budget.overruns(now - self.start, self.slowest):
                self.stopped_for_time = True
                self.model.stop_training = True

    return TimeBudgetCallback()
