"""Sign-aware power laws: Coulomb's law with signed charges, the sign pattern, and when it declines."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from kandisco.discovery.power_fit import log_magnitude_fit
from kandisco.discovery.problem import NothingToPropose, Problem
from kandisco.discovery.strategies.signed_power import SignedPowerLawStrategy, plan_signed_power, sign_pattern


def _coulomb(n=400, seed=0):
    rng = np.random.default_rng(seed)
    q1, q2 = (rng.uniform(0.1, 5, n) * rng.choice([-1, 1], n) for _ in range(2))
    eps, r = rng.uniform(1, 3, n), 10 ** rng.uniform(-1, 1, n)
    return np.column_stack([q1, q2, eps, r]), q1 * q2 / (4 * np.pi * eps * r**2)


def _problem(X, y):
    syms = [sympy.Symbol(f"x{i}", real=True) if np.any(X[:, i] < 0) else sympy.Symbol(f"x{i}", positive=True) for i in range(X.shape[1])]
    cut = int(0.7 * len(y))
    return Problem(symbols=syms, names=[s.name for s in syms], target="y", train=(X[:cut], y[:cut]), val=(X[cut:], y[cut:]),
                   relative=False, seed=0)


def test_sign_pattern_of_a_product_of_charges():
    X, y = _coulomb()
    s, k, agreement = sign_pattern(X, y)
    assert (s, k, agreement) == (1.0, (1, 1, 0, 0), 1.0)
    assert sign_pattern(X, -y)[:2] == (-1.0, (1, 1, 0, 0))


def test_coulomb_with_signed_charges_is_exact():
    X, y = _coulomb()
    problem = _problem(X, y)
    formulas = SignedPowerLawStrategy().propose(problem, None).formulas
    q1, q2, eps, r = problem.symbols
    truth = q1 * q2 / (4 * sympy.pi * eps * r**2)
    assert any(sympy.simplify(f - truth) == 0 for f in formulas), formulas


def test_odd_power_of_a_signed_input_keeps_its_sign():
    rng = np.random.default_rng(1)
    x = rng.uniform(0.5, 2, 300) * rng.choice([-1, 1], 300)
    z = rng.uniform(1, 2, 300)
    X, y = np.column_stack([x, z]), 3 * x**3 / z
    problem = _problem(X, y)
    formulas = SignedPowerLawStrategy().propose(problem, None).formulas
    a, b = problem.symbols
    assert any(sympy.simplify(f - 3 * a**3 / b) == 0 for f in formulas), formulas


def test_declines_without_a_sign_pattern_and_is_not_planned_for_positive_data():
    rng = np.random.default_rng(2)
    X = rng.uniform(-2, 2, size=(300, 2))
    with pytest.raises(NothingToPropose, match="sign pattern"):
        SignedPowerLawStrategy().propose(_problem(X, np.cos(3 * X[:, 0]) + 0.1), None)
    P = rng.uniform(1, 2, size=(100, 2))
    assert plan_signed_power(_problem(P, P[:, 0] * P[:, 1])) == []
    assert len(plan_signed_power(_problem(X, X[:, 0] * X[:, 1]))) == 1


def test_a_power_law_drowned_in_additive_noise_at_its_small_values_is_fitted_on_the_clear_rows():
    # III.19.51 at 1%: -m*q**4/(n**2 ...) spans decades, and noise of 1% of its spread swamps most
    # rows, flipping their signs; the clear rows, weighted by signal to noise, still give the law
    from dataclasses import replace

    rng = np.random.default_rng(7)
    n = 1000
    m, q, k = rng.uniform(1, 5, n), rng.uniform(1, 5, n), rng.uniform(1, 5, n)
    X = np.column_stack([m, q, k])
    truth_values = -m * q**4 / (2 * k**2)
    sigma = 0.01 * float(np.std(truth_values))
    y = truth_values + sigma * rng.normal(size=n)
    assert np.mean(np.abs(truth_values) < 3 * sigma) > 0.2 and np.any(y > 0)  # many rows inside the noise
    problem = replace(_problem(X, y), noise=sigma)
    with pytest.raises(NothingToPropose):  # every row counted the same: the flipped signs break the pattern
        SignedPowerLawStrategy().propose(replace(problem, noise=0.0), None)
    formulas = SignedPowerLawStrategy().propose(problem, None).formulas
    x0, x1, x2 = problem.symbols
    assert any(sympy.simplify(f + x0 * x1**4 / (2 * x2**2)) == 0 for f in formulas), formulas
    # a positive target spanning decades under additive noise is planned too (the KAN's log-log fit is unweighted)
    assert len(plan_signed_power(replace(_problem(X, -y), noise=sigma))) == 1
    P = rng.uniform(1, 2, size=(100, 2))
    assert plan_signed_power(replace(_problem(P, P[:, 0] * P[:, 1]), noise=0.01)) == []  # no decades


def test_log_magnitude_fit_is_the_least_squares_of_log_y_on_log_x():
    """Against numpy's polyfit on one input, and exact exponents of a signed three-input power law;
    weights change the fit as weighted least squares does (a weight of 0 drops a row)."""
    rng = np.random.default_rng(5)
    x = rng.uniform(0.5, 4, 200)
    y = 3 * x**1.7 * np.exp(0.05 * rng.normal(size=200))
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    np.testing.assert_allclose(log_magnitude_fit(x[:, None], y), [intercept, slope], rtol=1e-10)
    X = rng.uniform(-3, 3, size=(100, 3))
    X[np.abs(X) < 0.1] = 0.5
    np.testing.assert_allclose(log_magnitude_fit(X, -2 * X[:, 0] * X[:, 1] ** 2 / X[:, 2]), [np.log(2), 1, 2, -1], atol=1e-10)
    w = np.ones(200)
    y_bad = y.copy()
    y_bad[:10] *= 50
    w[:10] = 0
    np.testing.assert_allclose(log_magnitude_fit(x[:, None], y_bad, w), np.polyfit(np.log(x[10:]), np.log(y[10:]), 1)[::-1], rtol=1e-10)
