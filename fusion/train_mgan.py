"""Training the MGAN (seed 002) on Sentinel-2 / Landsat pairs of a catalog, and exporting it.

Data (seed 002 §III-B): every Sentinel-2 scene with a Landsat scene within ±1 day, both clear
enough (QA masks), is read whole on each output tile - Sentinel-2 at 10 and 20 m, Landsat at
30 m - and cut into aligned patches of 128 Landsat pixels (384 / 192 Sentinel-2 pixels) with a
stride of half a patch. Patches with less than ``min_valid`` usable pixels in both images are
not used. Values are clipped to the training set's 1st/99th percentiles and normalized per
band, ``(x − mean) / max |x − mean|`` (seed: "subtracting the mean and dividing by the
maximum"; the maximum is taken of the centred values so that targets lie in the generator's
tanh range).

Split: every ``validation_every``-th pair date is a validation date; its patches only score
the generator during training, which keeps the best weights by validation RMSE.

Optimisation: Adam, learning rate 1e-4 for both networks (seed), β1 = 0.5 (pix2pix), L1
weight 100 (pix2pix), relativistic adversarial losses and DiffAugment (:mod:`fusion.models.mgan`).
A wall-clock budget ends training; CPU training is small by necessity (see README).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rasterio.enums import Resampling

from fusion.blockio import GridWindow, read_scene
from fusion.errors import ConfigError, FusionError
from fusion.grid import Window
from fusion.harmonize import (
    OUTPUT_BANDS,
    PLATFORMS,
    harmonize_inputs,
    read_source,
    tile_pairs,
)
from fusion.metrics import evaluate
from fusion.models.mgan import (
    BUFFER,
    PATCH,
    STRIDE,
    BandNormalization,
    DiffAugment,
    MganConfig,
    build_discriminator,
    build_generator,
    masked_l1,
    predict_block,
    relativistic_losses,
)
from fusion.models.package import ModelMetadata, export_package
from fusion.request import FusionRequest

Progress = Callable[[str], None]
F32 = npt.NDArray[np.float32]
SCORE_METRICS = ("sam", "ergas", "rmse", "uiqi", "psnr")


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
    min_clear: float = 0.3  #: tile clear fraction for a scene to be paired
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


def load_pairs(request: FusionRequest, progress: Progress, min_clear: float = 0.3) -> list[PairTile]:
    """Every ±1-day Sentinel-2 / Landsat pair of the request's tiles and period, read whole."""
    meta = ModelMetadata("reader", "0", "harmonize", "", OUTPUT_BANDS, harmonize_inputs(platform=False))
    out: list[PairTile] = []
    for tile, pair in tile_pairs(request, min_clear, lambda m: progress(f"skipping {m}")):
        tile_id = tile.id
        window = Window(0, 0, *tile.shape)
        progress(f"reading pair {tile_id} {pair.source.scene.id} / {pair.target.scene.id}")
        try:
            source = read_source(pair.source.scene, tile, window, meta)
            target = read_scene(
                pair.target.scene, list(OUTPUT_BANDS), GridWindow.of(tile, window), Resampling.nearest
            )
        except FusionError as exc:
            progress(f"skipping the pair: {exc}")
            continue
        out.append(
            PairTile(
                f"{tile_id}/{pair.date.isoformat()}",
                pair.date,
                source.arrays["s2_10m"],
                source.arrays["s2_20m"],
                target.reflectance,
                source.usable & target.usable,
                pair.source.scene.id,
                pair.target.scene.id,
                str(pair.source.scene.properties.get("platform", "")).lower(),
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


def split_dates(pairs: Sequence[PairTile], every: int) -> set[dt.date]:
    """Every ``every``-th distinct pair date (the 2nd of each group, so not the first date)."""
    dates = sorted({p.date for p in pairs})
    return {d for i, d in enumerate(dates) if i % every == 1 % every}


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


@dataclass
class Normalizations:
    s2_10m: BandNormalization
    s2_20m: BandNormalization
    landsat: BandNormalization

    def as_json(self) -> dict[str, Any]:
        return {
            "s2_10m": self.s2_10m.as_json(),
            "s2_20m": self.s2_20m.as_json(),
            "landsat": self.landsat.as_json(),
        }


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


def _normalize(x: F32, norm: BandNormalization) -> F32:
    out: F32 = np.nan_to_num(norm.apply_numpy(x), nan=0.0).astype(np.float32)
    return out  # NaN → 0, the band mean


@dataclass
class NormalizedPair:
    s2_10m: F32
    s2_20m: F32
    landsat: F32
    usable: F32  #: (H, W, 1)


def _batch(pairs: Sequence[NormalizedPair], refs: Sequence[PatchRef]) -> tuple[F32, F32, F32, F32]:
    x10, x20, y, m = [], [], [], []
    for ref in refs:
        p, r, c = pairs[ref.pair], ref.row, ref.col
        x10.append(p.s2_10m[3 * r : 3 * (r + PATCH), 3 * c : 3 * (c + PATCH)])
        x20.append(p.s2_20m[3 * r // 2 : 3 * (r + PATCH) // 2, 3 * c // 2 : 3 * (c + PATCH) // 2])
        y.append(p.landsat[r : r + PATCH, c : c + PATCH])
        m.append(p.usable[r : r + PATCH, c : c + PATCH])
    return np.stack(x10), np.stack(x20), np.stack(y), np.stack(m)


def _flip_rotate(arrays: tuple[F32, F32, F32, F32], rng: np.random.Generator) -> tuple[F32, F32, F32, F32]:
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


def train_mgan(request: FusionRequest, cfg: MganTrainConfig, progress: Progress) -> MganResult:
    """Train on the request's catalog, tiles and period; returns the best generator."""
    import keras
    import tensorflow as tf

    from fusion.models.bandpass import area_average

    keras.utils.set_random_seed(cfg.seed)
    pairs = load_pairs(request, progress, cfg.min_clear)
    if not pairs:
        raise ConfigError(
            f"no Sentinel-2 / Landsat pairs within 1 day in {request.catalog} for "
            f"{request.start}..{request.end}; widen the period or check the collections"
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
            _normalize(p.s2_10m, norms.s2_10m),
            _normalize(p.s2_20m, norms.s2_20m),
            _normalize(p.landsat, norms.landsat),
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
    vx10, vx20, vy, vm = _batch(normalized, val_sample)

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
    budget = cfg.max_minutes * 60
    steps, stopped = 0, "max_minutes"
    losses: list[tuple[float, float, float]] = []
    while True:
        if cfg.max_steps is not None and steps >= cfg.max_steps:
            stopped = "max_steps"
            break
        elapsed = time.perf_counter() - t0
        if steps and elapsed + elapsed / steps > budget:  # never start a step that would overrun
            break
        batch = [train_refs[i] for i in rng.integers(0, len(train_refs), cfg.batch_size)]
        arrays = _batch(normalized, batch)
        if cfg.augment_geometry:
            arrays = _flip_rotate(arrays, rng)
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


def serve_function(generator: Any, norms: Normalizations) -> Callable[..., dict[str, Any]]:
    """The package's serving function: raw reflectance in, Landsat-like reflectance out."""
    import tensorflow as tf

    def serve(**t: Any) -> dict[str, Any]:
        x10 = norms.s2_10m.apply(t["s2_10m"])
        x20 = norms.s2_20m.apply(t["s2_20m"])
        y = predict_block(generator, x10, x20)
        return {"fused": tf.identity(norms.landsat.invert(y))}

    return serve


def validation_scores(
    generator: Any, norms: Normalizations, pairs: Sequence[PairTile], refs: Sequence[PatchRef]
) -> dict[str, Any]:
    """Seed 002's metrics on the validation patches' centres for the MGAN, the bandpass
    baseline and raw Sentinel-2 (area average), against the observed Landsat."""
    import tensorflow as tf

    from fusion.models.bandpass import area_average, bandpass_matrix

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


def export_mgan(
    path: str | Path, result: MganResult, cfg: MganTrainConfig, request: FusionRequest, command: str | None
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
            + "Trained by `fusion train-mgan` on simulated data (see `training`)."
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
            "catalog": request.catalog,
            "period": [request.start.isoformat(), request.end.isoformat()],
            "tiles": list(request.tiles) if request.tiles else None,
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


def describe(scores: Mapping[str, Any]) -> str:
    parts = [
        f"{name} SAM {scores[name]['overall']['sam']:.3f} ERGAS {scores[name]['overall']['ergas']:.3f} "
        f"RMSE {scores[name]['overall']['rmse']:.4f}"
        for name in ("mgan", "bandpass", "area-average")
    ]
    return f"validation ({scores['patches']} patches): " + "; ".join(parts)
