"""Standard errors of fitted constants, against closed forms and scipy's curve_fit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
from scipy.optimize import curve_fit

from kandisco.symbolic.formula import refit_constants
from kandisco.symbolic.uncertainty import ConstantFit, constant_errors, constant_order, format_with_error, with_errors

x = sympy.Symbol("x", real=True)


def _by_value(expr: sympy.Expr, fit) -> dict[float, float]:
    return {round(float(f), 9): c.error for f, c in zip(constant_order(expr), fit.constants)}


def test_straight_line_errors_match_the_ols_closed_form():
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 10, 50)
    y = 3.0 * X + 2.0 + rng.normal(0, 0.5, 50)
    expr = refit_constants(sympy.Float(1.0) * x + sympy.Float(1.5), [x], X[:, None], y)
    fit = constant_errors(expr, [x], X[:, None], y)
    A = np.column_stack([X, np.ones_like(X)])
    coef, rss, *_ = np.linalg.lstsq(A, y, rcond=None)
    cov = rss[0] / (len(y) - 2) * np.linalg.inv(A.T @ A)
    errors = _by_value(expr, fit)
    assert errors[round(coef[0], 9)] == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-6)
    assert errors[round(coef[1], 9)] == pytest.approx(math.sqrt(cov[1, 1]), rel=1e-6)
    assert fit.dof == 48 and fit.reduced_chi2 is None


def test_nonlinear_errors_match_curve_fit():
    rng = np.random.default_rng(2)
    t = np.linspace(0, 2, 40)
    y = 9.0 * np.exp(-2.0 * t) + rng.normal(0, 0.05, 40)
    expr = refit_constants(sympy.Float(8.0) * sympy.exp(sympy.Float(-1.5) * x), [x], t[:, None], y)
    popt, pcov = curve_fit(lambda t, a, k: a * np.exp(k * t), t, y, p0=[8.0, -1.5])
    errors = _by_value(expr, constant_errors(expr, [x], t[:, None], y))
    for value, var in zip(popt, np.diag(pcov)):
        match = min(errors, key=lambda v: abs(v - value))
        assert match == pytest.approx(value, rel=1e-5)
        assert errors[match] == pytest.approx(math.sqrt(var), rel=1e-3)


def test_a_constant_inside_abs_gets_the_curve_fit_error():
    """d/dk |x - k| is -sign(x - k) for real k; a complex-valued parameter's derivative had Derivative(re(k)) terms no printer evaluates."""
    rng = np.random.default_rng(3)
    t = np.linspace(-1, 2, 60)
    y = 2.0 * np.abs(t - 0.3) + rng.normal(0, 0.05, 60)
    expr = refit_constants(sympy.Float(1.8) * sympy.Abs(x - sympy.Float(0.25)), [x], t[:, None], y)
    popt, pcov = curve_fit(lambda t, c, b: c * np.abs(t - b), t, y, p0=[1.8, 0.25])
    errors = _by_value(expr, constant_errors(expr, [x], t[:, None], y))
    for value, var in zip(popt, np.diag(pcov)):
        match = min(errors, key=lambda v: abs(abs(v) - value))  # sympy may write |x - b| as |b - x|: the float's sign flips
        assert abs(match) == pytest.approx(value, rel=1e-4)
        assert errors[match] == pytest.approx(math.sqrt(var), rel=1e-2)


def test_weighted_errors_are_absolute_like_curve_fit_absolute_sigma():
    rng = np.random.default_rng(3)
    X = rng.uniform(1, 5, 30)
    sigma = rng.uniform(0.1, 0.5, 30)
    y = 2.0 * X**2 + rng.normal(0, sigma)
    expr = refit_constants(sympy.Float(1.5) * x**2, [x], X[:, None], y, weights=1 / sigma)
    popt, pcov = curve_fit(lambda X, a: a * X**2, X, y, sigma=sigma, absolute_sigma=True)
    fit = constant_errors(expr, [x], X[:, None], y, sigma=sigma)
    assert fit.constants[0].value == pytest.approx(popt[0], rel=1e-6)
    assert fit.constants[0].error == pytest.approx(math.sqrt(pcov[0, 0]), rel=1e-6)
    # the reduced chi-square of a law that is right and honest sigmas is about 1
    assert 0.5 < fit.reduced_chi2 < 1.6


def test_a_constant_the_data_cannot_identify_has_an_infinite_error():
    X = np.linspace(1, 2, 20)
    a, b = sympy.Float(2.0), sympy.Float(3.0)
    expr = sympy.Mul(a, sympy.exp(b + x), evaluate=False)  # a*exp(b + x): only a*e^b is determined
    y = 2.0 * np.exp(3.0 + X) * (1 + 0.01 * np.sin(7 * X))
    fit = constant_errors(expr, [x], X[:, None], y)
    assert all(math.isinf(c.error) for c in fit.constants)


def test_no_degrees_of_freedom_left_gives_infinite_errors():
    X = np.array([[1.0], [2.0]])
    fit = constant_errors(sympy.Float(1.0) * x + sympy.Float(0.5), [x], X, np.array([1.4, 2.6]))
    assert fit.dof == 0 and all(math.isinf(c.error) for c in fit.constants)


@pytest.mark.parametrize("value, error, text", [
    (465.23, 50.4, "465 +- 50"),
    (0.42312, 0.00123, "0.4231 +- 0.0012"),
    (46523.0, 1234.0, "46500 +- 1200"),
    (1.5, math.inf, "1.5 +- inf"),
    (-2.71828, 0.0314, "-2.718 +- 0.031"),
])
def test_value_and_error_are_rounded_to_the_errors_second_digit(value, error, text):
    assert format_with_error(value, error) == text


def test_the_formula_is_written_with_each_constant_and_its_error():
    r = sympy.Symbol("r")
    expr = sympy.Float(465.23) * r + sympy.Float(-40.0)
    consts = [ConstantFit(-40.0, 83.0), ConstantFit(465.23, 50.4)]  # in constant_order: -40 sorts first
    assert [float(f) for f in constant_order(expr)] == [-40.0, 465.23]
    assert with_errors(expr, consts) == "(465 +- 50)*r + (-40 +- 83)"
    assert with_errors(expr, consts, latex=True) == r"\left(465 \pm 50\right) r - \left(40 \pm 83\right)"
    with pytest.raises(ValueError, match="2 floats but 1"):
        with_errors(expr, consts[:1])
