"""Key types for grouping in the Beam pipelines (frozen, hashable, deterministic)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class TileKey:
    """One output grid tile: the unit PairScenes groups scenes by."""

    grid: str
    tile_id: str


@dataclass(frozen=True, order=True)
class ProductKey:
    """One product: a tile, a target date, a task and a model."""

    tile: TileKey
    date: dt.date
    task: str
    model: str
