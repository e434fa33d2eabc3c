"""Training DCSTFN on a training set (``fusion training-set``).

Seed 001 §3.2: Keras, Adam (learning rate 1e-3, β1 0.9, β2 0.999), MSE loss. Here the MSE is
masked (pixels unusable in any input or the label do not count) and computed on reflectance
shifted by a per-band mean and divided by one global scale, which changes the loss by a
constant factor only. Early stopping on the validation loss restores the best weights; a
wall-clock budget (:mod:`fusion.training.budget`) stops training before an epoch that would
exceed it; TensorBoard logs and the best checkpoint go under the output's ``training/`` folder.
:mod:`fusion.models.dcstfn.export` writes the result as a model package.

Variants: ``per-band`` (the seed's layout: one single-band network per band, trained one after
the other, each with an equal share of the budget) and ``multi-band`` (one network with all
bands as channels).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fusion.errors import ConfigError
from fusion.metrics import evaluate
from fusion.models.dcstfn.network import DcstfnConfig, build_dcstfn, layer_by_name
from fusion.tasks.spatiotemporal import TASK as SPATIOTEMPORAL
from fusion.training.budget import keras_time_budget
from fusion.training.dataset import TrainingSet
from fusion.training.normalization import Normalization, normalization_of

VARIANTS = ("multi-band", "per-band")
SCORE_METRICS = SPATIOTEMPORAL.metrics


@dataclass(frozen=True)
class TrainConfig:
    variant: str = "multi-band"
    features: tuple[int, int, int] = (32, 64, 128)
    residual: bool = False  #: see DcstfnConfig.residual
    naive_residual: bool = False  #: see DcstfnConfig.naive_residual
    fine_skip: bool = False  #: see DcstfnConfig.fine_skip
    #: Scale each band by its own standard deviation instead of one scale for all: every band
    #: weighs alike in the loss (with one scale, NIR and SWIR errors dominate blue and green).
    band_scale: bool = False
    #: Random flips and quarter turns of every training patch (inputs and label together).
    augment: bool = False
    #: After training, refit the output layer's bias so the mean residual of every band over
    #: the training split is zero (see :func:`calibrate_output_bias`).
    calibrate_bias: bool = False
    #: Reference pairs the exported package uses: 2 runs the network on each pair and averages
    #: the predictions where both are usable (as STARFM pools its pairs). Training is per pair.
    reference_pairs: int = 1
    batch_size: int = 16
    epochs: int = 50
    learning_rate: float = 1e-3
    patience: int = 5
    max_minutes: float | None = 20.0
    seed: int = 0
    name: str = "dcstfn"
    version: str = "1.0.0"

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ConfigError(f"variant {self.variant!r}: choose one of {', '.join(VARIANTS)}")
        if self.batch_size < 1 or self.epochs < 1 or self.patience < 1:
            raise ConfigError("batch_size, epochs and patience must be >= 1")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ConfigError(f"max_minutes must be positive, got {self.max_minutes}")
        if self.reference_pairs not in (1, 2):
            raise ConfigError(f"reference_pairs must be 1 or 2, got {self.reference_pairs}")
        DcstfnConfig(self.features)


def masked_mse(y_true: Any, y_pred: Any) -> Any:
    """MSE over the pixels whose mask (the label's last channel) is 1."""
    import tensorflow as tf

    mask = y_true[..., -1:]
    err = tf.square(y_true[..., :-1] - y_pred) * mask
    channels = tf.cast(tf.shape(y_pred)[-1], tf.float32)
    return tf.reduce_sum(err) / (tf.reduce_sum(mask) * channels + 1e-6)


def choose_strategy() -> Any:
    """MirroredStrategy on several GPUs, one GPU as is, otherwise the default (CPU)."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    if len(gpus) == 1:
        return tf.distribute.OneDeviceStrategy("/gpu:0")
    return tf.distribute.get_strategy()


def _normalizer(norm: Normalization, band: slice) -> Callable[[Any, Any], Any]:
    import tensorflow as tf

    mean = tf.constant(norm.mean[band], tf.float32)
    scale = tf.constant(norm.scales()[band], tf.float32)

    def apply(inputs: Mapping[str, Any], label: Any) -> Any:
        x = {k: (v[..., band] - mean) / scale for k, v in inputs.items()}
        y = tf.concat([(label[..., :-1][..., band] - mean) / scale, label[..., -1:]], axis=-1)
        return x, y

    return apply


def _augment(seed: int) -> Callable[[Any, Any], Any]:
    """A random one of the eight flips and quarter turns of a patch, the same for its inputs
    and label. Coarse and fine patches stay aligned: a coarse pixel covers the same fine pixels
    after the turn."""
    import tensorflow as tf

    def apply(inputs: Mapping[str, Any], label: Any) -> Any:
        turns = tf.random.uniform([], 0, 4, tf.int32, seed=seed)
        flip = tf.random.uniform([], 0.0, 1.0, seed=seed + 1) < 0.5

        def move(x: Any) -> Any:
            x = tf.image.rot90(x, turns)
            return tf.cond(flip, lambda: tf.image.flip_left_right(x), lambda: x)

        return {k: move(v) for k, v in inputs.items()}, move(label)

    return apply


@dataclass
class TrainResult:
    models: list[Any]
    normalization: Normalization
    history: list[dict[str, list[float]]]
    seconds: float
    epochs: list[int]
    stopped: list[str]
    strategy: str
    scores: dict[str, Any] = field(default_factory=dict)
    #: Per band, what :func:`calibrate_output_bias` added to the output (reflectance).
    bias_shift: list[float] | None = None


def train_dcstfn(
    data: TrainingSet,
    cfg: TrainConfig,
    workdir: Path,
    progress: Callable[[str], None] | None = None,
    initial: Sequence[Any] | None = None,
) -> TrainResult:
    """Train the variant's network(s) on ``data``; logs and checkpoints under ``workdir``.

    ``initial``: Keras models to start from (fine-tuning, e.g. a package trained on simulated
    data), one per network of the variant."""
    import keras

    keras.utils.set_random_seed(cfg.seed)
    say = progress or (lambda _m: None)
    bands = len(data.bands)
    train_raw = data.dataset("train").cache()
    norm = normalization_of(train_raw, bands, per_band=cfg.band_scale)
    groups = [slice(0, bands)] if cfg.variant == "multi-band" else [slice(b, b + 1) for b in range(bands)]
    budget = cfg.max_minutes * 60.0 / len(groups) if cfg.max_minutes is not None else None
    strategy = choose_strategy()
    models, history, epochs, stopped = [], [], [], []
    t0 = time.perf_counter()
    for g, band in enumerate(groups):
        label = "all bands" if cfg.variant == "multi-band" else f"band {data.bands[band.start]}"
        train = train_raw.map(_normalizer(norm, band)).shuffle(
            2048, seed=cfg.seed, reshuffle_each_iteration=True
        )
        if cfg.augment:
            train = train.map(_augment(cfg.seed))
        train = train.batch(cfg.batch_size).repeat().prefetch(2)
        # A repeated dataset with a known epoch length: Keras otherwise learns the length by
        # running out of data, and warns every epoch.
        steps = -(-int(data.manifest["examples"]["train"]) // cfg.batch_size)
        val = data.dataset("validation").map(_normalizer(norm, band)).cache().batch(cfg.batch_size)
        with strategy.scope():
            if initial is not None:
                model = initial[g]
            else:
                model = build_dcstfn(
                    DcstfnConfig(
                        cfg.features,
                        band.stop - band.start,
                        residual=cfg.residual,
                        naive_residual=cfg.naive_residual,
                        fine_skip=cfg.fine_skip,
                    ),
                    name=f"dcstfn_{g}",
                )
            model.compile(
                optimizer=keras.optimizers.Adam(cfg.learning_rate, beta_1=0.9, beta_2=0.999),
                loss=masked_mse,
                jit_compile=True,
            )
        run_dir = workdir / f"network-{g}"
        budget_cb = keras_time_budget(budget)
        callbacks = [
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=cfg.patience, restore_best_weights=True, verbose=0
            ),
            keras.callbacks.ModelCheckpoint(
                str(run_dir / "checkpoints" / "best.weights.h5"),
                monitor="val_loss",
                save_best_only=True,
                save_weights_only=True,
            ),
            keras.callbacks.TensorBoard(str(run_dir / "logs"), update_freq="epoch"),
            budget_cb,
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda epoch, logs, label=label: say(
                    f"{label}: epoch {epoch + 1} loss {logs['loss']:.4f} val_loss {logs['val_loss']:.4f}"
                )
            ),
        ]
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        fit = model.fit(
            train,
            validation_data=val,
            epochs=cfg.epochs,
            steps_per_epoch=steps,
            callbacks=callbacks,
            verbose=0,
        )
        hist = {k: [float(v) for v in vals] for k, vals in fit.history.items()}
        history.append(hist)
        epochs.append(len(hist.get("loss", [])))
        if budget_cb.stopped_for_time:
            stopped.append("time budget")
        elif epochs[-1] < cfg.epochs:
            stopped.append("early stopping")
        else:
            stopped.append("epochs")
        models.append(model)
    result = TrainResult(
        models, norm, history, time.perf_counter() - t0, epochs, stopped, type(strategy).__name__
    )
    if cfg.calibrate_bias:
        result.bias_shift = calibrate_output_bias(result, data, cfg.variant)
        result.seconds = time.perf_counter() - t0  # the calibration is part of training
        say(
            "output bias calibrated on the training split: "
            + ", ".join(f"{b} {v:+.4f}" for b, v in zip(data.bands, result.bias_shift, strict=True))
        )
    return result


def calibrate_output_bias(result: TrainResult, data: TrainingSet, variant: str) -> list[float]:
    """Add the mean residual (label - prediction, valid pixels) of every band over the training
    split to the bias of the network's last layer, so the predictions are unbiased there.

    Adam with a small batch leaves the output's mean wandering from step to step, and early
    stopping keeps whichever state validated best: the intercept is then refitted by least
    squares with every other weight fixed (it can only lower the training loss). Returns the
    shift per band, in reflectance."""
    bands = len(data.bands)
    total = np.zeros(bands)
    pixels = 0
    for inputs, label in data.dataset("train").batch(16).as_numpy_iterator():
        out = np.asarray(predict_normalized(result.models, variant, result.normalization, inputs))
        mask = label[..., -1] > 0
        total += (label[..., :-1] - out)[mask].sum(axis=0)
        pixels += int(mask.sum())
    shift = total / max(pixels, 1)
    scales = result.normalization.scales()
    for g, model in enumerate(result.models):
        layer = layer_by_name(model, "fc2")
        kernel, bias = layer.get_weights()
        idx = list(range(bands)) if variant == "multi-band" else [g]
        layer.set_weights([kernel, bias + np.array([shift[i] / scales[i] for i in idx], bias.dtype)])
    return [float(v) for v in shift]


def predict_normalized(
    models: Sequence[Any], variant: str, norm: Normalization, inputs: Mapping[str, Any]
) -> Any:
    """Reflectance in, reflectance out: the computation the exported package serves."""
    import tensorflow as tf

    mean = tf.constant(norm.mean, tf.float32)
    scale = tf.constant(norm.scales(), tf.float32)
    x = {k: (tf.convert_to_tensor(v, tf.float32) - mean) / scale for k, v in inputs.items()}
    if variant == "multi-band":
        out = models[0](x, training=False)
    else:
        out = tf.concat(
            [m({k: v[..., b : b + 1] for k, v in x.items()}, training=False) for b, m in enumerate(models)],
            axis=-1,
        )
    return out * scale + mean


def validation_scores(result: TrainResult, data: TrainingSet, variant: str) -> dict[str, Any]:
    """RMSE, R², KGE, SSIM per band of the model and of the naive difference on every
    validation example (masked pixels excluded), pooled over examples."""
    bands = data.bands
    truth, fused, naive, masks = [], [], [], []
    for inputs, label in data.dataset("validation").batch(8).as_numpy_iterator():
        out = predict_normalized(result.models, variant, result.normalization, inputs).numpy()
        ratio = inputs["fine_tk1"].shape[1] // inputs["coarse_t0"].shape[1]
        diff = inputs["coarse_t0"] - inputs["coarse_tk1"]
        up = np.repeat(np.repeat(diff, ratio, axis=1), ratio, axis=2)
        for i in range(out.shape[0]):
            truth.append(label[i, ..., :-1])
            fused.append(out[i])
            naive.append(inputs["fine_tk1"][i] + up[i])
            masks.append(label[i, ..., -1] > 0)

    def score(pred: list[npt.NDArray[np.float32]]) -> dict[str, Any]:
        # Examples side by side in one mosaic, a masked 1-pixel column between neighbours.
        # SSIM's Gaussian window (radius 5) at an example's east/west edge still sees a few
        # pixels of its neighbour: a small bias on the border, the same for model and naive.
        ref = np.concatenate([np.pad(t, ((0, 0), (0, 1), (0, 0))) for t in truth], axis=1)
        prd = np.concatenate([np.pad(p, ((0, 0), (0, 1), (0, 0))) for p in pred], axis=1)
        msk = np.concatenate([np.pad(m, ((0, 0), (0, 1))) for m in masks], axis=1)
        s = evaluate(
            np.moveaxis(ref, -1, 0),
            np.moveaxis(prd, -1, 0),
            msk,
            bands=bands,
            metrics=list(SCORE_METRICS),
            data_range=1.0,
        )
        return {
            "overall": s.overall,
            "per_band": {m: dict(zip(bands, v, strict=True)) for m, v in s.per_band.items()},
        }

    return {"examples": len(truth), "model": score(fused), "naive": score(naive)}


def describe(scores: Mapping[str, Any]) -> str:
    """One line: the model's and the naive RMSE/SSIM on validation."""
    m, n = scores["model"]["overall"], scores["naive"]["overall"]
    return (
        f"validation ({scores['examples']} examples): RMSE {m['rmse']:.4f} (naive {n['rmse']:.4f}), "
        f"SSIM {m['ssim']:.4f} (naive {n['ssim']:.4f}), R2 {m['r2']:.3f}, KGE {m['kge']:.3f}"
    )
