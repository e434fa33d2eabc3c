"""Training examples: aligned patch triplets cut from a tile, and their TFRecord codec.

A training job's tile, read whole (:class:`TileArrays`, :func:`fusion.training.jobs.read_job`),
is cut into aligned patch triplets (coarse patches ``patch`` × ``patch`` with stride ``stride``
coarse pixels, as in seed 001: 10 × 10 with stride 5, so 160 × 160 fine), and every patch is
assigned to a split (:func:`fusion.training.splits.assign_split`).

Patches are stored as int16 reflectance × 10⁴ (the products' encoding) plus a uint8 mask of
the pixels usable in every input and the label; the loss ignores the others.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from fusion.blockio import upsample_mask
from fusion.errors import ConfigError
from fusion.grid import Window
from fusion.training.splits import assign_split

#: Stored reflectance = int16 value × SCALE (like the products and Landsat C2 L2 after rescaling).
SCALE = 1e-4
#: int16 stand-in for an unusable pixel (its mask is 0).
FILL = -9999


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
    channels, the last being the mask (see :func:`fusion.models.dcstfn.trainer.masked_mse`).
    Values in reflectance."""
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
