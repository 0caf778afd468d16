"""The structured strategy end to end, and the y**p views, on data from known laws (sympy oracle)."""

import numpy as np
import sympy

from kandisco.discover import discover
from kandisco.discover.pipeline import FLAT_LIBRARY, Strategy
from kandisco.discover.structured import run_structured
from kandisco.symbolic.equivalence import check_equivalence


def test_power_view_recovers_a_relativistic_factor(one_torch_thread):
    rng = np.random.default_rng(0)
    u = rng.uniform(0.1, 0.7, 400)
    y = 2.0 / np.sqrt(1 - u**2)
    view = Strategy("power_-2_additive", [1, 1], "ypow", FLAT_LIBRARY, steps=40, y_power=-2.0)
    res = discover((u[:, None], y), budget_seconds=30, strategies=[view])
    truth = 2 / sympy.sqrt(1 - sympy.Symbol("x0", real=True) ** 2)
    assert check_equivalence(res.expr, truth, {"x0": (0.1, 0.7)}).verdict == "exact", res.formula


def test_structured_strategy_finds_a_sum_inside_a_product(one_torch_thread):
    rng = np.random.default_rng(1)
    X = rng.uniform(1.0, 3.0, size=(800, 3))
    y = X[:, 0] * (X[:, 1] + X[:, 2] ** 2)
    symbols = [sympy.Symbol(f"x{i}", positive=True) for i in range(3)]
    run = run_structured(symbols, (X[:500], y[:500]), (X[500:], y[500:]), seed=0)
    assert run.tree.kind == "product", run.tree.describe()
    x0, x1, x2 = sympy.symbols("x0 x1 x2", real=True)
    ranges = {n: (1.0, 3.0) for n in ("x0", "x1", "x2")}
    verdicts = [check_equivalence(f, x0 * (x1 + x2**2), ranges).verdict for f in run.formulas]
    assert "exact" in verdicts, run.formulas
    assert set(run.timings) >= {"surrogate", "structure", "graph fit", "leaves", "total"}
