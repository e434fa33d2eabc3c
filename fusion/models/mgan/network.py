"""MGAN (seed 002): a multispectral pix2pix that turns Sentinel-2 into Landsat-8-like images.

* **Generator** - a pix2pix U-Net whose bottom takes Sentinel-2 at its native resolutions:
  one convolution for the 10 m bands (384 × 384 × 4, stride 3 → 128 × 128) and one transposed
  convolution for the 20 m bands (192 × 192 × 2, stride 2 → 384 × 384; a stride-3 convolution
  then brings it to 128 × 128, as a 20 → 30 m step is 3/2 and no single layer has that
  stride), concatenated before the encoder–decoder. Seven 4 × 4 stride-2 down-sampling
  blocks to 1 × 1 and seven up-sampling blocks with skip connections (dropout 0.5 in the first
  three), as in pix2pix, **without instance normalization** (seed 002: it does not suit
  multispectral patches). Output 128 × 128 × 6, tanh (targets are normalized to [-1, 1]).
  **Residual variant** (``MganConfig.residual_*``, what ``fusion train mgan`` trains by
  default; a departure from the seed): the last layer is linear, initialized to zero, and its
  output is added to the Sentinel-2 bands area-averaged to 30 m and mapped onto the Landsat
  normalization, so the U-Net learns the *difference* between the two sensors. Trained from
  scratch for 30 minutes on 2 CPU cores the seed's generator stayed behind the HLS bandpass
  baseline on SAM on held-out dates (1.96° vs 1.88°); the residual one beats it (1.60°).
* **Discriminator** - a PatchGAN on (Sentinel-2 area-averaged to 30 m, Landsat or generated):
  4 × 4 convolutions, instance normalization followed by **spectral normalization** in the
  down-sampling blocks.
* **Losses** - L1 (weight 100, as pix2pix) plus the relativistic average adversarial losses of
  seed 002 eqs. 3-4; **differentiable augmentation** (colour, translation, cutout; Zhao et al.
  2020) of everything the discriminator sees, real and fake alike.
* **Inference** on any block: overlapping 128-pixel patches with a stride of half a patch,
  each contributing only its central part (a buffer of 1/4 patch), as the seed reconstructs
  whole tiles. The pipeline's block halo is that buffer.

Filter counts are parameters: the shipped package is a small version trained on CPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from fusion.models.classical.bandpass import area_average  # the same resampling as the baselines

#: Landsat pixels per patch side (seed 002: 128 × 128 at 30 m; 384 at 10 m, 192 at 20 m).
PATCH = 128
#: Each patch keeps its central part: a buffer of a quarter patch on every side.
BUFFER = PATCH // 4
STRIDE = PATCH // 2


@dataclass(frozen=True)
class MganConfig:
    """Architecture of the generator and discriminator (filters per level)."""

    bottom_filters: int = 32
    #: down-sampling blocks of the U-Net (pix2pix for 256 px: 64,128,256,512,512,512,512,512)
    generator_filters: tuple[int, ...] = (32, 64, 128, 256, 256, 256, 256)
    discriminator_filters: tuple[int, ...] = (32, 64, 128, 256)
    dropout: float = 0.5
    bands_10m: int = 4
    bands_20m: int = 2
    out_bands: int = 6
    #: Residual generator (a departure from seed 002, see :func:`build_generator`): per output
    #: band, the affine map from the normalized area-averaged Sentinel-2 band to the normalized
    #: Landsat band with the same reflectance. Empty: the seed's plain generator.
    residual_scale: tuple[float, ...] = ()
    residual_offset: tuple[float, ...] = ()

    @property
    def residual(self) -> bool:
        return bool(self.residual_scale)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("generator_filters", "discriminator_filters", "residual_scale", "residual_offset"):
            out[key] = list(getattr(self, key))
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MganConfig:
        return cls(
            **{
                **data,
                "generator_filters": tuple(data["generator_filters"]),
                "discriminator_filters": tuple(data["discriminator_filters"]),
                "residual_scale": tuple(float(v) for v in data.get("residual_scale", ())),
                "residual_offset": tuple(float(v) for v in data.get("residual_offset", ())),
            }
        )


def build_generator(config: MganConfig | None = None) -> Any:
    """The MGAN generator: (384×384×4 at 10 m, 192×192×2 at 20 m) → 128×128×6 at 30 m.

    With ``config.residual`` the U-Net predicts a *correction* to the input itself: its
    output (linear, initialized to zero) is added to the Sentinel-2 bands area-averaged to
    30 m and mapped onto the Landsat normalization. Training then starts from raw Sentinel-2
    rather than from noise, which is what lets a small generator trained for 30 minutes on
    2 CPU cores learn the spectral and spatial differences (a departure from seed 002, whose
    generator is trained for far longer on GPUs; README, "Reproduce the MGAN package")."""
    import keras
    from keras import layers

    cfg = config or MganConfig()
    if cfg.residual and not (len(cfg.residual_scale) == len(cfg.residual_offset) == cfg.out_bands):
        raise ValueError(
            f"residual_scale and residual_offset need {cfg.out_bands} values each, got "
            f"{len(cfg.residual_scale)} and {len(cfg.residual_offset)}"
        )
    init = "glorot_uniform"  # seed 002: default Glorot uniform
    x10 = keras.Input((3 * PATCH, 3 * PATCH, cfg.bands_10m), name="s2_10m")
    x20 = keras.Input((3 * PATCH // 2, 3 * PATCH // 2, cfg.bands_20m), name="s2_20m")
    f = cfg.bottom_filters
    h10 = layers.Conv2D(f, 3, strides=3, padding="same", kernel_initializer=init, name="bottom_10m")(x10)
    h20 = layers.Conv2DTranspose(f, 3, strides=2, padding="same", kernel_initializer=init, name="bottom_20m")(
        x20
    )
    h20 = layers.LeakyReLU(0.2)(h20)
    h20 = layers.Conv2D(f, 3, strides=3, padding="same", kernel_initializer=init, name="bottom_20m_to_30m")(
        h20
    )
    x = layers.Concatenate(name="bottom")([layers.LeakyReLU(0.2)(h10), layers.LeakyReLU(0.2)(h20)])

    skips = []
    for i, n in enumerate(cfg.generator_filters):
        x = layers.Conv2D(n, 4, strides=2, padding="same", kernel_initializer=init, name=f"down{i + 1}")(x)
        x = layers.LeakyReLU(0.2)(x)
        skips.append(x)
    # Up-sampling mirrors the encoder; the deepest skip is the bottleneck itself.
    ups = list(reversed(cfg.generator_filters[:-1]))
    for i, (n, skip) in enumerate(zip(ups, reversed(skips[:-1]), strict=True)):
        x = layers.Conv2DTranspose(
            n, 4, strides=2, padding="same", kernel_initializer=init, name=f"up{i + 1}"
        )(x)
        if i < 3 and cfg.dropout > 0:
            x = layers.Dropout(cfg.dropout)(x)
        x = layers.ReLU()(x)
        x = layers.Concatenate()([x, skip])
    if not cfg.residual:
        out = layers.Conv2DTranspose(
            cfg.out_bands,
            4,
            strides=2,
            padding="same",
            kernel_initializer=init,
            activation="tanh",
            name="landsat",
        )(x)
        return keras.Model([x10, x20], out, name="mgan_generator")
    correction = layers.Conv2DTranspose(
        cfg.out_bands, 4, strides=2, padding="same", kernel_initializer="zeros", name="correction"
    )(x)
    scale, offset = list(cfg.residual_scale), list(cfg.residual_offset)
    base = layers.Lambda(
        lambda xs: area_average(xs[0], xs[1]) * scale + offset, name="sentinel2_on_landsat_scale"
    )([x10, x20])
    out = layers.Add(name="landsat")([base, correction])
    return keras.Model([x10, x20], out, name="mgan_generator")


def build_discriminator(config: MganConfig | None = None) -> Any:
    """PatchGAN on (condition, image), both 128×128×6: one logit per receptive-field patch."""
    import keras
    from keras import layers

    cfg = config or MganConfig()
    cond = keras.Input((PATCH, PATCH, cfg.out_bands), name="condition")
    image = keras.Input((PATCH, PATCH, cfg.out_bands), name="image")
    x = layers.Concatenate()([cond, image])
    filters = cfg.discriminator_filters
    for i, n in enumerate(filters):
        last = i == len(filters) - 1
        if last:
            x = layers.ZeroPadding2D()(x)
        conv = layers.Conv2D(
            n, 4, strides=1 if last else 2, padding="valid" if last else "same", use_bias=i == 0
        )
        if i == 0:
            x = conv(x)  # pix2pix: no normalization in the first block
        else:
            x = layers.SpectralNormalization(conv)(x)
            x = layers.GroupNormalization(groups=-1, name=f"instance_norm{i}")(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.ZeroPadding2D()(x)
    logits = layers.Conv2D(1, 4, strides=1, padding="valid", name="patch_logits")(x)
    return keras.Model([cond, image], logits, name="mgan_discriminator")


# ------------------------------------------------------------------------------------------
# Losses and differentiable augmentation


def relativistic_losses(real_logits: Any, fake_logits: Any) -> tuple[Any, Any]:
    """(L_D, L_G adversarial) of seed 002 eqs. 3-4 with D_Ra(a, b) = σ(C(a) − E[C(b)])."""
    import tensorflow as tf

    bce = tf.nn.sigmoid_cross_entropy_with_logits
    real_vs_fake = real_logits - tf.reduce_mean(fake_logits)
    fake_vs_real = fake_logits - tf.reduce_mean(real_logits)
    ones, zeros = tf.ones_like(real_vs_fake), tf.zeros_like(real_vs_fake)
    loss_d = tf.reduce_mean(bce(ones, real_vs_fake)) + tf.reduce_mean(bce(zeros, fake_vs_real))
    loss_g = tf.reduce_mean(bce(zeros, real_vs_fake)) + tf.reduce_mean(bce(ones, fake_vs_real))
    return loss_d, loss_g


def masked_l1(target: Any, predicted: Any, mask: Any) -> Any:
    """Mean absolute error over usable pixels (mask (N, H, W, 1), 1 = usable)."""
    import tensorflow as tf

    weight = tf.broadcast_to(mask, tf.shape(target))
    return tf.reduce_sum(tf.abs(target - predicted) * weight) / tf.maximum(tf.reduce_sum(weight), 1.0)


@dataclass(frozen=True)
class DiffAugment:
    """DiffAugment (Zhao et al. 2020) policies colour, translation, cutout - the same random
    transform for all channels of an example, differentiable w.r.t. the images."""

    policies: Sequence[str] = field(default=("color", "translation", "cutout"))
    translation_ratio: float = 0.125
    cutout_ratio: float = 0.5

    def __call__(self, x: Any, seed: Any = None) -> Any:
        for policy in self.policies:
            x = getattr(self, f"_{policy}")(x)
        return x

    @staticmethod
    def _color(x: Any) -> Any:
        import tensorflow as tf

        n = tf.shape(x)[0]
        x = x + (tf.random.uniform([n, 1, 1, 1]) - 0.5)  # brightness
        mean_c = tf.reduce_mean(x, axis=3, keepdims=True)
        x = (x - mean_c) * (tf.random.uniform([n, 1, 1, 1]) * 2.0) + mean_c  # saturation
        mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
        x = (x - mean) * (tf.random.uniform([n, 1, 1, 1]) + 0.5) + mean  # contrast
        return x

    def _translation(self, x: Any) -> Any:
        import tensorflow as tf

        n, h, w = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]
        sh = tf.cast(tf.cast(h, tf.float32) * self.translation_ratio + 0.5, tf.int32)
        sw = tf.cast(tf.cast(w, tf.float32) * self.translation_ratio + 0.5, tf.int32)
        dy = tf.random.uniform([n, 1], -sh, sh + 1, dtype=tf.int32)
        dx = tf.random.uniform([n, 1], -sw, sw + 1, dtype=tf.int32)
        rows = tf.range(h)[None, :] - dy  # (n, h) source row of each output row
        cols = tf.range(w)[None, :] - dx
        inside = (
            tf.cast((rows >= 0) & (rows < h), x.dtype)[:, :, None, None]
            * tf.cast((cols >= 0) & (cols < w), x.dtype)[:, None, :, None]
        )
        x = tf.gather(x, tf.clip_by_value(rows, 0, h - 1), axis=1, batch_dims=1)
        x = tf.gather(x, tf.clip_by_value(cols, 0, w - 1), axis=2, batch_dims=1)
        return x * inside  # zero padding where the image moved away

    def _cutout(self, x: Any) -> Any:
        import tensorflow as tf

        n, h, w = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]
        ch = tf.cast(tf.cast(h, tf.float32) * self.cutout_ratio + 0.5, tf.int32)
        cw = tf.cast(tf.cast(w, tf.float32) * self.cutout_ratio + 0.5, tf.int32)
        cy = tf.random.uniform([n, 1], 0, h + (1 - ch % 2), dtype=tf.int32)
        cx = tf.random.uniform([n, 1], 0, w + (1 - cw % 2), dtype=tf.int32)
        rows = tf.range(h)[None, :]
        cols = tf.range(w)[None, :]
        in_rows = (rows >= cy - ch // 2) & (rows < cy - ch // 2 + ch)
        in_cols = (cols >= cx - cw // 2) & (cols < cx - cw // 2 + cw)
        cut = tf.cast(in_rows[:, :, None] & in_cols[:, None, :], x.dtype)[..., None]
        return x * (1.0 - cut)


# ------------------------------------------------------------------------------------------
# Whole-block inference from overlapping patches


def _pad_to(x: Any, height: Any, width: Any) -> Any:
    import tensorflow as tf

    h, w = tf.shape(x)[1], tf.shape(x)[2]
    return tf.pad(x, [[0, 0], [0, height - h], [0, width - w], [0, 0]], mode="SYMMETRIC")


def _patches(x: Any, size: int, stride: int) -> tuple[Any, Any, Any]:
    """(N, H, W, C) → (N·nh·nw, size, size, C), nh, nw."""
    import tensorflow as tf

    c = x.shape[-1]
    p = tf.image.extract_patches(x, [1, size, size, 1], [1, stride, stride, 1], [1, 1, 1, 1], "VALID")
    nh, nw = tf.shape(p)[1], tf.shape(p)[2]
    return tf.reshape(p, [-1, size, size, c]), nh, nw


def predict_block(generator: Any, s2_10m: Any, s2_20m: Any) -> Any:
    """Normalized (N, 3H, 3W, 4) and (N, 1.5H, 1.5W, 2) → normalized (N, H, W, 6).

    Patches of 128 output pixels every 64 pixels; each keeps its central 64 × 64 (a buffer of
    32 on every side), so every output pixel comes from the centre of exactly one patch
    except the outer 32 pixels of the block, which are the block's halo (mirror-filled)."""
    import tensorflow as tf

    n = tf.shape(s2_10m)[0]
    h = tf.shape(s2_10m)[1] // 3
    w = tf.shape(s2_10m)[2] // 3
    # Cover the block with whole patches: size 64·k + 64 ≥ max(H, 128), mirror-padded.
    ph = tf.maximum((h - BUFFER * 2 + STRIDE - 1) // STRIDE, 1) * STRIDE + 2 * BUFFER
    pw = tf.maximum((w - BUFFER * 2 + STRIDE - 1) // STRIDE, 1) * STRIDE + 2 * BUFFER
    x10 = _pad_to(s2_10m, 3 * ph, 3 * pw)
    x20 = _pad_to(s2_20m, 3 * ph // 2, 3 * pw // 2)
    p10, nh, nw = _patches(x10, 3 * PATCH, 3 * STRIDE)
    p20, _, _ = _patches(x20, 3 * PATCH // 2, 3 * STRIDE // 2)
    y = generator([p10, p20], training=False)
    centre = y[:, BUFFER : PATCH - BUFFER, BUFFER : PATCH - BUFFER, :]
    bands = y.shape[-1]
    centre = tf.reshape(centre, [n, nh, nw, STRIDE, STRIDE, bands])
    centre = tf.transpose(centre, [0, 1, 3, 2, 4, 5])
    mosaic = tf.reshape(centre, [n, nh * STRIDE, nw * STRIDE, bands])
    mosaic = tf.pad(mosaic, [[0, 0], [BUFFER, BUFFER], [BUFFER, BUFFER], [0, 0]], mode="SYMMETRIC")
    return mosaic[:, :h, :w, :]


@dataclass(frozen=True)
class BandNormalization:
    """Per band ``(x − mean) / scale``, statistics of the training set (a prediction has no
    target to take them from).

    ``clip`` (seed 002): values are first saturated at the training set's 1st and 99th
    percentiles (``low``/``high``) and ``scale`` is the largest ``|x − mean|`` left, so values
    lie in [-1, 1]. Without ``clip`` nothing is saturated and ``scale`` is the largest
    ``|x − mean|`` of the training set: on a landscape where water is about 1 % of the pixels
    the 1st percentile of NIR is a land value, and saturating would turn every water pixel's
    NIR into it (see README, "Reproduce the MGAN package")."""

    low: tuple[float, ...]
    high: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    clip: bool = True

    def apply(self, x: Any) -> Any:
        import tensorflow as tf

        if self.clip:
            x = tf.clip_by_value(x, tf.constant(self.low), tf.constant(self.high))
        return (x - tf.constant(self.mean)) / tf.constant(self.scale)

    def apply_numpy(self, x: Any) -> Any:
        import numpy as np

        if self.clip:
            x = np.clip(x, np.asarray(self.low, np.float32), np.asarray(self.high, np.float32))
        return (x - np.asarray(self.mean, np.float32)) / np.asarray(self.scale, np.float32)

    def invert(self, x: Any) -> Any:
        import tensorflow as tf

        return x * tf.constant(self.scale) + tf.constant(self.mean)

    def as_json(self) -> dict[str, Any]:
        return {
            "low": list(self.low),
            "high": list(self.high),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "clip": self.clip,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BandNormalization:
        low, high, mean, scale = (tuple(float(x) for x in data[k]) for k in ("low", "high", "mean", "scale"))
        return cls(low, high, mean, scale, clip=bool(data.get("clip", True)))

    @classmethod
    def of(cls, samples: Any, percentiles: tuple[float, float] | None = (1.0, 99.0)) -> BandNormalization:
        """From (n, C) reflectance samples; ``percentiles=None``: no saturation."""
        import numpy as np

        if percentiles is not None:
            lo = np.nanpercentile(samples, percentiles[0], axis=0)
            hi = np.nanpercentile(samples, percentiles[1], axis=0)
        else:
            lo, hi = np.nanmin(samples, axis=0), np.nanmax(samples, axis=0)
        values = np.clip(samples, lo, hi)
        mean = np.nanmean(values, axis=0)
        scale = np.maximum(np.nanmax(np.abs(values - mean), axis=0), 1e-6)
        low, high, centre, spread = (tuple(float(v) for v in a) for a in (lo, hi, mean, scale))
        return cls(low, high, centre, spread, clip=percentiles is not None)


# ------------------------------------------------------------------------------------------
# The package's normalization and serving function


@dataclass
class Normalizations:
    """The normalizations of a package's inputs (Sentinel-2 10 m and 20 m bands) and of its
    output (Landsat), from the training pairs (:func:`fusion.models.mgan.data.normalizations_of`)."""

    s2_10m: BandNormalization
    s2_20m: BandNormalization
    landsat: BandNormalization

    def as_json(self) -> dict[str, Any]:
        return {
            "s2_10m": self.s2_10m.as_json(),
            "s2_20m": self.s2_20m.as_json(),
            "landsat": self.landsat.as_json(),
        }


def serve_function(generator: Any, norms: Normalizations) -> Callable[..., dict[str, Any]]:
    """The package's serving function: raw reflectance in, Landsat-like reflectance out."""
    import tensorflow as tf

    def serve(**t: Any) -> dict[str, Any]:
        x10 = norms.s2_10m.apply(t["s2_10m"])
        x20 = norms.s2_20m.apply(t["s2_20m"])
        y = predict_block(generator, x10, x20)
        return {"fused": tf.identity(norms.landsat.invert(y))}

    return serve
