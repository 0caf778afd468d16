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
* ``sparse_inverse``, ``sparse_square``, ``sparse_inverse_square`` [7.1-7.3] and, for a target over
  decades, their factored forms ``y = M * g``: the sum for ``1/g``, ``g**2`` or ``g**-2``
  (``1/(1/d1 + n/d2)``, ``sqrt((x2 - x1)**2 + (y2 - y1)**2)``; ``m0*v/sqrt(1 - v**2/c**2)`` with
  ``M = m0*v``, of either sign, and ``g**-2 = 1 - v**2/c**2``), monomials up to degree
  :data:`POWER_MAX_DEGREE`, weighted by ``|M|/|p g**(p-1)|`` so that the fit is, to first order, the
  least squares on ``y`` (an even power needs ``g`` of one sign);
* ``sparse_rational`` [32]: ``y = P / (1 - Q)`` through the linear form ``y = P + y*Q``
  (Michaelis-Menten's ``a*x/(b + x)``, a predator's ``a*x*y/(b + x)``).

Each keeps a few support sizes of its path that fit to the noise (within three of its standard
deviations, since the noise is itself estimated; or, without noise, to the
stopping tolerance ``found_relative_rmse``; on a small table, which the pipeline judges by
cross-validation, every support may be kept): the best on validation and the smaller ones close to
it, polished like every other candidate, so the Pareto front and the noise-aware choice
decide between them and the KAN strategies' laws. Where the noise estimate saw no noise
(``problem.unseen_noise``) and no sum fits exactly, a best sum whose residuals leave no trend near
the estimate has seen noise (:func:`~kandisco.discovery.residual_tests.shows_noise`): the path is
fitted again with its loss as the noise (docs/noise.md).
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
from ..residual_tests import near_unseen_noise, shows_noise
from ..sparse import (
    PLAIN_FUNCTIONS,
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
# powers of the target whose law may be a short sum, with the strategies' name parts
TARGET_POWERS = ((-1, "inverse"), (2, "square"), (-2, "inverse_square"))
# without noise, a factored or powered sum is offered only within this relative RMSE (the plain sum: found_relative_rmse)
EXACT_SUM_RMSE = 1e-6
# the highest total degree of a monomial for the powered targets (1 - v**2/c**2 has degree 4; lowered to fit max_features)
POWER_MAX_DEGREE = 4


@dataclass
class SparseStrategy:
    """Forward orthogonal least squares over a library of products (see the module docstring)."""

    name: str = "sparse"
    seed: int = 0
    rational: bool = False
    factored: bool = False
    target_power: int = 1
    functions: tuple[str, ...] = PLAIN_FUNCTIONS  # the library's one-variable functions (names of sparse.UNARY)
    function_pairs: bool = False  # products of two functions too, of one input or two (few inputs only)
    exact_only: bool = False  # without noise, offer only exact sums (EXACT_SUM_RMSE), as for factored or powered ones
    max_terms: int = 10
    max_degree: int = 3
    function_degree: int = 3
    max_features: int = 3000
    rows: int = 1000
    simplify_seconds: float = 3.0

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "sparse", "seed": self.seed, "rational": self.rational,
                "factored": self.factored, "target_power": self.target_power,
                "functions": list(self.functions), "function_pairs": self.function_pairs, "exact_only": self.exact_only, "max_terms": self.max_terms,
                "max_degree": self.max_degree, "function_degree": self.function_degree, "max_features": self.max_features,
                "rows": self.rows}

    def propose(self, problem: Problem, deadline: float | None) -> Proposal:
        X, y = problem.train
        if len(y) > self.rows:
            rows = np.sort(np.random.default_rng(self.seed).choice(len(y), self.rows, replace=False))
            X, y = X[rows], y[rows]
        if self.rational and not np.all(np.abs(y) > 0):
            raise NothingToPropose("the rational form needs a target that is never zero")
        p = self.target_power
        factor = monomial_factor(X, y) if self.factored else ()
        if self.factored and not factor:
            raise NothingToPropose("no input is a whole-power factor of the target")
        M = monomial_values(factor, X)
        g = y / M  # y = M * g, and the sum fits g, 1/g, g**2 or g**-2
        sign = _target_sign(g, p)
        with np.errstate(all="ignore"):
            u = (sign * g) ** float(p)
        if not np.all(np.isfinite(u)):
            raise NothingToPropose(f"the target's part to sum is not finite on every row to the power {p}")
        library = build_library(X, problem.symbols, max_degree=self.max_degree, function_degree=self.function_degree,
                                functions=self.functions, max_features=self.max_features, rational=self.rational,
                                function_pairs=self.function_pairs)
        A = library.columns(X, u)
        usable = np.all(np.isfinite(A), axis=0)
        # residuals in y's units (or relative to y), to first order, whatever the factor and power:
        # |M| |u - sum| / |p g**(p-1)| = |y - law| (and / |y| under relative error)
        with np.errstate(all="ignore"):
            weights = 1 / np.abs(p * u) if problem.relative else np.abs(M) / np.abs(p * g ** float(p - 1))
        if not np.all(np.isfinite(weights)):
            raise NothingToPropose("the weights of the sum's fit are not finite on every row")
        library.cost = library.cost * np.where(usable, 1, np.inf)  # a term not finite on some row is never the tie-break's pick
        Xv, yv = problem.val
        Bv = library.columns(Xv, np.ones(len(yv)))
        Mv = monomial_values(factor, Xv)

        def fitted_path(noise: float) -> list[SparseFit]:
            # past the noise (in the weighted units of the fit) more terms only fit the noise
            path = nested_paths(np.where(usable, A, 0.0), u, library, max_terms=self.max_terms, weights=weights,
                                target=noise, deadline=deadline)
            for fit in path:
                fit.val_rmse = _val_loss(fit, library, Bv, yv, problem.relative, Mv, p, sign)
            return path

        # a sum that misses the data by more than the noise is an approximation the KAN strategies
        # make better: only laws that fit to the noise (or to the stopping tolerance) are polished
        # (on a small table the noise is unknown and cross-validation judges: every support may be offered)
        # a factor or a power widens what ten terms can imitate (asin(u) as 1/(1/u - u/6 ...) to 4e-5 of the
        # spread): those forms are offered only as exact laws on noiseless data
        tolerance = EXACT_SUM_RMSE if (self.factored or p != 1 or self.exact_only) else problem.config.found_relative_rmse
        noise = problem.noise
        path = fitted_path(noise)
        gate = math.inf if problem.small_table else max(3 * noise, tolerance * problem.y_spread)
        chosen = select_supports([f for f in path if f.val_rmse <= gate], keep=3)
        notes: list[str] = []
        seen = 0.0
        closest = min(path, key=lambda f: f.val_rmse, default=None)
        if (not chosen and closest is not None and not problem.small_table
                and near_unseen_noise(closest.val_rmse, problem.unseen_noise, problem.y_spread)):
            B = library.columns(X, np.ones(len(y)))  # (the training rows' terms: only when the loss could be unseen noise)
            residuals = np.concatenate([_residuals(closest, library, B, y, problem.relative, M, p, sign),
                                        _residuals(closest, library, Bv, yv, problem.relative, Mv, p, sign)])
            if shows_noise(np.vstack([X, Xv]), residuals, closest.val_rmse, problem.unseen_noise, problem.y_spread):
                seen = closest.val_rmse
        if seen:  # the best sum's residuals are noise the estimate did not see: fitted as with noise seen
            noise = seen
            path = fitted_path(noise)
            gate = 3 * noise
            chosen = select_supports([f for f in path if f.val_rmse <= gate], keep=3)
            notes.append(f"{self.name}: a sum's residuals leave no trend at {seen:.3g} (the noise estimate, "
                         f"{problem.unseen_noise:.3g}, could not tell noise from curvature): fitted to that noise")
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
            expr = monomial_expr(factor, problem.symbols) * _undo_power(law_expr(fit, library), p, sign)
            formulas += polish_formula(expr, problem.symbols, problem.train, problem.val, self.simplify_seconds, problem.relative,
                                       noise=noise, correlated_rows=problem.correlated_rows)
        terms = ", ".join(str(len(f.support)) for f in chosen)
        named = [sympy.Symbol(n) for n in problem.names]
        times = f" times {monomial_expr(factor, named)}" if factor else ""
        of = f" for the power {p}" if p != 1 else ""
        return Proposal(formulas, notes=[*notes, f"{self.name}: {len(library)} candidate terms; kept sums of {terms} term(s){times}{of}"])


