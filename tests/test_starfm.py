"""STARFM in TF ops against a slow, straightforward per-pixel reference; the naive package."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from fusion.models.classical.starfm import EPSILON, StarfmConfig, starfm


def reference_starfm(
    c0: np.ndarray,
    fines: list[np.ndarray],
    coarses: list[np.ndarray],
    valids: list[np.ndarray],
    cfg: StarfmConfig,
) -> np.ndarray:
    """Gao et al. (2006) written out pixel by pixel, window by window. Arrays are (H, W, B) with
    coarse already on the fine grid; valids (H, W) bool. Float64 throughout."""
    h, w, nb = c0.shape
    r = cfg.radius
    sigma_s = math.sqrt(cfg.fine_uncertainty**2 + cfg.coarse_uncertainty**2)
    sigma_t = math.sqrt(2.0) * cfg.coarse_uncertainty

    def dist(x: float) -> float:
        return math.log(x * 1e4 + 2.0) if cfg.log_weight else x + EPSILON

    thresholds = []
    for f, v in zip(fines, valids, strict=True):
        thresholds.append([2.0 * np.std(f[..., b][v]) / cfg.n_classes if v.any() else 0.0 for b in range(nb)])
    out = np.zeros((h, w, nb))
    for i in range(h):
        for j in range(w):
            for b in range(nb):
                s_center = [
                    abs(f[i, j, b] - c[i, j, b])
                    for f, c, v in zip(fines, coarses, valids, strict=True)
                    if v[i, j]
                ]
                t_center = [
                    abs(c0[i, j, b] - c[i, j, b]) for c, v in zip(coarses, valids, strict=True) if v[i, j]
                ]
                s_lim = (max(s_center) if s_center else -1e9) + sigma_s
                t_lim = (max(t_center) if t_center else -1e9) + sigma_t
                num = den = 0.0
                for k, (f, c, v) in enumerate(zip(fines, coarses, valids, strict=True)):
                    if not v[i, j]:
                        continue
                    for y in range(max(0, i - r), min(h, i + r + 1)):
                        for x in range(max(0, j - r), min(w, j + r + 1)):
                            if not v[y, x]:
                                continue
                            bands = range(nb) if cfg.similarity == "all" else [b]
                            if any(abs(f[y, x, bb] - f[i, j, bb]) > thresholds[k][bb] for bb in bands):
                                continue
                            s = abs(f[y, x, b] - c[y, x, b])
                            t = abs(c0[y, x, b] - c[y, x, b])
                            if not (s < s_lim and t < t_lim):
                                continue
                            d = 1.0 + math.hypot(y - i, x - j) / cfg.impact
                            weight = 1.0 / (dist(s) * dist(t) * d)
                            num += weight * (c0[y, x, b] + f[y, x, b] - c[y, x, b])
                            den += weight
                out[i, j, b] = num / den if den > 0 else c0[i, j, b]
    return out


def _case(seed: int, h: int = 14, w: int = 13, nb: int = 3, pairs: int = 2):
    rng = np.random.default_rng(seed)
    # Patchy "fields" so that similarity thresholds select real subsets, plus noise.
    base = rng.uniform(0.02, 0.4, (4, nb))[rng.integers(0, 4, (h, w))]
    fines = [base + rng.normal(0, 0.01, (h, w, nb)) for _ in range(pairs)]
    coarses = [f + rng.normal(0, 0.01, (h, w, nb)) for f in fines]
    c0 = base + 0.05 + rng.normal(0, 0.01, (h, w, nb))
    valids = [rng.random((h, w)) > 0.2 for _ in range(pairs)]
    return c0, fines, coarses, valids


def _tf(c0, fines, coarses, valids, cfg):
    t = lambda a: tf.constant(a[np.newaxis].astype(np.float32))  # noqa: E731
    out = starfm(
        t(c0),
        [t(f) for f in fines],
        [t(c) for c in coarses],
        [t(v[..., None].astype(np.float32)) for v in valids],
        cfg,
    )
    return out.numpy()[0]


@pytest.mark.parametrize(
    ("cfg", "pairs"),
    [
        (StarfmConfig(window=5), 2),
        (StarfmConfig(window=7, similarity="band"), 2),
        (StarfmConfig(window=5, log_weight=False), 1),
        (StarfmConfig(window=3, n_classes=2, spatial_impact=4.0), 2),
    ],
)
def test_tf_starfm_matches_the_reference(cfg: StarfmConfig, pairs: int) -> None:
    c0, fines, coarses, valids = _case(3 + pairs, pairs=pairs)
    want = reference_starfm(c0.astype(np.float32).astype(np.float64), fines, coarses, valids, cfg)
    got = _tf(c0, fines, coarses, valids, cfg)
    assert np.abs(got - want).max() < 1e-5


def test_a_pair_that_is_invalid_everywhere_is_ignored() -> None:
    cfg = StarfmConfig(window=5)
    c0, fines, coarses, valids = _case(11)
    one = _tf(c0, fines[:1], coarses[:1], valids[:1], cfg)
    two = _tf(c0, fines, coarses, [valids[0], np.zeros_like(valids[1])], cfg)
    np.testing.assert_allclose(one, two, atol=1e-6)


def test_unchanged_scene_is_reproduced() -> None:
    """No change between tk and t0 and fine == coarse: every weighted candidate equals the centre's
    own value only where neighbours are identical, so predict a flat scene exactly."""
    h = w = 9
    flat = np.full((h, w, 2), 0.2)
    out = _tf(flat, [flat], [flat], [np.ones((h, w), bool)], StarfmConfig(window=5))
    np.testing.assert_allclose(out, flat, atol=1e-6)


def test_coarse_inputs_are_upsampled_inside_the_model() -> None:
    rng = np.random.default_rng(0)
    fine = rng.uniform(0.1, 0.3, (1, 32, 32, 2)).astype(np.float32)
    coarse = rng.uniform(0.1, 0.3, (1, 2, 2, 2)).astype(np.float32)
    out = starfm(
        tf.constant(coarse),
        [tf.constant(fine)],
        [tf.constant(coarse)],
        [tf.ones((1, 32, 32, 1))],
        StarfmConfig(window=5),
    )
    assert out.shape == (1, 32, 32, 2)
    assert np.isfinite(out.numpy()).all()


def test_config_rejects_bad_values() -> None:
    from fusion.errors import ConfigError

    for kwargs in ({"window": 4}, {"n_classes": 0}, {"similarity": "some"}, {"spatial_impact": -1.0}):
        with pytest.raises(ConfigError):
            StarfmConfig(**kwargs)  # type: ignore[arg-type]
