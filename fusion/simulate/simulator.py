"""The simulator: runs a configuration's sensor renderers, writes the truth and the catalog."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from fusion.simulate.catalog_writer import write_simulated_catalog
from fusion.simulate.config import SimulationConfig
from fusion.simulate.context import Progress, SceneContext
from fusion.simulate.items import SimulationResult
from fusion.simulate.renderers import RENDERERS
from fusion.simulate.truth import write_truth


class Simulator(SceneContext):
    """Runs a :class:`SimulationConfig` into a folder of COGs, a static STAC catalog and truth."""

    def run(self, out_dir: str | Path) -> SimulationResult:
        """Render every configured sensor (in :data:`RENDERERS` order) into ``out_dir``, then
        the truth of all their acquisition days and ``catalog.json``."""
        t0 = time.perf_counter()
        # Absolute, so that asset hrefs are made relative to the right place however the
        # caller spelled the folder.
        out = Path(out_dir).resolve()
        out.mkdir(parents=True, exist_ok=True)
        result = SimulationResult(out, out / "catalog.json")
        truth_days: set[dt.date] = set()
        for name, renderer_class in RENDERERS.items():
            if name not in self.cfg.sensors:
                continue
            renderer = renderer_class(self)
            for item in renderer.render(out):
                result.items.append(item)
            truth_days.update(renderer.truth_days())
        result.truth_dates = sorted(truth_days)
        write_truth(self, out / "truth", result.truth_dates)
        self.progress("writing STAC catalog")
        write_simulated_catalog(self.cfg, result)
        result.seconds = time.perf_counter() - t0
        return result


def simulate(
    cfg: SimulationConfig, out_dir: str | Path, progress: Progress | None = None
) -> SimulationResult:
    """Simulate ``cfg`` into ``out_dir``: per-band COGs, ``catalog.json`` and ``truth/``."""
    return Simulator(cfg, progress).run(out_dir)
