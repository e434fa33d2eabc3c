"""FSDAF in TF ops against a slow float64 reference written step by step from the authors' IDL
code (pixel and coarse-pixel loops), with SciPy's bounded least squares and thin-plate-spline
interpolator standing in for IDL's CONSTRAINED_MIN and MIN_CURVE_SURF."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from scipy.interpolate import RBFInterpolator
from scipy.optimize import lsq_linear

from fusion.errors import ConfigError
from fusion.models.classical.fsdaf import FsdafConfig, class_changes, fsdaf, kmeans_labels


def _floor_q(q: float, n: int) -> int:
    return math.floor(q * n + 1e-9)


def reference_kmeans(pixels: np.ndarray, valid: np.ndarray, k: int, iterations: int) -> np.ndarray:
    bright = np.where(valid, pixels.sum(1), np.inf)
    order = np.argsort(bright, kind="stable")
    n = int(valid.sum())
    centres = pixels[
        order[[min(max(math.floor((i + 0.5) * n / k), 0), max(n - 1, 0)) for i in range(k)]]
    ].copy()

    def assign(c: np.ndarray) -> np.ndarray:
        return np.argmin(((pixels[:, None, :] - c[None]) ** 2).sum(-1), axis=1)

    for _ in range(iterations):
        lab = assign(centres)
        for i in range(k):
            m = valid & (lab == i)
            if m.any():
                centres[i] = pixels[m].mean(0)
    return assign(centres)


def reference_class_changes(fr: np.ndarray, dc: np.ndarray, purest: int) -> np.ndarray:
    """The class changes ``[K, B]`` as the IDL code fits them, band by band."""
    K, nb = fr.shape[1], dc.shape[1]
    rates = np.zeros((K, nb))
    for b in range(nb):
        lo_b = dc[:, b].min() - dc[:, b].std(ddof=1)
        hi_b = dc[:, b].max() + dc[:, b].std(ddof=1)
        rows, ys = [], []
        for k in range(K):
            order = np.argsort(-fr[:, k], kind="stable")
            n1 = min(int(np.sum(fr[:, k] > 0.01)), purest)
            if n1 == 0:
                continue
            change = dc[order[:n1], b]
            srt = np.sort(change)
            lo, hi = srt[_floor_q(0.1, n1)], srt[_floor_q(0.9, n1)]
            keep = (change >= lo) & (change <= hi)
            rows.append(fr[order[:n1]][keep])
            ys.append(change[keep])
        x_mat, y_vec = np.concatenate(rows), np.concatenate(ys)
        used = np.abs(x_mat).sum(0) > 0
        g = np.clip(np.full(K, 1.0 / K), lo_b, hi_b)  # an unused class keeps its start
        fit = lsq_linear(x_mat[:, used], y_vec, bounds=(lo_b, hi_b), method="bvls", tol=1e-14)
        g[used] = fit.x
        rates[:, b] = g
    return rates


def reference_fsdaf(
    c0: np.ndarray, f1: np.ndarray, c1: np.ndarray, valid: np.ndarray, cfg: FsdafConfig
) -> tuple[np.ndarray, np.ndarray]:
    """FSDAF as the authors' IDL code runs one block, float64. ``f1`` (H, W, B), coarse (h, w, B),
    valid (H, W) bool. Returns the prediction and the class labels."""
    H, W, nb = f1.shape
    h, w = c0.shape[:2]
    s = H // h
    K = cfg.classes
    lab = reference_kmeans(f1.reshape(-1, nb), valid.reshape(-1), K, cfg.kmeans_iterations).reshape(H, W)
    present = len({int(x) for x in lab[valid]})

    # noise correction (for the change steps)
    fc = f1.copy()
    for b in range(nb):
        vals = np.sort(fc[..., b][valid])
        n = len(vals)
        lo, hi = vals[min(_floor_q(1e-4, n), n - 1)], vals[min(_floor_q(0.9999, n), n - 1)]
        t = fc[..., b]
        small = valid & ((t <= lo) | (t < cfg.dn_min))
        ok = valid & (t > lo) & (t >= cfg.dn_min)
        if ok.any():
            t[small] = t[ok].min()
        large = valid & ((t >= hi) | (t > cfg.dn_max))
        ok = valid & (t < hi) & (t <= cfg.dn_max)
        if ok.any():
            t[large] = t[ok].max()

    def block(i: int, j: int) -> tuple[slice, slice]:
        return slice(i * s, (i + 1) * s), slice(j * s, (j + 1) * s)

    frac = np.zeros((h, w, K))
    fine_c1 = np.zeros((h, w, nb))
    for i in range(h):
        for j in range(w):
            bl = block(i, j)
            lb, vb = lab[bl], valid[bl]
            for k in range(K):
                frac[i, j, k] = np.sum((lb == k) & vb) / lb.size
            if frac[i, j].sum() <= 0.999:
                frac[i, j] = 0
            if vb.any():
                fine_c1[i, j] = fc[bl][vb].mean(0)

    # class changes: purest pixels, 10-90 % of their change, bounded least squares per band
    rates = reference_class_changes(frac.reshape(-1, K), (c0 - c1).reshape(-1, nb), cfg.purest_pixels)

    temporal = fc.copy()
    temporal[valid] += rates[lab[valid]]
    coarse_pred = np.zeros((h, w, nb))
    for i in range(h):
        for j in range(w):
            bl = block(i, j)
            if valid[bl].any():
                coarse_pred[i, j] = temporal[bl][valid[bl]].mean(0)
    low = np.maximum(np.minimum(c0.reshape(-1, nb).min(0), temporal[valid].min(0)), cfg.dn_min)
    high = np.minimum(np.maximum(c0.reshape(-1, nb).max(0), temporal[valid].max(0)), cfg.dn_max)

    centres = np.array([[i * s + (s - 1) / 2, j * s + (s - 1) / 2] for i in range(h) for j in range(w)])
    grid = np.array([[r, c] for r in range(H) for c in range(W)], dtype=float)
    spline = RBFInterpolator(centres, c0.reshape(-1, nb), kernel="thin_plate_spline", degree=1)(grid)
    spline = spline.reshape(H, W, nb)

    # homogeneity index and residual distribution
    r = cfg.half_window
    het = np.zeros((H, W))
    for i in range(H):
        for j in range(W):
            win = lab[max(0, i - r) : i + r + 1, max(0, j - r) : j + r + 1]
            wv = valid[max(0, i - r) : i + r + 1, max(0, j - r) : j + r + 1]
            het[i, j] = np.sum((win == lab[i, j]) & wv) / win.size
    residual = (c0 - c1) - (coarse_pred - fine_c1)
    change21 = np.zeros((H, W, nb))
    for i in range(h):
        for j in range(w):
            bl = block(i, j)
            vb = valid[bl]
            if not vb.any():
                continue
            for b in range(nb):
                diff = residual[i, j, b]
                wt = (spline[bl][..., b] - temporal[bl][..., b])[vb]
                wt = np.where(wt > 0, 0, wt) if diff <= 0 else np.where(wt < 0, 0, wt)
                wt = np.abs(wt)
                wc = wt * het[bl][vb] + abs(diff) * (1 - het[bl][vb]) + 1e-6
                wc = wc / wc.mean()
                wc[wc > 10] = wc.mean()
                wc = wc / wc.mean()
                tmp = change21[bl][..., b]
                tmp[vb] = wc * diff
                change21[bl[0], bl[1], b] = tmp
    fine22 = np.clip(temporal + change21, low, high)
    change21 = np.where(valid[..., None], fine22 - fc, 0.0)

    # final filter: similar pixels of the original fine image
    th = np.array([2 * f1[..., b][valid].std(ddof=1) / present for b in range(nb)])
    c0_f = np.repeat(np.repeat(c0, s, 0), s, 1)
    c1_f = np.repeat(np.repeat(c1, s, 0), s, 1)
    out = np.full((H, W, nb), np.nan)
    for i in range(H):
        for j in range(W):
            if not valid[i, j]:
                continue
            ai, bi, aj, bj = max(0, i - r), min(H - 1, i + r), max(0, j - r), min(W - 1, j + r)
            wf = f1[ai : bi + 1, aj : bj + 1]
            cand = valid[ai : bi + 1, aj : bj + 1].copy()
            sim = np.zeros(cand.shape)
            for b in range(nb):
                gap = np.abs(wf[..., b] - f1[i, j, b])
                sim += gap / (f1[i, j, b] + 1e-8)
                cand &= gap < th[b]
            rr, cc = np.mgrid[ai : bi + 1, aj : bj + 1]
            dist = np.hypot(rr - i, cc - j)
            if cand.size < (2 * r + 1) ** 2:  # a clipped window
                dist = dist + 1e-5
            idx = np.flatnonzero(cand)
            comb = ((sim.ravel() + 1e-5) * (10 + dist.ravel() / r))[idx]
            pick = idx[np.argsort(comb, kind="stable")[: cfg.similar_pixels]]
            cd = 1 / ((1 + dist.ravel()[pick] / r) * (sim.ravel()[pick] + 1))
            weight = cd / cd.sum()
            for b in range(nb):
                ch = change21[ai : bi + 1, aj : bj + 1, b].ravel()[pick]
                v = f1[i, j, b] + np.sum(weight * ch)
                alt = f1[i, j, b] + c0_f[i, j, b] - c1_f[i, j, b]
                if v < cfg.dn_min:
                    v = min(cfg.dn_max, max(cfg.dn_min, alt))
                if v > cfg.dn_max:
                    v = max(cfg.dn_min, min(cfg.dn_max, alt))
                out[i, j, b] = v
    return out, lab


def _case(seed: int, coarse: tuple[int, int] = (6, 7), ratio: int = 4, nb: int = 3, flood: bool = True):
    """Patchy land covers with a per-class drift, an abrupt change (a flooded rectangle) at t0,
    coarse images as block means with noise, and 8 % invalid fine pixels."""
    rng = np.random.default_rng(seed)
    h, w = coarse
    H, W = h * ratio, w * ratio
    cover = rng.integers(0, 4, (H // 2 + 1, W // 2 + 1)).repeat(2, 0).repeat(2, 1)[:H, :W]
    base = rng.uniform(0.05, 0.45, (4, nb))[cover]
    drift = rng.uniform(-0.05, 0.05, (4, nb))[cover]
    f1 = base + rng.normal(0, 0.01, (H, W, nb))
    f0 = base + drift + rng.normal(0, 0.01, (H, W, nb))
    if flood:
        f0[H // 3 : H // 3 + ratio + 3, W // 4 : W // 2 + 2] = np.linspace(0.04, 0.02, nb)

    def means(img: np.ndarray) -> np.ndarray:
        return img.reshape(h, ratio, w, ratio, nb).mean((1, 3))

    c1 = means(f1) + rng.normal(0, 0.003, (h, w, nb))
    c0 = means(f0) + 0.01 + rng.normal(0, 0.003, (h, w, nb))
    valid = rng.random((H, W)) > 0.08
    cast = lambda a: a.astype(np.float32).astype(np.float64)  # noqa: E731 - what the model sees
    return cast(c0), cast(f1), cast(c1), valid


def _tf(c0, f1, c1, valid, cfg) -> np.ndarray:
    t = lambda a: tf.constant(a[np.newaxis].astype(np.float32))  # noqa: E731
    run = tf.function(lambda *x: fsdaf(x[0], x[1], x[2], x[3], cfg))
    return run(t(c0), t(f1), t(c1), t(valid[..., None].astype(np.float32))).numpy()[0].astype(np.float64)


CASES = [
    (FsdafConfig(half_window=3, similar_pixels=6, classes=3, kmeans_iterations=10, purest_pixels=8), 1, 4),
    (FsdafConfig(half_window=5, similar_pixels=10, classes=4, kmeans_iterations=10, purest_pixels=10), 2, 4),
    (FsdafConfig(half_window=4, similar_pixels=20, classes=2, kmeans_iterations=5, purest_pixels=100), 3, 4),
    (FsdafConfig(half_window=6, similar_pixels=8, classes=5, kmeans_iterations=20, purest_pixels=6), 4, 3),
    (FsdafConfig(half_window=3, similar_pixels=5, classes=4, purest_pixels=12, dn_max=0.3), 5, 4),
]


@pytest.mark.parametrize(("cfg", "seed", "ratio"), CASES)
def test_fsdaf_matches_the_reference(cfg: FsdafConfig, seed: int, ratio: int) -> None:
    c0, f1, c1, valid = _case(seed, ratio=ratio)
    expected, _ = reference_fsdaf(c0, f1, c1, valid, cfg)
    got = _tf(c0, f1, c1, valid, cfg)
    diff = np.abs(got - expected)[valid]
    assert np.isfinite(got).all()
    assert diff.max() < 1e-5, f"max |TF - reference| = {diff.max():.2e}"


def test_kmeans_matches_the_reference() -> None:
    _, f1, _, valid = _case(7)
    pixels = f1.reshape(-1, 3)
    ref = reference_kmeans(pixels, valid.reshape(-1), 4, 15)
    got = kmeans_labels(tf.constant(pixels), tf.constant(valid.reshape(-1)), 4, 15).numpy()
    assert (got == ref).all()
    assert len(set(ref.tolist())) == 4


def test_the_flood_is_predicted_from_the_residuals() -> None:
    """The flooded rectangle is not in any class change; the spline residuals bring it in: the
    prediction there is much closer to the water than the temporal prediction alone."""
    cfg = FsdafConfig(half_window=4, similar_pixels=10, classes=4, kmeans_iterations=10, purest_pixels=10)
    c0, f1, c1, valid = _case(11)
    got = _tf(c0, f1, c1, valid, cfg)
    H, W = f1.shape[:2]
    region = (slice(H // 3 + 1, H // 3 + 5), slice(W // 4 + 1, W // 2 + 1))
    water = np.array([0.04, 0.03, 0.02])
    assert np.abs(got[region] - water).mean() < 0.5 * np.abs(f1[region] - water).mean()


def test_invalid_pixels_get_the_coarse_image_and_config_is_checked() -> None:
    cfg = FsdafConfig(half_window=3, similar_pixels=6, classes=3, kmeans_iterations=5, purest_pixels=8)
    c0, f1, c1, valid = _case(3)
    got = _tf(c0, f1, c1, valid, cfg)
    assert np.isfinite(got).all()
    bilinear = tf.image.resize(c0[np.newaxis].astype(np.float32), f1.shape[:2], method="bilinear")[0]
    np.testing.assert_allclose(got[~valid], bilinear.numpy()[~valid], atol=1e-6)
    # One row of coarse pixels (no plane for the spline): finite, the nearest coarse value used.
    c0, f1, c1, valid = _case(4, coarse=(1, 7))
    assert np.isfinite(_tf(c0, f1, c1, valid, cfg)).all()
    with pytest.raises(ConfigError, match="half_window"):
        FsdafConfig(half_window=0)
    with pytest.raises(ConfigError, match="classes"):
        FsdafConfig(classes=0)


def test_class_changes_hold_their_bounds_where_the_fit_would_leave_them() -> None:
    """Mixed coarse pixels whose unconstrained fit needs class changes far outside the coarse
    change's range: the bounds are active, and the coordinate descent finds the same optimum."""
    rng = np.random.default_rng(5)
    n = 60
    a = rng.uniform(0.35, 0.65, n)
    fr = np.stack([a, 1 - a, np.where(rng.random(n) < 0.3, 0.0, 0.0)], 1)
    fr[:10] = [0.2, 0.3, 0.5]
    dc = np.stack([a * 1.0 + (1 - a) * -1.0 + rng.normal(0, 0.01, n), 0.02 * a + rng.normal(0, 0.005, n)], 1)
    expected = reference_class_changes(fr, dc, 40)
    got = class_changes(tf.constant(fr), tf.constant(dc), 3, 40, 1.0 / 3).numpy()
    free = np.linalg.lstsq(fr[:, :2], dc[:, 0], rcond=None)[0]
    assert free.max() > dc[:, 0].max() + dc[:, 0].std(ddof=1)  # the bound binds
    assert np.abs(got - expected).max() < 1e-7
