"""Sentinel-2 → Landsat-8 harmonization baselines as model packages (task ``harmonize``).

* ``bandpass``: HLS v2.0's recipe - Sentinel-2 10 m bands averaged to 30 m (3 × 3 simple
  average), 20 m bands area-weighted to 30 m, then the published per-band linear bandpass
  adjustment ``OLI = slope · MSI + offset`` for the scene's platform.
* ``area-average``: the same resampling without the adjustment - "raw Sentinel-2" of seed 002's
  Table IV.

Both are TF ops exported through :func:`fusion.models.package.export_package`, so the pipeline
runs them like the MGAN.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fusion.models.package import ModelMetadata, export_package
from fusion.tasks.harmonize import HLS_BANDPASS, HLS_SOURCE, OUTPUT_BANDS, PLATFORMS, harmonize_inputs


def area_average(s2_10m: Any, s2_20m: Any) -> Any:
    """(N, 3h, 3w, 4) 10 m and (N, 1.5h, 1.5w, 2) 20 m reflectance → (N, h, w, 6) at 30 m.

    10 m: the mean of the 3 × 3 pixels in each 30 m pixel. 20 m: area-weighted - each 20 m
    pixel split into 2 × 2 pixels of 10 m, then the 3 × 3 mean (a 30 m pixel covers one whole
    20 m pixel, two halves and a quarter, which is exactly what this weighs)."""
    import tensorflow as tf

    ten = tf.nn.avg_pool2d(s2_10m, 3, 3, "VALID")
    twenty = tf.repeat(tf.repeat(s2_20m, 2, axis=1), 2, axis=2)
    twenty = tf.nn.avg_pool2d(twenty, 3, 3, "VALID")
    return tf.concat([ten, twenty], axis=-1)


def bandpass_matrix() -> tuple[list[list[float]], list[list[float]]]:
    """(platforms × bands) slopes and offsets, rows in :data:`PLATFORMS` order."""
    slopes = [[HLS_BANDPASS[HLS_SOURCE[p]][b][0] for b in OUTPUT_BANDS] for p in PLATFORMS]
    offsets = [[HLS_BANDPASS[HLS_SOURCE[p]][b][1] for b in OUTPUT_BANDS] for p in PLATFORMS]
    return slopes, offsets


def export_bandpass(path: str | os.PathLike[str]) -> Path:
    """Export the HLS-style bandpass baseline (area average + per-platform linear adjustment)."""
    import tensorflow as tf

    slopes, offsets = bandpass_matrix()

    def serve(**t: Any) -> dict[str, Any]:
        resampled = area_average(t["s2_10m"], t["s2_20m"])
        onehot = t["platform"][:, 0, 0, :]  # (N, platforms)
        slope = tf.matmul(onehot, tf.constant(slopes, tf.float32))[:, None, None, :]
        offset = tf.matmul(onehot, tf.constant(offsets, tf.float32))[:, None, None, :]
        return {"fused": resampled * slope + offset}

    meta = ModelMetadata(
        name="bandpass",
        version="1.0.0",
        task="harmonize",
        description=(
            "HLS v2.0 Sentinel-2 -> Landsat-8 OLI harmonization: 10 m bands averaged and 20 m "
            "bands area-weighted to 30 m, then the published per-band linear bandpass "
            "adjustment of the scene's platform (hls.gsfc.nasa.gov/algorithms/bandpass-adjustment)."
        ),
        bands=OUTPUT_BANDS,
        inputs=harmonize_inputs(platform=True),
        halo=0,
        parameters={
            "coefficients": {
                p: {b: list(HLS_BANDPASS[HLS_SOURCE[p]][b]) for b in OUTPUT_BANDS} for p in PLATFORMS
            },
            "coefficients_source": {p: HLS_SOURCE[p] for p in PLATFORMS},
            "nir": "HLS adjusts MSI B8A; the harmonize task's NIR input is B08 (seed 002), so the "
            "B8A coefficients are applied to B08",
        },
    )
    return export_package(path, meta, serve)


def export_area_average(path: str | os.PathLike[str]) -> Path:
    """Export raw Sentinel-2 resampled to 30 m (no spectral adjustment) - the reference row."""
    import tensorflow as tf

    def serve(**t: Any) -> dict[str, Any]:
        return {"fused": tf.identity(area_average(t["s2_10m"], t["s2_20m"]))}

    meta = ModelMetadata(
        name="area-average",
        version="1.0.0",
        task="harmonize",
        description=(
            "Sentinel-2 as observed, resampled to 30 m like HLS (10 m averaged, 20 m "
            "area-weighted), without bandpass adjustment: the 'original Sentinel-2' of seed 002."
        ),
        bands=OUTPUT_BANDS,
        inputs=harmonize_inputs(platform=False),
        halo=0,
    )
    return export_package(path, meta, serve)
