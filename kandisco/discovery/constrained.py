"""Constraints on a discovered law: symmetric, never negative, monotone, or containing a known part.

``discover(..., constraints=[Symmetric("x", "y"), Positive(), Monotone("t", increasing=False),
known_law("-k*x", names)])`` takes the constraint objects of :mod:`kandisco.kan.constraints` and
applies them to the search as a whole, whatever strategy proposes a formula:

* **every candidate is checked** (:meth:`LawConstraints.verdict`), and one that breaks a constraint
  never wins nor ends the search (``config["constraints_satisfied"]``), like a dimensionally
  inconsistent one. Symmetry: the formula is unchanged, to rounding (relative 1e-9), under every
  permutation of the variables on the table's rows. Positivity: not negative on the rows nor on
  2,000 points drawn in the rows' bounding box. Monotonicity: the formula's derivative (sympy) has
  the right sign on every row. A law refitted afterwards that breaks one keeps its unrefitted form.
* **Symmetric**: the strategies search on the training rows plus their permuted copies (a symmetric
  law fits both), so what they propose leans to the symmetric form.
* **KnownLaw** (with its sympy ``formula``, as :func:`~kandisco.discovery.priors.known_law` builds it):
  the strategies search for the remainder ``y - known(x)`` (with an absolute loss: a remainder may
  cross zero), and each candidate is ``known + remainder``, judged on the target itself.

``fit(kan, X, y, constraints=...)`` is the other way in: it trains one KAN inside the constraint
(exact symmetry and positivity by construction); discovery selects among every strategy's formulas.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from ..kan.constraints import Constraint, ConstraintError, KnownLaw, Monotone, Positive, Symmetric, input_index
from ..symbolic.formula import to_callable

__all__ = ["LawConstraints"]

SYMMETRY_RTOL = 1e-9  # |f(x) - f(perm x)| <= this * max |f|: equal to rounding
SIGN_RTOL = 1e-9  # a value (or scaled slope) below -this * scale is a violation
BOX_POINTS = 2000  # points drawn in the bounding box for the positivity check
CHECK_ROWS = 2000  # rows the checks evaluate (a seeded sample of larger tables)


@dataclass(frozen=True)
class LawConstraints:
    """The user's constraints resolved against the table's inputs (column numbers), ready to apply."""

    symmetric: tuple[tuple[int, ...], ...] = ()
    positive: bool = False
    monotone: tuple[tuple[int, bool], ...] = ()  # (column, increasing)
    known: sympy.Expr | None = None  # in the internal symbols x0, x1, ... (the pipeline's ``symbols``)
    labels: tuple[str, ...] = ()  # one readable line per constraint, for the result
    names: tuple[str, ...] = ()  # the inputs' column names, for the messages

    @classmethod
    def build(cls, constraints: Sequence[Constraint] | None, names: Sequence[str], symbols: Sequence[sympy.Symbol]) -> LawConstraints:
        """Resolve ``constraints`` on inputs ``names`` (internal ``symbols``); a clear error for a bad one."""
        symmetric: list[tuple[int, ...]] = []
        monotone: list[tuple[int, bool]] = []
        positive = False
        known: sympy.Expr | None = None
        labels: list[str] = []
        n = len(names)
        for c in constraints or ():
            if isinstance(c, Symmetric):
                group = tuple(input_index(v, names, n, "Symmetric") for v in c.variables)
                symmetric.append(group)
                labels.append(f"symmetric in {', '.join(names[i] for i in group)}")
            elif isinstance(c, Positive):
                positive = True
                labels.append("never negative")
            elif isinstance(c, Monotone):
                i = input_index(c.variable, names, n, "Monotone")
                monotone.append((i, bool(c.increasing)))
                labels.append(f"{'increasing' if c.increasing else 'decreasing'} in {names[i]}")
            elif isinstance(c, KnownLaw):
                if known is not None:
                    raise ConstraintError("give one KnownLaw (the sum of the known parts)")
                known = _known_expr(c, names, symbols)
                labels.append(f"contains the known part {sympy.sstr(c.formula)}")
            else:
                raise ConstraintError(f"discover does not know the constraint {c!r}: use Symmetric, Positive, Monotone or KnownLaw")
        return cls(tuple(symmetric), positive, tuple(monotone), known, tuple(labels), tuple(names))

    def __bool__(self) -> bool:
        return bool(self.labels)

    # ------------------------------------------------------------------ the search's data
    def search_data(self, part: tuple[np.ndarray, np.ndarray], symbols: Sequence[sympy.Symbol], augment: bool) -> tuple[np.ndarray, np.ndarray]:
        """What the strategies fit: the remainder after the known part, and (``augment``, training
        rows) the rows' copies under each symmetry's permutations."""
        X, y = part
        if self.known is not None:
            y = y - to_callable(self.known, symbols)(X)
        if augment:
            for group in self.symmetric:
                copies = [X, *_permuted(X, group)]
                X, y = np.vstack(copies), np.tile(y, len(copies))
        return X, y

    def complete(self, expr: sympy.Expr) -> sympy.Expr:
        """A strategy's formula for the remainder as the law: ``known + expr``."""
        return expr if self.known is None else self.known + expr

    # ------------------------------------------------------------------ the checks
    def verdict(self, expr: sympy.Expr, symbols: Sequence[sympy.Symbol], X: np.ndarray, seed: int = 0) -> dict[str, Any]:
        """A candidate's config entries: ``constraints_satisfied`` and the violations (none without constraints)."""
        if not self:
            return {}
        broken = self.violations(expr, symbols, X, seed)
        return {"constraints_satisfied": not broken, **({"constraint_violations": broken} if broken else {})}

    def violations(self, expr: sympy.Expr, symbols: Sequence[sympy.Symbol], X: np.ndarray, seed: int = 0) -> list[str]:
        """The constraints ``expr`` breaks on the table's rows ``X`` (an empty list: it keeps all of them)."""
        rng = np.random.default_rng(seed)
        rows = X if len(X) <= CHECK_ROWS else X[rng.choice(len(X), CHECK_ROWS, replace=False)]
        try:
            f = to_callable(expr, symbols)
            values = f(rows)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
            return [f"cannot be evaluated ({type(exc).__name__})"]
        finite = np.abs(values[np.isfinite(values)])
        scale = float(finite.max()) if finite.size else 1.0  # an infinite value must not make every check vacuous
        broken: list[str] = []
        for group in self.symmetric:
            if not _symmetric(f, rows, values, group, scale):
                broken.append(f"not symmetric in {', '.join(self._name(i, symbols) for i in group)}")
        if self.positive:
            box = rng.uniform(rows.min(axis=0), rows.max(axis=0), size=(BOX_POINTS, rows.shape[1]))
            both = np.concatenate([values, f(box)])
            if np.any(both[np.isfinite(both)] < -SIGN_RTOL * scale):
                broken.append("negative somewhere on the data's range")
        for i, increasing in self.monotone:
            if not _monotone(expr, symbols, rows, i, increasing, scale):
                broken.append(f"not {'increasing' if increasing else 'decreasing'} in {self._name(i, symbols)}")
        return broken

    def _name(self, i: int, symbols: Sequence[sympy.Symbol]) -> str:
        return self.names[i] if i < len(self.names) else str(symbols[i])

    def summary(self, expr: sympy.Expr, symbols: Sequence[sympy.Symbol], X: np.ndarray, seed: int = 0) -> dict[str, Any]:
        """``result.config["constraints"]``: the constraints and what the chosen law does with them."""
        broken = self.violations(expr, symbols, X, seed)
        return {"constraints": list(self.labels), "satisfied": not broken, "violations": broken}


