"""Shifted rank-one factorisation c + g(a) h(b) of scattered 2-D data, on known laws."""

import numpy as np
import sympy

from kandisco.discovery.factor import shifted_product, spline_design
from kandisco.discovery.structured import _shifted_product_candidates
from kandisco.symbolic.formula import formula_rmse, refit_constants


def _points(n: int = 600, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.uniform(1, 5, n), rng.uniform(1, 5, n)


def test_spline_design_is_a_partition_of_unity_on_the_data():
    a, _ = _points()
    basis = spline_design(a, 10)
    np.testing.assert_allclose(basis.sum(axis=1), 1.0, atol=1e-12)
    assert basis.shape == (len(a), 10 + 2)


def test_shifted_product_recovers_offset_and_factors():
    a, theta = _points()
    fit = shifted_product(a, theta, 1.0 + a * np.cos(theta))
    assert fit.relative_error < 1e-4
    assert abs(fit.offset - 1.0) < 1e-3
    # the factors up to the gauge g*k, h/k: h is cos(theta), g is a
    assert abs(np.corrcoef(fit.h, np.cos(theta))[0, 1]) > 1 - 1e-6
    assert abs(np.corrcoef(fit.g, a)[0, 1]) > 1 - 1e-6
    np.testing.assert_allclose(fit.offset + fit.g * fit.h, 1.0 + a * np.cos(theta), atol=1e-3)


def test_shifted_product_reports_a_law_that_is_no_product():
    a, theta = _points()
    assert shifted_product(a, theta, np.sin(a * theta)).relative_error > 0.1


def test_shifted_product_candidates_include_the_law():
    # a leaf seen through a slightly inaccurate module: c + g*h candidates still have the law's shape
    a, theta = _points(seed=1)
    Z = np.column_stack([a, theta])
    law = 2.3 + a * np.sin(theta)
    scored = _shifted_product_candidates(["a", "theta"], Z, law * (1 + 1e-5 * np.cos(3 * a)), seed=0)
    ports = [sympy.Symbol("a", real=True), sympy.Symbol("theta", real=True)]
    errors = [formula_rmse(refit_constants(e, ports, Z, law), ports, Z, law) for _, e in scored]
    assert scored and min(errors) < 1e-8, [e for _, e in scored]
    assert _shifted_product_candidates(["a", "theta"], Z, np.sin(a * theta), seed=0) == []
