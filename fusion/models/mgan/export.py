"""Writing a trained MGAN generator as a model package (task ``harmonize``): the SavedModel
(normalization and patch-wise reconstruction inside, :func:`~fusion.models.mgan.network.serve_function`)
and metadata recording the pairs, configuration, history and validation scores.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fusion.models.mgan.network import BUFFER, PATCH, STRIDE, build_generator, serve_function
from fusion.models.mgan.trainer import MganResult, MganTrainConfig
from fusion.models.package import ModelMetadata, export_package
from fusion.tasks.harmonize import OUTPUT_BANDS, harmonize_inputs
from fusion.training.pairs import PairSet


def export_mgan(
    path: str | Path, result: MganResult, cfg: MganTrainConfig, data: PairSet, command: str | None
) -> Path:
    """Write the MGAN package: the SavedModel (patch-wise reconstruction inside) and metadata."""
    generator = build_generator(result.model_config)
    generator.set_weights(result.generator.get_weights())
    meta = ModelMetadata(
        name=cfg.name,
        version=cfg.version,
        task="harmonize",
        description=(
            "MGAN (Sedona et al. 2021, IEEE JSTARS 14:10134): pix2pix U-Net generator with one "
            "bottom layer per Sentinel-2 resolution, PatchGAN discriminator with spectral "
            "normalization, L1 + relativistic adversarial loss, DiffAugment; whole blocks are "
            "rebuilt from the centres of 128-pixel patches every 64 pixels. "
            + (
                "Residual generator: its output is added to the area-averaged Sentinel-2 input "
                "(parameters.architecture.residual_*). "
                if result.model_config.residual
                else ""
            )
            + "Trained by `fusion train mgan` on simulated data (see `training`)."
        ),
        bands=OUTPUT_BANDS,
        inputs=harmonize_inputs(platform=False),
        halo=BUFFER,
        normalization={
            "type": "clip-percentile-centre-scale" if cfg.clip_percentiles else "centre-scale",
            "percentiles": list(cfg.clip_percentiles) if cfg.clip_percentiles else None,
            **result.normalizations.as_json(),
        },
        parameters={
            "architecture": result.model_config.as_json(),
            "patch": PATCH,
            "stride": STRIDE,
            "buffer": BUFFER,
            "generator_parameters": int(generator.count_params()),
        },
        training={
            "command": command,
            "catalog": data.manifest["catalog"],
            "period": data.manifest["period"],
            "tiles": data.manifest["tiles"],
            "trainset": {
                "path": str(data.root.resolve()),
                **{
                    k: data.manifest[k]
                    for k in ("tile_size", "collections", "min_clear", "dates", "dead_letters")
                },
            },
            "pairs": result.pairs,
            "patches": result.patches,
            "config": cfg.as_json(),
            "steps": result.steps,
            "best_step": result.best_step,
            "stopped_by": result.stopped,
            "seconds": round(result.seconds, 1),
            "history": result.history,
            "finished": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        scores={"validation": result.scores},
    )
    root = Path(path)
    return export_package(
        root,
        meta,
        serve_function(generator, result.normalizations),
        track={"generator": generator},
        jit_compile=False,
    )
