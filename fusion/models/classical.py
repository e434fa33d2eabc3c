"""Classical fusion methods as model packages: STARFM and the naive difference.

Both are built from TensorFlow ops and exported through :func:`fusion.models.package.export_package`,
so the pipeline runs them exactly like a learned model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fusion.models.package import ModelMetadata, TensorSpecJson, export_package
from fusion.models.starfm import StarfmConfig, starfm, upsample_to

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


def halo_for(window_radius: int, ratio: int) -> int:
    """Window radius plus one coarse pixel for the bilinear upsampling, rounded up to the ratio."""
    need = window_radius + ratio
    return -(-need // ratio) * ratio


def export_starfm(
    path: str | os.PathLike[str],
    config: StarfmConfig | None = None,
    bands: Sequence[str] = DEFAULT_BANDS,
    ratio: int = DEFAULT_RATIO,
) -> Path:
    """Export STARFM (two reference pairs; a pair whose ``valid`` is all zero is ignored)."""
    cfg = config or StarfmConfig()

    def serve(**t: Any) -> dict[str, Any]:
        fused = starfm(
            t["coarse_t0"],
            [t["fine_tk1"], t["fine_tk2"]],
            [t["coarse_tk1"], t["coarse_tk2"]],
            [t["valid_tk1"], t["valid_tk2"]],
            cfg,
        )
        return {"fused": fused}

    meta = ModelMetadata(
        name="starfm",
        version="1.0.0",
        task="spatiotemporal",
        description=(
            "STARFM (Gao et al. 2006, IEEE TGRS 44(8):2207-2218): weighted moving-window blend of "
            "spectrally similar, uncertainty-filtered neighbours of one or two reference pairs."
        ),
        bands=tuple(bands),
        inputs=spatiotemporal_inputs(bands, ratio, 2),
        halo=halo_for(cfg.radius, ratio),
        reference_pairs=(1, 2),
        parameters=cfg.as_json(),
    )
    return export_package(path, meta, serve)


def export_naive(
    path: str | os.PathLike[str], bands: Sequence[str] = DEFAULT_BANDS, ratio: int = DEFAULT_RATIO
) -> Path:
    """Export the naive difference fine(tk) + coarse(t0) - coarse(tk) of the nearest pair."""
    import tensorflow as tf

    def serve(**t: Any) -> dict[str, Any]:
        fine = t["fine_tk1"]
        c0 = upsample_to(t["coarse_t0"], fine)
        fused = fine + c0 - upsample_to(t["coarse_tk1"], fine)
        return {"fused": tf.identity(fused)}

    meta = ModelMetadata(
        name="naive",
        version="1.0.0",
        task="spatiotemporal",
        description="Naive temporal difference: fine(tk) + coarse(t0) - coarse(tk) with the nearest pair.",
        bands=tuple(bands),
        inputs=spatiotemporal_inputs(bands, ratio, 1),
        halo=ratio,  # one coarse pixel for the bilinear upsampling at block edges
        reference_pairs=(1, 1),
    )
    return export_package(path, meta, serve)
