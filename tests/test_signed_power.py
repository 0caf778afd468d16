"""Sign-aware power laws: Coulomb's law with signed charges, the sign pattern, and when it declines."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

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
