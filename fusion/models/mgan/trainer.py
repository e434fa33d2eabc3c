"""Training the MGAN (seed 002) on the Sentinel-2 / Landsat pairs of a pair training set
(``fusion training-set --task harmonize``, :mod:`fusion.training.pairs`).

Data, patches, split and normalization: :mod:`fusion.models.mgan.data`. The validation
patches only score the generator during training, which keeps the best weights by validation
RMSE.

Optimisation: Adam, learning rate 1e-4 for both networks (seed), β1 = 0.5 (pix2pix), L1
weight 100 (pix2pix), relativistic adversarial losses and DiffAugment (:mod:`fusion.models.mgan.network`).
A wall-clock budget (:mod:`fusion.training.budget`) ends training; CPU training is small by
necessity (see README). :mod:`fusion.models.mgan.export` writes the result as a model package.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from fusion.errors import ConfigError
from fusion.metrics import evaluate
from fusion.models.classical.bandpass import area_average, bandpass_matrix
from fusion.models.mgan.data import (
    F32,
    NormalizedPair,
    PairTile,
    PatchRef,
    Progress,
    flip_rotate,
    load_pairs,
    normalizations_of,
    normalize,
    patch_batch,
    patch_refs,
    residual_map,
    split_dates,
)
from fusion.models.mgan.network import (
    BUFFER,
    PATCH,
    DiffAugment,
    MganConfig,
    Normalizations,
    build_discriminator,
    build_generator,
    masked_l1,
    relativistic_losses,
    serve_function,
)
from fusion.tasks.harmonize import NAME, OUTPUT_BANDS, PLATFORMS
from fusion.tasks.harmonize import TASK as HARMONIZE
from fusion.training.budget import TimeBudget
from fusion.training.pairs import PairSet

#: The task the MGAN serves.
TASK = NAME

SCORE_METRICS = HARMONIZE.metrics


@dataclass(frozen=True)
class MganTrainConfig:
    model: MganConfig = field(default_factory=MganConfig)
    batch_size: int = 4
    learning_rate: float = 1e-4
    beta_1: float = 0.5
    l1_weight: float = 100.0
    max_minutes: float = 30.0
    max_steps: int | None = None
    validate_every: int = 100
    validation_every: int = 4  #: every N-th pair date is a validation date
    min_valid: float = 0.9
    #: seed 002 saturates values at these training-set percentiles; None: no saturation
    clip_percentiles: tuple[float, float] | None = (1.0, 99.0)
    #: the generator predicts a correction to the area-averaged input (MganConfig.residual)
    residual: bool = True
    #: random flips and quarter turns of every training patch (input, target and mask alike)
    augment_geometry: bool = True
    seed: int = 0
    name: str = "mgan"
    version: str = "1.0.0"

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.validate_every < 1 or self.validation_every < 2:
            raise ConfigError("batch_size and validate_every must be >= 1, validation_every >= 2")
        if self.max_minutes <= 0:
            raise ConfigError(f"max_minutes must be positive, got {self.max_minutes}")

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["model"] = self.model.as_json()
        return out


@dataclass
class MganResult:
    generator: Any
    normalizations: Normalizations
    steps: int
    seconds: float
    stopped: str
    history: list[dict[str, float]]
    best_step: int
    scores: dict[str, Any]
    pairs: list[dict[str, Any]]
    patches: dict[str, int]
    model_config: MganConfig  #: the architecture trained (residual map filled in)


def train_mgan(data: PairSet, cfg: MganTrainConfig, progress: Progress) -> MganResult:
    """Train on the pairs of a harmonize pair training set; returns the best generator."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(cfg.seed)
    pairs = load_pairs(data, progress)
    if not pairs:
        period = "..".join(data.manifest["period"])
        raise ConfigError(
            f"training set {data.root} has no Sentinel-2 / Landsat pairs within 1 day (catalog "
            f"{data.manifest['catalog']}, {period}); widen the period or check the collections"
        )
    if data.manifest.get("dead_letters"):
        progress(
            f"the training set left out {data.manifest['dead_letters']} scene(s) or pair(s): "
            f"see {data.root / 'dead-letter.jsonl'}"
        )
    validation_dates = split_dates(pairs, cfg.validation_every)
    refs = patch_refs(pairs, cfg.min_valid)
    train_refs = [r for r in refs if pairs[r.pair].date not in validation_dates]
    val_refs = [r for r in refs if pairs[r.pair].date in validation_dates]
    if not train_refs or not val_refs:
        raise ConfigError(
            f"{len(train_refs)} training and {len(val_refs)} validation patches from {len(pairs)} pairs; "
            "both must be non-empty - widen the period or lower min_valid"
        )
    train_pairs = [pairs[i] for i in sorted({r.pair for r in train_refs})]
    norms = normalizations_of(train_pairs, cfg.seed, cfg.clip_percentiles)
    normalized = [
        NormalizedPair(
            normalize(p.s2_10m, norms.s2_10m),
            normalize(p.s2_20m, norms.s2_20m),
            normalize(p.landsat, norms.landsat),
            p.usable[..., None].astype(np.float32),
        )
        for p in pairs
    ]
    progress(
        f"{len(pairs)} pairs, {len(train_refs)} training patches, {len(val_refs)} validation patches "
        f"(validation dates {sorted(d.isoformat() for d in validation_dates)})"
    )
    rng = np.random.default_rng(cfg.seed)
    val_sample = [
        val_refs[i] for i in sorted(rng.choice(len(val_refs), min(48, len(val_refs)), replace=False))
    ]
    vx10, vx20, vy, vm = patch_batch(normalized, val_sample)

    model_config = cfg.model
    if cfg.residual:
        scale, offset = residual_map(norms)
        model_config = replace(cfg.model, residual_scale=scale, residual_offset=offset)
    generator = build_generator(model_config)
    discriminator = build_discriminator(model_config)
    opt_g = keras.optimizers.Adam(cfg.learning_rate, beta_1=cfg.beta_1)
    opt_d = keras.optimizers.Adam(cfg.learning_rate, beta_1=cfg.beta_1)
    augment = DiffAugment()
    bands = cfg.model.out_bands

    @tf.function  # type: ignore[untyped-decorator]
    def step(x10: Any, x20: Any, y: Any, mask: Any) -> tuple[Any, Any, Any]:
        condition = area_average(x10, x20)  # Sentinel-2 on the Landsat grid (normalized)
        with tf.GradientTape() as tape_g, tf.GradientTape() as tape_d:
            fake = generator([x10, x20], training=True)
            seen = augment(
                tf.concat([tf.concat([condition, y], -1), tf.concat([condition, fake], -1)], axis=0)
            )
            real_seen, fake_seen = tf.split(seen, 2, axis=0)
            real_logits = discriminator([real_seen[..., :bands], real_seen[..., bands:]], training=True)
            fake_logits = discriminator([fake_seen[..., :bands], fake_seen[..., bands:]], training=True)
            loss_d, loss_adv = relativistic_losses(real_logits, fake_logits)
            l1 = masked_l1(y, fake, mask)
            loss_g = loss_adv + cfg.l1_weight * l1
        opt_g.apply_gradients(
            zip(
                tape_g.gradient(loss_g, generator.trainable_variables),
                generator.trainable_variables,
                strict=True,
            )
        )
        opt_d.apply_gradients(
            zip(
                tape_d.gradient(loss_d, discriminator.trainable_variables),
                discriminator.trainable_variables,
                strict=True,
            )
        )
        return loss_d, loss_adv, l1

    land_scale = np.asarray(norms.landsat.scale, np.float32)

    def validation_rmse() -> float:
        pred = np.concatenate(
            [
                generator([vx10[i : i + 8], vx20[i : i + 8]], training=False).numpy()
                for i in range(0, len(vx10), 8)
            ]
        )
        diff = (pred - vy) * land_scale  # reflectance units
        w = np.broadcast_to(vm, diff.shape)
        return float(np.sqrt((diff**2 * w).sum() / max(w.sum(), 1.0)))

    history: list[dict[str, float]] = []
    best = (validation_rmse(), 0, generator.get_weights())
    history.append({"step": 0, "validation_rmse": round(best[0], 5)})
    t0 = time.perf_counter()
    budget = TimeBudget(cfg.max_minutes * 60)
    steps, stopped = 0, "max_minutes"
    losses: list[tuple[float, float, float]] = []
    while True:
        if cfg.max_steps is not None and steps >= cfg.max_steps:
            stopped = "max_steps"
            break
        elapsed = time.perf_counter() - t0
        if steps and budget.overruns(elapsed, elapsed / steps):  # never start a step that would overrun
            break
        batch = [train_refs[i] for i in rng.integers(0, len(train_refs), cfg.batch_size)]
        arrays = patch_batch(normalized, batch)
        if cfg.augment_geometry:
            arrays = flip_rotate(arrays, rng)
        out = step(*(tf.constant(a) for a in arrays))
        losses.append(tuple(float(v) for v in out))  # type: ignore[arg-type]
        steps += 1
        if steps % cfg.validate_every == 0:
            v = validation_rmse()
            mean = np.mean(losses, axis=0)
            losses = []
            history.append(
                {
                    "step": steps,
                    "seconds": round(time.perf_counter() - t0, 1),
                    "loss_d": round(float(mean[0]), 4),
                    "loss_g_adversarial": round(float(mean[1]), 4),
                    "l1": round(float(mean[2]), 5),
                    "validation_rmse": round(v, 5),
                }
            )
            progress(
                f"step {steps}: D {mean[0]:.3f}, G adv {mean[1]:.3f}, L1 {mean[2]:.4f}, "
                f"validation RMSE {v:.4f} (best {min(v, best[0]):.4f}) [{time.perf_counter() - t0:.0f} s]"
            )
            if v < best[0]:
                best = (v, steps, generator.get_weights())
    seconds = time.perf_counter() - t0
    generator.set_weights(best[2])
    scores = validation_scores(generator, norms, pairs, val_refs)
    return MganResult(
        generator,
        norms,
        steps,
        seconds,
        stopped,
        history,
        best[1],
        scores,
        [
            {
                "key": p.key,
                "sentinel-2": p.source_id,
                "landsat": p.target_id,
                "validation": p.date in validation_dates,
            }
            for p in pairs
        ],
        {"train": len(train_refs), "validation": len(val_refs)},
        model_config,
    )


