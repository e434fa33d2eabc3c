"""Training sets for learned spatiotemporal models (seed 001 §3.1-3.2), without Beam.

A *training job* is a target pair (fine + coarse at t0: the fine image is the label) and one
reference pair (fine + coarse at tk, another date). Each job's tile is read whole, cut into
aligned patch triplets (coarse patches ``patch`` × ``patch`` with stride ``stride`` coarse
pixels, as in the seed: 10 × 10 with stride 5, so 160 × 160 fine), and every patch is assigned
to a split:

* **validation** when its target date is a validation date *and* it lies in the validation
  area (the east ``validation_area`` share of every tile, cut at a coarse-pixel boundary);
* **train** when none of its dates (target or reference) is a validation date *and* it lies
  wholly in the training area;
* nothing otherwise, so nothing of a validation date or area leaks into training.

Patches are stored as int16 reflectance × 10⁴ (the products' encoding) plus a uint8 mask of
the pixels usable in every input and the label; the loss ignores the others.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.windows
from rasterio.enums import Resampling

from fusion.blockio import GridWindow, read_scene, upsample_mask
from fusion.errors import BlockReadError, ConfigError, SceneNotFound
from fusion.grid import Tile, Window
from fusion.pairing import (
    Observation,
    PairingConfig,
    ReferencePair,
    nearest_references,
    reference_pairs,
)

#: A training set's ``labels`` when they are the target pairs' fine images (the seed's set-up;
#: every set built before ``--truth`` existed).
OBSERVED_LABELS = "fine observations"
#: Stored reflectance = int16 value × SCALE (like the products and Landsat C2 L2 after rescaling).
SCALE = 1e-4
#: int16 stand-in for an unusable pixel (its mask is 0).
FILL = -9999
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


@dataclass(frozen=True)
class PatchConfig:
    patch: int = 10  #: coarse pixels (seed: 10)
    stride: int = 5  #: coarse pixels (seed: 5)
    ratio: int = 16  #: fine pixels per coarse pixel (seed: MODIS 480 m for Landsat 30 m)
    min_valid: float = 0.9  #: share of a patch's fine pixels usable in every image

    def __post_init__(self) -> None:
        if self.patch < 1 or self.stride < 1 or self.ratio < 1:
            raise ConfigError(
                f"patch, stride and ratio must be >= 1, got {self.patch}, {self.stride}, {self.ratio}"
            )
        if not 0.0 < self.min_valid <= 1.0:
            raise ConfigError(f"min_valid must be in (0, 1], got {self.min_valid}")

    @property
    def fine_patch(self) -> int:
        return self.patch * self.ratio


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


def validation_dates(pair_dates: Sequence[dt.date], split: SplitConfig) -> frozenset[dt.date]:
    """The split's explicit dates, or every ``validation_every``-th of the sorted pair dates
    (starting with the second, so the first and last dates train)."""
    if split.validation_dates:
        return frozenset(split.validation_dates)
    dates = sorted(set(pair_dates))
    return frozenset(d for i, d in enumerate(dates) if i % split.validation_every == 1)


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


@dataclass
class TileArrays:
    """One training job read on its whole tile: (H, W, B) reflectance, NaN where unusable."""

    coarse_t0: npt.NDArray[np.float32]
    fine_tk1: npt.NDArray[np.float32]
    coarse_tk1: npt.NDArray[np.float32]
    target: npt.NDArray[np.float32]

    def valid(self, ratio: int) -> npt.NDArray[np.bool_]:
        def up(a: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
            return upsample_mask(np.all(np.isfinite(a), axis=-1), ratio)

        valid: npt.NDArray[np.bool_] = (
            up(self.coarse_t0)
            & up(self.coarse_tk1)
            & np.all(np.isfinite(self.fine_tk1), axis=-1)
            & np.all(np.isfinite(self.target), axis=-1)
        )
        return valid


def read_truth_label(
    label: SimulatedTruth, bands: Sequence[str], grid: GridWindow
) -> npt.NDArray[np.float32]:
    """A simulated truth on ``grid`` (its own 30 m grid): (H, W, B) reflectance, NaN outside it."""
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


@dataclass
class Patch:
    """One example: aligned patch triplet, label and mask; ``window`` in fine pixels of the tile."""

    key: str
    split: str
    window: Window
    dates: tuple[dt.date, dt.date]
    arrays: dict[str, npt.NDArray[np.float32]]  #: coarse_t0, fine_tk1, coarse_tk1, target
    mask: npt.NDArray[np.bool_]
    valid_fraction: float = field(default=1.0)

    def index_record(self) -> dict[str, Any]:
        w = self.window
        return {
            "key": self.key,
            "split": self.split,
            "t0": self.dates[0].isoformat(),
            "tk": self.dates[1].isoformat(),
            "window": [w.row, w.col, w.height, w.width],
            "valid_fraction": round(self.valid_fraction, 4),
        }


def cut_patches(
    job_key: str,
    dates: tuple[dt.date, dt.date],
    arrays: TileArrays,
    cfg: PatchConfig,
    boundary: int,
    val_dates: frozenset[dt.date],
) -> Iterator[Patch]:
    """Every patch of the tile that has enough usable pixels and belongs to a split."""
    r = cfg.ratio
    valid = arrays.valid(r)
    ch, cw = arrays.coarse_t0.shape[:2]
    for ci in range(0, ch - cfg.patch + 1, cfg.stride):
        for cj in range(0, cw - cfg.patch + 1, cfg.stride):
            window = Window(ci * r, cj * r, cfg.fine_patch, cfg.fine_patch)
            split = assign_split(dates, window, boundary, val_dates)
            if split is None:
                continue
            rows, cols = window.slices
            mask = valid[rows, cols]
            share = float(mask.mean())
            if share < cfg.min_valid:
                continue
            crows, ccols = slice(ci, ci + cfg.patch), slice(cj, cj + cfg.patch)
            yield Patch(
                key=f"{job_key}/{window.row}-{window.col}",
                split=split,
                window=window,
                dates=dates,
                arrays={
                    "coarse_t0": arrays.coarse_t0[crows, ccols],
                    "fine_tk1": arrays.fine_tk1[rows, cols],
                    "coarse_tk1": arrays.coarse_tk1[crows, ccols],
                    "target": arrays.target[rows, cols],
                },
                mask=mask,
                valid_fraction=share,
            )


def _encode(a: npt.NDArray[np.float32]) -> bytes:
    dn = np.where(np.isfinite(a), np.round(a / SCALE), FILL)
    return np.clip(dn, -32768, 32767).astype("<i2").tobytes()


def serialize_patch(patch: Patch, bands: int) -> bytes:
    """A ``tf.train.Example``: int16 little-endian arrays, their shapes, mask, key and dates."""
    import tensorflow as tf

    def b(value: bytes) -> Any:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    def i(values: Sequence[int]) -> Any:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))

    feats = {name: b(_encode(a)) for name, a in patch.arrays.items()}
    feats["mask"] = b(patch.mask.astype(np.uint8).tobytes())
    feats["coarse_size"] = i([patch.arrays["coarse_t0"].shape[0]])
    feats["fine_size"] = i([patch.window.height])
    feats["bands"] = i([bands])
    feats["key"] = b(patch.key.encode())
    example = tf.train.Example(features=tf.train.Features(feature=feats))
    return bytes(example.SerializeToString())


def parse_examples(serialized: Any, coarse: int, fine: int, bands: int) -> tuple[dict[str, Any], Any]:
    """tf.data map function: ``(inputs by name, label)`` where the label has ``bands + 1``
    channels, the last being the mask (see :func:`masked_mse`). Values in reflectance."""
    import tensorflow as tf

    spec = {
        name: tf.io.FixedLenFeature([], tf.string)
        for name in ("coarse_t0", "fine_tk1", "coarse_tk1", "target", "mask")
    }
    ex = tf.io.parse_single_example(serialized, spec)

    def arr(name: str, size: int) -> Any:
        dn = tf.reshape(tf.io.decode_raw(ex[name], tf.int16, little_endian=True), [size, size, bands])
        # Unusable pixels are masked out of the loss; give the network a harmless value.
        dn = tf.where(dn == FILL, tf.zeros_like(dn), dn)
        return tf.cast(dn, tf.float32) * SCALE

    inputs = {
        "coarse_t0": arr("coarse_t0", coarse),
        "fine_tk1": arr("fine_tk1", fine),
        "coarse_tk1": arr("coarse_tk1", coarse),
    }
    mask = tf.cast(tf.reshape(tf.io.decode_raw(ex["mask"], tf.uint8), [fine, fine, 1]), tf.float32)
    label = tf.concat([arr("target", fine), mask], axis=-1)
    return inputs, label


def write_manifest(path: Any, data: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
