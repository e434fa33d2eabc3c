"""The naive temporal difference as a model package: fine(tk) + coarse(t0) - coarse(tk).

Built from TensorFlow ops and exported through :func:`fusion.models.package.export_package`,
so the pipeline runs it exactly like a learned model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fusion.models.classical.starfm import upsample_to
from fusion.models.inputs import DEFAULT_BANDS, DEFAULT_RATIO, spatiotemporal_inputs
from fusion.models.package import ModelMetadata, export_package


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
