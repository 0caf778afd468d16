"""discover(constraints=...): symmetric, monotone and known-part laws, checked against hand-worked cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sympy

from kandisco.discovery import discover
from kandisco.discovery.constrained import LawConstraints
from kandisco.discovery.priors import known_law
from kandisco.kan.constraints import ConstraintError, Monotone, Positive, Symmetric

x0, x1 = sympy.symbols("x0 x1", real=True)


def test_checks_on_hand_worked_formulas():
    X = np.random.default_rng(0).uniform(0, 3, (300, 2))
    sym = LawConstraints.build([Symmetric(0, 1)], ["a", "b"], [x0, x1])
    assert sym.violations(x0 * x1 / (x0 + x1), [x0, x1], X) == []
    assert sym.violations(x0 * x1**2, [x0, x1], X) == ["not symmetric in a, b"]  # the columns' names, not x0, x1
    pos = LawConstraints.build([Positive()], ["a", "b"], [x0, x1])
    assert pos.violations((x0 - 1) ** 2 + x1, [x0, x1], X) == []
    assert pos.violations(x0**2 - 0.5, [x0, x1], X) != []
    inc = LawConstraints.build([Monotone("a")], ["a", "b"], [x0, x1])
    assert inc.violations(sympy.exp(x0) * x1, [x0, x1], X) == []
    assert inc.violations(sympy.sin(x0), [x0, x1], X) == ["not increasing in a"]  # sin falls after pi/2
    assert inc.violations(sympy.sin(x0) / x1, [x0, x1], np.vstack([X, [[1.0, 0.0]]])) != []  # an infinite value on a row hides nothing


def test_bad_constraints_are_clear_errors():
    with pytest.raises(ConstraintError, match="no input named 'c'"):
        LawConstraints.build([Symmetric("a", "c")], ["a", "b"], [x0, x1])
    with pytest.raises(ConstraintError, match="q"):
        LawConstraints.build([known_law("a*q", ["a", "q"])], ["a", "b"], [x0, x1])


@pytest.mark.slow
def test_symmetric_law_found_symmetric():
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, (400, 2))
    df = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "R": X[:, 0] * X[:, 1] / (X[:, 0] + X[:, 1])})
    res = discover(df, "R", budget_seconds=20, n_jobs=1, constraints=[Symmetric("a", "b")])
    a, b = sympy.symbols("a b", real=True)
    assert sympy.simplify(res.expr - res.expr.xreplace({a: b, b: a})) == 0
    assert res.config["constraints"]["satisfied"]


def test_monotone_constraint_rejects_the_unconstrained_law():
    x = np.random.default_rng(1).uniform(0, 3, 300)
    df = pd.DataFrame({"x": x, "y": np.sin(x)})
    res = discover(df, "y", budget_seconds=8, n_jobs=1, constraints=[Monotone("x")])
    assert res.config["constraints"]["satisfied"]
    xs = sympy.Symbol("x", real=True)
    slope = sympy.lambdify(xs, sympy.diff(res.expr, xs))(np.linspace(0, 3, 200))
    assert np.all(np.asarray(slope) >= -1e-9)  # sin(x), the unconstrained law, falls after pi/2


def test_known_part_plus_remainder():
    rng = np.random.default_rng(2)
    x, v, w = rng.uniform(-1, 1, 400), rng.uniform(-1, 1, 400), rng.uniform(1, 2, 400)
    df = pd.DataFrame({"x": x, "v": v, "omega": w, "a": -(w**2) * x - 0.3 * v * np.abs(v)})
    res = discover(df, "a", budget_seconds=15, n_jobs=1, constraints=[known_law("-omega**2*x", ["x", "v", "omega"])])
    xs, vs, ws = sympy.symbols("x v omega", real=True)
    assert sympy.simplify(res.expr - (-(ws**2) * xs - sympy.Rational(3, 10) * vs * sympy.Abs(vs))) == 0
