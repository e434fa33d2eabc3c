"""FSDAF (Zhu, Helmer, Gao, Liu, Chen & Lefsky 2016) built from TensorFlow ops.

FSDAF predicts the fine image of the target date ``t0`` from **one** reference pair (fine +
coarse at ``tk``) and the coarse image of ``t0``, and is made for abrupt land-cover change (a
flood, a harvest) that the change of the reference pair's classes cannot explain. Per block
(the authors' code also works block by block):

1. **classes** of the fine image: a deterministic k-means (``classes`` centres started at the
   brightness quantiles, ``kmeans_iterations`` Lloyd steps) - where the authors call ENVI's
   ISODATA, which no open library reproduces;
2. extreme fine values (below the 0.01 % / above the 99.99 % quantile, or outside
   ``[dn_min, dn_max]``) are set to the nearest value inside, for the change steps;
3. **class fractions** of every coarse pixel (zero where a fine pixel is invalid);
4. **temporal change of each class**: per band, the ``purest_pixels`` purest coarse pixels of
   every class, those whose coarse change lies between its 10 % and 90 % quantiles, and the
   least-squares class changes bounded to ``[min - std, max + std]`` of the coarse change
   (coordinate descent, to the optimum);
5. the **temporal prediction** ``F1 + change(class)``;
6. the **thin-plate-spline** interpolation of coarse(t0) at every fine pixel;
7. the **residual** of each coarse pixel (coarse change minus the temporal prediction's)
   distributed to its fine pixels by the homogeneity index (same-class share of the window)
   between the spline's change and an even share, clipped to the allowed range of ``t0``;
8. the **final filter**: for every fine pixel the ``similar_pixels`` most similar pixels of
   its window (similar in every band within ``2 std / classes``; ranked by spectral and
   spatial distance) and their weighted mean change; a prediction outside
   ``[dn_min, dn_max]`` becomes ``F1 + coarse change``, clipped.

It follows the authors' public IDL code step by step (including its constants: 1e-8 in the
relative spectral distance, 1e-5 for edge windows, 1e-6 in the residual weights, 10 for an
extreme weight). The departures are only where that code is undefined or calls ENVI: the
classification (above); statistics over the block's *valid* pixels (the code replaces
background pixels by the mean); ties in every ranking broken by position (IDL's sort is not
stable). Invalid pixels get coarse(t0) upsampled bilinearly; callers mask them. Small
per-block work (classes, unmixing, spline solve) is float64; the window filter is float32.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import tensorflow as tf

from fusion.errors import ConfigError
from fusion.models.classical.estarfm import box_sum, upsample
from fusion.models.classical.starfm import halo_for
from fusion.models.inputs import DEFAULT_BANDS, DEFAULT_RATIO, spatiotemporal_inputs
from fusion.models.package import ModelMetadata, export_package

#: Quantiles of the fine values kept by the noise correction (the authors' code).
NOISE_QUANTILES = (0.0001, 0.9999)
#: Quantiles of the purest pixels' coarse change kept for the class changes.
CHANGE_QUANTILES = (0.1, 0.9)
#: Added to the residual weights (the authors' code).
WEIGHT_EPSILON = 1e-6
#: A normalised residual weight above this is replaced by the mean weight.
EXTREME_WEIGHT = 10.0
#: Coordinate-descent sweeps of the bounded least squares (a few classes: converged long before).
LSQ_SWEEPS = 200
#: Fine rows per step of the final filter (memory: rows x width x window² x bands floats).
FILTER_ROWS = 8


@dataclass(frozen=True)
class FsdafConfig:
    """FSDAF parameters (defaults: the authors' code; reflectance units)."""

    half_window: int = 20  #: w: the window is 2w + 1 fine pixels (41)
    similar_pixels: int = 20  #: similar pixels of the final filter
    classes: int = 5  #: k-means classes (the authors' ISODATA: 4 to 6)
    kmeans_iterations: int = 20
    purest_pixels: int = 100  #: purest coarse pixels per class for the class changes
    dn_min: float = 0.0
    dn_max: float = 1.0

    def __post_init__(self) -> None:
        if self.half_window < 1:
            raise ConfigError(f"FSDAF half_window must be >= 1 pixel, got {self.half_window}")
        if self.similar_pixels < 1:
            raise ConfigError(f"similar_pixels must be >= 1, got {self.similar_pixels}")
        if not 1 <= self.classes <= 32:
            raise ConfigError(f"classes must be 1 to 32, got {self.classes}")
        if self.kmeans_iterations < 0 or self.purest_pixels < 1:
            raise ConfigError("kmeans_iterations must be >= 0 and purest_pixels >= 1")
        if not self.dn_min < self.dn_max:
            raise ConfigError(f"dn_min {self.dn_min} must be below dn_max {self.dn_max}")

    @property
    def window(self) -> int:
        return 2 * self.half_window + 1

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


# --- per-block steps (one image: fine [H,W,B], coarse [h,w,B], float64 unless said) ----------


def quantile_index(q: float, n: tf.Tensor) -> tf.Tensor:
    """Position of quantile ``q`` among ``n`` sorted values, as IDL's ``Value_Locate`` on
    ``findgen(n+1)/n`` gives it: ``floor(q n)`` (a hair above, so exact products land on it)."""
    nf = tf.cast(n, tf.float64)
    return tf.cast(tf.floor(q * nf + 1e-9), tf.int32)


def kmeans_labels(pixels: tf.Tensor, valid: tf.Tensor, classes: int, iterations: int) -> tf.Tensor:
    """Deterministic k-means of ``pixels`` ``[P,B]`` (float64) over the ``valid`` ones ``[P]``:
    centres start at the valid pixels of brightness ranks ``(k + 1/2) n / classes``, then
    ``iterations`` Lloyd steps (an empty class keeps its centre). Labels ``[P]`` int32 (ties to
    the lower class)."""
    brightness = tf.where(valid, tf.reduce_sum(pixels, -1), tf.constant(float("inf"), tf.float64))
    order = tf.argsort(brightness, stable=True)
    n = tf.reduce_sum(tf.cast(valid, tf.int32))
    ranks = tf.cast(
        tf.floor((tf.range(classes, dtype=tf.float64) + 0.5) * tf.cast(n, tf.float64) / classes), tf.int32
    )
    centres = tf.gather(pixels, tf.gather(order, tf.clip_by_value(ranks, 0, tf.maximum(n - 1, 0))))
    weight = tf.cast(valid, tf.float64)[:, None]

    def assign(c: tf.Tensor) -> tf.Tensor:
        d = tf.reduce_sum(tf.square(pixels[:, None, :] - c[None, :, :]), -1)
        return tf.argmin(d, axis=-1, output_type=tf.int32)

    def step(_: tf.Tensor, c: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        onehot = tf.one_hot(assign(c), classes, dtype=tf.float64) * weight
        count = tf.reduce_sum(onehot, 0)[:, None]
        sums = tf.matmul(onehot, pixels, transpose_a=True)
        return _ + 1, tf.where(count > 0, sums / tf.maximum(count, 1.0), c)

    _, centres = tf.while_loop(lambda i, c: i < iterations, step, (tf.constant(0), centres))
    return assign(centres)


def correct_extremes(values: tf.Tensor, valid: tf.Tensor, dn_min: float, dn_max: float) -> tf.Tensor:
    """The authors' noise correction per band of ``values`` ``[P,B]``: valid values at or below
    the 0.01 % quantile (or below ``dn_min``) take the smallest value above it, then values at
    or above the 99.99 % quantile (or above ``dn_max``) the largest value below it."""
    inf = tf.constant(float("inf"), tf.float64)
    vmask = tf.broadcast_to(valid[:, None], tf.shape(values))
    n = tf.reduce_sum(tf.cast(valid, tf.int32))
    top = tf.maximum(n - 1, 0)
    ascending = tf.sort(tf.where(vmask, values, inf), axis=0)
    lo = ascending[tf.minimum(quantile_index(NOISE_QUANTILES[0], n), top)]
    hi = ascending[tf.minimum(quantile_index(NOISE_QUANTILES[1], n), top)]
    small = vmask & ((values <= lo) | (values < dn_min))
    above = tf.reduce_min(tf.where(vmask & (values > lo) & (values >= dn_min), values, inf), 0)
    out = tf.where(small & tf.math.is_finite(above), tf.broadcast_to(above, tf.shape(values)), values)
    large = vmask & ((out >= hi) | (out > dn_max))
    below = tf.reduce_max(tf.where(vmask & (out < hi) & (out <= dn_max), out, -inf), 0)
    return tf.where(large & tf.math.is_finite(below), tf.broadcast_to(below, tf.shape(values)), out)


def class_changes(
    fractions: tf.Tensor, coarse_change: tf.Tensor, classes: int, purest: int, initial: float
) -> tf.Tensor:
    """The change of every class and band ``[K,B]`` from the coarse pixels' class ``fractions``
    ``[n,K]`` and ``coarse_change`` ``[n,B]``: per class its ``purest`` purest coarse pixels
    (fraction > 0.01), those within the 10-90 % quantiles of their change, one least-squares
    fit of all classes bounded to ``[min - std, max + std]`` of the coarse change."""
    inf = tf.constant(float("inf"), tf.float64)
    n = tf.shape(fractions)[0]
    nb = tf.shape(coarse_change)[1]
    spread = tf.math.reduce_std(coarse_change, 0) * tf.sqrt(
        tf.cast(n, tf.float64) / tf.cast(tf.maximum(n - 1, 1), tf.float64)
    )  # IDL's stddev: the sample standard deviation
    low = tf.reduce_min(coarse_change, 0) - spread
    high = tf.reduce_max(coarse_change, 0) + spread

    frac_t = tf.transpose(fractions)  # [K,n]
    order = tf.argsort(-frac_t, axis=1, stable=True)
    rank = tf.argsort(order, axis=1, stable=True)  # rank of every coarse pixel in its class
    n1 = tf.minimum(tf.reduce_sum(tf.cast(frac_t > 0.01, tf.int32), 1), purest)  # [K]
    chosen = rank < n1[:, None]  # [K,n]
    changes = tf.where(chosen[:, :, None], coarse_change[None], inf)  # [K,n,B]
    ascending = tf.sort(changes, axis=1)
    top = tf.maximum(n1 - 1, 0)
    lo = tf.gather(ascending, tf.minimum(quantile_index(CHANGE_QUANTILES[0], n1), top), axis=1, batch_dims=1)
    hi = tf.gather(ascending, tf.minimum(quantile_index(CHANGE_QUANTILES[1], n1), top), axis=1, batch_dims=1)
    keep = chosen[:, :, None] & (changes >= lo[:, None, :]) & (changes <= hi[:, None, :])
    keep = tf.cast(keep, tf.float64)  # [K,n,B]: row (class k, coarse pixel p) of band b's fit

    gram = tf.einsum("kpb,pi,pj->bij", keep, fractions, fractions)  # [B,K,K]
    rhs = tf.einsum("kpb,pi,pb->bi", keep, fractions, coarse_change)  # [B,K]
    diag = tf.linalg.diag_part(gram)
    g0 = tf.clip_by_value(
        tf.fill([nb, classes], tf.constant(initial, tf.float64)), low[:, None], high[:, None]
    )

    def sweep(i: tf.Tensor, g: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        for k in range(classes):
            residual = rhs[:, k] - tf.reduce_sum(gram[:, k, :] * g, -1) + diag[:, k] * g[:, k]
            new = tf.clip_by_value(
                residual / tf.where(diag[:, k] > 0, diag[:, k], tf.ones_like(diag[:, k])), low, high
            )
            column = tf.where(diag[:, k] > 0, new, g[:, k])
            g = tf.concat([g[:, :k], column[:, None], g[:, k + 1 :]], axis=1)
        return i + 1, g

    _, g = tf.while_loop(lambda i, g: i < LSQ_SWEEPS, sweep, (tf.constant(0), g0))
    return tf.transpose(g)


def thin_plate_spline(
    values: tf.Tensor, rows: tf.Tensor, cols: tf.Tensor, height: tf.Tensor, width: tf.Tensor
) -> tf.Tensor:
    """The exact thin-plate-spline interpolant (``r² log r`` and a plane, as IDL's
    ``MIN_CURVE_SURF, /TPS``) of ``values`` ``[n,B]`` at points (``rows``, ``cols``) ``[n]``,
    evaluated at every pixel of a ``height`` x ``width`` grid: ``[H,W,B]``, row by row."""
    n = tf.shape(values)[0]
    nb = tf.shape(values)[1]
    pts = tf.stack([rows, cols], -1)

    def kernel(d2: tf.Tensor) -> tf.Tensor:
        safe = tf.where(d2 > 0, d2, tf.ones_like(d2))
        return tf.where(d2 > 0, 0.5 * d2 * tf.math.log(safe), tf.zeros_like(d2))

    d2 = tf.reduce_sum(tf.square(pts[:, None, :] - pts[None, :, :]), -1)
    poly = tf.concat([tf.ones([n, 1], tf.float64), pts], -1)  # [n,3]
    system = tf.concat(
        [tf.concat([kernel(d2), poly], 1), tf.concat([tf.transpose(poly), tf.zeros([3, 3], tf.float64)], 1)],
        0,
    )
    coef = tf.linalg.solve(system, tf.concat([values, tf.zeros([3, nb], tf.float64)], 0))
    weights, affine = coef[:n], coef[n:]

    grid_cols = tf.range(width, dtype=tf.float64)

    def row(i: tf.Tensor) -> tf.Tensor:
        r = tf.cast(i, tf.float64)
        dd = tf.square(r - rows)[None, :] + tf.square(grid_cols[:, None] - cols[None, :])  # [W,n]
        plane = affine[0] + r * affine[1] + grid_cols[:, None] * affine[2]
        return tf.matmul(kernel(dd), weights) + plane

    return tf.map_fn(row, tf.range(height), fn_output_signature=tf.float64)


def _segment_sum(x: tf.Tensor, index: tf.Tensor, n: tf.Tensor) -> tf.Tensor:
    """Sums of the pixels ``[H,W,C]`` of every coarse pixel (``index`` ``[H,W]``): ``[n,C]``."""
    c = tf.shape(x)[-1]
    return tf.math.unsorted_segment_sum(tf.reshape(x, [-1, c]), tf.reshape(index, [-1]), n)


def fsdaf_change(
    coarse_t0: tf.Tensor,
    fine_tk: tf.Tensor,
    coarse_tk: tf.Tensor,
    valid: tf.Tensor,
    config: FsdafConfig,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """Steps 1-7 on one image: the change to add to ``fine_tk`` ``[H,W,B]`` (float64), the
    coarse change on the fine grid (nearest), the class labels ``[H,W]`` and the number of
    classes present. ``coarse_*`` are ``[h,w,B]``."""
    f1 = tf.cast(fine_tk, tf.float64)
    c0 = tf.cast(coarse_t0, tf.float64)
    c1 = tf.cast(coarse_tk, tf.float64)
    vv = valid[..., 0] > 0
    shape = tf.shape(f1)
    height, width, nb = shape[0], shape[1], shape[2]
    ch, cw = tf.shape(c0)[0], tf.shape(c0)[1]
    ratio_r = (height + ch - 1) // ch
    ratio_c = (width + cw - 1) // cw
    row_of = tf.minimum(tf.range(height) // ratio_r, ch - 1)
    col_of = tf.minimum(tf.range(width) // ratio_c, cw - 1)
    index = row_of[:, None] * cw + col_of[None, :]  # [H,W] coarse pixel of every fine pixel
    n = ch * cw
    k = config.classes
    vf = tf.cast(vv, tf.float64)[..., None]

    pixels = tf.reshape(f1, [-1, nb])
    labels_flat = kmeans_labels(pixels, tf.reshape(vv, [-1]), k, config.kmeans_iterations)
    labels = tf.reshape(labels_flat, [height, width])
    onehot = tf.one_hot(labels, k, dtype=tf.float64) * vf  # [H,W,K]
    present = tf.reduce_sum(tf.cast(tf.reduce_sum(onehot, [0, 1]) > 0, tf.int32))

    clean = tf.reshape(correct_extremes(pixels, tf.reshape(vv, [-1]), config.dn_min, config.dn_max), shape)

    members = _segment_sum(tf.ones_like(vf), index, n)  # [n,1]
    valid_count = _segment_sum(vf, index, n)
    fractions = _segment_sum(onehot, index, n) / members
    fractions = tf.where(
        tf.reduce_sum(fractions, -1, keepdims=True) <= 0.999, tf.zeros_like(fractions), fractions
    )
    fine_c1 = _segment_sum(clean * vf, index, n) / tf.maximum(valid_count, 1.0)
    c0_flat = tf.reshape(c0, [n, nb])
    coarse_change = c0_flat - tf.reshape(c1, [n, nb])

    rates = class_changes(fractions, coarse_change, k, config.purest_pixels, 1.0 / k)  # [K,B]
    temporal = clean + tf.gather(rates, labels) * vf  # step 5 (invalid pixels unchanged)
    coarse_pred = _segment_sum(temporal * vf, index, n) / tf.maximum(valid_count, 1.0)

    inf = tf.constant(float("inf"), tf.float64)
    vmask = tf.broadcast_to(vv[..., None], shape)
    low = tf.maximum(
        tf.minimum(tf.reduce_min(c0_flat, 0), tf.reduce_min(tf.where(vmask, temporal, inf), [0, 1])),
        config.dn_min,
    )
    high = tf.minimum(
        tf.maximum(tf.reduce_max(c0_flat, 0), tf.reduce_max(tf.where(vmask, temporal, -inf), [0, 1])),
        config.dn_max,
    )

    # Step 6: the spline through coarse(t0) at the coarse pixels' centres (the mean position
    # of their fine pixels), in fine-pixel units.
    rows_f = tf.cast(tf.broadcast_to(tf.range(height)[:, None], [height, width]), tf.float64)[..., None]
    cols_f = tf.cast(tf.broadcast_to(tf.range(width)[None, :], [height, width]), tf.float64)[..., None]
    centre_r = _segment_sum(rows_f, index, n)[:, 0] / members[:, 0]
    centre_c = _segment_sum(cols_f, index, n)[:, 0] / members[:, 0]
    # One row or column of coarse pixels has no plane to fit (a singular system): nearest there.
    spline = tf.cond(
        (ch >= 2) & (cw >= 2),
        lambda: thin_plate_spline(c0_flat, centre_r, centre_c, height, width),
        lambda: tf.gather(c0_flat, index),
    )
    coarse_change_fine = tf.gather(coarse_change, index)  # coarse(t0) - coarse(tk), nearest

    # Step 7: the residual of every coarse pixel, distributed by the homogeneity index.
    residual = coarse_change - (coarse_pred - fine_c1)
    same = tf.reduce_sum(box_sum(onehot[None], config.half_window)[0] * onehot, -1)
    area = box_sum(tf.ones_like(vf)[None], config.half_window)[0, ..., 0]
    homogeneity = (same / area)[..., None]
    diff = tf.gather(residual, index)  # [H,W,B]
    towards = spline - temporal
    towards = tf.abs(tf.where(diff <= 0, tf.minimum(towards, 0.0), tf.maximum(towards, 0.0)))
    weight = (towards * homogeneity + tf.abs(diff) * (1.0 - homogeneity) + WEIGHT_EPSILON) * vf

    def normalised(w: tf.Tensor) -> tf.Tensor:
        mean = _segment_sum(w, index, n) / tf.maximum(valid_count, 1.0)
        return w / tf.gather(tf.where(mean > 0, mean, tf.ones_like(mean)), index)

    weight = normalised(weight)
    mean = tf.gather(_segment_sum(weight, index, n) / tf.maximum(valid_count, 1.0), index)
    weight = normalised(tf.where(weight > EXTREME_WEIGHT, mean, weight) * vf)
    predicted = tf.clip_by_value(temporal + weight * diff, low, high)
    return (predicted - clean) * vf, coarse_change_fine, labels, present


def similar_pixel_filter(
    fine_tk: tf.Tensor,
    change: tf.Tensor,
    valid: tf.Tensor,
    coarse_change: tf.Tensor,
    thresholds: tf.Tensor,
    config: FsdafConfig,
) -> tf.Tensor:
    """Step 8 on one image (float32): ``fine_tk + Σ weight · change`` over each pixel's
    ``similar_pixels`` most similar pixels, the abnormal predictions replaced. ``fine_tk``,
    ``change``, ``coarse_change`` (coarse(t0) - coarse(tk) on the fine grid) are ``[H,W,B]``,
    ``valid`` ``[H,W,1]``, ``thresholds`` ``[B]``."""
    r = config.half_window
    win = config.window
    offsets = win * win
    top = min(config.similar_pixels, offsets)
    shape = tf.shape(fine_tk)
    height, width, nb = shape[0], shape[1], shape[2]
    steps = (height + FILTER_ROWS - 1) // FILTER_ROWS
    extra = steps * FILTER_ROWS - height  # rows below the image so every step is full
    pad = [[r, r + extra], [r, r], [0, 0]]
    fine_p = tf.pad(fine_tk, pad)
    valid_p = tf.pad(valid, pad)
    change_p = tf.pad(change, pad)
    dy = tf.range(offsets) // win - r
    dx = tf.range(offsets) % win - r
    distance = tf.sqrt(tf.cast(dy * dy + dx * dx, tf.float32))
    cols = tf.range(width)
    edge_col = (cols < r) | (cols > width - 1 - r)
    padded_width = width + 2 * r

    def step(s: tf.Tensor) -> tf.Tensor:
        i0 = s * FILTER_ROWS
        rows = i0 + tf.range(FILTER_ROWS)

        def patches(x: tf.Tensor) -> tf.Tensor:
            part = tf.slice(x, [i0, 0, 0], [FILTER_ROWS + 2 * r, -1, -1])  # static rows (XLA)
            p = tf.image.extract_patches(
                part[None], [1, win, win, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID"
            )  # [1,R,W,win²·C] ordered (dy, dx, channel)
            return tf.reshape(p[0], [FILTER_ROWS, width, offsets, tf.shape(x)[-1]])

        centre = tf.slice(fine_p, [i0 + r, r, 0], [FILTER_ROWS, width, -1])  # [R,W,B]
        centre_valid = tf.slice(valid_p, [i0 + r, r, 0], [FILTER_ROWS, width, 1])[..., 0] > 0
        # A clipped window (the authors' code adds 1e-5 to its distances).
        edge_row = (rows < r) | (rows > height - 1 - r)
        edge = edge_row[:, None] | edge_col[None, :]
        return select(patches(fine_p), patches(valid_p)[..., 0], centre, centre_valid, edge, rows)

    def rank_and_average(
        neighbours: tf.Tensor,
        neighbour_valid: tf.Tensor,
        centre: tf.Tensor,
        centre_valid: tf.Tensor,
        edge: tf.Tensor,
        rows: tf.Tensor,
    ) -> tf.Tensor:
        """The similar pixels of a few rows and their weighted change (one XLA computation:
        the element-wise work over rows x width x window² fuses, and XLA's top-k is 2x faster)."""
        gap = tf.abs(neighbours - centre[:, :, None, :])
        candidate = (neighbour_valid > 0) & tf.reduce_all(gap < thresholds, -1) & centre_valid[:, :, None]
        spectral = tf.reduce_sum(gap / (centre[:, :, None, :] + 1e-8), -1)  # [R,W,win²]
        dist = distance[None, None, :] + tf.where(edge, 1e-5, 0.0)[:, :, None]
        score = tf.where(candidate, (spectral + 1e-5) * (10.0 + dist / r), float("inf"))
        best, at = tf.math.top_k(-score, k=top)  # ties: the lower offset first
        chosen = tf.math.is_finite(best)
        s_k = tf.gather(spectral, at, batch_dims=2)
        d_k = tf.gather(dist, at, batch_dims=2)
        closeness = tf.where(chosen, 1.0 / ((1.0 + d_k / r) * (s_k + 1.0)), 0.0)
        weight = closeness / tf.maximum(tf.reduce_sum(closeness, -1, keepdims=True), 1e-30)
        # The chosen neighbours' change, gathered from the padded image by position.
        ny = rows[:, None, None] + tf.gather(dy, at) + r
        nx = cols[None, :, None] + tf.gather(dx, at) + r
        picked = tf.gather(tf.reshape(change_p, [-1, nb]), ny * padded_width + nx)  # [R,W,k,B]
        return centre + tf.reduce_sum(weight[..., None] * picked, 2)

    select = tf.function(rank_and_average, jit_compile=True)

    filtered = tf.map_fn(step, tf.range(steps), fn_output_signature=tf.float32)
    filtered = tf.reshape(filtered, [steps * FILTER_ROWS, width, nb])[:height]
    fallback = fine_tk + coarse_change
    low = tf.clip_by_value(tf.maximum(fallback, config.dn_min), config.dn_min, config.dn_max)
    high = tf.clip_by_value(tf.minimum(fallback, config.dn_max), config.dn_min, config.dn_max)
    out = tf.where(filtered < config.dn_min, low, filtered)
    return tf.where(out > config.dn_max, high, out)


def fsdaf_one(
    coarse_t0: tf.Tensor, fine_tk: tf.Tensor, coarse_tk: tf.Tensor, valid: tf.Tensor, config: FsdafConfig
) -> tf.Tensor:
    """FSDAF on one image: fine(t0) ``[H,W,B]`` float32 (see the module docstring)."""
    change, coarse_change, _, present = fsdaf_change(coarse_t0, fine_tk, coarse_tk, valid, config)
    vf = tf.cast(valid > 0, tf.float32)
    # Similarity thresholds: 2 std / classes, the sample std of the valid fine pixels.
    count = tf.reduce_sum(vf, [0, 1])
    mean = tf.reduce_sum(fine_tk * vf, [0, 1]) / tf.maximum(count, 1.0)
    var = tf.reduce_sum(vf * tf.square(fine_tk - mean), [0, 1]) / tf.maximum(count - 1.0, 1.0)
    thresholds = 2.0 * tf.sqrt(var) / tf.cast(tf.maximum(present, 1), tf.float32)
    fused = similar_pixel_filter(
        fine_tk, tf.cast(change, tf.float32), valid, tf.cast(coarse_change, tf.float32), thresholds, config
    )
    return tf.where(valid > 0, fused, upsample(coarse_t0[None], fine_tk[None])[0])


def fsdaf(
    coarse_t0: tf.Tensor, fine_tk: tf.Tensor, coarse_tk: tf.Tensor, valid: tf.Tensor, config: FsdafConfig
) -> tf.Tensor:
    """Predict fine(t0) ``[N,H,W,B]`` from coarse(t0) ``[N,h,w,B]`` and one reference pair
    (fine ``[N,H,W,B]``, coarse ``[N,h,w,B]``, valid ``[N,H,W,1]``), image by image."""
    return tf.map_fn(
        lambda t: fsdaf_one(t[0], t[1], t[2], t[3], config),
        (coarse_t0, fine_tk, coarse_tk, valid),
        fn_output_signature=tf.float32,
    )


def export_fsdaf(
    path: str | os.PathLike[str],
    config: FsdafConfig | None = None,
    bands: Sequence[str] = DEFAULT_BANDS,
    ratio: int = DEFAULT_RATIO,
) -> Path:
    """Export FSDAF (one reference pair: the nearest)."""
    cfg = config or FsdafConfig()

    def serve(**t: Any) -> dict[str, Any]:
        return {"fused": fsdaf(t["coarse_t0"], t["fine_tk1"], t["coarse_tk1"], t["valid_tk1"], cfg)}

    meta = ModelMetadata(
        name="fsdaf",
        version="1.0.0",
        task="spatiotemporal",
        description=(
            "FSDAF (Zhu et al. 2016, Remote Sensing of Environment 172:165-177): one reference "
            "pair, class unmixing of the coarse change, a thin-plate-spline prediction, the "
            "residuals distributed by homogeneity, a similar-pixel filter; for abrupt change."
        ),
        bands=tuple(bands),
        inputs=spatiotemporal_inputs(bands, ratio, 1),
        halo=halo_for(cfg.half_window, ratio),
        reference_pairs=(1, 1),
        parameters=cfg.as_json(),
    )
    return export_package(path, meta, serve, jit_compile=False)
