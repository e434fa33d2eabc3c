"""The interface of a simulated sensor's renderer."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from fusion.simulate.context import SceneContext
from fusion.simulate.items import SimulatedItem


class SensorRenderer(ABC):
    """Observes the shared landscape and weather as one sensor does and writes its scenes."""

    #: The sensor's name in :attr:`fusion.simulate.SimulationConfig.sensors`.
    name: ClassVar[str]

    def __init__(self, ctx: SceneContext) -> None:
        self.ctx = ctx

    @abstractmethod
    def truth_days(self) -> list[dt.date]:
        """The days this sensor observes (for composites, the composited day): truth is
        written for each of them."""

    @abstractmethod
    def render(self, out: Path) -> Iterator[SimulatedItem]:
        """Write this sensor's scenes under ``out/<collection>/`` and yield their items."""
