"""Small tables: candidates judged by K-fold cross-validation with constants refitted per fold,
the one-standard-error rule, and constants consistent with zero dropped."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from kandisco import discover
from kandisco.discovery.cross_validation import SMALL_TABLE, cross_validate, is_small_table
from kandisco.discovery.result import Candidate

x = sympy.Symbol("x0", positive=True)
NAMES = ["r"]


def _candidate(expr: sympy.Expr, loss: float = 1.0, strategy: str = "test") -> Candidate:
    return Candidate.from_expr(expr, [x], NAMES, loss=loss, strategy=strategy, seconds=0.0, config={"name": strategy})


def _line(n: int, seed: int, slope: float = 3.0, offset: float = 0.0, noise: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.5, 4.0, size=(n, 1))
    return X, slope * X[:, 0] + offset + noise * rng.normal(size=n)


def test_leave_one_out_errors_of_a_linear_law_match_the_press_closed_form():
    # 8 rows < FOLDS: one fold per row; for y = c*x the left-out residual is r_i / (1 - h_ii), h_ii = x_i^2 / sum x^2
    X, y = _line(8, seed=1)
    cv = cross_validate([_candidate(sympy.Float(2.0) * x)], [x], X, y, relative=False, seed=0, names=NAMES)
    assert cv.folds == 8
    c = float(X[:, 0] @ y / (X[:, 0] @ X[:, 0]))
    leverage = X[:, 0] ** 2 / (X[:, 0] @ X[:, 0])
    press = (y - c * X[:, 0]) / (1 - leverage)
    linear = next(k for k in cv.candidates if "dropped_constant" not in k.config)
    assert linear.loss == pytest.approx(float(np.sqrt(np.mean(press**2))), rel=1e-6)
    assert linear.config["validation_loss"] == 1.0 and linear.config["selection"] == "cross-validation"


def test_an_interpolating_polynomial_loses_to_the_law_under_cross_validation():
    X, y = _line(20, seed=2)
    law = _candidate(sympy.Float(2.5) * x, loss=1.0)
    coef = np.polyfit(X[:, 0], y, 9)  # fits the 20 rows' noise: a luckier validation loss
    wiggly = _candidate(sum(sympy.Float(float(c)) * x**k for k, c in enumerate(coef[::-1])), loss=0.1)
    cv = cross_validate([wiggly, law], [x], X, y, relative=False, seed=0, names=NAMES)
    by_source = {id(cv.sources[id(c)]): c.loss for c in cv.candidates if "dropped_constant" not in c.config}
    # the polynomial loses, or is not scored at all: its left-out rows have leverage beyond MAX_LEVERAGE
    assert by_source[id(law)] < by_source.get(id(wiggly), np.inf)

    assert min(c.loss for c in cv.candidates) <= cv.equal_loss


def test_an_offset_consistent_with_zero_is_dropped_and_a_real_one_kept():
    X, y = _line(20, seed=3, offset=0.0)
    with_offset = _candidate(sympy.Float(2.9) * x + sympy.Float(0.2))
    cv = cross_validate([with_offset], [x], X, y, relative=False, seed=0, names=NAMES)
    dropped = [c for c in cv.candidates if c.config.get("dropped_constant") == pytest.approx(0.2)]
    assert len(dropped) == 1 and dropped[0].complexity < with_offset.complexity
    r = sympy.Symbol("r", real=True)
    slope = float(X[:, 0] @ y / (X[:, 0] @ X[:, 0]))  # the variant is refitted: the closed form of c*r
    variant = dropped[0].expr(NAMES)
    assert variant.free_symbols == {r} and float(variant.coeff(r)) == pytest.approx(slope, rel=1e-8) and variant.coeff(r, 0) == 0
    assert dropped[0].loss <= cv.equal_loss  # cross-validation cannot tell it from the full formula: it may win

    X, y = _line(20, seed=3, offset=5.0)
    cv = cross_validate([_candidate(sympy.Float(2.9) * x + sympy.Float(4.0))], [x], X, y, relative=False, seed=0, names=NAMES)
    no_offset = [c for c in cv.candidates if c.config.get("dropped_constant") == pytest.approx(4.0)]
    assert no_offset and no_offset[0].loss > cv.equal_loss  # a real offset stays


def test_a_narrow_bump_fitted_to_one_row_is_not_scored():
    # the bump's constants are felt by one row only: left out, its refit keeps the search's values (hindsight)
    X = np.linspace(0.5, 4.0, 20).reshape(-1, 1)  # rows 0.18 apart: exp(-1e4 * 0.18**2) = 0 at the neighbours
    y = 3.0 * X[:, 0] + 0.3 * np.random.default_rng(7).normal(size=20)
    row = 7
    height = float(y[row] - 3.0 * X[row, 0]) + 1.0
    bump = sympy.Float(3.0) * x + sympy.Float(height) * sympy.exp(-sympy.Float(1e4) * (x - sympy.Float(float(X[row, 0]))) ** 2)
    cv = cross_validate([_candidate(bump)], [x], X, y, relative=False, seed=0, names=NAMES)
    assert all("exp" not in c.formula for c in cv.candidates)


def test_a_formula_with_as_many_constants_as_fold_rows_is_not_scored():
    X, y = _line(5, seed=4)
    many = _candidate(sum(sympy.Float(1.0 + k) * x**k for k in range(5)))
    cv = cross_validate([many], [x], X, y, relative=False, seed=0, names=NAMES)
    assert cv.candidates == []


def test_the_small_table_threshold():
    assert is_small_table(SMALL_TABLE - 1) and not is_small_table(SMALL_TABLE)


def test_discover_on_a_small_noisy_table_picks_the_plain_law_without_an_offset():
    # Boyle's law on 25 rows with 1% scatter: the law is c / V, no additive constant
    rng = np.random.default_rng(5)
    V = np.linspace(12.0, 48.0, 25)
    p = 1400.0 / V * (1 + 0.01 * rng.normal(size=25))
    res = discover((V.reshape(-1, 1), p), budget_seconds=15, seed=0)
    law = res.expr
    V_ = sympy.Symbol(res.features[0], real=True)
    assert sympy.simplify(law * V_).is_Number, f"{res.formula} is not c / V"
    assert any("cross-validation" in n for n in res.notes)
    assert res.pareto[res.chosen].config["selection"] == "cross-validation"


def test_pick_takes_the_simplest_entry_within_one_paired_standard_error():
    from kandisco.discovery.result import pareto_front

    X, y = _line(20, seed=6, slope=3.0, noise=0.3)
    law = _candidate(sympy.Float(2.9) * x)
    quadratic = _candidate(sympy.Float(2.9) * x + sympy.Float(0.01) * x**2 + sympy.Float(0.1) * sympy.sin(x))
    constant = _candidate(sympy.Float(7.0))
    cv = cross_validate([constant, quadratic, law], [x], X, y, relative=False, seed=0, names=NAMES)
    front = pareto_front(cv.candidates)
    chosen = front[cv.pick(front)]
    assert sympy.simplify(chosen.expr(NAMES) / sympy.Symbol("r", real=True)).is_Number, chosen.formula
    # the constant is far worse than the best, paired row by row: never picked though simplest
    assert chosen.complexity > 1
