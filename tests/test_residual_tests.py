"""The residual trend test against data from a known law: the law's own residuals show no trend,
a near miss within the noise does."""

from __future__ import annotations

import numpy as np
import pytest

from kandisco.discovery.residual_tests import SEEN_OVER_ESTIMATE, leaves_trend, residual_trend, shows_noise


def _moving_charge(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """II.21.32, q/(4 pi eps r (1 - v/c)), with 1% noise: inputs, law, noisy target, the near miss
    (the two-term sum that once ended its search within an overestimated noise floor), the noise sigma."""
    rng = np.random.default_rng(seed)
    X = rng.uniform([1, 1, 1, 1, 3], [5, 5, 5, 2, 10], size=(1000, 5))
    q, eps, r, v, c = X.T
    y = q / (4 * np.pi * eps * r * (1 - v / c))
    sigma = 0.01 * float(np.std(y))
    noisy = y + rng.normal(0, sigma, len(y))
    near_miss = 0.2951 * q * (0.2951 + v**2 / c**2) / (eps * r)
    return X, y, noisy, near_miss, sigma


@pytest.mark.parametrize("seed", range(5))
def test_a_true_law_leaves_no_trend_and_a_near_miss_within_the_noise_does(seed):
    # the near miss's RMSE is 1.4x the noise, yet it leaves a smooth trend
    X, y, noisy, near_miss, sigma = _moving_charge(seed)
    assert 1.2 < np.sqrt(np.mean((near_miss - noisy) ** 2)) / sigma < 2.0
    assert abs(residual_trend(X, y - noisy)) < 0.1 and not leaves_trend(X, y - noisy)
    assert residual_trend(X, near_miss - noisy) > 0.2 and leaves_trend(X, near_miss - noisy)


def test_too_few_rows_or_constant_residuals_show_no_trend():
    X = np.arange(12.0).reshape(6, 2)
    assert residual_trend(X, np.arange(6.0)) == 0.0
    assert residual_trend(np.ones((50, 1)) * np.arange(50.0)[:, None], np.zeros(50)) == 0.0


def test_a_smooth_trend_in_one_input_among_several_is_seen():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(800, 4))
    noise = rng.normal(0, 1, 800)
    assert not leaves_trend(X, noise)
    assert leaves_trend(X, noise + 1.5 * np.sin(6 * X[:, 2]))


@pytest.mark.parametrize("seed", range(3))
def test_noise_is_shown_by_a_law_leaving_no_trend_near_an_estimate_that_did_not_see_it(seed):
    # the same law at 1%: its residuals show the noise to an estimate of up to SEEN_OVER_ESTIMATE times it;
    # the near miss (1.4x the noise) does not, nor does a loss too far below or above the estimate
    X, y, noisy, near_miss, sigma = _moving_charge(seed)
    spread = float(np.std(y))

    def loss(pred: np.ndarray) -> float:
        return float(np.sqrt(np.mean((pred - noisy) ** 2)))

    assert shows_noise(X, y - noisy, loss(y), 1.5 * sigma, spread)
    assert not shows_noise(X, near_miss - noisy, loss(near_miss), 1.5 * sigma, spread)
    assert not shows_noise(X, y - noisy, loss(y), 0.9 * loss(y) / SEEN_OVER_ESTIMATE, spread)  # the estimate far below
    assert not shows_noise(X, y - noisy, loss(y), 1.5 * sigma, 20 * spread)  # below what counts as visible noise
