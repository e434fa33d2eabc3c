"""Training data of the MGAN (seed 002 §III-B): Sentinel-2 / Landsat pairs, patches, split
and normalization statistics.

The pairs come from a pair training set (``fusion training-set --task harmonize``,
:mod:`fusion.training.pairs`): every Sentinel-2 scene with a Landsat scene within ±1 day, both
clear enough (QA masks), read whole on each output tile - Sentinel-2 at 10 and 20 m, Landsat at
30 m. :func:`load_pairs` reads them back, and they are cut into
aligned patches of 128 Landsat pixels (384 / 192 Sentinel-2 pixels) with a stride of half a
patch. Patches with less than ``min_valid`` usable pixels in both images are not used. Values
are clipped to the training set's 1st/99th percentiles and normalized per band,
``(x − mean) / max |x − mean|`` (seed: "subtracting the mean and dividing by the maximum"; the
maximum is taken of the centred values so that targets lie in the generator's tanh range).

Split: every ``validation_every``-th pair date is a validation date
(:func:`fusion.training.splits.every_nth_date`); its patches only score the generator.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fusion.errors import ConfigError
from fusion.models.mgan.network import PATCH, STRIDE, BandNormalization, Normalizations
from fusion.tasks.harmonize import NAME, harmonize_inputs
from fusion.training.pairs import TARGET, USABLE, PairSet
from fusion.training.splits import every_nth_date

Progress = Callable[[str], None]
F32 = npt.NDArray[np.float32]
#: The Sentinel-2 inputs of a pair, by name (the 10 m and 20 m bands).
INPUTS = tuple(spec.name for spec in harmonize_inputs(platform=False))


@dataclass
class PairTile:
    """One Sentinel-2 / Landsat pair read whole on one tile (reflectance, NaN where unusable)."""

    key: str
    date: dt.date
    s2_10m: F32  #: (3H, 3W, 4)
    s2_20m: F32  #: (1.5H, 1.5W, 2)
    landsat: F32  #: (H, W, 6)
    usable: npt.NDArray[np.bool_]  #: (H, W): usable in both
    source_id: str
    target_id: str
    platform: str


def load_pairs(data: PairSet, progress: Progress) -> list[PairTile]:
    """Every pair of a harmonize pair training set, in its order (tile, date, Sentinel-2 scene)."""
    if data.task != NAME:
        raise ConfigError(
            f"training set {data.root} is of task {data.task!r}; the MGAN trains on a {NAME} set "
            f"(`fusion training-set --task {NAME}`)"
        )
    out: list[PairTile] = []
    for record, arrays in data:
        missing = sorted({*INPUTS, TARGET, USABLE} - set(arrays))
        if missing:
            raise ConfigError(f"training set {data.root}: pair {record['file']} lacks {', '.join(missing)}")
        progress(f"read pair {record['key']} {record['source_id']} / {record['target_id']}")
        out.append(
            PairTile(
                record["key"],
                dt.date.fromisoformat(record["date"]),
                arrays["s2_10m"],
                arrays["s2_20m"],
                arrays[TARGET],
                arrays[USABLE],
                record["source_id"],
                record["target_id"],
                record["attributes"].get("platform", ""),
            )
        )
    return out


@dataclass(frozen=True)
class PatchRef:
    pair: int
    row: int  #: Landsat pixels
    col: int


def patch_refs(pairs: Sequence[PairTile], min_valid: float) -> list[PatchRef]:
    """Patches of 128 Landsat pixels every 64 pixels with at least ``min_valid`` usable."""
    refs = []
    for i, pair in enumerate(pairs):
        h, w = pair.usable.shape
        for r in range(0, h - PATCH + 1, STRIDE):
            for c in range(0, w - PATCH + 1, STRIDE):
                if pair.usable[r : r + PATCH, c : c + PATCH].mean() >= min_valid:
                    refs.append(PatchRef(i, r, c))
    return refs


def split_dates(pairs: Sequence[PairTile], every: int) -> frozenset[dt.date]:
    """Every ``every``-th distinct pair date (the 2nd of each group, so not the first date)."""
    return every_nth_date((p.date for p in pairs), every)


def _samples(
    arrays: Sequence[F32], mask_of: Sequence[npt.NDArray[np.bool_] | None], n: int, rng: np.random.Generator
) -> F32:
    rows = []
    for a, m in zip(arrays, mask_of, strict=True):
        flat = a.reshape(-1, a.shape[-1])
        ok = (
            np.all(np.isfinite(flat), axis=1)
            if m is None
            else m.reshape(-1) & np.all(np.isfinite(flat), axis=1)
        )
        idx = np.flatnonzero(ok)
        if idx.size:
            rows.append(flat[rng.choice(idx, size=min(n, idx.size), replace=False)])
    if not rows:
        raise ConfigError("no usable pixels in the training pairs")
    return np.concatenate(rows).astype(np.float32)


def normalizations_of(
    pairs: Sequence[PairTile], seed: int, percentiles: tuple[float, float] | None = (1.0, 99.0)
) -> Normalizations:
    rng = np.random.default_rng(seed)
    none: list[npt.NDArray[np.bool_] | None] = [None] * len(pairs)
    return Normalizations(
        BandNormalization.of(_samples([p.s2_10m for p in pairs], none, 50_000, rng), percentiles),
        BandNormalization.of(_samples([p.s2_20m for p in pairs], none, 50_000, rng), percentiles),
        BandNormalization.of(
            _samples([p.landsat for p in pairs], [p.usable for p in pairs], 50_000, rng), percentiles
        ),
    )


def normalize(x: F32, norm: BandNormalization) -> F32:
    """``x`` normalized by ``norm``, unusable (NaN) pixels at 0, the band mean."""
    out: F32 = np.nan_to_num(norm.apply_numpy(x), nan=0.0).astype(np.float32)
    return out  # NaN → 0, the band mean


@dataclass
class NormalizedPair:
    """A :class:`PairTile` normalized (:func:`normalize`), its usable mask as float32."""

    s2_10m: F32
    s2_20m: F32
    landsat: F32
    usable: F32  #: (H, W, 1)


def patch_batch(pairs: Sequence[NormalizedPair], refs: Sequence[PatchRef]) -> tuple[F32, F32, F32, F32]:
    """The patches ``refs`` stacked: (N, 384, 384, 4), (N, 192, 192, 2), target (N, 128, 128, 6)
    and mask (N, 128, 128, 1)."""
    x10, x20, y, m = [], [], [], []
    for ref in refs:
        p, r, c = pairs[ref.pair], ref.row, ref.col
        x10.append(p.s2_10m[3 * r : 3 * (r + PATCH), 3 * c : 3 * (c + PATCH)])
        x20.append(p.s2_20m[3 * r // 2 : 3 * (r + PATCH) // 2, 3 * c // 2 : 3 * (c + PATCH) // 2])
        y.append(p.landsat[r : r + PATCH, c : c + PATCH])
        m.append(p.usable[r : r + PATCH, c : c + PATCH])
    return np.stack(x10), np.stack(x20), np.stack(y), np.stack(m)


def flip_rotate(arrays: tuple[F32, F32, F32, F32], rng: np.random.Generator) -> tuple[F32, F32, F32, F32]:
    """The same random quarter turn and flip of every (N, H, W, C) array of one batch."""
    turns, flip = int(rng.integers(4)), bool(rng.integers(2))

    def move(a: F32) -> F32:
        a = np.rot90(a, turns, axes=(1, 2))
        return np.ascontiguousarray(a[:, :, ::-1] if flip else a)

    x10, x20, y, m = arrays
    return move(x10), move(x20), move(y), move(m)


def residual_map(norms: Normalizations) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """MganConfig's (residual_scale, residual_offset): normalized Sentinel-2 (area-averaged,
    10 m bands then 20 m bands) → the normalized Landsat value of the same reflectance."""
    s2_mean = norms.s2_10m.mean + norms.s2_20m.mean
    s2_scale = norms.s2_10m.scale + norms.s2_20m.scale
    land = norms.landsat
    return (
        tuple(s / ls for s, ls in zip(s2_scale, land.scale, strict=True)),
        tuple((m - lm) / ls for m, lm, ls in zip(s2_mean, land.mean, land.scale, strict=True)),
    )
