"""The structure tests' surrogate: its error on noisy rows, with the noise taken off (truth as the oracle)."""

import numpy as np

from kandisco.discovery.surrogate import fit_surrogate, signed_decade_scales


def _noisy_law(noise: float, n: int = 1000, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 5, size=(n, 2))
    truth = X[:, 0] * np.sqrt(X[:, 1])
    sigma = noise * float(np.std(truth))
    return X, truth, truth + rng.normal(0, sigma, n), sigma


def test_error_beyond_noise_is_the_error_against_the_noise_free_law(one_torch_thread):
    X, truth, y, sigma = _noisy_law(0.05)
    train, val = slice(0, 750), slice(750, None)
    sur = fit_surrogate(X[train], y[train], X[val], y[val], seed=0)
    against_truth = float(np.sqrt(np.mean(((sur(X[val]) - truth[val]) / np.abs(y[val])) ** 2)))
    beyond = sur.error_beyond_noise(X[val], y[val], sigma)
    # the raw validation error is mostly the noise; taken off, what is left is the surrogate's own error
    assert sur.val_error > 2 * against_truth
    assert 0.5 * against_truth < beyond < 2 * against_truth


def test_error_beyond_noise_never_goes_below_what_the_rows_can_resolve(one_torch_thread):
    X, truth, y, sigma = _noisy_law(0.05)
    sur = fit_surrogate(X[:750], y[:750], X[750:], y[750:], seed=0)
    overstated = sur.error_beyond_noise(X[750:], y[750:], 10 * sigma)  # more noise than the residuals hold
    scale = np.abs(y[750:]) if sur.log_target else sur.spread  # the units of val_error
    relative_noise = 10 * sigma / scale
    assert np.isclose(overstated, np.sqrt(2 * np.sqrt(2 / 250) * np.mean(relative_noise**2)), rtol=1e-12)


def test_signed_inputs_over_decades_are_seen_through_asinh(one_torch_thread):
    """``a*x**2*(w**2 + 1)`` with ``x`` of either sign from 1 to 100 in magnitude: raw, most rows of ``x``
    crowd one spline interval (41% relative error when this was written); through ``asinh`` the
    surrogate is within a few percent."""
    rng = np.random.default_rng(3)
    n = 1000
    a, w = 10 ** rng.uniform(0, 2, n), 10 ** rng.uniform(0, 2, n)
    x = 10 ** rng.uniform(0, 2, n) * rng.choice([-1, 1], n)
    X = np.column_stack([a, w, x])
    y = a * x**2 * (w**2 + 1)
    sur = fit_surrogate(X[:750], y[:750], X[750:], y[750:], seed=0)
    assert sur.asinh_scales[2] == np.quantile(np.abs(x[:750]), 0.05)
    assert sur.asinh_scales[0] == sur.asinh_scales[1] == 0  # positive inputs are seen through log
    assert sur.val_error < 0.05
    against_truth = np.abs(sur(X[750:]) / y[750:] - 1)
    assert np.median(against_truth) < 0.02


def test_narrow_signed_inputs_stay_raw():
    X = np.column_stack([np.linspace(-1, 1, 200), np.linspace(1, 2, 200)])
    log_inputs = np.array([False, True])
    assert np.all(signed_decade_scales(X, log_inputs) == 0)
