"""Normalization of training data: ``(x - mean[band]) / scale``, with one scale for all bands
or one per band, computed over the valid label pixels of a training set
(:func:`normalization_of`) and recorded in the package's metadata (:meth:`Normalization.as_json`).

Used by the DCSTFN trainer and exporter and by the on-site evaluation, which reads a
package's normalization back (:meth:`Normalization.from_json`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fusion.errors import ConfigError

#: Normalization types of DCSTFN packages: one scale for all bands, or one per band.
NORMALIZATION_TYPES = ("band-mean-global-scale", "band-mean-band-scale")


@dataclass
class Normalization:
    """``(x - mean[band]) / scale``, ``scale`` one number for all bands (the MSE stays
    proportional to reflectance errors) or one per band (every band weighs alike)."""

    mean: list[float]
    scale: float | list[float]

    @property
    def per_band(self) -> bool:
        return isinstance(self.scale, list)

    def scales(self) -> list[float]:
        """The scale of every band."""
        return list(self.scale) if isinstance(self.scale, list) else [float(self.scale)] * len(self.mean)

    def subset(self, idx: Sequence[int]) -> Normalization:
        """The normalization of the bands ``idx`` (in that order)."""
        scales = self.scales()
        scale = [scales[i] for i in idx] if self.per_band else self.scale
        return Normalization([self.mean[i] for i in idx], scale)

    def as_json(self) -> dict[str, Any]:
        return {
            "type": NORMALIZATION_TYPES[1] if self.per_band else NORMALIZATION_TYPES[0],
            "unit": "reflectance",
            "mean": self.mean,
            "scale": self.scale,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Normalization:
        kind = value.get("type")
        if kind not in NORMALIZATION_TYPES:
            raise ConfigError(
                f"normalization type {kind!r}: expected one of {', '.join(NORMALIZATION_TYPES)}"
            )
        scale = value["scale"]
        return cls(
            [float(m) for m in value["mean"]],
            [float(v) for v in scale] if kind == NORMALIZATION_TYPES[1] else float(scale),
        )


def normalization_of(dataset: Any, bands: int, per_band: bool = False) -> Normalization:
    """Mean per band and the standard deviation (one over all bands, or one per band with
    ``per_band``) over the valid label pixels of ``dataset``."""
    total = np.zeros(bands)
    total_sq = np.zeros(bands)
    count = 0.0
    for _inputs, label in dataset.as_numpy_iterator():
        mask = label[..., -1] > 0
        values = label[..., :-1][mask]
        total += values.sum(axis=0)
        total_sq += (values.astype(np.float64) ** 2).sum(axis=0)
        count += float(mask.sum())
    mean = total / max(count, 1.0)
    var = total_sq / max(count, 1.0) - mean**2
    if per_band:
        return Normalization([float(m) for m in mean], [float(np.sqrt(max(v, 1e-8))) for v in var])
    return Normalization([float(m) for m in mean], float(np.sqrt(max(var.mean(), 1e-8))))
