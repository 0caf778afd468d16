"""Model selection on small tables: K-fold cross-validation with the constants refitted per fold,
and the one-standard-error rule.

A table of a few dozen rows leaves a validation split of a handful of rows, on which a wiggly
formula can beat the law by luck (Hubble's 24 galaxies: 5 validation rows picked
``646*tanh(16*r**5/9)`` over ``c*r``, which is the better fit on all rows). Below
:data:`SMALL_TABLE` rows of training and validation data together, every eligible candidate is
judged instead on all of those rows: for each of :data:`FOLDS` folds its constants are refitted on
the other rows (from the values the search found) and its errors taken on the fold. Its loss
becomes the root mean of these out-of-fold errors (relative ones under a relative loss). Every
number in the formula but small integers and halves is refitted per fold, including the nice
numbers the search snapped to on these rows (:func:`freed_constants`): each costs what it is, a
constant fitted to the data. A formula whose left-out rows are predicted by constants the other rows
do not determine (a narrow bump fitted to one row: its refit keeps the value the search fitted with
that row) is not scored (:func:`_determined`).

"Equally good" is then the one-standard-error rule (Breiman et al. 1984; Hastie, Tibshirani and
Friedman, *The Elements of Statistical Learning*, 7.10) in its paired form: a front entry counts as
accurate when its cross-validated mean squared error exceeds the best entry's by at most one
standard error of their row-by-row difference (the same rows, so the rows' own scatter cancels),
and the simplest such entry wins (:meth:`CrossValidation.pick`). The same razor is offered on each fitted constant: the best few candidates are also
tried with one constant set to zero (a term dropped, an offset ``+ 0.17 +- 0.13`` removed), and such
a variant wins when cross-validation cannot tell it from the full formula.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import sympy

from ..symbolic.formula import ConstantTemplate, complexity, freed_constants, refit_constants
from .result import Candidate

__all__ = ["FOLDS", "SMALL_TABLE", "CrossValidation", "cross_validate", "is_small_table"]

# tables with fewer training + validation rows than this are judged by cross-validation
SMALL_TABLE = 60
# folds (leave-one-out when there are fewer rows)
FOLDS = 10
# candidates cross-validated at most, the lowest validation losses of each complexity first
MAX_CANDIDATES = 60
PER_COMPLEXITY = 3
# this many of the best cross-validated candidates are also tried with each constant set to zero
ZEROED_FROM = 5
# a left-out row whose prediction has more leverage than this (relative to the other rows' information
# on the constants) is predicted by constants the other rows do not determine: the formula is not scored
MAX_LEVERAGE = 10.0
RIDGE = 1e-10
# a fold's refit needs more rows than the formula has constants, by this many
SPARE_ROWS = 2
# mean squared errors within this fraction of the best one's are a tie whatever the paired error says
# (two forms of one law, c/V and c/tan(a*V) with a -> 0, differ row by row by a hair, consistently)
TIE = 0.02


def is_small_table(n_rows: int) -> bool:
    """Whether a table with ``n_rows`` training and validation rows is judged by cross-validation."""
    return n_rows < SMALL_TABLE


@dataclass(frozen=True)
class CrossValidation:
    """The cross-validated candidates (each a copy whose ``loss`` is its out-of-fold RMSE), the
    loss up to which they count as equally accurate by the unpaired one-standard-error rule, and each
    copy's out-of-fold errors for the paired rule of :meth:`pick`."""

    candidates: list[Candidate]
    equal_loss: float
    folds: int
    note: str
    sources: dict[int, Candidate] = field(default_factory=dict)  # id of a copy -> the candidate it was made from
    errors: dict[int, np.ndarray] = field(default_factory=dict)  # id of a copy -> its out-of-fold errors

    def pick(self, front: Sequence[Candidate]) -> int:
        """Index of the simplest entry of ``front`` (complexity ascending, as the Pareto front is)
        whose mean squared error is within one paired standard error (or ``TIE``) of the lowest one's."""
        scored = [i for i, c in enumerate(front) if id(c) in self.errors]
        if not scored:
            return min(range(len(front)), key=lambda i: front[i].loss)
        best = min(scored, key=lambda i: front[i].loss)
        best_sq = self.errors[id(front[best])] ** 2
        for i in sorted(scored, key=lambda i: front[i].complexity):
            diff = self.errors[id(front[i])] ** 2 - best_sq
            se = float(np.std(diff, ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else 0.0
            if float(np.mean(diff)) <= max(se, TIE * float(np.mean(best_sq))):
                return i
        return best


def cross_validate(
    candidates: Sequence[Candidate],
    symbols: Sequence[sympy.Symbol],
    X: np.ndarray,
    y: np.ndarray,
    *,
    relative: bool,
    seed: int,
    names: Sequence[str],
    seconds: float = 10.0,
) -> CrossValidation:
    """Every candidate (at most :data:`MAX_CANDIDATES`, the best by validation loss first) judged
    by K-fold cross-validation on ``(X, y)``, plus the best ones with a constant set to zero.

    ``names``: the inputs' column names (for the variants' formulas). ``seconds`` caps the work:
    candidates not reached by then are left out (they are the ones with the higher validation losses).
    Candidates keep their strategy and config (a variant its other constants refitted on all of
    ``(X, y)``); the config records the validation loss they had and, for a variant, the constant dropped.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    folds = _folds(len(y), seed)
    internal_names = [f"x{i}" for i in range(len(symbols))]
    internal = {sympy.Symbol(n, real=True): s for n, s in zip(internal_names, symbols)}
    deadline = time.perf_counter() + seconds
    scored: list[tuple[Candidate, np.ndarray, sympy.Expr]] = []
    sources: dict[int, Candidate] = {}
    seen: set[str] = set()

    def score(cand: Candidate, expr: sympy.Expr, extra: dict[str, object], source: Candidate) -> None:
        key = sympy.srepr(expr)
        if key in seen:
            return
        seen.add(key)
        # a variant with a constant dropped keeps the others' values from the full formula: refitted on
        # all of these rows, it is the formula the folds start from and the one reported (Boyle's
        # 9.08/(tan(0.0063*V) + 0.038) without its -0.035 shift was 70x off the data as written)
        fitted = refit_constants(expr, symbols, X, y, relative=relative) if extra and expr.atoms(sympy.Float) else expr
        errors = _out_of_fold_errors(fitted, symbols, X, y, folds, relative)
        if errors is None:
            return
        loss = float(np.sqrt(np.mean(errors**2)))
        config = {**cand.config, "validation_loss": cand.loss, "selection": "cross-validation", **extra}
        copy = replace(cand, loss=loss, config=config) if fitted == expr else Candidate.from_expr(
            fitted, symbols, names, loss=loss, strategy=cand.strategy, seconds=cand.seconds, score=cand.score, config=config)
        scored.append((copy, errors, fitted))
        sources[id(copy)] = source

    for cand in _pool(candidates):
        if time.perf_counter() > deadline and scored:
            break
        score(cand, cand.expr(internal_names).xreplace(internal), {}, cand)
    ranked = sorted(scored, key=lambda item: item[0].loss)[:ZEROED_FROM]
    for cand, _, expr in ranked:
        for f in sorted(expr.atoms(sympy.Float), key=sympy.default_sort_key):
            if time.perf_counter() > deadline:
                break
            variant = expr.xreplace({f: sympy.Integer(0)})
            if variant.has(sympy.zoo, sympy.oo, sympy.nan) or not variant.free_symbols or complexity(variant) >= complexity(expr):
                continue
            dropped = Candidate.from_expr(variant, symbols, names, loss=cand.loss, strategy=cand.strategy,
                                          seconds=cand.seconds, config=cand.config)
            score(dropped, variant, {"dropped_constant": float(f)}, sources[id(cand)])
    if not scored:
        return CrossValidation([], 0.0, len(folds), "cross-validation: no candidate could be refitted on the folds")
    best_errors = min(scored, key=lambda item: item[0].loss)[1]
    squared = best_errors**2
    # the one-standard-error rule: the best mean squared error plus its standard error
    mse_se = float(np.std(squared, ddof=1) / math.sqrt(len(squared))) if len(squared) > 1 else 0.0
    equal = math.sqrt(float(np.mean(squared)) + mse_se)
    note = (f"small table ({len(y)} rows): {len(scored)} formulas judged by {len(folds)}-fold cross-validation with their "
            f"constants refitted per fold; the simplest within one paired standard error of the best wins")
    return CrossValidation([c for c, _, _ in scored], equal, len(folds), note, sources, {id(c): e for c, e, _ in scored})


def _pool(candidates: Sequence[Candidate]) -> list[Candidate]:
    """The candidates worth cross-validating: per complexity the lowest validation losses, best first."""
    by_complexity: dict[int, list[Candidate]] = {}
    for cand in sorted((c for c in candidates if math.isfinite(c.loss)), key=lambda c: c.loss):
        kept = by_complexity.setdefault(cand.complexity, [])
        if len(kept) < PER_COMPLEXITY:
            kept.append(cand)
    pool = sorted((c for kept in by_complexity.values() for c in kept), key=lambda c: c.loss)
    return pool[:MAX_CANDIDATES]


def _determined(template: ConstantTemplate, theta: np.ndarray, X_rest: np.ndarray, X_fold: np.ndarray) -> bool:
    """Whether the fold's predictions rest on constants the other rows determine: every left-out row's
    leverage ``j (J'J)^-1 j'`` (``J`` the Jacobian on the other rows, columns at unit scale) is at most
    ``MAX_LEVERAGE``. A constant that only the left-out rows feel (a narrow bump fitted to one row)
    keeps its value from the search's fit on all rows, where it saw that row: its prediction is hindsight."""
    def jacobian(X: np.ndarray) -> np.ndarray:
        base = template.predict(theta, X)
        cols = []
        for k in range(len(theta)):
            step = 1e-6 * max(abs(float(theta[k])), 1e-8)
            moved = theta.copy()
            moved[k] += step
            cols.append((template.predict(moved, X) - base) / step)
        return np.stack(cols, axis=1)

    J_rest, J_fold = jacobian(X_rest), jacobian(X_fold)
    if not (np.all(np.isfinite(J_rest)) and np.all(np.isfinite(J_fold))):
        return False
    scale = np.sqrt(np.sum(J_rest**2, axis=0) + np.sum(J_fold**2, axis=0))
    scale[scale == 0] = 1.0
    J_rest, J_fold = J_rest / scale, J_fold / scale
    gram = J_rest.T @ J_rest + RIDGE * np.eye(len(theta))
    leverage = np.einsum("ij,jk,ik->i", J_fold, np.linalg.inv(gram), J_fold)
    return bool(np.all(leverage <= MAX_LEVERAGE))


def _folds(n: int, seed: int) -> list[np.ndarray]:
    """``min(FOLDS, n)`` folds of a seeded permutation of the rows."""
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(part) for part in np.array_split(order, min(FOLDS, n))]


def _out_of_fold_errors(expr: sympy.Expr, symbols: Sequence[sympy.Symbol], X: np.ndarray, y: np.ndarray,
                        folds: list[np.ndarray], relative: bool) -> np.ndarray | None:
    """Each row's error when its fold's constants were fitted on the other rows (None: not finite somewhere).

    Every number other than a small integer or half is refitted per fold, the nice ones the search
    snapped to as well: the snaps were judged on these same rows, so keeping them fixed would let a
    formula of many snapped constants (``11*pi*(p + 5/7)/(9*p/(5*pi**2) + 3)``) fit the folds by hindsight."""
    template = ConstantTemplate(freed_constants(expr), symbols)
    n_floats = len(template.floats)
    errors = np.empty(len(y))
    for fold in folds:
        rest = np.setdiff1d(np.arange(len(y)), fold)
        if n_floats and len(rest) < n_floats + SPARE_ROWS:
            return None
        try:
            theta = template.fit(X[rest], y[rest], relative=relative)
            pred = template.predict(theta, X[fold])
            if n_floats and not _determined(template, theta, X[rest], X[fold]):
                return None
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, np.linalg.LinAlgError):
            return None
        err = (pred - y[fold]) / np.abs(y[fold]) if relative else pred - y[fold]
        if not np.all(np.isfinite(err)):
            return None
        errors[fold] = err
    return errors
