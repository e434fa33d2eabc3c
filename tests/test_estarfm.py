"""ESTARFM in TF ops against a slow per-pixel float64 reference written from the authors' code."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from fusion.errors import ConfigError
from fusion.models.classical.estarfm import DISTANCE_EPSILON, TEMPORAL_EPSILON, EstarfmConfig, estarfm


def reference_estarfm(
    c0: np.ndarray,
    fines: list[np.ndarray],
    coarses: list[np.ndarray],
    valids: list[np.ndarray],
    cfg: EstarfmConfig,
) -> np.ndarray:
    """Zhu et al. (2010) pixel by pixel, as the authors' ESTARFM code does it (coarse already on
    the fine grid), float64: similar pixels, correlation and distance weights, the regression
    with its F-test, temporal weights, the abnormal-value and few-candidates branches. Arrays
    are (H, W, B); valids (H, W) bool."""
    h, wd, nb = c0.shape
    f1, f2 = (f.astype(np.float64) for f in fines)
    c1, c2 = (c.astype(np.float64) for c in coarses)
    c0 = c0.astype(np.float64)
    v1, v2 = valids
    both = v1 & v2
    w = cfg.half_window
    th = [
        [2.0 * np.std(f[..., b][both]) / cfg.n_classes if both.any() else 0.0 for b in range(nb)]
        for f in (f1, f2)
    ]
    out = np.zeros((h, wd, nb))
    for j in range(h):
        for i in range(wd):
            aj, bj, ai, bi = max(0, j - w), min(h - 1, j + w), max(0, i - w), min(wd - 1, i + w)
            win = (slice(aj, bj + 1), slice(ai, bi + 1))

            def wmean(img: np.ndarray, mask: np.ndarray, b: int, win: tuple[slice, slice] = win) -> float:
                return float(img[win][..., b][mask[win]].mean())

            if not (v1[j, i] and v2[j, i]):
                for f, c, v in ((f1, c1, v1), (f2, c2, v2)):
                    if v[j, i]:
                        out[j, i] = [f[j, i, b] + wmean(c0, v, b) - wmean(c, v, b) for b in range(nb)]
                        break
                else:
                    out[j, i] = c0[j, i]
                continue
            cand = both[win].copy()
            for k, f in enumerate((f1, f2)):
                for b in range(nb):
                    cand &= np.abs(f[win][..., b] - f[j, i, b]) < th[k][b]
            ys, xs = np.nonzero(cand)
            ys, xs = ys + aj, xs + ai
            n = len(ys)
            diffs = [
                [wmean(c0, both, b) - wmean(c, both, b) + TEMPORAL_EPSILON for b in range(nb)]
                for c in (c1, c2)
            ]
            for b in range(nb):
                inv = [1.0 / abs(diffs[0][b]), 1.0 / abs(diffs[1][b])]
                t1, t2 = inv[0] / sum(inv), inv[1] / sum(inv)
                if n <= cfg.min_similar:
                    out[j, i, b] = t1 * (f1[j, i, b] + diffs[0][b]) + t2 * (f2[j, i, b] + diffs[1][b])
                    continue
                weights = []
                for y, x in zip(ys, xs, strict=True):
                    fine_spec = np.concatenate([f1[y, x], f2[y, x]])
                    coarse_spec = np.concatenate([c1[y, x], c2[y, x]])
                    with np.errstate(invalid="ignore", divide="ignore"):
                        r = np.corrcoef(fine_spec, coarse_spec)[0, 1]
                    r = 0.5 if not np.isfinite(r) else r
                    d = 1.0 + math.hypot(y - j, x - i) / w
                    weights.append(1.0 / ((1.0 - r) * d + DISTANCE_EPSILON))
                weight = np.array(weights) / np.sum(weights)
                xs_reg = np.concatenate([c1[ys, xs, b], c2[ys, xs, b]])
                ys_reg = np.concatenate([f1[ys, xs, b], f2[ys, xs, b]])
                v = 1.0
                if abs(c1[ys, xs, b].mean() - c2[ys, xs, b].mean()) >= cfg.change_fraction * cfg.dn_max:
                    fit = stats.linregress(xs_reg, ys_reg)
                    ssr = fit.slope**2 * np.sum((xs_reg - xs_reg.mean()) ** 2)
                    sse = np.sum((ys_reg - fit.intercept - fit.slope * xs_reg) ** 2)
                    dof = len(xs_reg) - 2
                    p = stats.f.sf(ssr / (sse / dof), 1, dof) if sse > 0 else 0.0
                    if p <= cfg.significance and 0 < fit.slope <= cfg.max_slope:
                        v = fit.slope
                pred1 = f1[j, i, b] + np.sum(weight * v * (c0[ys, xs, b] - c1[ys, xs, b]))
                pred2 = f2[j, i, b] + np.sum(weight * v * (c0[ys, xs, b] - c2[ys, xs, b]))
                value = t1 * pred1 + t2 * pred2
                if value <= cfg.dn_min or value >= cfg.dn_max:
                    value = t1 * np.sum(weight * f1[ys, xs, b]) + t2 * np.sum(weight * f2[ys, xs, b])
                out[j, i, b] = value
    return out


def _case(seed: int, h: int = 15, w: int = 14, nb: int = 3, change: float = 0.05, gain: float = 1.3):
    """Patchy fields whose fine change is ``gain`` times the coarse change (a real conversion
    coefficient to find), noise, and 15 % invalid pixels per pair."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 4, (h, w))
    base = rng.uniform(0.03, 0.4, (4, nb))[classes]
    drift = rng.uniform(-change, change, (4, nb))[classes]
    f1 = base + rng.normal(0, 0.008, (h, w, nb))
    f2 = base + gain * drift + rng.normal(0, 0.008, (h, w, nb))
    c1 = base + rng.normal(0, 0.01, (h, w, nb))
    c2 = base + drift + rng.normal(0, 0.01, (h, w, nb))
    c0 = base + 0.5 * drift + 0.01 + rng.normal(0, 0.01, (h, w, nb))
    valids = [rng.random((h, w)) > 0.15 for _ in range(2)]
    cast = lambda a: a.astype(np.float32).astype(np.float64)  # noqa: E731 - what the model sees
    return cast(c0), [cast(f1), cast(f2)], [cast(c1), cast(c2)], valids


