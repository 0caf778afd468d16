"""Sparse regression over products of terms: the library against sympy, the path on laws with cross
terms (signed, correlated inputs), the rational form, and the strategy end to end (the Lorentz force)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import sympy

from kandisco.data import load_dataset
from kandisco.discovery import discover
from kandisco.discovery.problem import NothingToPropose, Problem
from kandisco.discovery.sparse import UNARY, build_library, forward_path, monomial_factor, monomial_values, nested_paths, select_supports
from kandisco.discovery.strategies.sparse import SparseStrategy, law_expr
from kandisco.symbolic.equivalence import snap_floats


def equivalent(found, truth, symbols) -> bool:
    """Equal as formulas once rounding-level floats are dropped and the rest snapped to small fractions (sympy decides)."""
    found = sympy.sympify(found)
    found = found.xreplace({f: 0 for f in found.atoms(sympy.Float) if abs(f) < 1e-9})
    return sympy.simplify(snap_floats(found) - truth) == 0


def _symbols(d: int, positive: bool = False) -> list[sympy.Symbol]:
    return [sympy.Symbol(f"x{i}", positive=True) if positive else sympy.Symbol(f"x{i}", real=True) for i in range(d)]


def test_library_columns_agree_with_their_formulas():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(0.5, 2, 50), rng.uniform(-1, 1, 50), rng.uniform(1, 3, 50)])
    syms = _symbols(3)
    lib = build_library(X, syms, max_degree=3, function_degree=1)
    A = lib.columns(X)
    for k, expr in enumerate(lib.exprs):  # oracle: sympy's own evaluation of each term
        f = sympy.lambdify(syms, expr, "numpy")
        np.testing.assert_allclose(A[:, k], np.broadcast_to(f(*X.T), (50,)), rtol=1e-12, err_msg=str(expr))
    names = {str(e) for e in lib.exprs}
    assert {"x0*x1*x2", "x1**3", "1/x0", "sin(x1)", "x2*cos(x1)", "log(x0)"} <= names
    assert not any("/x1" in n or "log(x1)" in n or "sqrt(x1)" in n for n in names)  # x1 changes sign: no 1/x1, log, sqrt
    assert len(set(names)) == len(names)  # no term twice


def test_library_lowers_its_degrees_to_fit_the_cap():
    X = np.random.default_rng(1).uniform(1, 2, size=(20, 10))
    small = build_library(X, _symbols(10), max_degree=3, max_features=400)
    assert 0 < len(small) <= 400
    assert len(build_library(X, _symbols(10), max_degree=3, max_features=10_000)) > 400


def test_path_finds_a_law_with_a_cross_term_on_correlated_signed_inputs():
    rng = np.random.default_rng(2)
    x = rng.uniform(-2, 2, 400)
    z = -0.9 * x + 0.2 * rng.normal(size=400)  # strongly correlated, as along a trajectory
    X = np.column_stack([x, z])
    y = 1.5 * x - 0.7 * x * z - 0.3 * x**2
    lib = build_library(X, _symbols(2))
    path = forward_path(lib.columns(X), y, lib.cost)
    exact = next(f for f in path if f.train_rmse < 1e-10)
    got = {str(lib.exprs[k]) for k in exact.support}
    assert got == {"x0", "x0*x1", "x0**2"}
    np.testing.assert_allclose(sorted(exact.coef), sorted([1.5, -0.7, -0.3]), atol=1e-9)


def test_rational_form_is_michaelis_menten():
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.uniform(0.1, 5, 300), rng.uniform(1, 2, 300)])
    y = 3 * X[:, 0] * X[:, 1] / (2 + X[:, 0])
    syms = _symbols(2, positive=True)
    lib = build_library(X, syms, rational=True)
    path = forward_path(lib.columns(X, y), y, lib.cost)
    exact = next(f for f in path if f.train_rmse < 1e-9 * np.std(y))
    assert equivalent(law_expr(exact, lib), 3 * syms[0] * syms[1] / (2 + syms[0]), syms)


def test_rational_denominator_has_the_full_degree_on_few_inputs_only():
    """``(u + v)/(1 + u*v*w/50)`` needs ``y*u*v*w`` (degree 3) in the denominator: in the library for
    three inputs, found exactly; for four the denominator keeps degree 2 (the library stays small)."""
    rng = np.random.default_rng(1)
    X = rng.uniform(1, 5, size=(300, 3))
    u, v, w = X.T
    y = (u + v) / (1 + u * v * w / 50)
    syms = _symbols(3, positive=True)
    lib = build_library(X, syms, rational=True)
    assert sympy.Symbol("y") * syms[0] * syms[1] * syms[2] in lib.exprs
    path = nested_paths(lib.columns(X, y), y, lib, max_terms=10, weights=np.ones_like(y))
    exact = next(f for f in path if f.train_rmse < 1e-9 * np.std(y))
    assert equivalent(law_expr(exact, lib), (syms[0] + syms[1]) / (1 + syms[0] * syms[1] * syms[2] / 50), syms)
    four = build_library(np.column_stack([X, X[:, 0]]), _symbols(4, positive=True), rational=True)
    assert max(sum(abs(k) for _, k in powers) for powers, yp in zip(four.exponents, four.y_power) if yp) == 2


def test_reciprocal_functions_are_asked_for_and_give_a_boltzmann_sum():
    """``exp(+-1/x)`` are in the library only when asked (dimensionless inputs); then
    ``1/(exp(1/p) + exp(-1/p))`` is two terms of the inverse target, found exactly."""
    rng = np.random.default_rng(2)
    p = rng.uniform(0.2, 5, size=(300, 1))
    syms = _symbols(1, positive=True)
    assert not any(e.has(sympy.exp(1 / syms[0])) for e in build_library(p, syms).exprs)
    y = 1 / (np.exp(1 / p[:, 0]) + np.exp(-1 / p[:, 0]))
    strategy = SparseStrategy("sparse_inverse", target_power=-1, functions=tuple(UNARY))
    formulas = strategy.propose(_problem(p, y, positive=True), None).formulas
    truth = 1 / (sympy.exp(1 / syms[0]) + sympy.exp(-1 / syms[0]))
    assert any(equivalent(f, truth, syms) for f in formulas), formulas
    assert not UNARY["exp(1/x)"][2](np.array([-1.0, 2.0]))  # a column crossing zero has no smooth reciprocal


def test_function_pairs_give_two_beam_interference_on_few_inputs_only():
    """``1 + r + 2*sqrt(r)*cos(delta)`` needs the product of two functions: found exactly with
    ``function_pairs``, out of the library without; never offered past FUNCTION_PAIR_INPUTS inputs."""
    rng = np.random.default_rng(6)
    X = np.column_stack([rng.uniform(0.2, 5, 400), rng.uniform(0, 6, 400)])
    y = 1 + X[:, 0] + 2 * np.sqrt(X[:, 0]) * np.cos(X[:, 1])
    syms = _symbols(2, positive=True)
    pair = sympy.sqrt(syms[0]) * sympy.cos(syms[1])
    assert pair not in build_library(X, syms).exprs and pair in build_library(X, syms, function_pairs=True).exprs
    formulas = SparseStrategy("sparse", function_pairs=True).propose(_problem(X, y, positive=True), None).formulas
    assert any(equivalent(f, 1 + syms[0] + 2 * pair, syms) for f in formulas), formulas
    # a pair of one input's functions times another input: a driven oscillator's cos(z) + alpha*cos(z)**2
    Z = np.column_stack([rng.uniform(1, 25, 400), rng.uniform(0.5, 2, 400)])
    y2 = np.cos(Z[:, 0]) + Z[:, 1] * np.cos(Z[:, 0]) ** 2
    formulas = SparseStrategy("sparse", function_pairs=True).propose(_problem(Z, y2, positive=True), None).formulas
    assert any(equivalent(f, sympy.cos(syms[0]) + syms[1] * sympy.cos(syms[0]) ** 2, syms) for f in formulas), formulas
    wide = np.column_stack([X, X, X])[:, :4]
    assert all(len(fn or ()) <= 1 for fn in build_library(wide, _symbols(4, positive=True), function_pairs=True).unary)


def test_function_pairs_times_the_other_input_give_the_law_of_cosines():
    """``sqrt(r**2 + 1 - 2*r*cos(a - b))`` (two groups' angles and a length ratio): its square is
    ``1 + r**2 - 2*r*cos(a)*cos(b) - 2*r*sin(a)*sin(b)``, pairs times the third input; exact."""
    rng = np.random.default_rng(8)
    X = np.column_stack([rng.uniform(0.2, 3, 500), rng.uniform(0, 5, 500), rng.uniform(0, 5, 500)])
    r, a, b = X.T
    y = np.sqrt(r**2 + 1 - 2 * r * np.cos(a - b))
    strategy = SparseStrategy("sparse_square", target_power=2, max_degree=4, function_pairs=True, max_terms=8)
    formulas = strategy.propose(_problem(X, y, positive=True), None).formulas
    syms = _symbols(3, positive=True)
    Xn = np.column_stack([rng.uniform(0.2, 3, 50), rng.uniform(0, 5, 50), rng.uniform(0, 5, 50)])
    want = np.sqrt(Xn[:, 0] ** 2 + 1 - 2 * Xn[:, 0] * np.cos(Xn[:, 1] - Xn[:, 2]))
    exact = [f for f in formulas if np.allclose(sympy.lambdify(syms, f)(*Xn.T), want, rtol=1e-9, atol=0)]
    assert exact and min(len(sympy.Add.make_args(sympy.expand(f**2))) for f in exact) <= 4, formulas


def test_select_keeps_the_best_and_smaller_near_ones():
    from kandisco.discovery.sparse import SparseFit

    path = [SparseFit((0,), np.ones(1), 0.0, 1.0, 9.0), SparseFit((0, 1), np.ones(2), 0.0, 1.0, 1.5),
            SparseFit((0, 1, 2), np.ones(3), 0.0, 1.0, 1.0), SparseFit((0, 1, 2, 3), np.ones(4), 0.0, 1.0, 1.1)]
    assert [len(f.support) for f in select_supports(path, keep=4, ratio=2.0)] == [2, 3]  # 9 > 1.0 * 2**3
    assert [len(f.support) for f in select_supports(path, keep=2, ratio=10.0)] == [1, 3]


def _problem(X, y, positive=False, noise=0.0):
    n = len(y)
    cut = int(0.7 * n)
    return Problem(symbols=_symbols(X.shape[1], positive), names=[f"x{i}" for i in range(X.shape[1])], target="y",
                   train=(X[:cut], y[:cut]), val=(X[cut:], y[cut:]), relative=False, seed=0, noise=noise)


def test_strategy_declines_a_law_that_is_no_short_sum():
    X = np.random.default_rng(4).uniform(-2, 2, size=(300, 2))
    with pytest.raises(NothingToPropose, match="fits to the noise"):
        SparseStrategy().propose(_problem(X, np.tanh(3 * X[:, 0] * X[:, 1])), None)


def test_strategy_finds_a_noisy_polynomial_within_the_noise():
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, size=(600, 3))
    clean = 2 * X[:, 0] * X[:, 1] - X[:, 2] ** 2
    y = clean + 0.01 * np.std(clean) * rng.normal(size=600)
    proposal = SparseStrategy().propose(_problem(X, y, noise=0.01 * float(np.std(clean))), None)
    x0, x1, x2 = _symbols(3)
    assert any(equivalent(f, 2 * x0 * x1 - x2**2, _symbols(3)) for f in proposal.formulas), proposal.formulas


def _lorentz(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    q = rng.uniform(-2, 2, n)
    E, v, B = (rng.uniform(-1, 1, (n, 3)) for _ in range(3))
    F = q[:, None] * (E + np.cross(v, B))
    return np.column_stack([q, E, v, B]), F


LORENTZ_NAMES = ["q", "Ex", "Ey", "Ez", "vx", "vy", "vz", "Bx", "By", "Bz"]


def test_discover_finds_the_lorentz_force_from_ten_signed_inputs():
    X, F = _lorentz()
    data = load_dataset((X, F[:, 0]), feature_names=LORENTZ_NAMES, target_name="Fx")
    result = discover(data, budget_seconds=30, n_jobs=1, seed=0)
    q, Ex, By, Bz, vy, vz = sympy.symbols("q Ex By Bz vy vz", real=True)
    law = result.expr.xreplace({s: sympy.Symbol(s.name, real=True) for s in result.expr.free_symbols})
    assert sympy.simplify(law - q * (Ex + vy * Bz - vz * By)) == 0, result.formula
    assert result.pareto[result.chosen].strategy == "sparse"


def test_tidy_keeps_rewrites_that_need_positive_values_to_positive_symbols():
    from kandisco.discovery.polish import tidy

    a, b = sympy.symbols("a b", real=True)
    signed = sympy.sqrt(a) * sympy.sqrt(b)  # sqrt(a*b) would be wrong for a = b = -1
    assert tidy(signed) == signed
    assert tidy(sympy.log(a * b)) == sympy.log(a * b)
    p, r = sympy.symbols("p r", positive=True)
    assert tidy(sympy.log(p * r)) == sympy.log(p) + sympy.log(r)
    assert tidy(sympy.sqrt(1 / p)) == 1 / sympy.sqrt(p)


def test_inputs_spanning_six_decades_under_relative_error():
    rng = np.random.default_rng(6)
    X = np.exp(rng.uniform(np.log(1e-6), 0, size=(500, 2)))
    y = X[:, 0] ** 2 + 3 * X[:, 1] ** 2  # twelve decades of y: judged by relative error
    lib = build_library(X, _symbols(2, positive=True))
    path = forward_path(lib.columns(X), y, lib.cost, weights=1 / np.abs(y))
    exact = next(f for f in path if f.train_rmse < 1e-10)
    assert {str(lib.exprs[k]) for k in exact.support} == {"x0**2", "x1**2"}
    np.testing.assert_allclose(sorted(exact.coef), [1, 3], rtol=1e-9)


@pytest.mark.parametrize("scale", [6.62607015e-34, 8.987551787e16])
def test_tiny_and_huge_constants_are_kept_as_they_are(scale):
    X = np.random.default_rng(7).uniform(1, 3, size=(300, 2))
    result = discover((X, scale * X[:, 0] * X[:, 1]), budget_seconds=20, n_jobs=1, seed=0)
    x0, x1 = sympy.symbols("x0 x1", real=True)
    law = result.expr.xreplace({s: sympy.Symbol(s.name, real=True) for s in result.expr.free_symbols})
    ratio = sympy.simplify(law / (x0 * x1))
    assert ratio.is_number and abs(float(ratio) / scale - 1) < 1e-9, result.formula  # neither 0 nor an integer of 17 digits


def test_nested_tiers_find_a_polynomial_law_along_a_limit_cycle():
    from scipy.integrate import solve_ivp

    from kandisco.discovery.sparse import nested_paths

    rhs = lambda t, s: [1 - 4 * s[0] + s[0] ** 2 * s[1], 3 * s[0] - s[0] ** 2 * s[1]]  # the Brusselator, a = 1, b = 3
    runs = [solve_ivp(rhs, (0, 20), y0, t_eval=np.linspace(0, 20, 300), rtol=1e-10, atol=1e-12).y.T for y0 in ([1, 1], [2, 3], [3, 1])]
    X = np.vstack(runs)  # states along trajectories: correlated, a thin region of the box
    dy = np.array([rhs(0, s)[1] for s in X])
    lib = build_library(X, _symbols(2, positive=True))
    path = nested_paths(lib.columns(X), dy, lib)
    exact = next(f for f in path if f.train_rmse < 1e-9)
    assert {str(lib.exprs[k]) for k in exact.support} == {"x0", "x0**2*x1"}


def _decades(rng, n, signed=False):
    """Magnitudes log-uniform over two decades (1 to 100), of random sign when ``signed``."""
    values = 10 ** rng.uniform(0, 2, n)
    return values * rng.choice([-1, 1], n) if signed else values


def test_monomial_factor_finds_the_whole_power_inputs_of_a_product_law():
    rng = np.random.default_rng(11)
    G, m1, m2, r1, r2 = (_decades(rng, 800, signed=(k == 1)) for k in range(5))
    X = np.column_stack([G, m1, m2, r1, r2])
    y = G * m1 * m2 * (1 / r2 - 1 / r1)  # m1 signed: the factor keeps its sign, r1 and r2 are no factor
    assert monomial_factor(X, y) == ((0, 1), (1, 1), (2, 1))
    assert np.allclose(monomial_values(monomial_factor(X, y), X), G * m1 * m2)
    # a law with no whole-power input has no factor
    a, b = _decades(rng, 800), _decades(rng, 800)
    assert monomial_factor(np.column_stack([a, b]), np.sqrt(a + b)) == ()


def test_factored_strategy_finds_a_short_sum_behind_a_factor_spanning_decades():
    rng = np.random.default_rng(12)
    G, m1, m2, r1, r2 = (_decades(rng, 1000) for _ in range(5))
    X = np.column_stack([G, m1, m2, r1, r2])
    y = G * m1 * m2 * (1 / r2 - 1 / r1)  # signed, 1e-4 .. 1e6 in magnitude
    problem = _problem(X, y, positive=True)
    with pytest.raises(NothingToPropose):  # the plain library's degree cannot hold G*m1*m2/r1
        SparseStrategy().propose(problem, None)
    proposal = SparseStrategy("sparse_factored", factored=True).propose(problem, None)
    s = _symbols(5, positive=True)
    assert any(equivalent(f, s[0] * s[1] * s[2] * (1 / s[4] - 1 / s[3]), s) for f in proposal.formulas), proposal.formulas
    assert "times x0*x1*x2" in proposal.notes[0]


def test_factored_strategy_declines_without_a_factor():
    rng = np.random.default_rng(13)
    a, b = _decades(rng, 500), _decades(rng, 500)
    with pytest.raises(NothingToPropose, match="whole-power factor"):
        SparseStrategy("sparse_factored", factored=True).propose(_problem(np.column_stack([a, b]), np.sqrt(a + b)), None)


def test_inverse_target_is_a_short_sum():
    """``1/(1/d1 + n/d2)`` (lenses in series): no short sum, but its inverse is ``1/d1 + n/d2``."""
    rng = np.random.default_rng(14)
    d1, n, d2 = _decades(rng, 800), _decades(rng, 800), _decades(rng, 800)
    X = np.column_stack([d1, n, d2])
    problem = _problem(X, 1 / (1 / d1 + n / d2), positive=True)
    proposal = SparseStrategy("sparse_inverse", target_power=-1, max_degree=4).propose(problem, None)
    s = _symbols(3, positive=True)
    assert any(equivalent(f, 1 / (1 / s[0] + s[1] / s[2]), s) for f in proposal.formulas), proposal.formulas
    assert proposal.notes[0].endswith("for the power -1")


@pytest.mark.parametrize("momentum", [False, True])
def test_factored_inverse_square_is_the_relativistic_mass_with_signed_velocities(momentum):
    """``m0/sqrt(1 - v**2/c**2)`` with ``v`` of either sign and ``|v| < c``: ``y = m0 * g`` with
    ``g**-2 = 1 - v**2/c**2``; the momentum ``m0*v/sqrt(...)`` changes sign with ``v``, its factor ``m0*v`` too."""
    rng = np.random.default_rng(15)
    m0, c = _decades(rng, 3000), 3 * _decades(rng, 3000)
    v = _decades(rng, 3000, signed=True)
    keep = np.abs(v) < 0.99 * c
    X = np.column_stack([m0, v, c])[keep][:1000]
    y = X[:, 0] * (X[:, 1] if momentum else 1) / np.sqrt(1 - X[:, 1] ** 2 / X[:, 2] ** 2)
    problem = _problem(X, y)
    assert monomial_factor(X, y) == (((0, 1), (1, 1)) if momentum else ((0, 1),))
    proposal = SparseStrategy("sparse_factored_inverse_square", factored=True, target_power=-2, max_degree=4).propose(problem, None)
    s = _symbols(3)

    def exact(f: sympy.Expr) -> bool:  # no fitted float left, and the truth's values on the rows
        return not f.atoms(sympy.Float) and np.allclose(sympy.lambdify(s, f)(*X.T), y, rtol=1e-9)

    assert any(exact(f) for f in proposal.formulas), proposal.formulas


def test_even_power_of_a_signed_target_is_declined():
    rng = np.random.default_rng(16)
    X = rng.uniform(-2, 2, (300, 2))
    with pytest.raises(NothingToPropose, match="one sign"):
        SparseStrategy("sparse_square", target_power=2).propose(_problem(X, X[:, 0] * X[:, 1]), None)


def test_powered_sums_are_offered_only_when_exact_on_noiseless_data():
    """``asin(l/(d*n))``: ten terms for ``1/y`` imitate it to about 4e-5 of its spread (a series of
    ``1/asin``), within the plain sum's 1e-3 tolerance; a powered form must be exact to be offered."""
    rng = np.random.default_rng(17)
    X = np.column_stack([rng.uniform(1, 2, 1000), rng.uniform(2, 5, 1000), rng.uniform(1, 5, 1000)])
    y = np.arcsin(X[:, 0] / (X[:, 1] * X[:, 2]))
    with pytest.raises(NothingToPropose, match="fits to the noise"):
        SparseStrategy("sparse_inverse", target_power=-1, max_degree=4).propose(_problem(X, y, positive=True), None)


def _lenses(seed: int, noise: float) -> tuple[np.ndarray, np.ndarray, float]:
    """``1/(1/d1 + n/d2)`` with additive noise of ``noise`` times its spread, and that noise's sigma."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 5, size=(1000, 3))
    clean = 1 / (1 / X[:, 0] + X[:, 1] / X[:, 2])
    sigma = noise * float(np.std(clean))
    return X, clean + sigma * rng.normal(size=len(clean)), sigma


@pytest.mark.parametrize("seed", range(3))
def test_a_sum_leaving_no_trend_fits_to_noise_the_estimate_did_not_see(seed):
    """With no noise seen, a powered sum must be exact; when the estimate (kind "none") could not tell
    1% noise from curvature, a sum whose residuals leave no trend near it shows the noise, and is fitted
    and snapped as under seen noise (residual_tests.shows_noise)."""
    X, y, sigma = _lenses(seed, 0.01)
    strategy = SparseStrategy("sparse_inverse", target_power=-1, max_degree=4)
    with pytest.raises(NothingToPropose, match="fits to the noise"):
        strategy.propose(_problem(X, y, positive=True), None)
    problem = replace(_problem(X, y, positive=True), unseen_noise=1.3 * sigma)
    proposal = strategy.propose(problem, None)
    s = _symbols(3, positive=True)
    assert any(equivalent(f, 1 / (1 / s[0] + s[1] / s[2]), s) for f in proposal.formulas), proposal.formulas
    assert "leave no trend" in proposal.notes[0]


def test_a_sum_that_misses_noiseless_data_shows_no_noise_however_high_the_estimate():
    """Noiseless data: the best sum's error is smooth (neighbours share it), so no estimate turns it into noise."""
    X = np.random.default_rng(4).uniform(-2, 2, size=(600, 2))
    y = np.tanh(3 * X[:, 0] * X[:, 1])
    with pytest.raises(NothingToPropose, match="fits to the noise"):
        SparseStrategy().propose(replace(_problem(X, y), unseen_noise=float(np.std(y))), None)
