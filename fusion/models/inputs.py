"""The input tensors of spatiotemporal model packages, shared by the classical methods
(:mod:`fusion.models.classical`) and DCSTFN (:mod:`fusion.models.dcstfn`).

A spatiotemporal package takes the coarse image of the target date ``t0`` and one or two
reference pairs (fine + coarse at ``tk1``, ``tk2``) with their validity masks. No TensorFlow
here: the DCSTFN exporter and the registry read these without loading a model.
"""

from __future__ import annotations

from collections.abc import Sequence

from fusion.models.package import TensorSpecJson

#: Landsat-like output bands of the built-in spatiotemporal packages.
DEFAULT_BANDS: tuple[str, ...] = ("blue", "green", "red", "nir08", "swir16", "swir22")
#: MODIS read at 480 m for Landsat 30 m (seed 001).
DEFAULT_RATIO = 16


def spatiotemporal_inputs(bands: Sequence[str], ratio: int, pairs: int) -> tuple[TensorSpecJson, ...]:
    """The input tensors of a spatiotemporal package using ``pairs`` reference pairs."""
    b = tuple(bands)
    specs = [TensorSpecJson("coarse_t0", "coarse", "t0", ratio, b)]
    for k in range(1, pairs + 1):
        specs += [
            TensorSpecJson(f"fine_tk{k}", "fine", f"tk{k}", 1, b),
            TensorSpecJson(f"coarse_tk{k}", "coarse", f"tk{k}", ratio, b),
            TensorSpecJson(f"valid_tk{k}", "valid", f"tk{k}", 1, ("valid",)),
        ]
    return tuple(specs)