def _target_sign(g: np.ndarray, power: int) -> float:
    """The sign ``g`` is divided by before an even power (``g = sign * u**(1/p)`` after), 1 otherwise."""
    if power % 2:
        return 1.0
    if np.all(g > 0) or np.all(g < 0):
        return float(np.sign(g[0]))
    raise NothingToPropose(f"an even power ({power}) needs a target (after its factor) of one sign")


def _undo_power(u: sympy.Expr, power: int, sign: float) -> sympy.Expr:
    """The law for ``g`` from the law ``u`` for ``(sign * g)**power`` (``power`` one of 1, -1, 2, -2)."""
    if power == 1:
        return u
    return sympy.Integer(int(sign)) * u ** sympy.Rational(1, power)


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


def _residuals(fit: SparseFit, library: FeatureLibrary, B: np.ndarray, y: np.ndarray, relative: bool,
               factor: np.ndarray | None = None, power: int = 1, sign: float = 1.0) -> np.ndarray:
    """The support's residuals (relative to ``|y|`` under relative error) on the rows ``B`` (terms' values, ``y`` = 1)
    of the law ``factor * g``, the sum being ``(sign * g)**power`` (NaN where an even root meets a sum that
    is not positive: no real ``g`` there); ``factor``: the monomial factor's values there, when there is one."""
    ytag = np.asarray([library.y_power[k] for k in fit.support], dtype=bool)
    cols = B[:, list(fit.support)]
    with np.errstate(all="ignore"):
        top = fit.intercept + cols[:, ~ytag] @ fit.coef[~ytag]
        pred = top / (1 - cols[:, ytag] @ fit.coef[ytag])
        if power % 2 == 0:
            pred = sign * np.where(pred > 0, pred, np.nan) ** (1 / power)
        elif power == -1:
            pred = 1 / pred
        if factor is not None:
            pred = pred * factor
        return (pred - y) / np.abs(y) if relative else pred - y


