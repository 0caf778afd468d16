"""The noise estimate (local polynomials, rows left out) on data from known laws with known noise."""

from __future__ import annotations

import numpy as np
import pytest

from kandisco.discovery.noise import NoiseEstimate, estimate_noise, given_noise


def _law(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 5, size=(n, 3))
    return X, X[:, 0] * np.sin(X[:, 1]) + X[:, 2] ** 2 / 3


@pytest.mark.parametrize("fraction", [0.01, 0.1])
def test_additive_noise_is_estimated_within_a_quarter(fraction):
    X, y = _law(800)
    sigma = fraction * np.std(y)
    noisy = y + np.random.default_rng(1).normal(0, sigma, len(y))
    est = estimate_noise(X, noisy)
    assert est.sigma == pytest.approx(sigma, rel=0.25)
    assert est.kind == "additive" and est.visible
    assert est.fraction_of_spread == pytest.approx(fraction, rel=0.3)


def test_noiseless_data_show_no_noise():
    X, y = _law(800)
    est = estimate_noise(X, y)
    assert not est.visible and est.kind == "none"
    assert est.fraction_of_spread < 1e-3


def test_noise_is_seen_beside_a_steep_corner_whose_curvature_hides_it_in_the_pooled_rows():
    # II.13.17's law: near c = 1 the local cubic's curvature error outgrows 1% noise and those rows'
    # errors are alike; pooled, the correlation was -0.07 and the noise unseen (a relative loss, no
    # statistical snapping), while the two lower thirds by |y| show it plainly
    from scipy.spatial import cKDTree
    from scipy.stats import spearmanr

    from kandisco.discovery.noise import NOISE_CORRELATION, local_residuals, standardised

    rng = np.random.default_rng(2)
    X = rng.uniform(1, 5, size=(800, 4))
    y = X[:, 0] / (2 * np.pi * X[:, 1] * X[:, 2] ** 2 * X[:, 3])
    noisy = y + 0.01 * np.std(y) * rng.normal(size=len(y))
    errors = local_residuals(X, noisy)
    _, idx = cKDTree(standardised(X)).query(standardised(X), k=4)
    assert spearmanr(errors, errors[idx[:, 1:]].mean(axis=1)).statistic > NOISE_CORRELATION  # pooled: unseen
    est = estimate_noise(X, noisy)
    assert est.kind == "additive" and est.neighbour_correlation < 2 * NOISE_CORRELATION
    assert est.sigma == pytest.approx(0.01 * np.std(y), rel=0.3)
    assert estimate_noise(X, y).kind == "none"


def test_relative_noise_is_told_from_additive_on_a_target_spanning_decades():
    rng = np.random.default_rng(2)
    X = rng.uniform(1, 10, size=(800, 2))
    y = X[:, 0] ** 3 * X[:, 1]  # 1 .. 1e4
    relative = y * (1 + 0.02 * rng.normal(size=len(y)))
    additive = y + 0.02 * np.std(y) * rng.normal(size=len(y))
    rel = estimate_noise(X, relative, relative=True)
    assert rel.kind == "relative"
    assert rel.sigma == pytest.approx(0.02, rel=0.3)  # relative loss units: 2% of each value
    assert estimate_noise(X, additive, relative=True).kind == "additive"


def test_rows_far_off_their_neighbours_are_flagged():
    X, y = _law(600)
    noisy = y + np.random.default_rng(3).normal(0, 0.01 * np.std(y), len(y))
    bad = [7, 100, 333]
    noisy[bad] += 2 * np.std(y)
    est = estimate_noise(X, noisy)
    assert set(bad) <= set(est.outliers)
    assert len(est.outliers) <= 10


def test_the_floor_adds_the_statistical_margin_of_an_rmse_on_n_rows():
    est = NoiseEstimate(1.0, "given", False, 0.01, "additive")
    assert est.floor(200) == pytest.approx(1 + 2 / np.sqrt(400))
    assert NoiseEstimate(0.0, "unknown", False, 0.0).floor(200) == 0.0


def test_given_noise_per_row_and_relative():
    y = np.array([1.0, 2.0, 4.0])
    per_row = given_noise(y, relative=False, sigma=np.array([0.1, 0.1, 0.1]))
    assert per_row.sigma == pytest.approx(0.1) and per_row.visible
    frac = given_noise(y, relative=True, fraction=0.05)
    assert frac.sigma == pytest.approx(0.05) and frac.kind == "relative"


def test_tiny_tables_get_no_estimate():
    X, y = _law(10)
    est = estimate_noise(X, y)
    assert est.sigma == 0.0 and est.source == "unknown" and not est.visible
