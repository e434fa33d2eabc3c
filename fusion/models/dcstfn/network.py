"""DCSTFN: the deep convolutional spatiotemporal fusion network of seed 001 (Tan et al. 2018,
Remote Sensing 10(7):1066), in Keras.

Architecture (seed 001 §2.2, Figure 1), 3 × 3 kernels and ReLU unless said otherwise:

* **coarse sub-network**, shared by coarse(tk) and coarse(t0): conv d0, conv d1, three
  transposed convolutions d1 with stride 2 (×8), conv d2. A 1/16-resolution input comes out at
  1/2 of the fine resolution.
* **fine sub-network** on fine(tk): conv d0, conv d1, 2 × 2 max-pooling, conv d1, conv d2: the
  fine input also comes out at 1/2 resolution with d2 feature maps.
* **fusion** of the feature maps by the STARFM relation (seed eq. 1):
  ``F(t0) = C(t0) + F(tk) - C(tk)``, a transposed convolution d1 with stride 2 back to the fine
  size, and two fully connected layers (1 × 1 convolutions) with d0 and ``bands`` outputs, the
  last one linear.

With d = (32, 64, 128) on one band this has 408,961 trainable parameters, as the seed says.
``residual=True`` adds fine(tk) to the output (seed §4's residual idea; no parameters).
``naive_residual=True`` adds the naive difference fine(tk) + up(coarse(t0) - coarse(tk))
(bilinear, as the ``naive`` package) to a last layer initialized to zero, so training starts
from the naive method and learns a correction (not in the seed; no parameters).
``fine_skip=True`` adds a full-resolution branch, one convolution d0 on fine(tk), whose maps
join the fused ones before the 1 × 1 layers (not in the seed): the seed's fine sub-network
max-pools before the fusion, so its output layers see fine(tk) only at 1/2 resolution and cannot
tell a pixel's noise from its neighbour's; with the branch they can (STARFM's window does the
same with similar pixels).
The seed trains one network per band; :func:`build_dcstfn` with ``bands > 1`` is the
multi-band variant (one network, all bands as channels).

Sizes: the fine input's height and width must be multiples of ``ratio`` = 16 and the coarse
input exactly 1/16 of them (MODIS at 480 m for Landsat at 30 m).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from fusion.errors import ConfigError

#: Seed 001: MODIS resampled to 480 m for Landsat 30 m.
DCSTFN_RATIO = 16
#: Seed 001 §3.2: feature maps at the three abstraction levels.
SEED_FEATURES = (32, 64, 128)
#: Seed 001 §3.2: "408,961 trainable weight parameters" for one band and d = (32, 64, 128).
SEED_PARAMETERS = 408_961

#: Fine pixels of context DCSTFN needs at block edges: its coarse convolutions see two coarse
#: pixels either side, plus one for the transposed convolutions (3 coarse pixels).
DCSTFN_HALO = 48


@dataclass(frozen=True)
class DcstfnConfig:
    """Hyper-parameters of one DCSTFN network."""

    features: tuple[int, int, int] = SEED_FEATURES
    bands: int = 1  #: channels in and out: 1 = the seed's per-band network
    ratio: int = DCSTFN_RATIO
    #: Add fine(tk) to the output (a global identity skip, no parameters): the network learns
    #: the change since the reference date instead of the whole image. Seed 001 §4 proposes
    #: residual learning as future work; not in its Figure 1, so off by default.
    residual: bool = False
    #: Add the naive prediction fine(tk) + up(coarse(t0)) − up(coarse(tk)) (bilinear, as the
    #: ``naive`` package) to an output layer initialized to zero: the network starts as the
    #: naive difference and learns a correction to it. Not in the seed; off by default.
    naive_residual: bool = False
    #: A full-resolution branch (conv d0, 3 × 3, ReLU) on fine(tk), concatenated with the
    #: fused feature maps before the 1 × 1 layers, so they can denoise the reference pixel by
    #: pixel. Not in the seed; off by default.
    fine_skip: bool = False

    def __post_init__(self) -> None:
        if self.residual and self.naive_residual:
            raise ConfigError("choose one of residual (fine(tk)) and naive_residual, not both")
        if len(self.features) != 3 or min(self.features) < 1:
            raise ConfigError(
                f"DCSTFN features must be three positive ints (d0, d1, d2), got {self.features}"
            )
        if self.bands < 1:
            raise ConfigError(f"DCSTFN bands must be >= 1, got {self.bands}")
        if self.ratio != DCSTFN_RATIO:
            raise ConfigError(
                f"DCSTFN expands coarse inputs by 2**3 transposed convolutions and one more after the "
                f"fusion: the coarse ratio must be {DCSTFN_RATIO}, got {self.ratio}"
            )

    def as_json(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _conv(
    filters: int,
    name: str,
    *,
    kernel: int = 3,
    activation: str | None = "relu",
    initializer: str = "glorot_uniform",
) -> Any:
    import keras

    return keras.layers.Conv2D(
        filters, kernel, padding="same", activation=activation, kernel_initializer=initializer, name=name
    )


def _deconv(filters: int, name: str) -> Any:
    import keras

    return keras.layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu", name=name)


def build_dcstfn(config: DcstfnConfig | None = None, name: str = "dcstfn") -> Any:
    """The Keras model: inputs ``coarse_t0``, ``fine_tk1``, ``coarse_tk1`` (NHWC), output the
    fused fine image (NHWC, ``config.bands`` channels)."""
    import keras

    cfg = config or DcstfnConfig()
    d0, d1, d2 = cfg.features
    coarse_t0 = keras.Input((None, None, cfg.bands), name="coarse_t0")
    fine_tk = keras.Input((None, None, cfg.bands), name="fine_tk1")
    coarse_tk = keras.Input((None, None, cfg.bands), name="coarse_tk1")

    # Shared coarse sub-network: both coarse images go through the same weights.
    coarse_net = keras.Sequential(
        [
            keras.Input((None, None, cfg.bands)),
            _conv(d0, "coarse_conv1"),
            _conv(d1, "coarse_conv2"),
            _deconv(d1, "coarse_deconv1"),
            _deconv(d1, "coarse_deconv2"),
            _deconv(d1, "coarse_deconv3"),
            _conv(d2, "coarse_conv3"),
        ],
        name="coarse_subnet",
    )
    fine_net = keras.Sequential(
        [
            keras.Input((None, None, cfg.bands)),
            _conv(d0, "fine_conv1"),
            _conv(d1, "fine_conv2"),
            keras.layers.MaxPooling2D(2, name="fine_pool"),
            _conv(d1, "fine_conv3"),
            _conv(d2, "fine_conv4"),
        ],
        name="fine_subnet",
    )
    c0 = coarse_net(coarse_t0)
    ck = coarse_net(coarse_tk)
    fk = fine_net(fine_tk)
    # Seed eq. (1) on feature maps: LTHS(t0) = HTLS(t0) + LTHS(tk) - HTLS(tk).
    merged = keras.layers.Add(name="fusion")([c0, keras.layers.Subtract(name="change")([fk, ck])])
    x = _deconv(d1, "fusion_deconv")(merged)
    if cfg.fine_skip:
        skip = _conv(d0, "fine_skip_conv")(fine_tk)
        x = keras.layers.Concatenate(name="fine_skip")([x, skip])
    x = _conv(d0, "fc1", kernel=1)(x)
    fused = _conv(
        cfg.bands,
        "fc2",
        kernel=1,
        activation=None,
        initializer="zeros" if cfg.naive_residual else "glorot_uniform",
    )(x)
    if cfg.residual:
        fused = keras.layers.Add(name="residual")([fused, fine_tk])
    if cfg.naive_residual:
        # up(c0) - up(ck) = up(c0 - ck): bilinear resizing is linear, so one resize suffices.
        coarse_change = keras.layers.Subtract(name="coarse_change")([coarse_t0, coarse_tk])
        change = bilinear_upsample_layer()(cfg.ratio, name="naive_change")(coarse_change)
        fused = keras.layers.Add(name="naive_residual")([fused, fine_tk, change])
    return keras.Model(
        {"coarse_t0": coarse_t0, "fine_tk1": fine_tk, "coarse_tk1": coarse_tk}, fused, name=name
    )


@functools.cache
def bilinear_upsample_layer() -> type:
    """The Keras layer class of the naive residual's bilinear upsampling (registered, so saved
    networks load by name).

    ``keras.layers.UpSampling2D(interpolation="bilinear")`` cannot be traced with the serving
    signature's unknown height and width; this layer resizes to the dynamic shape × ``ratio``
    with the same half-pixel-centred ``tf.image.resize`` as the ``naive`` and ``starfm``
    packages, so the network starts exactly as the naive package.
    """
    import keras
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="eo_fusion")
    class BilinearUpsample(keras.layers.Layer):  # type: ignore[misc]
        def __init__(self, ratio: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.ratio = int(ratio)

        def call(self, x: Any) -> Any:
            size = tf.shape(x)[1:3] * self.ratio
            return tf.image.resize(x, size, method="bilinear", antialias=False)

        def compute_output_shape(self, input_shape: Any) -> Any:
            n, h, w, c = input_shape
            return (n, None if h is None else h * self.ratio, None if w is None else w * self.ratio, c)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "ratio": self.ratio}

    return BilinearUpsample


def leaf_layers(model: Any) -> list[Any]:
    """The layers of a Keras model, sub-models (the coarse and fine sub-networks) opened."""
    out: list[Any] = []
    for layer in model.layers:
        out.extend(leaf_layers(layer) if hasattr(layer, "layers") else [layer])
    return out


def layer_by_name(model: Any, name: str) -> Any:
    """The layer ``name`` of a DCSTFN network (sub-networks searched too)."""
    for layer in leaf_layers(model):
        if layer.name == name:
            return layer
    raise ConfigError(f"network has no layer {name!r}: not a DCSTFN")


def trainable_parameters(model: Any) -> int:
    """Number of trainable weights of a Keras model."""
    import numpy as np

    return int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))


def per_band_models(features: Sequence[int], bands: int) -> list[Any]:
    """The seed's layout: one single-band network per band."""
    cfg = DcstfnConfig(tuple(features), 1)  # type: ignore[arg-type]
    return [build_dcstfn(cfg, name=f"dcstfn_band{b}") for b in range(bands)]
