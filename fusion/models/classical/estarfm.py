"""ESTARFM (Zhu, Chen, Gao, Chen & Masek 2010) built from TensorFlow ops.

ESTARFM predicts the fine image of the target date ``t0`` from **two** reference pairs
(fine + coarse at ``t1`` before and ``t2`` after) and the coarse image of ``t0``. For every fine
pixel ``x`` (its half window ``w``, 25 px by default, the 51 x 51 window of the paper):

* **similar pixels** ``y``: valid in both pairs and, in *every* band and at *both* dates,
  ``|F_k(y) - F_k(x)| < 2 * std(F_k) / n_classes`` (``std`` over the block's valid pixels);
* if there are more than 5 (the centre included):

  * **weights** ``W(y) ∝ 1 / ((1 - R(y)) * D(y) + 1e-7)`` with ``R`` the correlation of the
    pixel's fine and coarse spectra over both dates (``2B`` values; 0.5 where undefined) and
    the relative distance ``D = 1 + d / w``;
  * **conversion coefficient** ``V`` per band: the slope of the least-squares line of fine on
    coarse reflectance over the similar pixels of both dates (``2n`` points), kept when the
    coarse change between the dates is at least ``change_fraction * dn_max`` (mean over the
    similar pixels), the F-test p-value is at most ``significance`` and ``0 < V <= max_slope``;
    else 1;
  * **per-pair predictions** ``F_k(x) + V * Σ W (C_0 - C_k)``, combined with the **temporal
    weights** ``T_k ∝ 1 / |mean C_0 - mean C_k|`` (means over the window's valid pixels);
  * a prediction outside ``(dn_min, dn_max)`` is replaced by ``Σ_k T_k Σ W F_k``;
* otherwise ``Σ_k T_k (F_k(x) + mean C_0 - mean C_k)`` (signed differences).

This follows the authors' public implementation (IDL, and its Python port) step by step; the
departures are only in what they do not define: the similarity thresholds use the block's
valid pixels (theirs: every pixel of the block), and a pixel usable in one pair only gets that
pair's ``F_k(x) + mean C_0 - mean C_k`` (theirs: background). As in :mod:`.starfm`, the window
is swept one offset at a time inside a ``tf.while_loop`` with running sums, so memory is a few
dozen arrays of the block's size, never pixels x window². The regression sums are taken on
values centred on the pixel's own, so float32 keeps the precision the slope and the F-test
need. Coarse inputs arrive on their own (aligned, coarser) grid and are upsampled bilinearly
inside the model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import tensorflow as tf

from fusion.errors import ConfigError
from fusion.models.classical.starfm import halo_for, masked_std
from fusion.models.inputs import DEFAULT_BANDS, DEFAULT_RATIO, spatiotemporal_inputs
from fusion.models.package import ModelMetadata, export_package

#: Added to the combined distance (keeps an exact spectral match finite), as in the paper's code.
DISTANCE_EPSILON = 1e-7
#: Added to the coarse differences of the temporal weights (an unchanged window stays finite).
TEMPORAL_EPSILON = 1e-10


@dataclass(frozen=True)
class EstarfmConfig:
    """ESTARFM parameters (defaults: Zhu et al. 2010 and the authors' code), in reflectance."""

    half_window: int = 25  #: w: the window is 2w + 1 fine pixels (51)
    n_classes: float = 4.0  #: estimated land-cover classes; similarity threshold = 2 σ / n
    dn_min: float = 0.0  #: predictions at or below are "abnormal" (reflectance)
    dn_max: float = 1.0  #: predictions at or above are "abnormal"; also scales change_fraction
    change_fraction: float = 0.02  #: least coarse change (× dn_max) to fit the coefficient
    significance: float = 0.05  #: largest F-test p-value of a kept coefficient
    max_slope: float = 5.0  #: largest kept coefficient
    min_similar: int = 5  #: the regression needs more similar pixels than this

    def __post_init__(self) -> None:
        if self.half_window < 1:
            raise ConfigError(f"ESTARFM half_window must be >= 1 pixel, got {self.half_window}")
        if self.n_classes <= 0:
            raise ConfigError(f"n_classes must be > 0, got {self.n_classes}")
        if not self.dn_min < self.dn_max:
            raise ConfigError(f"dn_min {self.dn_min} must be below dn_max {self.dn_max}")
        if not 0 < self.significance < 1:
            raise ConfigError(f"significance must be in (0, 1), got {self.significance}")
        if self.max_slope <= 0 or self.change_fraction < 0 or self.min_similar < 2:
            raise ConfigError("max_slope must be > 0, change_fraction >= 0 and min_similar >= 2")

    @property
    def window(self) -> int:
        return 2 * self.half_window + 1

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def box_sum(x: tf.Tensor, radius: int) -> tf.Tensor:
    """Sum over the (2r+1)² window around every pixel, clipped at the edges: ``[N,H,W,C]``,
    through an integral image in float64 (exact enough for window means of reflectance)."""
    x64 = tf.cast(x, tf.float64)
    padded = tf.pad(x64, [[0, 0], [radius + 1, radius], [radius + 1, radius], [0, 0]])
    integral = tf.cumsum(tf.cumsum(padded, axis=1), axis=2)
    h, w = tf.shape(x)[1], tf.shape(x)[2]
    size = 2 * radius + 1

    def corner(di: int, dj: int) -> tf.Tensor:
        return integral[:, di : di + h, dj : dj + w, :]

    return corner(size, size) - corner(0, size) - corner(size, 0) + corner(0, 0)


def _window_means(valid: tf.Tensor, radius: int, *values: tf.Tensor) -> list[tf.Tensor]:
    """Means of each of ``values`` over the ``valid`` pixels of the (2r+1)² window around every
    pixel (0 where there is none), ``[N,H,W,C]`` each; the window counts are summed once."""
    count = tf.maximum(box_sum(valid, radius), 1.0)
    return [tf.cast(box_sum(v * valid, radius) / count, v.dtype) for v in values]


def upsample(coarse: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
    """Bilinear (half-pixel centred) resize of a coarse NHWC tensor to ``like``'s H and W (the
    identity when they agree). Unlike :func:`.starfm.upsample_to` there is no ``tf.cond``: under
    XLA a conditional of two shapes has a dynamic shape, and the integral images of the window
    means then summed padding (values of 10⁴ on a 352 px block)."""
    return tf.image.resize(coarse, tf.shape(like)[1:3], method="bilinear", antialias=False)


def spectral_distance(fine: tf.Tensor, coarse: tf.Tensor) -> tf.Tensor:
    """``1 - R`` per pixel, ``R`` the Pearson correlation of two spectra ``[N,H,W,K]``
    (``-> [N,H,W,1]``); ``R = 0.5`` where it is undefined (a flat spectrum), as the paper's code
    sets NaN correlations.

    Computed in float64 and kept >= 0: a pixel whose fine and coarse spectra are nearly
    proportional (R within 1e-6 of 1, common for pure pixels) gets a weight near 1 / 1e-7, and in
    float32 the rounding of R alone could make ``1 - R`` negative, and the weight negative."""
    f = tf.cast(fine, tf.float64)
    c = tf.cast(coarse, tf.float64)
    fd = f - tf.reduce_mean(f, axis=-1, keepdims=True)
    cd = c - tf.reduce_mean(c, axis=-1, keepdims=True)
    cov = tf.reduce_sum(fd * cd, axis=-1, keepdims=True)
    norm = tf.sqrt(
        tf.reduce_sum(fd * fd, axis=-1, keepdims=True) * tf.reduce_sum(cd * cd, axis=-1, keepdims=True)
    )
    r = tf.where(norm > 0, cov / tf.where(norm > 0, norm, tf.ones_like(norm)), 0.5 * tf.ones_like(norm))
    return tf.cast(tf.maximum(1.0 - r, 0.0), fine.dtype)


def _f_test_p(n_points: tf.Tensor, ssr: tf.Tensor, sse: tf.Tensor) -> tf.Tensor:
    """p-value of the regression F-test (1 and n - 2 degrees of freedom); 0 for a perfect fit."""
    dof = n_points - 2.0
    safe_sse = tf.where(sse > 0, sse, tf.ones_like(sse))
    f_stat = tf.where(sse > 0, ssr / (safe_sse / tf.maximum(dof, 1.0)), tf.fill(tf.shape(sse), float("inf")))
    x = dof / (dof + tf.maximum(f_stat, 0.0))
    p = tf.math.betainc(
        tf.maximum(dof, 1.0) / 2.0, tf.fill(tf.shape(x), 0.5), tf.where(tf.math.is_finite(x), x, 0.0)
    )
    return tf.where(sse > 0, p, tf.zeros_like(p))


def estarfm(
    coarse_t0: tf.Tensor,
    fine_refs: Sequence[tf.Tensor],
    coarse_refs: Sequence[tf.Tensor],
    valid_refs: Sequence[tf.Tensor],
    config: EstarfmConfig,
) -> tf.Tensor:
    """Predict fine(t0) ``[N,H,W,B]`` from coarse(t0) and the two reference pairs.

    ``valid_refs[k]`` is ``[N,H,W,1]``, 1 where pair ``k`` is usable. Where neither pair is
    usable the result is coarse(t0) upsampled; callers mask such pixels. The package compiles
    it with XLA as one computation (``export_estarfm``)."""
    if not (len(fine_refs) == len(coarse_refs) == len(valid_refs) == 2):
        raise ConfigError("ESTARFM needs exactly two reference pairs (fine, coarse, valid each)")
    f1, f2 = fine_refs
    c0 = upsample(coarse_t0, f1)
    c1 = upsample(coarse_refs[0], f1)
    c2 = upsample(coarse_refs[1], f1)
    v1 = tf.cast(valid_refs[0] > 0, f1.dtype)
    v2 = tf.cast(valid_refs[1] > 0, f1.dtype)
    both = v1 * v2

    th1 = 2.0 * masked_std(f1, both) / config.n_classes
    th2 = 2.0 * masked_std(f2, both) / config.n_classes
    one_minus_r = spectral_distance(tf.concat([f1, f2], -1), tf.concat([c1, c2], -1))
    # An invalid neighbour gets fine values far from any centre: it is never similar (and an
    # invalid centre finds no similar pixel; its value is replaced below).
    valid_y = tf.broadcast_to(both > 0, tf.shape(f1))
    f1_marked = tf.where(valid_y, f1, 1e9)
    f2_marked = tf.where(valid_y, f2, 1e9)
    fields = (f1_marked, f2_marked, f1, f2, c1, c2, c0 - c1, c0 - c2, one_minus_r)

    sums = _window_sums(*fields, th1, th2, config)
    return _combine(f1, f2, c0, c1, c2, v1, v2, both, sums, config)


def _window_sums(
    f1_marked: tf.Tensor,
    f2_marked: tf.Tensor,
    f1: tf.Tensor,
    f2: tf.Tensor,
    c1: tf.Tensor,
    c2: tf.Tensor,
    d01: tf.Tensor,
    d02: tf.Tensor,
    one_minus_r: tf.Tensor,
    th1: tf.Tensor,
    th2: tf.Tensor,
    config: EstarfmConfig,
) -> list[tf.Tensor]:
    """The running sums over each pixel's similar pixels (count, weights, weighted changes and
    fine values, and the regression sums centred on the pixel's own values)."""
    r = config.half_window
    w = config.window
    dtype = f1.dtype
    paddings = [[0, 0], [r, r], [r, r], [0, 0]]

    def pad(x: tf.Tensor, value: float = 0.0) -> tf.Tensor:
        return tf.pad(x, paddings, constant_values=value)

    f1_pad, f2_pad = pad(f1_marked, 1e9), pad(f2_marked, 1e9)
    c1_pad, c2_pad = pad(c1), pad(c2)
    d01_pad, d02_pad = pad(d01), pad(d02)
    omr_pad = pad(one_minus_r, 1.0)
    # A centre is compared in its marked form: an invalid centre (1e9) matches only other
    # invalid pixels, and those are never counted (they are marked too, but see ``s``).
    centre1, centre2 = f1_marked, f2_marked
    band_zeros = tf.zeros(tf.shape(f1), dtype)
    one_zeros = tf.zeros(tf.shape(one_minus_r), dtype)
    valid_centre = tf.reduce_all(f1_marked < 1e8, axis=-1, keepdims=True)

    def body(k: tf.Tensor, *acc: tf.Tensor) -> tuple[tf.Tensor, ...]:
        n, wsum, p1, p2, q1, q2, sc1, sc2, sf, scc, scf, sff = acc
        di = k // w
        dj = k % w
        distance = 1.0 + tf.sqrt(tf.cast((di - r) ** 2 + (dj - r) ** 2, dtype)) / float(r)
        begin = tf.stack([0, di, dj, 0])

        def take(padded: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
            out = tf.slice(padded, begin, tf.shape(like))
            out.set_shape(like.shape)
            return out

        f1y = take(f1_pad, f1)
        f2y = take(f2_pad, f2)
        similar = valid_centre & tf.reduce_all(
            (tf.abs(f1y - centre1) < th1) & (tf.abs(f2y - centre2) < th2), axis=-1, keepdims=True
        )
        s = tf.cast(similar, dtype)
        weight = s / (take(omr_pad, one_zeros) * distance + DISTANCE_EPSILON)
        c1y = take(c1_pad, f1) - c1
        c2y = take(c2_pad, f2) - c1
        f1d = tf.where(similar, f1y, f1) - f1  # where not similar f1y may be the 1e9 mark
        f2d = tf.where(similar, f2y, f1) - f1
        return (
            k + 1,
            n + s,
            wsum + weight,
            p1 + weight * take(d01_pad, f1),
            p2 + weight * take(d02_pad, f1),
            q1 + weight * (f1d + f1),
            q2 + weight * (f2d + f1),
            sc1 + s * c1y,
            sc2 + s * c2y,
            sf + (f1d + f2d),
            scc + s * (c1y * c1y + c2y * c2y),
            scf + s * (c1y * f1d + c2y * f2d),
            sff + (f1d * f1d + f2d * f2d),
        )

    init = (tf.constant(0), one_zeros, one_zeros, *([band_zeros] * 10))
    out = tf.while_loop(lambda k, *acc: k < w * w, body, init, parallel_iterations=1)
    return list(out[1:])


def _combine(
    f1: tf.Tensor,
    f2: tf.Tensor,
    c0: tf.Tensor,
    c1: tf.Tensor,
    c2: tf.Tensor,
    v1: tf.Tensor,
    v2: tf.Tensor,
    both: tf.Tensor,
    sums: list[tf.Tensor],
    config: EstarfmConfig,
) -> tf.Tensor:
    """The prediction from the window sums: coefficients, temporal weights, the branches."""
    n, wsum, p1, p2, q1, q2, sc1, sc2, sf, scc, scf, sff = sums
    r = config.half_window
    shape = tf.shape(f1)
    # Window means of the coarse images over the pixels valid in both pairs (the temporal
    # weights), and over each pair's own valid pixels (the one-pair fallback).
    m0, m1, m2 = _window_means(both, r, c0, c1, c2)
    m01, m1_own = _window_means(v1, r, c0, c1)
    m02, m2_own = _window_means(v2, r, c0, c2)

    # The conversion coefficient of every band, from the sums over the 2n regression points.
    npts = 2.0 * n
    safe_n = tf.maximum(npts, 1.0)
    mean_c = (sc1 + sc2) / safe_n
    mean_f = sf / safe_n
    sxx = scc - npts * mean_c * mean_c
    sxy = scf - npts * mean_c * mean_f
    syy = sff - npts * mean_f * mean_f
    slope = sxy / tf.where(sxx > 0, sxx, tf.ones_like(sxx))
    ssr = slope * sxy
    sse = tf.maximum(syy - ssr, 0.0)
    p_value = _f_test_p(tf.broadcast_to(npts, tf.shape(sse)), ssr, sse)
    coarse_change = tf.abs(sc1 - sc2) / tf.maximum(n, 1.0)
    keep = (
        (coarse_change >= config.change_fraction * config.dn_max)
        & (sxx > 0)
        & (p_value <= config.significance)
        & (slope > 0)
        & (slope <= config.max_slope)
    )
    coefficient = tf.where(keep, slope, tf.ones_like(slope))

    # Temporal weights from the coarse change of each pair over the window.
    diff1 = m0 - m1 + TEMPORAL_EPSILON
    diff2 = m0 - m2 + TEMPORAL_EPSILON
    inv1 = 1.0 / tf.abs(diff1)
    inv2 = 1.0 / tf.abs(diff2)
    t1 = inv1 / (inv1 + inv2)
    t2 = inv2 / (inv1 + inv2)

    safe_w = tf.where(wsum > 0, wsum, tf.ones_like(wsum))
    pred = t1 * (f1 + coefficient * p1 / safe_w) + t2 * (f2 + coefficient * p2 / safe_w)
    abnormal = (pred <= config.dn_min) | (pred >= config.dn_max)
    pred = tf.where(abnormal, t1 * q1 / safe_w + t2 * q2 / safe_w, pred)
    few = t1 * (f1 + diff1) + t2 * (f2 + diff2)
    two_pairs = tf.where(n > config.min_similar, pred, few)

    one1 = f1 + (m01 - m1_own)
    one2 = f2 + (m02 - m2_own)
    has1 = tf.broadcast_to(v1 > 0, shape)
    has2 = tf.broadcast_to(v2 > 0, shape)
    return tf.where(has1 & has2, two_pairs, tf.where(has1, one1, tf.where(has2, one2, c0)))


def export_estarfm(
    path: str | os.PathLike[str],
    config: EstarfmConfig | None = None,
    bands: Sequence[str] = DEFAULT_BANDS,
    ratio: int = DEFAULT_RATIO,
) -> Path:
    """Export ESTARFM (two reference pairs; pixels usable in one pair only get that pair's
    change-corrected value, see the module docstring)."""
    cfg = config or EstarfmConfig()

    def serve(**t: Any) -> dict[str, Any]:
        fused = estarfm(
            t["coarse_t0"],
            [t["fine_tk1"], t["fine_tk2"]],
            [t["coarse_tk1"], t["coarse_tk2"]],
            [t["valid_tk1"], t["valid_tk2"]],
            cfg,
        )
        return {"fused": fused}

    meta = ModelMetadata(
        name="estarfm",
        version="1.0.0",
        task="spatiotemporal",
        description=(
            "ESTARFM (Zhu et al. 2010, Remote Sensing of Environment 114(11):2610-2623): two "
            "reference pairs, similar pixels in both, a per-pixel conversion coefficient from "
            "the fine/coarse regression across the two dates, temporal weights from the coarse change."
        ),
        bands=tuple(bands),
        inputs=spatiotemporal_inputs(bands, ratio, 2),
        halo=halo_for(cfg.half_window, ratio),
        reference_pairs=(2, 2),
        parameters=cfg.as_json(),
    )
    return export_package(path, meta, serve)