def _tf(c0, fines, coarses, valids, cfg):
    """The model as the package runs it: compiled with XLA as one computation."""
    t = lambda a: tf.constant(a[np.newaxis].astype(np.float32))  # noqa: E731
    compiled = tf.function(
        lambda *x: estarfm(x[0], [x[1], x[2]], [x[3], x[4]], [x[5], x[6]], cfg), jit_compile=True
    )
    masks = [t(v[..., None].astype(np.float32)) for v in valids]
    out = compiled(t(c0), *(t(f) for f in fines), *(t(c) for c in coarses), *masks)
    return out.numpy()[0].astype(np.float64)


@pytest.mark.parametrize(
    ("cfg", "seed", "change"),
    [
        (EstarfmConfig(half_window=3), 1, 0.05),
        (EstarfmConfig(half_window=5), 2, 0.08),
        (EstarfmConfig(half_window=4, n_classes=2.0), 3, 0.05),
        (EstarfmConfig(half_window=3, change_fraction=0.0, significance=0.2), 4, 0.01),
        (EstarfmConfig(half_window=6, min_similar=8, max_slope=1.2), 5, 0.1),
        (EstarfmConfig(half_window=2, dn_max=0.3), 6, 0.05),  # many "abnormal" predictions
    ],
)
def test_tf_estarfm_matches_the_reference(cfg: EstarfmConfig, seed: int, change: float) -> None:
    c0, fines, coarses, valids = _case(seed, change=change)
    want = reference_estarfm(c0, fines, coarses, valids, cfg)
    got = _tf(c0, fines, coarses, valids, cfg)
    assert np.abs(got - want).max() < 1e-5


