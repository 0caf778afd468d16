"""The structure tests' surrogate: its error on noisy rows, with the noise taken off (truth as the oracle)."""

import numpy as np

from kandisco.discovery.surrogate import fit_surrogate


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