def _permuted(X: np.ndarray, group: tuple[int, ...]) -> Iterator[np.ndarray]:
    """``X`` with the columns of ``group`` permuted, once for every permutation but the identity."""
    for perm in itertools.permutations(group):
        if perm != group:
            Xp = X.copy()
            Xp[:, list(group)] = X[:, list(perm)]
            yield Xp


def _symmetric(f: Any, rows: np.ndarray, values: np.ndarray, group: tuple[int, ...], scale: float) -> bool:
    for Xp in _permuted(rows, group):
        other = f(Xp)
        both = np.isfinite(values) & np.isfinite(other)
        if np.any(np.isfinite(values) != np.isfinite(other)) or np.any(np.abs(values[both] - other[both]) > SYMMETRY_RTOL * max(scale, 1e-300)):
            return False
    return True


def _monotone(expr: sympy.Expr, symbols: Sequence[sympy.Symbol], rows: np.ndarray, i: int, increasing: bool, scale: float) -> bool:
    """The slope in input ``i``, times the input's spread, is not of the wrong sign beyond rounding."""
    slope = to_callable(sympy.diff(expr, symbols[i]), symbols)(rows) * (float(np.std(rows[:, i])) or 1.0)
    slope = slope[np.isfinite(slope)]
    signed = slope if increasing else -slope
    return not np.any(signed < -SIGN_RTOL * max(scale, 1e-300))


def _known_expr(law: KnownLaw, names: Sequence[str], symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
    """The known part in the pipeline's symbols; its variables must be inputs of the table."""
    if law.formula is None:
        raise ConstraintError("discover needs the known law's formula: build it with kandisco.discovery.priors.known_law(formula, inputs)")
    formula = sympy.sympify(law.formula)
    spelled = list(law.names) if law.names is not None else [f"x{i}" for i in range(len(names))]
    mapping: dict[sympy.Basic, sympy.Expr] = {}
    for sym in formula.free_symbols:
        name = str(sym)
        if name not in spelled:
            raise ConstraintError(f"the known law's variable {name!r} is not among its inputs ({', '.join(spelled)})")
        column = spelled.index(name) if law.names is None else input_index(name, names, len(names), "KnownLaw")
        mapping[sym] = symbols[column]
    return formula.xreplace(mapping)
