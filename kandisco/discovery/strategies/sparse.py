"""Sparse-regression strategies: the law as a short sum of products of candidate terms.

Planned first, since they take a second or two (priorities in brackets; when units give fewer pi
groups than inputs, both come after the strategies on the groups, at 33 and 34):

* ``sparse`` [5]: ``y = c0 + sum c_k term_k`` over monomials with cross terms and one-variable
  functions times monomials (:mod:`kandisco.discovery.sparse`): the Lorentz force's
  ``q*Ex + q*vy*Bz - q*vz*By``, the cross terms of trajectory laws (``a*x - b*x*y``);
* ``sparse_factored`` [6] (a target whose magnitudes span decades): ``y = M * (c0 + sum c_k term_k)``,
  ``M`` the whole-power monomial factor of :func:`~kandisco.discovery.sparse.monomial_factor`
  (``G*m1*m2*(1/r2 - 1/r1)``: a sum of two terms of degree four, beyond the plain library's degree);
  the sum is fitted to ``y / M`` weighted by ``|M|`` (by ``1/|y/M|`` under relative error), which is
  the plain strategy's least squares on ``y``;
* ``sparse_rational`` [32]: ``y = P / (1 - Q)`` through the linear form ``y = P + y*Q``
  (Michaelis-Menten's ``a*x/(b + x)``, a predator's ``a*x*y/(b + x)``).

Each keeps a few support sizes of its path that fit to the noise (within three of its standard
deviations, since the noise is itself estimated; or, without noise, to the
stopping tolerance ``found_relative_rmse``; on a small table, which the pipeline judges by
cross-validation, every support may be kept): the best on validation and the smaller ones close to
it, polished like every other candidate, so the Pareto front and the noise-aware choice
decide between them and the KAN strategies' laws.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from ..polish import polish_formula
from ..problem import NothingToPropose, Problem, Proposal
from ..sparse import (
    FeatureLibrary,
    SparseFit,
    build_library,
    monomial_expr,
    monomial_factor,
    monomial_values,
    nested_paths,
    select_supports,
)
from .base import Strategy, register_planner

__all__ = ["SparseStrategy", "plan_sparse_strategies"]

# on a small table every support of up to this many terms on the path is offered (one per tier and size)
SMALL_TABLE_TERMS = 3
# the factored form is planned when the target's 95th magnitude percentile is over this many times its 5th
FACTOR_DECADES_RATIO = 100.0


@dataclass
class SparseStrategy:
    """Forward orthogonal least squares over a library of products (see the module docstring)."""

    name: str = "sparse"
    seed: int = 0
    rational: bool = False
    factored: bool = False
    max_terms: int = 10
    max_degree: int = 3
    function_degree: int = 3
    max_features: int = 3000
    rows: int = 1000
    simplify_seconds: float = 3.0

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "sparse", "seed": self.seed, "rational": self.rational,
                "factored": self.factored, "max_terms": self.max_terms,
                "max_degree": self.max_degree, "function_degree": self.function_degree, "max_features": self.max_features,
                "rows": self.rows}

    def propose(self, problem: Problem, deadline: float | None) -> Proposal:
        X, y = problem.train
        if len(y) > self.rows:
            rows = np.sort(np.random.default_rng(self.seed).choice(len(y), self.rows, replace=False))
            X, y = X[rows], y[rows]
        if self.rational and not np.all(np.abs(y) > 0):
            raise NothingToPropose("the rational form needs a target that is never zero")
        factor = monomial_factor(X, y) if self.factored else ()
        if self.factored and not factor:
            raise NothingToPropose("no input is a whole-power factor of the target")
        M = monomial_values(factor, X)
        t = y / M  # the sum's target (y itself without a factor)
        library = build_library(X, problem.symbols, max_degree=self.max_degree, function_degree=self.function_degree,
                                max_features=self.max_features, rational=self.rational)
        A = library.columns(X, t)
        usable = np.all(np.isfinite(A), axis=0)
        # residuals in y's units (or relative to y), whatever the factor: |M| (t - sum) = |y - M sum|
        weights = 1 / np.abs(t) if problem.relative else (np.abs(M) if factor else None)
        library.cost = library.cost * np.where(usable, 1, np.inf)  # a term not finite on some row is never the tie-break's pick
        # past the noise (in the weighted units of the fit) more terms only fit the noise
        path = nested_paths(np.where(usable, A, 0.0), t, library, max_terms=self.max_terms, weights=weights,
                            target=problem.noise, deadline=deadline)
        Xv, yv = problem.val
        Bv = library.columns(Xv, np.ones(len(yv)))
        Mv = monomial_values(factor, Xv)
        for fit in path:
            fit.val_rmse = _val_loss(fit, library, Bv, yv, problem.relative, Mv)
        # a sum that misses the data by more than the noise is an approximation the KAN strategies
        # make better: only laws that fit to the noise (or to the stopping tolerance) are polished
        # (on a small table the noise is unknown and cross-validation judges: every support may be offered)
        gate = math.inf if problem.small_table else max(3 * problem.noise, problem.config.found_relative_rmse * problem.y_spread)
        chosen = select_supports([f for f in path if f.val_rmse <= gate], keep=3)
        if problem.small_table:  # the short sums of every tier, too: the plainest terms may lose on a few training rows
            chosen = sorted({f.support: f for f in [*chosen, *(f for f in path if len(f.support) <= SMALL_TABLE_TERMS)]}.values(),
                            key=lambda f: len(f.support))
        if not chosen:
            best = min((f.val_rmse for f in path), default=float("inf"))
            raise NothingToPropose(f"no sum of up to {self.max_terms} library terms fits to the noise "
                                   f"(best validation loss {best:.3g}, needed {gate:.3g})")
        formulas: list[sympy.Expr] = []
        for fit in chosen:
            if deadline is not None and time.perf_counter() > deadline and formulas:
                break
            expr = law_expr(fit, library) * monomial_expr(factor, problem.symbols)
            formulas += polish_formula(expr, problem.symbols, problem.train, problem.val, self.simplify_seconds, problem.relative,
                                       noise=problem.noise, correlated_rows=problem.correlated_rows)
        terms = ", ".join(str(len(f.support)) for f in chosen)
        named = [sympy.Symbol(n) for n in problem.names]
        times = f" times {monomial_expr(factor, named)}" if factor else ""
        return Proposal(formulas, notes=[f"{self.name}: {len(library)} candidate terms; kept sums of {terms} term(s){times}"])


def law_expr(fit: SparseFit, library: FeatureLibrary) -> sympy.Expr:
    """The law of one support: ``(c0 + sum c_k P_k) / (1 - sum q_k Q_k)`` (no denominator without ``y`` terms)."""
    y = sympy.Symbol("y")
    top: sympy.Expr = sympy.Float(fit.intercept)
    bottom: sympy.Expr = sympy.Integer(1)
    for k, c in zip(fit.support, fit.coef):
        term = sympy.Float(float(c)) * library.exprs[k]
        if library.y_power[k]:
            bottom -= term.subs(y, 1)
        else:
            top += term
    return top / bottom


def _val_loss(fit: SparseFit, library: FeatureLibrary, B: np.ndarray, y: np.ndarray, relative: bool,
              factor: np.ndarray | None = None) -> float:
    """The support's RMSE (relative under relative error) on the validation rows ``B`` (terms' values, ``y`` = 1),
    the sum times ``factor`` (the monomial factor's values there) when the law has one."""
    ytag = np.asarray([library.y_power[k] for k in fit.support], dtype=bool)
    cols = B[:, list(fit.support)]
    with np.errstate(all="ignore"):
        top = fit.intercept + cols[:, ~ytag] @ fit.coef[~ytag]
        pred = top / (1 - cols[:, ytag] @ fit.coef[ytag])
        if factor is not None:
            pred = pred * factor
        err = (pred - y) / np.abs(y) if relative else pred - y
        loss = float(np.sqrt(np.mean(err**2)))
    return loss if np.isfinite(loss) else float("inf")


def plan_sparse_strategies(problem: Problem) -> list[tuple[float, Strategy]]:
    """Both sparse strategies (module docstring), unless ``config.sparse`` is off."""
    cfg = problem.config
    if not cfg.sparse:
        return []

    def make(name: str, rational: bool, factored: bool = False) -> SparseStrategy:
        return SparseStrategy(name, seed=problem.seed, rational=rational, factored=factored, max_terms=cfg.sparse_max_terms,
                              max_degree=cfg.sparse_max_degree, function_degree=cfg.sparse_function_degree,
                              max_features=cfg.sparse_max_features, rows=cfg.sparse_rows, simplify_seconds=cfg.simplify_seconds)

    low, high = np.quantile(np.abs(problem.train[1]), [0.05, 0.95])
    decades = bool(high > FACTOR_DECADES_RATIO * low)
    units = problem.units
    # dimensional analysis is the stronger prior: with fewer pi groups than inputs, the strategies on
    # the groups (priority <= 30) go first
    after_groups = units is not None and units.pi is not None and units.pi.n_groups < problem.n_inputs
    plain, factored, rational = (33.0, 33.5, 34.0) if after_groups else (5.0, 6.0, 32.0)
    plan: list[tuple[float, Strategy]] = [(plain, make("sparse", False)), (rational, make("sparse_rational", True))]
    if decades:
        plan.append((factored, make("sparse_factored", False, True)))
    return plan


register_planner("sparse", plan_sparse_strategies)
