"""Sparse regression over products of candidate features: laws that are short sums of terms.

Polynomial and rational laws with cross terms (``q*Ex + q*vy*Bz - q*vz*By``, ``a*x - b*x*y``,
``a*x*y/(b + x)``) are sums that a KAN's additive edges do not hold and that a product of
one-variable factors misses. As SINDy does over its fixed library, the law is sought as a short
linear combination of candidate terms:

* **monomials** of the inputs up to a total degree (negative powers only of inputs that keep one
  sign away from zero), the degree the largest that keeps the library under ``max_features``;
* **one-variable functions** (sin, cos, exp, log, sqrt, where the data allow; ``exp(+-1/x)`` too
  where asked, for dimensionless inputs; where asked and the inputs are few, products of two
  functions) of each input, alone
  and times the monomials of the other inputs of degree up to ``function_degree``;
* for the **rational** form, the target times the monomials: ``y = P + y*Q`` is linear in the
  coefficients, and is the law ``y = P / (1 - Q)``; ``Q`` of degree 2, or up to the library's
  degree for up to :data:`FULL_DENOMINATOR_INPUTS` inputs, where that stays small (velocity
  addition on its groups ``a = u/v``, ``b = u/c``: ``(1 + 1/a)/(1 + b**2/a)``).

A target spanning decades is often a **monomial factor times a short sum** (``G*m1*m2*(1/r2 - 1/r1)``):
:func:`monomial_factor` finds the factor from the log-magnitude fit, and the sum is sought for
``y / factor`` with the library unchanged, so the factor's degree does not count against the terms'.

Terms are chosen on nested libraries (polynomials, then with negative powers, then with functions)
by forward orthogonal least squares (each step adds the term that lowers the
residual most once the terms already in are projected out) with a swap pass after each step (a term
that a later one made redundant is replaced), so strongly correlated inputs, as along trajectories,
do not lock in an early wrong term. Every support size on the path is fitted by least squares; the
caller polishes the few worth keeping (:func:`select_supports`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import sympy

from .power_fit import log_magnitude_fit

__all__ = ["FeatureLibrary", "SparseFit", "build_library", "forward_path", "monomial_expr", "monomial_factor", "monomial_values",
           "nested_paths", "select_supports"]

# up to this many inputs the rational form's denominator has the monomials' full degree (else degree 2)
FULL_DENOMINATOR_INPUTS = 3
# an input's exponent in the log-magnitude fit is taken as a factor when it is this close to a nonzero integer
FACTOR_EXPONENT_TOLERANCE = 0.25

def _one_sign(v: np.ndarray) -> bool:
    """Whether the column keeps one sign away from zero (its reciprocal is then finite and smooth)."""
    return bool(np.all(v > 0) or np.all(v < 0))


# one-variable functions beyond the monomials: name -> (sympy, numpy, whether the column allows it)
_Unary = tuple[Callable[[sympy.Expr], sympy.Expr], Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], bool]]
UNARY: dict[str, _Unary] = {
    "sin": (sympy.sin, np.sin, lambda v: True),
    "cos": (sympy.cos, np.cos, lambda v: True),
    "exp": (sympy.exp, np.exp, lambda v: float(np.max(np.abs(v))) <= 30),
    "exp(-x)": (lambda x: sympy.exp(-x), lambda v: np.exp(-v), lambda v: float(np.max(np.abs(v))) <= 30),
    "log": (sympy.log, lambda v: np.log(np.abs(v)), lambda v: bool(np.all(v > 0))),
    "sqrt": (sympy.sqrt, lambda v: np.sqrt(np.abs(v)), lambda v: bool(np.all(v > 0))),
    # of the reciprocal, for dimensionless inputs only (pi groups): exp(-E/(kb*T)) is a function of the
    # group kb*T/E when dimensional analysis orients it that way; a dimensional input needs a scale inside
    "exp(1/x)": (lambda x: sympy.exp(1 / x), lambda v: np.exp(1 / v), lambda v: _one_sign(v) and float(np.max(np.abs(1 / v))) <= 30),
    "exp(-1/x)": (lambda x: sympy.exp(-1 / x), lambda v: np.exp(-1 / v), lambda v: _one_sign(v) and float(np.max(np.abs(1 / v))) <= 30),
}
# products of two functions of different inputs are offered (when asked) up to this many inputs
FUNCTION_PAIR_INPUTS = 3
# the functions of every library; the reciprocal ones are asked for where the inputs are dimensionless
PLAIN_FUNCTIONS = ("sin", "cos", "exp", "exp(-x)", "log", "sqrt")


@dataclass
class FeatureLibrary:
    """Candidate terms: their formulas, how to compute them on any rows, and their complexity."""

    exprs: list[sympy.Expr]
    exponents: list[tuple[tuple[int, int], ...]]  # monomial part: ((input, power), ...)
    unary: list[tuple[tuple[str, int], ...] | None]  # function part: ((name, input), ...) or None
    y_power: list[int]  # 1: the term is multiplied by the target (rational form), else 0
    cost: np.ndarray  # complexity of each term (nodes), to break ties towards simpler ones

    def __len__(self) -> int:
        return len(self.exprs)

    @property
    def tiers(self) -> np.ndarray:
        """Each term's tier, plainest first: 0 polynomial (non-negative powers), 1 with negative powers,
        2 with a one-variable function. Paths run on tiers 0, 0-1 and 0-2 in turn (:func:`nested_paths`),
        so that on correlated inputs an exotic term that happens to correlate with ``y`` cannot crowd
        out a polynomial law (the Brusselator's ``3*x - x**2*y`` along its limit cycle)."""
        return np.asarray([2 if fn is not None else (1 if any(p < 0 for _, p in powers) else 0)
                           for powers, fn in zip(self.exponents, self.unary)])

    def columns(self, X: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """The terms' values on rows ``X`` (``y`` needed for the rational form's terms)."""
        out = np.empty((X.shape[0], len(self)))
        with np.errstate(all="ignore"):
            for k, (powers, fn, yp) in enumerate(zip(self.exponents, self.unary, self.y_power)):
                col = np.ones(X.shape[0])
                for i, p in powers:
                    col = col * X[:, i] ** p
                for name, i in fn or ():
                    col = col * UNARY[name][1](X[:, i])
                if yp:
                    if y is None:
                        raise ValueError("the rational form's terms need the target's values")
                    col = col * y
                out[:, k] = col
        return out


def monomial_factor(X: np.ndarray, y: np.ndarray, tolerance: float = FACTOR_EXPONENT_TOLERANCE) -> tuple[tuple[int, int], ...]:
    """The inputs that look like a whole-power factor of ``y``: ``((input, power), ...)``, maybe empty.

    ``log|y|`` is fitted on ``log|x_i|`` by least squares (rows with ``y = 0`` left out; inputs that
    are ever zero never factor). An input that enters the law only as ``x**k`` gets the exponent
    ``k``; one that enters through a sum or a function of several inputs gets a fraction in between
    (``G*m1*m2*(1/r2 - 1/r1)``: 1, 1, 1 and about -0.5, -0.5). The inputs whose exponent lies within
    ``tolerance`` of a nonzero integer are the factor, with that integer as the power.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).ravel()
    rows = np.abs(y) > 0
    usable = [i for i in range(X.shape[1]) if np.all(X[:, i] != 0) and np.all(np.isfinite(X[:, i]))]
    if not usable or rows.sum() <= len(usable) + 1:
        return ()
    fit = log_magnitude_fit(X[rows][:, usable], y[rows])
    if fit is None:
        return ()
    sol = fit[1:]
    powers = np.round(sol)
    return tuple((i, int(k)) for i, p, k in zip(usable, sol, powers) if k != 0 and abs(p - k) <= tolerance)


def monomial_values(powers: Sequence[tuple[int, int]], X: np.ndarray) -> np.ndarray:
    """``prod x_i**k_i`` on rows ``X`` (ones for no factor)."""
    out = np.ones(X.shape[0])
    for i, k in powers:
        out = out * X[:, i] ** float(k)
    return out


def _monomials(d: int, degree: int, negative: Sequence[bool], skip: int | None = None) -> list[tuple[tuple[int, int], ...]]:
    """Exponent tuples of total degree 1..``degree`` (by absolute value) over inputs ``0..d-1``,
    negative powers only where ``negative[i]``; input ``skip`` left out."""
    inputs = [i for i in range(d) if i != skip]
    out: list[tuple[tuple[int, int], ...]] = []
    for total in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(inputs, total):
            counts: dict[int, int] = {}
            for i in combo:
                counts[i] = counts.get(i, 0) + 1
            keys = sorted(counts)
            # each input's power may be +n or -n where allowed
            for signs in itertools.product(*[(1, -1) if negative[i] else (1,) for i in keys]):
                out.append(tuple((i, s * counts[i]) for i, s in zip(keys, signs)))
    return out


def monomial_expr(powers: Sequence[tuple[int, int]], symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
    """``prod symbols[i]**k`` for ``(i, k)`` in ``powers``."""
    return sympy.Mul(*[symbols[i] ** p for i, p in powers])


def build_library(
    X: np.ndarray,
    symbols: Sequence[sympy.Symbol],
    *,
    max_degree: int = 3,
    function_degree: int = 3,
    functions: Sequence[str] = PLAIN_FUNCTIONS,
    max_features: int = 3000,
    rational: bool = False,
    function_pairs: bool = False,
) -> FeatureLibrary:
    """The candidate terms for inputs ``X`` (module docstring); degrees lowered until under ``max_features``.
    ``function_pairs``: products of two functions too (of one input or of two), alone and times the
    monomials of the other inputs (up to :data:`FUNCTION_PAIR_INPUTS` inputs: ``sqrt(r)*cos(delta)``
    of two beams' interference, ``r*cos(a)*cos(b)`` of the law of cosines with ``cos(a - b)``,
    ``alpha*cos(z)**2`` of a driven oscillator's second harmonic)."""
    d = X.shape[1]
    negative = [bool(np.all(X[:, i] > 0) or np.all(X[:, i] < 0)) and float(np.min(np.abs(X[:, i]))) > 0 for i in range(d)]
    allowed = [[f for f in functions if UNARY[f][2](X[:, i])] for i in range(d)]
    for degree in range(max_degree, 0, -1):
        for fdeg in range(function_degree, -1, -1):
            monos = _monomials(d, degree, negative)
            terms: list[tuple[tuple[tuple[int, int], ...], tuple[tuple[str, int], ...] | None, int]] = [(m, None, 0) for m in monos]
            for i in range(d):
                others = [()] + (_monomials(d, fdeg, negative, skip=i) if fdeg else [])
                terms += [(m, ((f, i),), 0) for f in allowed[i] for m in others]
            if function_pairs and d <= FUNCTION_PAIR_INPUTS:
                for i, j in itertools.combinations_with_replacement(range(d), 2):
                    rest = [()] + [m for m in (_monomials(d, fdeg, negative) if fdeg else []) if not {i, j} & {k for k, _ in m}]
                    terms += [(m, ((f, i), (g, j)), 0) for f in allowed[i] for g in allowed[j] for m in rest
                              if i != j or f <= g]  # one input's pair once: cos(x)*sin(x), cos(x)**2
            if rational:
                terms += [(m, None, 1) for m in _monomials(d, degree if d <= FULL_DENOMINATOR_INPUTS else min(degree, 2), negative)]
            if len(terms) <= max_features:
                return _library(terms, symbols)
    return _library([(((i, 1),), None, 0) for i in range(d)], symbols)


def _library(terms: list, symbols: Sequence[sympy.Symbol]) -> FeatureLibrary:
    exprs, cost = [], []
    y = sympy.Symbol("y")
    for powers, fn, yp in terms:
        e = monomial_expr(powers, symbols)
        for name, i in fn or ():
            e = e * UNARY[name][0](symbols[i])
        if yp:
            e = e * y
        exprs.append(e)
        cost.append(sympy.count_ops(e, visual=False) + 1)
    return FeatureLibrary(exprs, [t[0] for t in terms], [t[1] for t in terms], [t[2] for t in terms], np.asarray(cost, dtype=float))


@dataclass
class SparseFit:
    """One support on the path: the chosen terms, their least-squares coefficients and intercept,
    the training residual (root mean square, in the weighted units) and the validation loss."""

    support: tuple[int, ...]
    coef: np.ndarray
    intercept: float
    train_rmse: float
    val_rmse: float = float("inf")


def _lstsq(A: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Weighted least squares with an intercept: (coefficients, intercept, weighted RMS residual).
    Columns are solved at unit scale, so terms of very different magnitudes (1/x**3 at x = 1e-6) do not
    ruin the conditioning."""
    M = np.column_stack([np.ones(len(y)), A]) * w[:, None]
    scale = np.sqrt(np.mean(M**2, axis=0))
    scale[~(scale > 0) | ~np.isfinite(scale)] = 1.0
    sol, *_ = np.linalg.lstsq(M / scale, y * w, rcond=None)
    sol = sol / scale
    resid = M @ sol - y * w
    return sol[1:], float(sol[0]), float(np.sqrt(np.mean(resid**2)))


def _best_addition(Z: np.ndarray, Q: np.ndarray, r: np.ndarray, banned: set[int], cost: np.ndarray, zz: np.ndarray) -> int | None:
    """The column of ``Z`` that lowers the residual ``r`` (orthogonal to ``Q``'s span) most once
    ``Q``'s span is projected out. ``zz``: the squared norms of ``Z``'s columns.

    With ``P = Z - Q Q^T Z``, ``P^T r = Z^T r`` and ``|P_j|^2 = |Z_j|^2 - |Q^T Z_j|^2``, so no
    projected copy of the library is made: one ``(k+1) x F`` product per call."""
    QZ = Q.T @ Z
    norms = zz - np.einsum("ij,ij->j", QZ, QZ)
    gain = np.where(norms > 1e-10 * zz + 1e-300, (Z.T @ r) ** 2 / np.maximum(norms, 1e-300), -np.inf)
    gain[list(banned)] = -np.inf
    if not np.any(np.isfinite(gain)) or np.max(gain) <= 0:
        return None
    best = float(np.max(gain))
    near = np.flatnonzero(gain >= best * (1 - 1e-9))  # ties (exact data): the simplest term
    return int(near[np.argmin(cost[near])])


def _basis(Z: np.ndarray, support: Sequence[int], intercept: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the (weighted) intercept column and the ``support`` columns."""
    Q, _ = np.linalg.qr(np.column_stack([intercept, Z[:, list(support)]]))
    return Q


# the path stops once this many additions in a row each lowered the residual by less than STALL_GAIN:
# the law is no short sum of these terms, and more of them only cost time
STALL_STEPS, STALL_GAIN = 3, 0.02


def forward_path(A: np.ndarray, y: np.ndarray, cost: np.ndarray, *, max_terms: int = 10, weights: np.ndarray | None = None,
                 exact: float = 1e-10, target: float = 0.0, deadline: float | None = None) -> list[SparseFit]:
    """Supports of 1..``max_terms`` terms of ``A`` (columns) for ``y``, by forward orthogonal least
    squares with a swap pass after each addition. Stops early once the fit is ``exact`` (relative
    RMS) or within ``target`` (weighted RMS: the noise, past which more terms only fit it), when the
    residual stalls (:data:`STALL_STEPS`), or past ``deadline`` (a ``time.perf_counter()`` value)."""
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    with np.errstate(all="ignore"):
        Z = A * w[:, None]
        scale = np.sqrt(np.mean(Z**2, axis=0))
        scale[~(scale > 0) | ~np.isfinite(scale)] = np.inf
        Z = Z / scale  # unit-scale weighted columns, so the gains compare
    Z[~np.isfinite(Z)] = 0.0
    one = w / np.linalg.norm(w)  # the intercept, weighted like every other column
    zz = np.einsum("ij,ij->j", Z, Z)
    yw = y * w
    rms = float(np.sqrt(np.mean(yw**2))) or 1.0
    spread = float(np.std(yw))
    if spread <= 1e-8 * rms:  # relative weights make y*w constant: its scale is then its size
        spread = rms
    floor = len(y) * (exact * spread) ** 2  # a residual sum of squares this small is rounding
    support: list[int] = []
    path: dict[tuple[int, ...], SparseFit] = {}
    last, stalls = float("inf"), 0
    for _ in range(2 * min(max_terms, A.shape[1])):  # additions, and re-additions after a prune
        if deadline is not None and time.perf_counter() > deadline:
            break
        Q = _basis(Z, support, one)
        new = _best_addition(Z, Q, yw - Q @ (Q.T @ yw), set(support), cost, zz)
        if new is None:
            break
        support = _prune(Z, yw, _swap(Z, yw, [*support, new], cost, one, zz), floor, one)
        key = tuple(sorted(support))
        if key in path:
            break  # the same law again: nothing left to add
        coef, b, rmse = _lstsq(A[:, list(key)], y, w)
        path[key] = SparseFit(key, coef, b, rmse)
        if rmse <= max(exact * spread, target) or len(support) >= max_terms:
            break
        stalls = stalls + 1 if rmse > (1 - STALL_GAIN) * last else 0
        last = min(last, rmse)
        if stalls >= STALL_STEPS:
            break
    return sorted(path.values(), key=lambda f: (len(f.support), f.train_rmse))


def nested_paths(A: np.ndarray, y: np.ndarray, library: FeatureLibrary, *, max_terms: int = 10,
                 weights: np.ndarray | None = None, target: float = 0.0, deadline: float | None = None) -> list[SparseFit]:
    """:func:`forward_path` on the library's tiers 0, 0-1 and 0-2 (see :attr:`FeatureLibrary.tiers`),
    every support once (indices into the whole library), plainest tier first. A tier whose path is
    exact (rounding level) ends it: the plainer library holds the law. One that reaches only
    ``target`` (the noise) ends it with a single term; with more, the next tier may say it in fewer
    (``1 - 1/z**2`` is two terms of its second tier and three polynomial ones within 1% noise)."""
    tiers = library.tiers
    out: dict[tuple[int, ...], SparseFit] = {}
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    scale = float(np.std(y * w)) or float(np.sqrt(np.mean((y * w) ** 2))) or 1.0
    for top in sorted(set(tiers.tolist())):
        cols = np.flatnonzero(tiers <= top)
        fits = forward_path(A[:, cols], y, library.cost[cols], max_terms=max_terms, weights=weights, target=target, deadline=deadline)
        for fit in fits:
            support = tuple(int(cols[k]) for k in fit.support)
            order = np.argsort(support)
            key = tuple(support[k] for k in order)
            if key not in out:
                out[key] = SparseFit(key, fit.coef[order], fit.intercept, fit.train_rmse)
        exact = any(f.train_rmse <= 1e-10 * scale for f in fits)
        if exact or any(f.train_rmse <= target and len(f.support) <= 1 for f in fits):
            break
    return sorted(out.values(), key=lambda f: (len(f.support), f.train_rmse))


def _rss(Z: np.ndarray, yw: np.ndarray, support: Sequence[int], one: np.ndarray) -> float:
    Q = _basis(Z, support, one)
    r = yw - Q @ (Q.T @ yw)
    return float(r @ r)


def _prune(Z: np.ndarray, yw: np.ndarray, support: list[int], floor: float, one: np.ndarray) -> list[int]:
    """Drop terms that a later one made redundant: removal keeps the residual within 1e-6 of it (or at rounding)."""
    current = _rss(Z, yw, support, one)
    while len(support) > 1:
        trials = [(_rss(Z, yw, support[:j] + support[j + 1:], one), j) for j in range(len(support))]
        value, j = min(trials)
        if value > current * (1 + 1e-6) + floor:
            break
        support = support[:j] + support[j + 1:]
    return support


def _swap(Z: np.ndarray, yw: np.ndarray, support: list[int], cost: np.ndarray, one: np.ndarray, zz: np.ndarray,
          rounds: int = 3) -> list[int]:
    """Replace any term of ``support`` whose best replacement lowers the residual (a few rounds)."""

    current = _rss(Z, yw, support, one)
    for _ in range(rounds):
        improved = False
        for j in range(len(support)):
            rest = support[:j] + support[j + 1:]
            Q = _basis(Z, rest, one)
            alt = _best_addition(Z, Q, yw - Q @ (Q.T @ yw), set(support), cost, zz)
            if alt is None:
                continue
            trial = rest[:j] + [alt] + rest[j:]
            value = _rss(Z, yw, trial, one)
            if value < current * (1 - 1e-6):
                support, current, improved = trial, value, True
        if not improved:
            break
    return support


def select_supports(path: Sequence[SparseFit], keep: int = 4, ratio: float = 2.0) -> list[SparseFit]:
    """The supports worth polishing: the best on validation and the smallest ones whose validation
    loss is within ``ratio``, ``ratio**2``, ... of it (at most ``keep``, smallest first)."""
    finite = [f for f in path if np.isfinite(f.val_rmse)]
    if not finite:
        return []
    best = min(f.val_rmse for f in finite)
    chosen: list[SparseFit] = []
    for k in range(keep):
        bound = best * ratio**k
        first = next(f for f in finite if f.val_rmse <= bound * (1 + 1e-12) or f.val_rmse <= 1e-300)
        if first not in chosen:
            chosen.append(first)
    return sorted(chosen, key=lambda f: len(f.support))
