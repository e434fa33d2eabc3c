"""STARFM (Gao, Masek, Schwaller & Hall 2006) built from TensorFlow ops.

For every fine pixel ``x`` the prediction at the target date ``t0`` is a weighted mean, over
*selected* pixels ``y`` of a moving window and over one or two reference pairs ``k``, of the
pair's change-corrected value ``C(t0, y) + F(tk, y) - C(tk, y)``:

* **spectrally similar**: ``|F(tk, y) - F(tk, x)| <= 2 * std_b(F(tk)) / n_classes`` with a
  threshold per band ``b`` (``std`` over the valid pixels of the block), required in every
  band by default (``similarity="all"``, the rule ESTARFM made explicit; it keeps pixels of
  other land covers that happen to match in one band out) or per band (``"band"``);
* **uncertainty filter**: ``S(y) < max_k S(x) + sqrt(u_f² + u_c²)`` and
  ``T(y) < max_k T(x) + sqrt(2) * u_c`` with the spectral distance ``S = |F(tk) - C(tk)|`` and
  the temporal distance ``T = |C(t0) - C(tk)|``;
* **weight** ``1 / (S' * T' * D)`` with the relative spatial distance ``D = 1 + d / A``
  (``d`` in fine pixels, ``A`` the spatial impact factor) and either ``S' = S + eps`` (the
  paper's product form; ``eps`` keeps an exact match finite) or ``S' = ln(S * 10⁴ + 2)``
  (the log form used by common implementations).

The window is swept one offset at a time inside a ``tf.while_loop`` and the weighted sums are
accumulated, so memory is a few arrays of the block's size - never pixels × window².

Coarse inputs arrive on their own (aligned, coarser) grid and are upsampled bilinearly to the
fine grid inside the model; with a resolution ratio of 1 the resize is the identity.

:func:`export_starfm` writes it as a model package (:func:`fusion.models.package.export_package`),
so the pipeline runs it exactly like a learned model.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import tensorflow as tf

from fusion.errors import ConfigError
from fusion.models.inputs import DEFAULT_BANDS, DEFAULT_RATIO, spatiotemporal_inputs
from fusion.models.package import ModelMetadata, export_package

#: One DN of a ×10⁻⁴ product: keeps 1/(S*T) finite where fine and coarse agree exactly.
EPSILON = 1e-4


@dataclass(frozen=True)
class StarfmConfig:
    """STARFM parameters (defaults: Gao et al. 2006 and the common reference implementations)."""

    window: int = 31  #: moving window, fine pixels (odd)
    n_classes: float = 4.0  #: estimated land-cover classes; similarity threshold = 2 σ / n
    spatial_impact: float | None = None  #: A in D = 1 + d/A (fine px); None = window // 2
    fine_uncertainty: float = 0.002  #: reflectance
    coarse_uncertainty: float = 0.002  #: reflectance
    log_weight: bool = True  #: ln(x·10⁴ + 2) distances instead of x + eps
    #: "band": a neighbour is similar per band; "all": similar in every band (as ESTARFM)
    similarity: str = "all"

    def __post_init__(self) -> None:
        if self.window < 1 or self.window % 2 == 0:
            raise ConfigError(f"STARFM window must be a positive odd number of pixels, got {self.window}")
        if self.n_classes <= 0:
            raise ConfigError(f"n_classes must be > 0, got {self.n_classes}")
        if self.spatial_impact is not None and self.spatial_impact <= 0:
            raise ConfigError(f"spatial_impact must be > 0, got {self.spatial_impact}")
        if self.similarity not in ("band", "all"):
            raise ConfigError(f"similarity must be 'band' or 'all', got {self.similarity!r}")
        if self.fine_uncertainty < 0 or self.coarse_uncertainty < 0:
            raise ConfigError("uncertainties must be >= 0 reflectance")

    @property
    def radius(self) -> int:
        return self.window // 2

    @property
    def impact(self) -> float:
        return float(self.spatial_impact) if self.spatial_impact is not None else float(max(self.radius, 1))

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def upsample_to(coarse: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    """Bilinear (half-pixel centred) resize of an NHWC coarse tensor to ``like``'s H and W."""
    size = tf.shape(like)[1:3]
    same = tf.reduce_all(tf.equal(tf.shape(coarse)[1:3], size))
    return tf.cond(
        same,
        lambda: coarse,
        lambda: tf.image.resize(coarse, size, method="bilinear", antialias=False),
    )


def masked_std(values: tf.Tensor, valid: tf.Tensor) -> tf.Tensor:
    """Per image and band standard deviation over valid pixels: ``[N,H,W,B] -> [N,1,1,B]``."""
    count = tf.maximum(tf.reduce_sum(valid, axis=[1, 2], keepdims=True), 1.0)
    mean = tf.reduce_sum(values * valid, axis=[1, 2], keepdims=True) / count
    var = tf.reduce_sum(valid * tf.square(values - mean), axis=[1, 2], keepdims=True) / count
    return tf.sqrt(var)