def _val_loss(fit: SparseFit, library: FeatureLibrary, B: np.ndarray, y: np.ndarray, relative: bool,
              factor: np.ndarray | None = None, power: int = 1, sign: float = 1.0) -> float:
    """The support's RMSE on the validation rows (see :func:`_residuals`); infinite where not finite."""
    with np.errstate(all="ignore"):
        loss = float(np.sqrt(np.mean(_residuals(fit, library, B, y, relative, factor, power, sign) ** 2)))
    return loss if np.isfinite(loss) else float("inf")


def plan_sparse_strategies(problem: Problem) -> list[tuple[float, Strategy]]:
    """Both sparse strategies (module docstring), unless ``config.sparse`` is off."""
    cfg = problem.config
    if not cfg.sparse:
        return []

    def make(name: str, rational: bool = False, factored: bool = False, power: int = 1) -> SparseStrategy:
        degree = cfg.sparse_max_degree if power == 1 else max(cfg.sparse_max_degree, POWER_MAX_DEGREE)
        return SparseStrategy(name, seed=problem.seed, rational=rational, factored=factored, target_power=power,
                              max_terms=cfg.sparse_max_terms, max_degree=degree, function_degree=cfg.sparse_function_degree,
                              max_features=cfg.sparse_max_features, rows=cfg.sparse_rows, simplify_seconds=cfg.simplify_seconds)

    low, high = np.quantile(np.abs(problem.train[1]), [0.05, 0.95])
    decades = bool(high > FACTOR_DECADES_RATIO * low)
    units = problem.units
    # dimensional analysis is the stronger prior: with fewer pi groups than inputs, the strategies on
    # the groups (priority <= 30) go first
    after_groups = units is not None and units.pi is not None and units.pi.n_groups < problem.n_inputs
    first = 33.0 if after_groups else 5.0
    plan: list[tuple[float, Strategy]] = [(first, make("sparse")), (34.0 if after_groups else 32.0, make("sparse_rational", rational=True))]
    powers = list(enumerate(TARGET_POWERS, start=1))
    plan += [(first + 2 + 0.1 * k, make(f"sparse_{label}", power=power)) for k, (power, label) in powers]
    if decades:  # each factored form just after its plain one
        plan.append((first + 1, make("sparse_factored", factored=True)))
        plan += [(first + 2.05 + 0.1 * k, make(f"sparse_factored_{label}", factored=True, power=power)) for k, (power, label) in powers]
    return plan


register_planner("sparse", plan_sparse_strategies)
