"""How training examples are split between training and validation, by date *and* area.

An example (a patch of a training job, :mod:`fusion.training.patches`) is

* **validation** when its target date is a validation date *and* it lies in the validation
  area (the east ``validation_area`` share of every tile, cut at a coarse-pixel boundary);
* **train** when none of its dates (target or reference) is a validation date *and* it lies
  wholly in the training area;
* nothing otherwise, so nothing of a validation date or area leaks into training.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from fusion.errors import ConfigError
from fusion.grid import Window

SPLITS = ("train", "validation")


@dataclass(frozen=True)
class SplitConfig:
    """How examples are split between training and validation (by date *and* area)."""

    #: Validation target dates. Empty: every ``validation_every``-th pair date of each tile.
    validation_dates: tuple[dt.date, ...] = ()
    validation_every: int = 4
    #: East share of each tile kept for validation.
    validation_area: float = 0.25

    def __post_init__(self) -> None:
        if not 0.0 < self.validation_area < 1.0:
            raise ConfigError(
                f"validation_area must be a share of the tile in (0, 1), got {self.validation_area}"
            )
        if self.validation_every < 2:
            raise ConfigError(f"validation_every must be >= 2, got {self.validation_every}")

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["validation_dates"] = [d.isoformat() for d in self.validation_dates]
        return out


def every_nth_date(dates: Iterable[dt.date], every: int) -> frozenset[dt.date]:
    """Every ``every``-th of the sorted distinct ``dates``, starting with the second (so the
    first date trains). Both trainers hold out their validation dates this way."""
    ordered = sorted(set(dates))
    return frozenset(d for i, d in enumerate(ordered) if i % every == 1 % every)


def validation_dates(pair_dates: Sequence[dt.date], split: SplitConfig) -> frozenset[dt.date]:
    """The split's explicit dates, or every ``validation_every``-th of the sorted pair dates
    (starting with the second, so the first and last dates train)."""
    if split.validation_dates:
        return frozenset(split.validation_dates)
    return every_nth_date(pair_dates, split.validation_every)


def area_boundary(width: int, split: SplitConfig, ratio: int) -> int:
    """First fine column of the validation area, on a coarse-pixel boundary."""
    coarse_cols = width // ratio
    return round(coarse_cols * (1.0 - split.validation_area)) * ratio


def assign_split(
    dates: tuple[dt.date, dt.date], window: Window, boundary: int, val_dates: frozenset[dt.date]
) -> str | None:
    """``train``, ``validation`` or None (the example would leak one into the other)."""
    target, reference = dates
    if target in val_dates and window.col >= boundary:
        return "validation"
    if target not in val_dates and reference not in val_dates and window.col_stop <= boundary:
        return "train"
    return None
