"""Metrics: agreement with scikit-image, ideal values, and masked pixels changing nothing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from fusion import metrics as M
from fusion.errors import MetricError, UnknownNameError


def pair(seed: int, shape: tuple[int, ...] = (64, 80)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ref = rng.random(shape)
    pred = np.clip(ref + rng.normal(0.0, 0.1, shape), 0.0, 1.0)
    return ref, pred


@pytest.mark.parametrize("seed", range(5))
def test_ssim_and_psnr_match_scikit_image(seed: int) -> None:
    ref, pred = pair(seed)
    expected = structural_similarity(
        ref, pred, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert M.ssim(ref, pred, data_range=1.0) == pytest.approx(expected, abs=1e-6)
    assert M.psnr(ref, pred, data_range=1.0) == pytest.approx(
        peak_signal_noise_ratio(ref, pred, data_range=1.0), abs=1e-6
    )


def test_ssim_multiband_is_mean_of_bands() -> None:
    ref, pred = pair(7, (3, 40, 40))
    per_band = [
        structural_similarity(
            ref[b], pred[b], data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
        )
        for b in range(3)
    ]
    assert M.ssim(ref, pred, data_range=1.0) == pytest.approx(float(np.mean(per_band)), abs=1e-6)


def test_every_metric_is_ideal_on_identical_images() -> None:
    ref, _ = pair(3, (4, 48, 48))
    ref = ref + 0.05  # keep means away from zero (KGE, ERGAS)
    scores = M.evaluate(ref, ref.copy(), data_range=1.0)
    for name, spec in M.METRICS.items():
        value = scores.overall[name]
        if math.isinf(spec.ideal):
            assert math.isinf(value), name
        else:
            assert value == pytest.approx(spec.ideal, abs=1e-9), name
        for v in scores.per_band.get(name, []):
            assert v == pytest.approx(spec.ideal, abs=1e-9) or (math.isinf(spec.ideal) and math.isinf(v))


def test_masked_pixels_change_nothing() -> None:
    ref, pred = pair(11, (3, 64, 64))
    ref += 0.1
    mask = np.ones((64, 64), bool)
    mask[10:30, 5:20] = False
    mask[50:, 40:] = False
    base = M.evaluate(ref, pred, mask=mask, data_range=1.0)
    rng = np.random.default_rng(0)
    ref2, pred2 = ref.copy(), pred.copy()
    ref2[:, ~mask] = rng.random((3, int((~mask).sum()))) * 50
    pred2[:, ~mask] = np.nan
    other = M.evaluate(ref2, pred2, mask=mask, data_range=1.0)
    for name in M.METRICS:
        assert other.overall[name] == pytest.approx(base.overall[name], rel=1e-12, abs=1e-12), name
        assert other.per_band.get(name) == base.per_band.get(name), name


def test_nan_and_nodata_are_masks_too() -> None:
    ref, pred = pair(5, (32, 32))
    mask = np.ones_like(ref, bool)
    mask[:4] = False
    via_mask = M.rmse(ref, pred, mask=mask)
    ref_nan = ref.copy()
    ref_nan[:4] = np.nan
    assert M.rmse(ref_nan, pred) == pytest.approx(via_mask)
    pred_nd = pred.copy()
    pred_nd[:4] = -9999
    assert M.rmse(ref, pred_nd, nodata=-9999) == pytest.approx(via_mask)


def test_definitions_on_known_values() -> None:
    ref = np.array([[1.0, 2.0], [3.0, 4.0]])
    pred = np.array([[1.0, 2.0], [3.0, 6.0]])
    assert M.rmse(ref, pred) == pytest.approx(1.0)
    assert M.mae(ref, pred) == pytest.approx(0.5)
    assert M.r2(ref, pred) == pytest.approx(1 - 4 / 5)
    r = np.corrcoef(ref.ravel(), pred.ravel())[0, 1]
    assert M.cc(ref, pred) == pytest.approx(r)
    alpha = pred.std() / ref.std()
    beta = pred.mean() / ref.mean()
    assert M.kge(ref, pred) == pytest.approx(1 - math.sqrt((r - 1) ** 2 + (alpha - 1) ** 2 + (beta - 1) ** 2))
    # SAM of a pure scaling is zero; of orthogonal spectra 90 degrees.
    a = np.ones((2, 3, 3))
    assert M.sam(a, 2 * a) == pytest.approx(0.0, abs=1e-6)
    b = np.stack([np.ones((3, 3)), np.zeros((3, 3))])
    c = np.stack([np.zeros((3, 3)), np.ones((3, 3))])
    assert M.sam(b, c) == pytest.approx(90.0)
    # ERGAS: one band, relative RMSE 0.1, ratio 1/16.
    x = np.full((1, 4, 4), 2.0)
    assert M.ergas(x, x + 0.2, ratio=1 / 16) == pytest.approx(100 / 16 * 0.1)


def test_uiqi_matches_a_direct_window_loop() -> None:
    ref, pred = pair(9, (40, 44))
    k = 32
    qs = []
    for i in range(ref.shape[0] - k + 1):
        for j in range(ref.shape[1] - k + 1):
            x, y = ref[i : i + k, j : j + k], pred[i : i + k, j : j + k]
            mx, my = x.mean(), y.mean()
            cov = ((x - mx) * (y - my)).mean()
            qs.append(4 * cov * mx * my / ((x.var() + y.var()) * (mx**2 + my**2)))
    assert M.uiqi(ref, pred) == pytest.approx(float(np.mean(qs)), abs=1e-9)


def test_errors_are_clear() -> None:
    with pytest.raises(MetricError, match="shapes differ"):
        M.rmse(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(MetricError, match="no valid pixels"):
        M.rmse(np.full((3, 3), np.nan), np.zeros((3, 3)))
    with pytest.raises(UnknownNameError, match="unknown metric"):
        M.evaluate(np.ones((3, 3)), np.ones((3, 3)), metrics=["rsme"])
    with pytest.raises(MetricError, match="UIQI needs"):
        M.uiqi(np.ones((10, 10)), np.ones((10, 10)))


def test_scores_rows_for_tables() -> None:
    ref, pred = pair(1, (2, 40, 40))
    rows = M.evaluate(
        ref + 0.1, pred + 0.1, bands=["red", "nir08"], metrics=["rmse", "ssim"], data_range=1.0
    ).as_rows()
    assert [r["band"] for r in rows] == ["red", "nir08", "all"]
    assert set(rows[0]) == {"band", "rmse", "ssim"}
