"""Image-quality metrics for fused products, per band and overall, masked.

Every function takes a ``reference`` (observed) and a ``predicted`` (fused) array of shape
``(H, W)`` or ``(bands, H, W)``. Pixels that are NaN in either, equal to ``nodata`` in either,
or False in the optional ``mask`` (broadcast to the arrays) are ignored: changing their values
changes no score.

Definitions:

* RMSE, MAE; R² = 1 - SS_res / SS_tot (against the reference mean); CC = Pearson r.
* KGE (Gupta et al. 2009) = 1 - sqrt((r - 1)² + (α - 1)² + (β - 1)²), α = σ_pred / σ_ref,
  β = μ_pred / μ_ref.
* SSIM (Wang et al. 2004): Gaussian window σ = 1.5 truncated at 3.5 σ (11 taps), K1 = 0.01,
  K2 = 0.03, population covariances, mean over pixels at least 5 px from the border - the same
  computation as ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False)``. With a mask, local statistics are normalised
  Gaussian-weighted means over the valid pixels only (normalised convolution).
* UIQI (Wang & Bovik 2002) on every 32 × 32 sliding window (stride 1) whose pixels are all
  valid, averaged, as in seed 002.
* PSNR = 10 log10(data_range² / MSE), as ``skimage.metrics.peak_signal_noise_ratio``.
* SAM: mean spectral angle (degrees) over pixels valid in every band.
* ERGAS = 100 · ratio · sqrt(mean_b(MSE_b / μ_ref,b²)), ``ratio`` = fine pixel size / coarse
  pixel size (e.g. 30 / 480).

Ideal values: RMSE = MAE = SAM = ERGAS = 0, R² = CC = KGE = SSIM = UIQI = 1, PSNR = inf.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from fusion.errors import MetricError, UnknownNameError

Array = npt.NDArray[Any]
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
UIQI_WINDOW = 32


# --------------------------------------------------------------------------------------------
# Inputs


def _as_bands(a: Array) -> F64:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 2:
        return arr[np.newaxis]
    if arr.ndim == 3:
        return arr
    raise MetricError(f"expected an array of shape (H, W) or (bands, H, W), got {arr.shape}")


def prepare(
    reference: Array,
    predicted: Array,
    mask: Array | None = None,
    nodata: float | None = None,
) -> tuple[F64, F64, Mask]:
    """Return (reference, predicted, valid) as float64 ``(bands, H, W)`` arrays.

    Invalid pixels are set to 0 in both arrays so that no later arithmetic can see them.
    """
    ref, pred = _as_bands(reference), _as_bands(predicted)
    if ref.shape != pred.shape:
        raise MetricError(f"reference {ref.shape} and predicted {pred.shape} shapes differ")
    valid = np.isfinite(ref) & np.isfinite(pred)
    if nodata is not None:
        valid &= (ref != nodata) & (pred != nodata)
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        try:
            valid &= np.broadcast_to(m if m.ndim == 3 else m[np.newaxis], ref.shape)
        except ValueError:
            raise MetricError(f"mask of shape {m.shape} does not fit arrays of shape {ref.shape}") from None
    ref = np.where(valid, ref, 0.0)
    pred = np.where(valid, pred, 0.0)
    return ref, pred, valid


def _require(valid: Mask, what: str) -> None:
    if not valid.any():
        raise MetricError(f"{what}: no valid pixels (all masked, NaN or nodata)")


# --------------------------------------------------------------------------------------------
# Single-band metrics on (H, W) with a validity mask


def _rmse(r: F64, p: F64, v: Mask) -> float:
    return float(np.sqrt(np.mean((r[v] - p[v]) ** 2)))


def _mae(r: F64, p: F64, v: Mask) -> float:
    return float(np.mean(np.abs(r[v] - p[v])))


def _r2(r: F64, p: F64, v: Mask) -> float:
    rv, pv = r[v], p[v]
    ss_tot = float(np.sum((rv - rv.mean()) ** 2))
    ss_res = float(np.sum((rv - pv) ** 2))
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else -math.inf
    return 1.0 - ss_res / ss_tot


def _cc(r: F64, p: F64, v: Mask) -> float:
    rv, pv = r[v] - r[v].mean(), p[v] - p[v].mean()
    denom = math.sqrt(float(np.sum(rv * rv)) * float(np.sum(pv * pv)))
    if denom == 0.0:
        return 1.0 if np.array_equal(r[v], p[v]) else 0.0
    return float(np.sum(rv * pv)) / denom


def _kge(r: F64, p: F64, v: Mask) -> float:
    rv, pv = r[v], p[v]
    mu_r, mu_p = float(rv.mean()), float(pv.mean())
    sd_r, sd_p = float(rv.std()), float(pv.std())
    if sd_r == 0.0 or mu_r == 0.0:
        raise MetricError("KGE is undefined for a reference with zero mean or zero variance")
    cc = _cc(r, p, v)
    return 1.0 - math.sqrt((cc - 1.0) ** 2 + (sd_p / sd_r - 1.0) ** 2 + (mu_p / mu_r - 1.0) ** 2)


def _psnr(r: F64, p: F64, v: Mask, data_range: float) -> float:
    mse = float(np.mean((r[v] - p[v]) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(data_range**2 / mse)


def _gauss(a: F64) -> F64:
    out: F64 = ndimage.gaussian_filter(a, sigma=SSIM_SIGMA, truncate=SSIM_TRUNCATE, mode="reflect")
    return out


def ssim_map(r: F64, p: F64, v: Mask, data_range: float) -> tuple[F64, Mask]:
    """Per-pixel SSIM and the pixels that count (valid and away from the border)."""
    w = v.astype(np.float64)
    norm = _gauss(w)
    with np.errstate(invalid="ignore", divide="ignore"):
        inv = np.where(norm > 0, 1.0 / norm, 0.0)
        ux, uy = _gauss(r * w) * inv, _gauss(p * w) * inv
        uxx, uyy, uxy = _gauss(r * r * w) * inv, _gauss(p * p * w) * inv, _gauss(r * p * w) * inv
    vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    pad = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)
    counted = np.zeros_like(v)
    counted[pad:-pad, pad:-pad] = v[pad:-pad, pad:-pad]
    return s, counted


def _ssim(r: F64, p: F64, v: Mask, data_range: float) -> float:
    s, counted = ssim_map(r, p, v, data_range)
    if not counted.any():
        raise MetricError("SSIM needs valid pixels at least 6 px away from the image border")
    return float(s[counted].mean())


def _box_sum(a: F64, k: int) -> F64:
    """Sum over every k x k window fully inside ``a`` (shape (H-k+1, W-k+1)), exactly."""
    c = np.zeros((a.shape[0] + 1, a.shape[1] + 1))
    c[1:, 1:] = a.cumsum(0).cumsum(1)
    out: F64 = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    return out


def _uiqi(r: F64, p: F64, v: Mask, window: int = UIQI_WINDOW) -> float:
    h, w = r.shape
    if h < window or w < window:
        raise MetricError(f"UIQI needs images of at least {window} x {window} px, got {h} x {w}")
    n = float(window * window)
    full = _box_sum(v.astype(np.float64), window) >= n - 0.5
    if not full.any():
        raise MetricError(f"UIQI: no {window} x {window} window is free of masked pixels")
    # Centre on the global mean first: box sums of squares then lose no precision.
    shift = 0.5 * (r[v].mean() + p[v].mean())
    rc, pc = np.where(v, r - shift, 0.0), np.where(v, p - shift, 0.0)
    sx, sy = _box_sum(rc, window) / n, _box_sum(pc, window) / n
    sxx, syy, sxy = (
        _box_sum(rc * rc, window) / n,
        _box_sum(pc * pc, window) / n,
        _box_sum(rc * pc, window) / n,
    )
    vx, vy, cxy = sxx - sx * sx, syy - sy * sy, sxy - sx * sy
    mx, my = sx + shift, sy + shift
    num = 4.0 * cxy * mx * my
    den = (vx + vy) * (mx * mx + my * my)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(np.abs(den) > 1e-30, num / den, 0.0)
    # Windows where both images are the same constant: the index's limit is 1.
    same_const = (np.abs(den) <= 1e-30) & (vx <= 1e-30) & (vy <= 1e-30) & np.isclose(mx, my)
    q = np.where(same_const, 1.0, q)
    return float(q[full].mean())


# --------------------------------------------------------------------------------------------
# Public API


@dataclass(frozen=True)
class MetricSpec:
    name: str
    ideal: float
    higher_is_better: bool
    per_band: bool  #: False for metrics defined only across bands (SAM, ERGAS)


METRICS: dict[str, MetricSpec] = {
    m.name: m
    for m in (
        MetricSpec("rmse", 0.0, False, True),
        MetricSpec("mae", 0.0, False, True),
        MetricSpec("r2", 1.0, True, True),
        MetricSpec("cc", 1.0, True, True),
        MetricSpec("kge", 1.0, True, True),
        MetricSpec("ssim", 1.0, True, True),
        MetricSpec("uiqi", 1.0, True, True),
        MetricSpec("psnr", math.inf, True, True),
        MetricSpec("sam", 0.0, False, False),
        MetricSpec("ergas", 0.0, False, False),
    )
}


def list_metrics() -> list[str]:
    return list(METRICS)


def _per_band(
    fn: Callable[[F64, F64, Mask], float], what: str, ref: F64, pred: F64, valid: Mask
) -> list[float]:
    out = []
    for b in range(ref.shape[0]):
        _require(valid[b], f"{what} band {b}")
        out.append(fn(ref[b], pred[b], valid[b]))
    return out


def _data_range(ref: F64, valid: Mask, data_range: float | None) -> float:
    if data_range is not None:
        if not data_range > 0:
            raise MetricError(f"data_range must be positive, got {data_range}")
        return float(data_range)
    _require(valid, "data range")
    return float(ref[valid].max() - ref[valid].min()) or 1.0


def rmse(reference: Array, predicted: Array, mask: Array | None = None, nodata: float | None = None) -> float:
    """Root-mean-square error over every valid pixel of every band."""
    r, p, v = prepare(reference, predicted, mask, nodata)
    _require(v, "RMSE")
    return _rmse(r, p, v)


def mae(reference: Array, predicted: Array, mask: Array | None = None, nodata: float | None = None) -> float:
    r, p, v = prepare(reference, predicted, mask, nodata)
    _require(v, "MAE")
    return _mae(r, p, v)


def r2(reference: Array, predicted: Array, mask: Array | None = None, nodata: float | None = None) -> float:
    """Coefficient of determination, mean over bands."""
    r, p, v = prepare(reference, predicted, mask, nodata)
    return float(np.mean(_per_band(_r2, "R2", r, p, v)))


def cc(reference: Array, predicted: Array, mask: Array | None = None, nodata: float | None = None) -> float:
    """Pearson correlation coefficient, mean over bands."""
    r, p, v = prepare(reference, predicted, mask, nodata)
    return float(np.mean(_per_band(_cc, "CC", r, p, v)))


def kge(reference: Array, predicted: Array, mask: Array | None = None, nodata: float | None = None) -> float:
    """Kling-Gupta efficiency (Gupta et al. 2009), mean over bands."""
    r, p, v = prepare(reference, predicted, mask, nodata)
    return float(np.mean(_per_band(_kge, "KGE", r, p, v)))


def ssim(
    reference: Array,
    predicted: Array,
    mask: Array | None = None,
    nodata: float | None = None,
    data_range: float | None = None,
) -> float:
    """Mean SSIM over bands (Wang et al. 2004; Gaussian window 11, sigma 1.5)."""
    r, p, v = prepare(reference, predicted, mask, nodata)
    dr = _data_range(r, v, data_range)
    return float(np.mean(_per_band(lambda a, b, m: _ssim(a, b, m, dr), "SSIM", r, p, v)))


def uiqi(
    reference: Array,
    predicted: Array,
    mask: Array | None = None,
    nodata: float | None = None,
    window: int = UIQI_WINDOW,
) -> float:
    """Universal image quality index on sliding ``window`` x ``window`` windows, mean over bands."""
    r, p, v = prepare(reference, predicted, mask, nodata)
    return float(np.mean(_per_band(lambda a, b, m: _uiqi(a, b, m, window), "UIQI", r, p, v)))


def psnr(
    reference: Array,
    predicted: Array,
    mask: Array | None = None,
    nodata: float | None = None,
    data_range: float | None = None,
) -> float:
    """Peak signal-to-noise ratio in dB over every valid pixel of every band."""
    r, p, v = prepare(reference, predicted, mask, nodata)
    _require(v, "PSNR")
    return _psnr(r, p, v, _data_range(r, v, data_range))


def sam(reference: Array, predicted: Array, mask: Array | None = None, nodata: float | None = None) -> float:
    """Mean spectral angle in degrees over pixels valid in every band."""
    r, p, v = prepare(reference, predicted, mask, nodata)
    pix: Mask = np.asarray(v.all(axis=0))
    nr, np_ = np.linalg.norm(r, axis=0), np.linalg.norm(p, axis=0)
    pix &= (nr > 0) & (np_ > 0)
    _require(pix, "SAM")
    # Kahan's stable form of the angle between unit vectors: exact 0 for identical spectra,
    # where arccos(dot / norms) would give sqrt(rounding error).
    ur, up = r[:, pix] / nr[pix], p[:, pix] / np_[pix]
    angle = 2.0 * np.arctan2(np.linalg.norm(ur - up, axis=0), np.linalg.norm(ur + up, axis=0))
    return float(np.degrees(angle).mean())


def ergas(
    reference: Array,
    predicted: Array,
    mask: Array | None = None,
    nodata: float | None = None,
    ratio: float = 1.0,
) -> float:
    """ERGAS = 100 * ratio * sqrt(mean over bands of MSE_b / mean_ref_b²)."""
    r, p, v = prepare(reference, predicted, mask, nodata)
    pix: Mask = np.asarray(v.all(axis=0))
    _require(pix, "ERGAS")
    terms = []
    for b in range(r.shape[0]):
        mu = float(r[b][pix].mean())
        if mu == 0.0:
            raise MetricError(f"ERGAS is undefined: band {b} of the reference has zero mean")
        terms.append(float(np.mean((r[b][pix] - p[b][pix]) ** 2)) / mu**2)
    return float(100.0 * ratio * math.sqrt(float(np.mean(terms))))


@dataclass
class Scores:
    """Scores of one prediction: ``overall[metric]`` and ``per_band[metric][band]``."""

    bands: list[str]
    overall: dict[str, float]
    per_band: dict[str, list[float]]

    def as_rows(self) -> list[dict[str, Any]]:
        """One row per band plus an ``all`` row, for tables."""
        rows: list[dict[str, Any]] = []
        for i, band in enumerate(self.bands):
            rows.append({"band": band, **{m: vals[i] for m, vals in self.per_band.items()}})
        rows.append({"band": "all", **self.overall})
        return rows


def evaluate(
    reference: Array,
    predicted: Array,
    mask: Array | None = None,
    nodata: float | None = None,
    *,
    bands: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    data_range: float | None = None,
    ratio: float = 1.0,
    uiqi_window: int = UIQI_WINDOW,
) -> Scores:
    """Compute ``metrics`` (default: all) per band and overall.

    ``data_range`` (for SSIM and PSNR) defaults to the reference's valid range per band and
    over all bands for the overall PSNR; pass it explicitly (e.g. 1.0 for reflectance) to
    compare scores across images.
    """
    names = list(metrics) if metrics is not None else list_metrics()
    for name in names:
        if name not in METRICS:
            raise UnknownNameError(f"unknown metric {name!r}; choose from {', '.join(METRICS)}")
    r, p, v = prepare(reference, predicted, mask, nodata)
    n = r.shape[0]
    band_names = list(bands) if bands is not None else [f"b{i + 1}" for i in range(n)]
    if len(band_names) != n:
        raise MetricError(f"{len(band_names)} band names given for {n} bands")
    overall: dict[str, float] = {}
    per_band: dict[str, list[float]] = {}
    single = {
        "rmse": rmse,
        "mae": mae,
        "r2": r2,
        "cc": cc,
        "kge": kge,
        "psnr": psnr,
        "ssim": ssim,
        "uiqi": uiqi,
    }
    for name in names:
        if name == "sam":
            overall[name] = sam(r, p, v)
        elif name == "ergas":
            overall[name] = ergas(r, p, v, ratio=ratio)
        else:
            fn = single[name]
            kwargs: dict[str, Any] = {}
            if name in ("ssim", "psnr"):
                kwargs["data_range"] = data_range
            if name == "uiqi":
                kwargs["window"] = uiqi_window
            per_band[name] = [float(fn(r[b], p[b], v[b], **kwargs)) for b in range(n)]
            overall[name] = (
                float(fn(r, p, v, **kwargs))
                if name in ("rmse", "mae", "psnr")
                else float(np.mean(per_band[name]))
            )
    return Scores(band_names, overall, per_band)
