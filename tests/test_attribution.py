"""Input importance: closed forms, a compiled KAN graph agreeing with its formula, discover's result."""

import numpy as np
import sympy

from kandisco.discovery import discover
from kandisco.kan.attribution import input_importance, module_input_importance
from kandisco.discovery.compiler import compile_formula


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(1.0, 3.0, size=(n, 3))


def test_importance_matches_the_closed_form():
    X = _data()
    fn = lambda Z: Z[:, 0] ** 2 + 0.1 * Z[:, 1]  # noqa: E731 - x2 unused
    raw = np.array([np.mean(2 * X[:, 0]) * X[:, 0].std(), 0.1 * X[:, 1].std(), 0.0])
    np.testing.assert_allclose(input_importance(fn, X), raw / raw.sum(), rtol=1e-6, atol=1e-12)


def test_graph_scores_agree_with_the_formula():
    X = _data()
    x, y, z = sympy.symbols("x y z", real=True)
    law = x * sympy.exp(-y) + sympy.sin(z)
    model = _compiled(law, ["x", "y", "z"])
    f = sympy.lambdify([x, y, z], law, "numpy")
    by_formula = input_importance(lambda Z: f(*Z.T), X)
    np.testing.assert_allclose(model.input_scores(X).numpy(), by_formula, rtol=1e-5)
    np.testing.assert_allclose(module_input_importance(model, X), by_formula, rtol=1e-5)
    assert abs(by_formula.sum() - 1) < 1e-12


def _compiled(expr, names):
    return compile_formula(expr, names).compile()


def test_discover_reports_importance(one_torch_thread):
    rng = np.random.default_rng(1)
    X = rng.uniform(1, 4, size=(300, 2))
    y = 2.5 * X[:, 0] ** 2  # the second column is noise the law ignores
    res = discover((X, y), budget_seconds=20, seed=0, max_strategies=2)
    used, ignored = res.features
    assert list(res.importance) == [used, ignored]  # most important first
    assert res.importance[used] > 0.99 and res.importance[ignored] < 0.01
    again = type(res).from_json(res.to_json())
    assert again.importance == res.importance