def validation_scores(
    generator: Any, norms: Normalizations, pairs: Sequence[PairTile], refs: Sequence[PatchRef]
) -> dict[str, Any]:
    """Seed 002's metrics on the validation patches' centres for the MGAN, the bandpass
    baseline and raw Sentinel-2 (area average), against the observed Landsat."""
    import tensorflow as tf

    serve = serve_function(generator, norms)
    slopes, offsets = bandpass_matrix()
    preds: dict[str, list[F32]] = {"mgan": [], "bandpass": [], "area-average": []}
    refs_y: list[F32] = []
    masks: list[npt.NDArray[np.bool_]] = []
    inner = slice(BUFFER, PATCH - BUFFER)
    for ref in refs:
        p, r, c = pairs[ref.pair], ref.row, ref.col
        x10 = np.nan_to_num(p.s2_10m[3 * r : 3 * (r + PATCH), 3 * c : 3 * (c + PATCH)])[None]
        x20 = np.nan_to_num(p.s2_20m[3 * r // 2 : 3 * (r + PATCH) // 2, 3 * c // 2 : 3 * (c + PATCH) // 2])[
            None
        ]
        resampled = area_average(tf.constant(x10), tf.constant(x20)).numpy()[0]
        preds["area-average"].append(resampled[inner, inner])
        row = PLATFORMS.index(p.platform) if p.platform in PLATFORMS else 0
        preds["bandpass"].append(
            (resampled * np.asarray(slopes[row]) + np.asarray(offsets[row]))[inner, inner]
        )
        preds["mgan"].append(
            serve(s2_10m=tf.constant(x10), s2_20m=tf.constant(x20))["fused"].numpy()[0][inner, inner]
        )
        refs_y.append(p.landsat[r : r + PATCH, c : c + PATCH][inner, inner])
        masks.append(p.usable[r : r + PATCH, c : c + PATCH][inner, inner])
    reference = np.moveaxis(np.concatenate(refs_y, axis=1), -1, 0)
    mask = np.concatenate(masks, axis=1)
    out: dict[str, Any] = {"patches": len(refs), "note": "central 64 x 64 of each validation patch"}
    for name, pred in preds.items():
        s = evaluate(
            reference,
            np.moveaxis(np.concatenate(pred, axis=1), -1, 0),
            mask,
            bands=OUTPUT_BANDS,
            metrics=SCORE_METRICS,
            data_range=1.0,
        )
        out[name] = {"overall": s.overall, "per_band": s.per_band}
    return out


def describe(scores: Mapping[str, Any]) -> str:
    parts = [
        f"{name} SAM {scores[name]['overall']['sam']:.3f} ERGAS {scores[name]['overall']['ergas']:.3f} "
        f"RMSE {scores[name]['overall']['rmse']:.4f}"
        for name in ("mgan", "bandpass", "area-average")
    ]
    return f"validation ({scores['patches']} patches): " + "; ".join(parts)