def starfm(
    coarse_t0: tf.Tensor,
    fine_refs: list[tf.Tensor],
    coarse_refs: list[tf.Tensor],
    valid_refs: list[tf.Tensor],
    config: StarfmConfig,
) -> tf.Tensor:
    """Predict fine(t0) ``[N,H,W,B]`` from coarse(t0) and one or more reference pairs.

    ``valid_refs[k]`` is ``[N,H,W,1]`` with 1 where pair ``k`` is usable (fine and coarse
    valid). Where no pair is valid at a pixel the result is ``coarse(t0)`` upsampled; callers
    mask such pixels.
    """
    if not (len(fine_refs) == len(coarse_refs) == len(valid_refs)) or not fine_refs:
        raise ConfigError("STARFM needs the same, non-zero number of fine, coarse and valid references")
    # Bands are independent in STARFM: fold them into the batch axis, so every array the window
    # loop touches is single-channel (several times faster under XLA than [.., B] layouts).
    n_bands = tf.shape(fine_refs[0])[-1]

    def to_single(x: tf.Tensor) -> tf.Tensor:
        x = tf.transpose(x, [0, 3, 1, 2])
        return tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:4], [1]], axis=0))

    def per_band_mask(valid: tf.Tensor) -> tf.Tensor:
        return tf.repeat(valid, n_bands, axis=0)  # [N,H,W,1] -> [N*B,H,W,1], image-major like to_single

    fused = _starfm_single(
        to_single(coarse_t0),
        [to_single(f) for f in fine_refs],
        [to_single(c) for c in coarse_refs],
        [per_band_mask(v) for v in valid_refs],
        config,
        n_bands,
    )
    shape = tf.shape(fine_refs[0])
    return tf.transpose(tf.reshape(fused, [shape[0], n_bands, shape[1], shape[2]]), [0, 2, 3, 1])


def _starfm_single(
    coarse_t0: tf.Tensor,
    fine_refs: list[tf.Tensor],
    coarse_refs: list[tf.Tensor],
    valid_refs: list[tf.Tensor],
    config: StarfmConfig,
    n_bands: tf.Tensor,
) -> tf.Tensor:
    """:func:`starfm` on single-band images ``[N·B, H, W, 1]`` (image-major, ``n_bands`` per image)."""

    def all_bands(mask: tf.Tensor) -> tf.Tensor:
        shape = tf.shape(mask)
        per_image = tf.reshape(mask, [-1, n_bands, shape[1], shape[2], 1])
        return tf.reshape(tf.repeat(tf.reduce_all(per_image, axis=1, keepdims=True), n_bands, axis=1), shape)

    fine0 = fine_refs[0]
    c0 = upsample_to(coarse_t0, fine0)
    r = config.radius
    w = config.window
    sigma_s = math.sqrt(config.fine_uncertainty**2 + config.coarse_uncertainty**2)
    sigma_t = math.sqrt(2.0) * config.coarse_uncertainty

    def distance(x: tf.Tensor) -> tf.Tensor:
        if config.log_weight:
            return tf.math.log(x * 1e4 + 2.0)
        return x + EPSILON

    # Invalid pixels are folded into the arrays the loop slices, so no mask is sliced per offset:
    # a neighbour that is invalid (or outside the block) has S = +BIG and fails the uncertainty
    # test; a centre that is invalid has fine = -BIG and no neighbour is similar to it.
    big = tf.constant(1e9, fine0.dtype)
    pairs = []
    s_max = None
    t_max = None
    for fine, coarse, valid in zip(fine_refs, coarse_refs, valid_refs, strict=True):
        ck = upsample_to(coarse, fine)
        v = tf.broadcast_to(valid, tf.shape(fine)) > 0
        s = tf.abs(fine - ck)
        t = tf.abs(c0 - ck)
        s_valid = tf.where(v, s, -big)
        t_valid = tf.where(v, t, -big)
        s_max = s_valid if s_max is None else tf.maximum(s_max, s_valid)
        t_max = t_valid if t_max is None else tf.maximum(t_max, t_valid)
        threshold = 2.0 * masked_std(fine, tf.cast(v, fine.dtype)) / config.n_classes
        pairs.append((fine, v, s, t, c0 + fine - ck, threshold))
    if s_max is None or t_max is None:  # pragma: no cover - the list is non-empty (checked above)
        raise ConfigError("STARFM needs at least one reference pair")
    s_limit = s_max + sigma_s
    t_limit = t_max + sigma_t

    paddings = [[0, 0], [r, r], [r, r], [0, 0]]
    padded = []
    for fine, v, s, t, pred, threshold in pairs:
        padded.append(
            (
                tf.where(v, fine, -big),  # centre value for the similarity test
                threshold,
                tf.pad(fine, paddings),
                tf.pad(tf.where(v, s, big), paddings, constant_values=big),
                tf.pad(t, paddings),
                tf.pad(1.0 / (distance(s) * distance(t)), paddings),
                tf.pad(pred, paddings),
            )
        )
    shape = tf.shape(fine0)
    zeros = tf.zeros(shape, fine0.dtype)

    def body(k: tf.Tensor, num: tf.Tensor, den: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        di = k // w
        dj = k % w
        offset_d = tf.sqrt(tf.cast((di - r) ** 2 + (dj - r) ** 2, fine0.dtype))
        inv_rel_distance = 1.0 / (1.0 + offset_d / config.impact)
        begin = tf.stack([0, di, dj, 0])

        def take(padded_array: tf.Tensor) -> tf.Tensor:
            out = tf.slice(padded_array, begin, shape)
            out.set_shape(fine0.shape)  # dynamic begin loses the static shape the loop needs
            return out

        for centre, threshold, fp, sp, tp, inv_st, pp in padded:
            similar = tf.abs(take(fp) - centre) <= threshold
            if config.similarity == "all":
                similar = all_bands(similar)
            selected = similar & (take(sp) < s_limit) & (take(tp) < t_limit)
            weight = tf.where(selected, take(inv_st) * inv_rel_distance, zeros)
            num = num + weight * take(pp)
            den = den + weight
        return k + 1, num, den

    _, num, den = tf.while_loop(
        lambda k, num, den: k < w * w,
        body,
        (tf.constant(0), zeros, zeros),
        parallel_iterations=1,
    )
    return tf.where(den > 0, num / tf.where(den > 0, den, tf.ones_like(den)), c0)


# ------------------------------------------------------------------------------------------
# The model package


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
