"""Training jobs for learned spatiotemporal models (seed 001 §3.1-3.2), without Beam.

A *training job* is a target (coarse at t0 and the label: the target pair's fine image, or a
simulation's truth) and one reference pair (fine + coarse at tk, another date) on one tile.
:func:`training_jobs` and :func:`truth_training_jobs` gather them from a tile's observations;
:func:`read_job` reads a job's images whole on the tile, to be cut into patches
(:func:`fusion.training.patches.cut_patches`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.windows
from rasterio.enums import Resampling

from fusion.blockio import GridWindow, read_scene
from fusion.errors import BlockReadError, SceneNotFound
from fusion.grid import Tile, Window
from fusion.pairing import (
    Observation,
    PairingConfig,
    ReferencePair,
    nearest_references,
    reference_pairs,
)
from fusion.training.patches import TileArrays


@dataclass(frozen=True)
class SimulatedTruth:
    """A label from a simulation: the simulator's noise-free, cloud-free surface (``truth/``)
    on the day a coarse composite observed. Simulated data only (see
    :func:`truth_training_jobs`)."""

    path: str
    day: dt.date


@dataclass(frozen=True)
class TrainingJob:
    """Predict the fine image at t0 from ``coarse_t0`` and the ``reference`` pair, on one tile.

    ``label`` is what the prediction is scored against: the fine observation of the target
    pair (real data; the seed's set-up) or the simulated truth (:class:`SimulatedTruth`)."""

    tile_id: str
    coarse_t0: Observation
    reference: ReferencePair
    label: Observation | SimulatedTruth

    @property
    def dates(self) -> tuple[dt.date, dt.date]:
        """The (target, reference) dates the split goes by: the two pairs' dates (their fine
        images'), or for a truth-labelled job the two coarse composites' (period starts), so
        that a held-out composite is neither target nor reference pair in training."""
        if isinstance(self.label, SimulatedTruth):
            return self.coarse_t0.date, self.reference.coarse.date
        return self.label.date, self.reference.date

    @property
    def key(self) -> str:
        return f"{self.tile_id}/{self.dates[0].isoformat()}/{self.reference.date.isoformat()}"


def training_jobs(
    observations: Sequence[Observation], config: PairingConfig, references: int = 2
) -> list[TrainingJob]:
    """For every clear pair of a tile, the ``references`` nearest other clear pairs (of other
    dates, within ``max_gap_days``) as references, nearest first."""
    pairs = reference_pairs(observations, config)
    jobs = []
    gap = config.max_gap_days
    for target in pairs:
        others = [
            p
            for p in pairs
            if p.date != target.date
            and p.coarse.scene.id != target.coarse.scene.id
            and abs((p.date - target.date).days) <= gap
        ]
        others.sort(key=lambda p: (abs((p.date - target.date).days), p.date))
        for ref in others[:references]:
            jobs.append(TrainingJob(target.fine.tile_id, target.coarse, ref, target.fine))
    return jobs


def truth_training_jobs(
    observations: Sequence[Observation],
    config: PairingConfig,
    truth_dir: str,
    observed_day: Callable[[Observation], dt.date],
    references: int = 2,
) -> list[TrainingJob]:
    """Training jobs labelled with a simulation's truth, set up as the fusion pipeline works.

    Every coarse observation clear enough to be a fusion target (``min_target_clear``) is a
    target, whether or not a fine image was taken in its period; its references are the ones
    :func:`fusion.pairing.pair_tile` would give it (the nearest clear pair before and the
    nearest after, within ``max_gap_days``, not sharing its coarse scene), nearest first, at
    most ``references``. The label is the truth of the day the composite observed
    (``observed_day``). So the gaps between target and reference are the pipeline's (1 day
    and up) rather than multiples of the fine revisit, and the label carries neither sensor
    noise nor clouds; a real site has no such label, which is why this is for simulations.
    """
    pairs = reference_pairs(observations, config)
    jobs = []
    targets = [o for o in observations if o.role == "coarse" and o.clear_fraction >= config.min_target_clear]
    for target in sorted(targets, key=lambda o: (o.date, o.scene.id)):
        chosen, _nearest = nearest_references(pairs, target, config.max_gap_days)
        if not chosen:
            continue
        day = observed_day(target)
        label = SimulatedTruth(str(Path(truth_dir) / f"{day.isoformat()}.tif"), day)
        for ref in chosen[:references]:
            jobs.append(TrainingJob(target.tile_id, target, ref, label))
    return jobs


def read_truth_label(
    label: SimulatedTruth, bands: Sequence[str], grid: GridWindow
) -> npt.NDArray[np.float32]:
    """A simulated truth on ``grid`` (its own 30 m grid): (H, W, B) reflectance, NaN outside it."""
    # fusion.simulate loads scipy and pyproj; only truth-labelled training sets need it.
    from fusion.simulate import TRUTH_NODATA, truth_reflectance

    if not Path(label.path).is_file():
        raise SceneNotFound(
            f"no simulated truth for {label.day} at {label.path}; --truth must be the truth/ folder "
            "of the simulation the catalog was written by"
        )
    with rasterio.open(label.path) as src:
        names = list(src.descriptions)
        missing = [b for b in bands if b not in names]
        if missing:
            raise BlockReadError(f"{label.path} has no band(s) {missing}; it has {names}", label.path)
        if src.transform.a != grid.transform.a or src.transform.e != grid.transform.e:
            raise BlockReadError(
                f"{label.path}: truth pixels {src.transform.a} m do not match the tile grid's "
                f"{grid.transform.a} m; build the training set with the simulation's own grid",
                label.path,
            )
        window = (
            rasterio.windows.from_bounds(
                grid.transform.c,
                grid.transform.f + grid.transform.e * grid.height,
                grid.transform.c + grid.transform.a * grid.width,
                grid.transform.f,
                src.transform,
            )
            .round_offsets()
            .round_lengths()
        )
        dn = src.read(
            [names.index(b) + 1 for b in bands], window=window, boundless=True, fill_value=TRUTH_NODATA
        )
    return np.moveaxis(truth_reflectance(dn), 0, -1)


def read_job(job: TrainingJob, tile: Tile, bands: Sequence[str], ratio: int) -> TileArrays:
    """Read a job's four images on the whole tile (fine nearest, coarse area average)."""
    whole = Window(0, 0, *tile.shape)
    fine_grid = GridWindow.of(tile, whole)
    coarse_grid = GridWindow.of(tile, whole, ratio)
    if isinstance(job.label, SimulatedTruth):
        target = read_truth_label(job.label, bands, fine_grid)
    else:
        target = read_scene(job.label.scene, bands, fine_grid, Resampling.nearest).reflectance
    return TileArrays(
        coarse_t0=read_scene(job.coarse_t0.scene, bands, coarse_grid, Resampling.average).reflectance,
        fine_tk1=read_scene(job.reference.fine.scene, bands, fine_grid, Resampling.nearest).reflectance,
        coarse_tk1=read_scene(job.reference.coarse.scene, bands, coarse_grid, Resampling.average).reflectance,
        target=target,
    )
