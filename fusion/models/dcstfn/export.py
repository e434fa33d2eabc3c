"""Writing a trained DCSTFN as a model package, and loading a package's networks back.

The package serves reflectance in and out (the normalization inside the SavedModel), records
the training set, configuration, history and validation scores in its metadata, and carries
the Keras networks (``keras/network-N.keras``) so that others can fine-tune them
(:func:`load_networks`, ``fusion train dcstfn --init``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fusion.errors import ConfigError
from fusion.models.dcstfn.network import (
    DCSTFN_HALO,
    DcstfnConfig,
    bilinear_upsample_layer,
    build_dcstfn,
    trainable_parameters,
)
from fusion.models.dcstfn.trainer import TrainConfig, TrainResult, masked_mse, predict_normalized
from fusion.models.inputs import spatiotemporal_inputs
from fusion.models.package import ModelMetadata, export_package
from fusion.training.dataset import TrainingSet


def export_dcstfn(
    path: str | Path,
    result: TrainResult,
    cfg: TrainConfig,
    data: TrainingSet,
    command: str | None = None,
) -> Path:
    """Write the model package: SavedModel serving signature, metadata, and the Keras
    networks (``keras/network-N.keras``) so that others can fine-tune them."""
    import tensorflow as tf

    bands = tuple(data.bands)
    variant, norm = cfg.variant, result.normalization
    # Fresh, uncompiled copies: the package carries the weights, not the optimizer's state.
    per_network = len(bands) if variant == "multi-band" else 1
    models = []
    for i, trained in enumerate(result.models):
        clean = build_dcstfn(
            DcstfnConfig(
                cfg.features,
                per_network,
                residual=cfg.residual,
                naive_residual=cfg.naive_residual,
                fine_skip=cfg.fine_skip,
            ),
            name=f"dcstfn_{i}",
        )
        clean.set_weights(trained.get_weights())
        models.append(clean)

    pairs = cfg.reference_pairs

    def serve(**t: Any) -> dict[str, Any]:
        if pairs == 1:
            return {"fused": tf.identity(predict_normalized(models, variant, norm, t))}
        # The network on each reference pair, averaged where both pairs are usable; where only
        # one is, its prediction alone (where none is, the pipeline masks the output).
        total, weight = 0.0, 0.0
        for k in range(1, pairs + 1):
            one = {
                "coarse_t0": t["coarse_t0"],
                "fine_tk1": t[f"fine_tk{k}"],
                "coarse_tk1": t[f"coarse_tk{k}"],
            }
            valid = t[f"valid_tk{k}"]
            total += predict_normalized(models, variant, norm, one) * valid
            weight += valid
        return {"fused": tf.identity(total / tf.maximum(weight, 1.0))}

    ratio = int(data.manifest["patch"]["ratio"])
    # One pair: the seed's three inputs (no validity mask; the pipeline masks the output).
    inputs = tuple(
        spec for spec in spatiotemporal_inputs(bands, ratio, pairs) if pairs == 2 or spec.role != "valid"
    )
    params = sum(trainable_parameters(m) for m in models)
    meta = ModelMetadata(
        name=cfg.name,
        version=cfg.version,
        task="spatiotemporal",
        description=(
            f"DCSTFN (Tan et al. 2018, Remote Sensing 10(7):1066), {variant} variant, d = "
            f"{list(cfg.features)}: coarse and fine sub-networks fused by C(t0) + F(tk) - C(tk) on "
            "feature maps"
            + (", plus fine(tk) added to the output (residual, seed section 4)" if cfg.residual else "")
            + (
                ", plus the naive difference fine(tk) + coarse(t0) - coarse(tk) (bilinear) added to an "
                "output initialized to zero (naive residual)"
                if cfg.naive_residual
                else ""
            )
            + (
                ", plus a full-resolution branch on fine(tk) joining the fused maps before the 1 x 1 "
                "layers (fine skip)"
                if cfg.fine_skip
                else ""
            )
            + (
                "; run on each of two reference pairs and averaged where both are usable"
                if pairs == 2
                else ""
            )
            + ". Trained by `fusion train dcstfn` on the training set(s) named in `training`."
        ),
        bands=bands,
        inputs=inputs,
        halo=DCSTFN_HALO,
        reference_pairs=(1, pairs),
        normalization=norm.as_json(),
        parameters={
            "variant": variant,
            "features": list(cfg.features),
            "residual": cfg.residual,
            "naive_residual": cfg.naive_residual,
            "fine_skip": cfg.fine_skip,
            "networks": len(models),
            "trainable_parameters": params,
            "trainable_parameters_per_network": [trainable_parameters(m) for m in models],
        },
        training={
            "command": command,
            "trainset": {
                k: data.manifest[k]
                for k in (
                    "catalog",
                    "period",
                    "bands",
                    "patch",
                    "split",
                    "examples",
                    "target_dates",
                    "labels",
                )
            },
            "config": {**asdict(cfg), "features": list(cfg.features)},
            "epochs": result.epochs,
            "stopped_by": result.stopped,
            "output_bias_shift": result.bias_shift,
            "seconds": round(result.seconds, 1),
            "strategy": result.strategy,
            "history": result.history,
            "finished": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        scores={"validation": result.scores} if result.scores else None,
    )
    root = Path(path)
    keras_dir = root / "keras"
    keras_dir.mkdir(parents=True, exist_ok=True)
    for old in keras_dir.glob("*.keras"):
        old.unlink()
    for i, model in enumerate(models):
        model.save(keras_dir / f"network-{i}.keras")
    # XLA compiles one program per input shape; the pipeline's blocks have few shapes.
    return export_package(root, meta, serve, track={"networks": list(models)}, jit_compile=False)


def load_networks(package: str | Path) -> list[Any]:
    """The Keras networks of a DCSTFN package, to fine-tune (``fusion train dcstfn --init``)."""
    import keras

    files = sorted(Path(package, "keras").glob("network-*.keras"))
    if not files:
        raise ConfigError(f"{package} has no keras/network-*.keras: it cannot be fine-tuned")
    objects = {"masked_mse": masked_mse, "BilinearUpsample": bilinear_upsample_layer()}
    return [keras.models.load_model(f, custom_objects=objects, compile=False) for f in files]