def test_the_cases_exercise_every_branch() -> None:
    """The parameter sets above reach the regression with a kept and a refused coefficient,
    the abnormal-value fallback and the few-candidates branch (else equality proves little)."""
    c0, fines, coarses, valids = _case(2, change=0.08)
    cfg = EstarfmConfig(half_window=5)
    few = reference_estarfm(c0, fines, coarses, valids, EstarfmConfig(half_window=5, min_similar=10_000))
    normal = reference_estarfm(c0, fines, coarses, valids, cfg)
    unit = reference_estarfm(c0, fines, coarses, valids, EstarfmConfig(half_window=5, max_slope=1e-9))
    assert np.abs(normal - few).max() > 1e-3  # the regression branch differs from the fallback
    assert np.abs(normal - unit).max() > 1e-4  # some coefficient was kept (not 1)
    clipped = reference_estarfm(c0, fines, coarses, valids, EstarfmConfig(half_window=2, dn_max=0.3))
    assert (
        np.abs(clipped - reference_estarfm(c0, fines, coarses, valids, EstarfmConfig(half_window=2))).max()
        > 1e-3
    )


def test_an_unchanged_scene_is_reproduced() -> None:
    _, fines, coarses, valids = _case(7, change=0.0)
    same = [fines[0], fines[0]]
    got = _tf(
        coarses[0], same, [coarses[0], coarses[0]], [valids[0], valids[0]], EstarfmConfig(half_window=3)
    )
    ok = valids[0]
    assert np.abs(got[ok] - fines[0][ok]).max() < 1e-5


def test_coarse_inputs_are_upsampled_inside_the_model_and_xla_agrees() -> None:
    """Coarse inputs on their own grid (ratio 16), as the pipeline sends them: the XLA-compiled
    model gives the eager numbers. (With a ``tf.cond`` around the resize, XLA gave the window
    means a dynamic shape and summed padding: reflectance of 5.9 on a 352 px demo block.)"""
    rng = np.random.default_rng(0)
    fine = [rng.uniform(0.1, 0.3, (1, 64, 64, 2)).astype(np.float32) for _ in range(2)]
    coarse = [rng.uniform(0.1, 0.3, (1, 4, 4, 2)).astype(np.float32) for _ in range(3)]
    valid = [np.ones((1, 64, 64, 1), np.float32), (rng.random((1, 64, 64, 1)) > 0.3).astype(np.float32)]
    cfg = EstarfmConfig(half_window=5)

    def run(c0, f1, f2, c1, c2, v1, v2):  # type: ignore[no-untyped-def]
        return estarfm(c0, [f1, f2], [c1, c2], [v1, v2], cfg)

    args = [tf.constant(a) for a in (coarse[0], fine[0], fine[1], coarse[1], coarse[2], *valid)]
    eager = run(*args).numpy()
    compiled = tf.function(run, jit_compile=True)(*args).numpy()
    assert eager.shape == (1, 64, 64, 2)
    assert np.isfinite(compiled).all() and np.abs(compiled - eager).max() < 1e-6


def test_config_rejects_bad_values() -> None:
    for bad in ({"half_window": 0}, {"n_classes": 0}, {"dn_min": 1.0, "dn_max": 0.5}, {"significance": 1.5}):
        with pytest.raises(ConfigError):
            EstarfmConfig(**bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="two reference pairs"):
        estarfm(
            tf.zeros([1, 4, 4, 1]),
            [tf.zeros([1, 4, 4, 1])],
            [tf.zeros([1, 4, 4, 1])],
            [tf.ones([1, 4, 4, 1])],
            EstarfmConfig(),
        )


def test_pure_pixels_whose_spectra_match_get_positive_weights() -> None:
    """Where a pixel's coarse spectrum is proportional to its fine one (R = 1, the case of pure
    pixels), the weight is 1 / 1e-7: large and positive. (In float32, R rounded above 1 had made
    it negative, and the prediction of the simulated demo left the physical range.)"""
    c0, fines, coarses, valids = _case(9, change=0.05)
    coarses = [f * 1.02 + 0.001 for f in fines]  # perfectly correlated spectra, every pixel
    cfg = EstarfmConfig(half_window=3)
    got = _tf(c0, fines, coarses, valids, cfg)
    want = reference_estarfm(c0, fines, coarses, valids, cfg)
    assert np.isfinite(got).all() and np.abs(got).max() < 1.0
    assert np.abs(got - want).max() < 1e-5
