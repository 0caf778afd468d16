"""``gplearn``: gplearn's ``SymbolicRegressor``, one warm-started generation at a time until the budget.

gplearn has no time limit, so generations are added one by one (``warm_start``) while another one
fits in the budget, or until the best program's mean absolute error is ~0. The best program
(``est._program.program``, a prefix list of functions, feature indices and float constants) is
converted to sympy node by node, not through its string. gplearn's protected operators (``div``,
``sqrt``, ``log``, ``inv``, ``abs``) become the plain function wherever their guard does not fire on
the training data (e.g. ``div`` is ``a/b`` when ``|b| > 0.001`` on every row), and an exact
``Piecewise``/``Abs`` form otherwise, so the formula computes what gplearn computed on that data.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np
import sympy

from . import Method, feature_symbols

FUNCTION_SET = ("add", "sub", "mul", "div", "sqrt", "log", "neg", "inv", "sin", "cos")
GUARD = 0.001  # gplearn's threshold in div, log and inv


class GPLearn(Method):
    """gplearn GP (population 1000, tournament 20, parsimony 0.001, as in SRBench's configuration)."""

    name = "gplearn"
    module = "gplearn"
    distribution = "gplearn"

    def fit(self, X: np.ndarray, y: np.ndarray, features: Sequence[str], target: str, budget: float, seed: int) -> sympy.Expr:
        from gplearn.genetic import SymbolicRegressor

        tol = 1e-10 * max(float(np.std(y)), 1e-300)
        est = SymbolicRegressor(
            population_size=1000, generations=1, tournament_size=20, function_set=FUNCTION_SET,
            parsimony_coefficient=0.001, p_crossover=0.9, p_subtree_mutation=0.01, p_hoist_mutation=0.01,
            p_point_mutation=0.01, stopping_criteria=tol, warm_start=True, low_memory=True,
            random_state=seed, n_jobs=1,
        )
        start = time.perf_counter()
        generations = 1
        est.fit(X, y)
        while True:
            elapsed = time.perf_counter() - start
            if elapsed * (generations + 1) / generations > budget or est.run_details_["best_fitness"][-1] <= tol:
                break
            generations += 1
            est.set_params(generations=generations)
            est.fit(X, y)
        return program_to_sympy(est._program.program, np.asarray(X, dtype=np.float64), features)


def program_to_sympy(program: list[Any], X: np.ndarray, features: Sequence[str]) -> sympy.Expr:
    """A gplearn prefix program as sympy in the names ``features``, exact on the rows of ``X``."""
    symbols = feature_symbols(features)
    n = X.shape[0]

    def build(i: int) -> tuple[sympy.Expr, np.ndarray, int]:
        node = program[i]
        if isinstance(node, (int, np.integer)):
            return symbols[int(node)], X[:, int(node)], i + 1
        if isinstance(node, (float, np.floating)):
            return sympy.Float(float(node)), np.full(n, float(node)), i + 1
        args, values, j = [], [], i + 1
        for _ in range(node.arity):
            expr, vals, j = build(j)
            args.append(expr)
            values.append(vals)
        with np.errstate(all="ignore"):
            out = np.asarray(node.function(*values), dtype=np.float64) * np.ones(n)
        return _function(node.name, args, values), out, j

    expr, _, end = build(0)
    if end != len(program):
        raise ValueError(f"gplearn program has {len(program) - end} trailing node(s)")
    return expr


def _function(name: str, args: list[sympy.Expr], values: list[np.ndarray]) -> sympy.Expr:
    a = args[0]
    v = values[0]
    if name == "add":
        return a + args[1]
    if name == "sub":
        return a - args[1]
    if name == "mul":
        return a * args[1]
    if name == "div":
        b = args[1]
        if np.all(np.abs(values[1]) > GUARD):
            return a / b
        return sympy.Piecewise((a / b, sympy.Abs(b) > GUARD), (sympy.Integer(1), True))
    if name == "sqrt":
        return sympy.sqrt(_abs(a, v))
    if name == "log":
        if np.all(np.abs(v) > GUARD):
            return sympy.log(_abs(a, v))
        return sympy.Piecewise((sympy.log(sympy.Abs(a)), sympy.Abs(a) > GUARD), (sympy.Integer(0), True))
    if name == "inv":
        if np.all(np.abs(v) > GUARD):
            return 1 / a
        return sympy.Piecewise((1 / a, sympy.Abs(a) > GUARD), (sympy.Integer(0), True))
    if name == "neg":
        return -a
    if name == "abs":
        return _abs(a, v)
    if name == "max":
        return sympy.Max(a, args[1])
    if name == "min":
        return sympy.Min(a, args[1])
    if name in ("sin", "cos", "tan"):
        return getattr(sympy, name)(a)
    if name == "sig":
        return 1 / (1 + sympy.exp(-a))
    raise ValueError(f"gplearn function {name!r} has no sympy counterpart here")


def _abs(a: sympy.Expr, v: np.ndarray) -> sympy.Expr:
    """|a|, written as a or -a when the sign of a does not change on the data."""
    if np.all(v >= 0):
        return a
    if np.all(v <= 0):
        return -a
    return sympy.Abs(a)
