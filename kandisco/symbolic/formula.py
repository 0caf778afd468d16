"""Formulas: snap constants, refit them, simplify, export.

Pure sympy/numpy: reading a KAN's formula is :func:`kandisco.kan.formula.network_formula`.

* :func:`snap_constants` replaces each float by a "nice" number (integer, small rational, rational
  multiple of pi, square root of a small rational) *only if* the held-out error stays within a
  tolerance, one constant at a time, largest effect first.
* :func:`refit_constants` refits the floats left on the whole expression with
  ``scipy.optimize.least_squares`` on the lambdified formula.
* :func:`simplify_capped` runs ``sympy.simplify`` under a time cap.
* :func:`complexity` counts the nodes of the expression tree; :func:`to_latex` and
  :func:`to_callable` export.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import sympy

from .._timeout import call_with_timeout
from .limits import negligible_constant_terms, small_argument_limit

__all__ = [
    "ConstantTemplate",
    "complexity",
    "factor_powered_sums",
    "float_constants",
    "freed_constants",
    "plainest_nice_numbers",
    "formula_rmse",
    "merge_numeric_factors",
    "nice_candidates",
    "refit_constants",
    "simplify_capped",
    "snap_constants",
    "to_callable",
    "to_latex",
    "widest_sum",
]


# ------------------------------------------------------------------------ evaluation
def to_callable(expr: sympy.Expr, symbols: Sequence[sympy.Symbol]) -> Callable[[np.ndarray], np.ndarray]:
    """``f(X)`` for an (n, d) array, columns in the order of ``symbols``."""
    fn = sympy.lambdify(list(symbols), expr, modules="numpy")

    def call(X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.asarray(fn(*X.T)) * np.ones(X.shape[0])
        return _real_or_nan(out)

    return call


def _real_or_nan(out: np.ndarray) -> np.ndarray:
    """Complex values (e.g. sqrt of a negative) are not real values: NaN, never their real part."""
    if np.iscomplexobj(out):
        real = np.abs(out.imag) <= 1e-12 * np.maximum(np.abs(out.real), 1e-300)
        out = np.where(real, out.real, np.nan)
    return out.astype(np.float64)


def formula_rmse(
    expr: sympy.Expr, symbols: Sequence[sympy.Symbol], X: np.ndarray, y: np.ndarray, relative: bool = False
) -> float:
    """RMSE of ``expr`` on ``(X, y)`` (of ``(pred - y) / y`` if ``relative``); inf if not finite/real."""
    if _not_finite(expr):
        return math.inf
    try:
        pred = to_callable(expr, symbols)(X)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return math.inf
    if not np.all(np.isfinite(pred)):
        return math.inf
    err = (pred - y) / np.abs(y) if relative else pred - y
    return float(np.sqrt(np.mean(err**2)))


def _not_finite(expr: sympy.Expr) -> bool:
    """True for formulas holding zoo/oo/nan (a snap of log's argument to 0 makes log(0) = zoo)."""
    return bool(expr.has(sympy.zoo, sympy.oo, -sympy.oo, sympy.nan))


def _value_bits(value: float, error: float) -> float:
    """Bits a fitted value carries at its precision: log2(1 + |value| / error) (inf when exact)."""
    if error <= 0:
        return math.inf
    return math.log2(1.0 + abs(value) / error)


def _description_bits(number: sympy.Expr, decimals: bool = False) -> float:
    """About how many bits name a nice number: log2 of its numerator and denominator, plus three for
    a factor pi or 1/pi (rarer in laws than a fraction), five for pi^2 or 1/pi^2 (rarer still), seven
    for pi^3 or 1/pi^3 (beyond what noisy snapping offers), and
    two for a square root; with ``decimals``, a terminating decimal costs its digits when that is
    shorter (:func:`_rational_bits`). pi/2 (5 bits) is plainer than 11/7 (6.4), 7/10 (6.3; 4 as a
    decimal) than 2*pi/9 (7.8), 1 (1 bit) than 13/12 (7.4), 10 (3.5) than pi^2 (5) and 1/10 (4.3;
    2 as a decimal) than 1/pi^2; the tree size
    cannot tell them apart. (At three bits for pi^2, 1% noisy trajectories of the Lorenz system gave
    ``pi**2*(y - x)`` for ``10*(y - x)`` and SIR's recovery rate ``i/pi**2`` for ``i/10``.)"""
    bits = 0.0
    rest = sympy.Integer(1)
    for factor in sympy.Mul.make_args(number):
        if factor.is_Rational:
            bits += _rational_bits(factor, decimals)
        elif factor.has(sympy.pi) and not factor.is_Pow:
            bits += 3.0
        elif factor.is_Pow and factor.base == sympy.pi and factor.exp.is_Integer:
            bits += {1: 3.0, 2: 5.0}.get(abs(int(factor.exp)), 7.0)
        else:
            rest *= factor
    if rest != 1:  # square roots (of rationals, of pi): their radicands' bits and two more
        bits += 2.0 + sum(_description_bits(f.base, decimals) for f in sympy.Mul.make_args(rest) if f.is_Pow)
    return bits


def _rational_bits(r: sympy.Rational, decimals: bool = False) -> float:
    """Bits of p/q: log2(1 + |p|) + log2(q); with ``decimals``, for a terminating decimal m/10^k (k
    places) the shorter log2(1 + |m|) + k, the way rates and coefficients are written: 3/10 costs 3
    bits as 0.3 (5.3 as a fraction), 1/5 2.6, 0.6 3.8, while 1/2 (2), 1/3 (2.6) and 3/4 (4) keep
    their fraction's. Noisy snapping uses it (its budget of bits would refuse 0.3 +- 2% as 3/10:
    1% noisy trajectories' damping rates stayed floats); exact snapping keeps the fraction order."""
    p, q = abs(int(r.p)), int(r.q)
    bits = math.log2(1 + p) + math.log2(q)
    places = next((k for k in range(1, 4) if 10**k % q == 0), None) if decimals and q > 1 else None
    if places is not None:
        bits = min(bits, math.log2(1 + p * 10**places // q) + places)
    return bits


def _tree_size(expr: sympy.Expr) -> int:
    """All nodes of the tree, numbers included: how plain a constant is (1 < 3/2 < sqrt(2)/2)."""
    return sum(1 for _ in sympy.preorder_traversal(expr))


def complexity(expr: sympy.Expr) -> int:
    """Nodes of the expression tree, counting every numeric constant as one node.

    A constant subtree (``1/(4*pi)``, ``sqrt(2)/2``) and the numeric factors or terms of one product
    or sum count once, like a fitted float does: otherwise snapping ``0.0796`` to ``1/(4*pi)`` would
    look more complex than the float it replaces.
    """
    if not expr.free_symbols:
        return 1
    if not expr.args:
        return 1
    args = expr.args
    if isinstance(expr, (sympy.Add, sympy.Mul)):
        numeric = [a for a in args if not a.free_symbols]
        rest = [a for a in args if a.free_symbols]
        return 1 + (1 if numeric else 0) + sum(complexity(a) for a in rest)
    return 1 + sum(complexity(a) for a in args)


def widest_sum(expr: sympy.Expr) -> int:
    """The most terms of any one sum in the formula (1 without sums): physical laws add up a few
    terms, while a flexible approximation within noise adds up many (five snapped terms for II.11.27)."""
    return max((len(node.args) for node in sympy.preorder_traversal(expr) if isinstance(node, sympy.Add)), default=1)


def to_latex(expr: sympy.Expr) -> str:
    return sympy.latex(expr)


# -------------------------------------------------------------------------- snapping
def nice_candidates(v: float, max_denominator: int = 12, max_numerator: int = 100, width: float | None = None) -> list[sympy.Expr]:
    """Nice numbers for ``v``, simplest first: 0 (always), integers, p/q, p/q times pi, 1/pi, pi^2
    or 1/pi^2 (as in h^2/(8 pi^2 m)), pi^3 or 1/pi^3 (Planck's law in h and omega: h omega^3 /
    (2 pi^3 c^2 ...)), +-sqrt(p/q), +-sqrt(p/q times pi or 1/pi).

    "Nice" bounds both parts (``q <= max_denominator``, ``|p| <= max_numerator``; ``|p| <= 12`` next
    to pi), so 4558.797 is not snapped to sqrt(2514698549)/11. Integers up to 1e9 are offered only
    when ``v`` is within 1e-9 relative of one (larger floats all are). With ``width`` (how far ``v`` may move: a noisy fit),
    every ``p/q`` times those bases within ``width`` of ``v`` is offered too, not only the closest,
    so 1.069 +- 0.1 is offered 1 before 15/14.
    """
    out: list[sympy.Expr] = [sympy.Integer(0)]  # always offered: dropping a negligible term is a snap too
    # past 1e9 every float is within 1e-9 of an integer: c**2 = 8.987551787e16 is no integer to snap to
    if v != 0 and abs(v) < 1e9 and abs(round(v) - v) <= 1e-9 * abs(v):
        out.append(sympy.Integer(round(v)))
    out.extend(_near_decimals(v))
    bases = ((sympy.Integer(1), max_numerator), (sympy.pi, 12), (1 / sympy.pi, 12), (sympy.pi**2, 12), (1 / sympy.pi**2, 12),
             (sympy.pi**3, 12), (1 / sympy.pi**3, 12))
    for base, p_max in bases:
        r = sympy.Rational(v / float(base)).limit_denominator(max_denominator)
        if r != 0 and abs(r.p) <= p_max:
            out.append(r * base)
        if width is not None:
            scale = float(base)
            for q in range(1, max_denominator + 1):
                low, high = math.floor((v - width) / scale * q), math.ceil((v + width) / scale * q)
                for p in range(max(low, -p_max), min(high, p_max) + 1):
                    if p != 0 and abs(p) <= p_max and abs(p / q * scale - v) <= width:
                        out.append(sympy.Rational(p, q) * base)
    sign = int(np.sign(v))
    for base in (sympy.Integer(1), sympy.pi, 1 / sympy.pi):  # v = +-sqrt(r * base)
        sq = sympy.Rational(v * v / float(base)).limit_denominator(max_denominator)
        if 0 < sq and sq.p <= max_numerator and not (sympy.sqrt(sq).is_Rational and base == 1):
            out.append(sign * sympy.sqrt(sq * base))
    unique = list(dict.fromkeys(out))
    unique.sort(key=lambda e: (_tree_size(e), abs(float(e) - v)))  # plainest first: 1 before 0.99998
    return unique


def plainest_nice_numbers(v: float, reach: float) -> list[sympy.Expr]:
    """The nice numbers within ``reach`` (relative) of ``v``, plainest first by the bits that name them
    (:func:`_description_bits`: pi/2 before 11/7), then nearest; 0 first, always (a term dropped)."""
    width = reach * max(abs(v), 1e-300)
    near = [c for c in nice_candidates(v, width=width) if c != 0 and abs(float(c) - v) <= width]
    return [sympy.Integer(0), *sorted(near, key=lambda c: (_description_bits(c), abs(float(c) - v)))]


def _near_decimals(v: float) -> list[sympy.Rational]:
    """The decimal of at most ``DECIMAL_PLACES`` places and two significant digits within
    ``NEAR_INTEGER`` (relative) of ``v``: rates like 0.08 and 0.064 (FitzHugh-Nagumo) are 2/25 and
    8/125, beyond the denominators :func:`nice_candidates` tries, and an exact fit gives them to
    1e-9. Three digits (1.37) are a measured value, not a nice number: they stay a float."""
    for places in range(1, DECIMAL_PLACES + 1):
        m = round(v * 10**places)
        if m != 0 and abs(m) < 100 and abs(m / 10**places - v) <= NEAR_INTEGER * abs(v):
            return [sympy.Rational(m, 10**places)]
    return []


def snap_constants(
    expr: sympy.Expr,
    symbols: Sequence[sympy.Symbol],
    X: np.ndarray,
    y: np.ndarray,
    *,
    refit_on: tuple[np.ndarray, np.ndarray] | None = None,
    relative: bool = False,
    tolerance: float = 0.1,
    max_denominator: int = 12,
    rel_close: float = 0.01,
    max_floats: int = 12,
    noise: float = 0.0,
    correlated_rows: float = 1.0,
) -> sympy.Expr:
    """Snap floats of ``expr`` to nice numbers while the RMSE on held-out ``(X, y)`` stays in tolerance.

    A snap is kept when the held-out RMSE after it is at most ``base * (1 + tolerance)`` (plus
    ``EXACT_FLOOR`` of the target's spread, for formulas that are already exact). With ``refit_on=(X, y)``
    the remaining floats are refitted on that data after each trial snap, so coupled constants
    (``0.9886 * a**1.503``) can move together to ``a**(3/2)``. Candidates must lie within
    ``rel_close`` of the float. The plainest candidates are tried first (over all floats, the
    largest float first among equally plain ones); passes repeat until nothing snaps.
    ``relative`` measures errors relative to ``|y|`` (targets spanning decades). A formula with more
    than ``max_floats`` constants is returned as is: it is no law to make exact, and trying is slow.

    ``noise`` (one-sigma noise of ``y`` in the loss's units, 0 when none is known) makes the rule
    statistical once the formula's held-out error sits at that level (:class:`NoisySnap`): a
    constant may then move by ``SNAP_SIGMAS`` of its standard error, and a snap is kept when an F
    test on the ``refit_on`` rows does not reject it and the held-out error stays at the noise
    floor. So ``k**1.0105`` snaps to ``k`` at 1% noise, while at noiseless data the standard errors
    vanish and the rule above is unchanged. ``correlated_rows``: the noise is correlated over about
    this many rows (a smoothed derivative along a trajectory), so the test counts ``n / correlated_rows``
    independent rows: standard errors grow by its square root, the F statistic shrinks by it.

    Last, a function whose argument stays near 0 on the rows is tried as its leading Taylor terms
    (:func:`~kandisco.symbolic.limits.small_argument_limit`: ``c/tan(a*V)`` with ``a*V`` small is
    ``c'/V``), kept by the same test as a snap when it is simpler.
    """
    expr = merge_numeric_factors(expr)
    base = formula_rmse(expr, symbols, X, y, relative)
    if not math.isfinite(base):
        return expr
    limit = base * (1 + tolerance) + EXACT_FLOOR * (1.0 if relative else float(np.std(y)))
    statistical = None
    if noise > 0 and refit_on is not None and base >= NOISE_ACTIVE * noise:
        independent = max(len(y) / max(correlated_rows, 1.0), 1.0)
        statistical = NoisySnap.start(expr, symbols, refit_on, relative, max(limit, noise * (1 + NOISE_MARGIN / math.sqrt(2 * independent))),
                                      correlated_rows)
        limit = statistical.held_out_limit
    # floats that already are integers or zero (an exact refit: x**1.00000000002, + 3e-17) go in one
    # step each, without refits: this also brings large exact formulas under max_floats
    for near in (_near_integers(expr), {f: sympy.Integer(0) for f in expr.atoms(sympy.Float) if abs(float(f)) < NEAR_ZERO}):
        if near and formula_rmse(expr.xreplace(near), symbols, X, y, relative) <= limit:
            expr = expr.xreplace(near)
    if len(expr.atoms(sympy.Float)) > max_floats:
        return expr
    current = _snap_passes(expr, symbols, X, y, refit_on, relative, limit, statistical, max_denominator, rel_close)
    # a form run into a degenerate corner (c/tan(a*V) with a -> 0; c*A/(c*B + 1) with c -> oo) is
    # judged in its limit, like a snap
    rows = X if refit_on is None else np.vstack([X, refit_on[0]])
    for corner in (small_argument_limit, negligible_constant_terms):
        limited = corner(current, symbols, rows)
        if limited is None:
            continue
        # c/(a*V + b) holds one redundant scale: c'/(V + b') is what the data determine
        limited = merge_numeric_factors(factor_powered_sums(limited))
        if complexity(limited) >= complexity(current):
            continue
        trial = refit_constants(limited, symbols, *refit_on, relative=relative) if refit_on is not None else limited
        if formula_rmse(trial, symbols, X, y, relative) <= limit and (statistical is None or statistical.accepts(trial)):
            current = _snap_passes(trial, symbols, X, y, refit_on, relative, limit, statistical, max_denominator, rel_close)
    return current


def _snap_passes(
    expr: sympy.Expr,
    symbols: Sequence[sympy.Symbol],
    X: np.ndarray,
    y: np.ndarray,
    refit_on: tuple[np.ndarray, np.ndarray] | None,
    relative: bool,
    limit: float,
    statistical: NoisySnap | None,
    max_denominator: int,
    rel_close: float,
) -> sympy.Expr:
    """The passes of :func:`snap_constants`: the plainest acceptable snap over all floats, until none is."""
    current = expr
    tried: set[tuple[float, str]] = set()
    changed = True
    while changed:
        changed = False
        # plainest candidate (integers before fractions) first over all floats, then the largest float: with redundant constants
        # (k*(c/v + 1) beside 1.24/...) snapping k to 1 keeps the others free to become nice in turn,
        # where snapping 1.24 to 5/4 first would leave k = 1.0067 with no nice value
        pairs = []
        errors = statistical.errors(current) if statistical is not None else {}
        widths = {f: min(SNAP_SIGMAS * se, MAX_SNAP_MOVE * abs(float(f))) for f, se in errors.items()}
        for f in current.atoms(sympy.Float):
            v = float(f)
            width = max(rel_close * max(abs(v), 1e-12), widths.get(f, 0.0))
            offered = [c for c in nice_candidates(v, max_denominator, width=width if f in widths else None)
                       if (v, str(c)) not in tried and (abs(float(c) - v) <= width or float(c) == 0)]
            if statistical is not None:  # plainest by description length; a wide window holds many numbers,
                # only the plainest few are worth a refit each, and a long name is no simpler than the float
                # and a nice number must name the constant in fewer bits than its value at the precision the
                # data give it (minimum description length): 70 +- 0.7 stays a float, 1.0105 +- 0.005 is 1
                budget = min(MAX_NOISY_BITS, _value_bits(v, errors.get(f, 0.0)) - MDL_MARGIN_BITS)
                offered = sorted((c for c in offered if c == 0 or _description_bits(c, decimals=True) <= budget),
                                 key=lambda c: (_description_bits(c, decimals=True), abs(float(c) - v)))[:MAX_WIDE_CANDIDATES]
            for cand in offered:  # plainest by the bits that name it: pi/2 (5 bits) before 11/7 (6.4)
                bits = _description_bits(cand, decimals=statistical is not None)
                pairs.append((bits, not cand.is_Integer, -abs(v), abs(float(cand) - v), str(cand), f, cand))
        for *_, f, cand in sorted(pairs, key=lambda t: t[:5]):
            tried.add((float(f), str(cand)))
            trial = current.xreplace({f: cand})
            if refit_on is not None:
                trial = refit_constants(trial, symbols, *refit_on, relative=relative)
            if formula_rmse(trial, symbols, X, y, relative) <= limit and (statistical is None or statistical.accepts(trial)):
                current, changed = trial, True
                break  # the floats may have moved: start a new pass
    return current


# a snap may cost this much relative RMSE on top of the tolerance: a refit after a snap reaches
# 1e-12..1e-10, not the 1e-16 of the exact formula it replaces, and both are exact for any use
EXACT_FLOOR = 1e-10
# a float this close to an integer (relative), or this small, is tried as that integer or 0 first
NEAR_INTEGER = 1e-6
# a float that close to a decimal of at most this many places (and two significant digits) is offered it
DECIMAL_PLACES = 3
NEAR_ZERO = 1e-10
# statistical snapping (``noise`` given): it starts once the held-out error is at least this
# fraction of the noise (far below it, the noise estimate is wrong); a constant may move by
# SNAP_SIGMAS standard errors (at most MAX_SNAP_MOVE of its size); the F test's level (strict about
# rejecting: a relative loss is slightly biased under multiplicative noise, and Occam favours the
# snap); the held-out
# error may reach the noise floor plus NOISE_MARGIN standard errors of an RMSE on n rows
NOISE_ACTIVE = 0.5
SNAP_SIGMAS = 3.0
MAX_SNAP_MOVE = 0.5
SNAP_ALPHA = 0.001
NOISE_MARGIN = 2.0
# in a window widened by noise, this many of the plainest numbers are tried per constant
MAX_WIDE_CANDIDATES = 6
# under noise, numbers longer than this to name (see _description_bits: 11/7 is 6.4, sqrt(7)/(3*sqrt(pi)) 8.6) are not offered
MAX_NOISY_BITS = 7.0
# a nice number must save this many bits over the fitted value it replaces
MDL_MARGIN_BITS = 2.0


@dataclass
class NoisySnap:
    """The statistical snapping rule for noisy data (see :func:`snap_constants`).

    The reference is the formula with every constant free, refitted: a trial with ``q`` fewer free
    constants is kept when ``F = ((RSS_trial - RSS_free) / q) / (RSS_free / (n - p))`` stays below
    the F distribution's ``1 - SNAP_ALPHA`` quantile (a likelihood-ratio test for Gaussian noise).
    """

    symbols: Sequence[sympy.Symbol]
    rows: tuple[np.ndarray, np.ndarray]
    relative: bool
    held_out_limit: float
    free_rss: float
    free_floats: int
    correlated_rows: float = 1.0  # rows per independent error (see snap_constants)

    @classmethod
    def start(cls, expr: sympy.Expr, symbols: Sequence[sympy.Symbol], rows: tuple[np.ndarray, np.ndarray],
              relative: bool, held_out_limit: float, correlated_rows: float = 1.0) -> NoisySnap:
        return cls(symbols, rows, relative, held_out_limit, _rss(expr, symbols, *rows, relative), len(expr.atoms(sympy.Float)),
                   max(float(correlated_rows), 1.0))

    def errors(self, expr: sympy.Expr) -> dict[sympy.Float, float]:
        """The standard error of each float (those the data determine) on the fit's rows."""
        from .uncertainty import constant_errors, constant_order

        fit = constant_errors(expr, self.symbols, *self.rows, relative=self.relative, correlated_rows=self.correlated_rows)
        return {f: c.error for f, c in zip(constant_order(expr), fit.constants) if math.isfinite(c.error)}

    def accepts(self, trial: sympy.Expr) -> bool:
        """The F test of ``trial`` (fewer free constants) against the all-free reference."""
        from scipy.stats import f as f_dist

        n = len(self.rows[1])
        dropped = self.free_floats - len(trial.atoms(sympy.Float))
        dof = n - self.free_floats
        rss = _rss(trial, self.symbols, *self.rows, self.relative)
        if not math.isfinite(rss):
            return False
        if dropped <= 0 or dof <= 0 or self.free_rss <= 0:
            return rss <= self.free_rss * (1 + 1e-9)
        # errors correlated over L rows: the fit's RSS still estimates the noise, but its change under a snap is L times the
        # independent case's (the constants' variances are), and the denominator has (n - p) / L degrees of freedom
        statistic = ((rss - self.free_rss) / dropped) / (self.free_rss / dof) / self.correlated_rows
        return bool(statistic <= f_dist.ppf(1 - SNAP_ALPHA, dropped, max(dof / self.correlated_rows, 1.0)))


def _rss(expr: sympy.Expr, symbols: Sequence[sympy.Symbol], X: np.ndarray, y: np.ndarray, relative: bool) -> float:
    """Residual sum of squares (relative to ``|y|`` if ``relative``); inf when not finite."""
    return formula_rmse(expr, symbols, X, y, relative) ** 2 * len(y)


def _near_integers(expr: sympy.Expr) -> dict[sympy.Float, sympy.Integer]:
    """The floats of ``expr`` within ``NEAR_INTEGER`` (relative) of a non-zero integer below 1e9, with it
    (past 1e9 every float is that close to an integer)."""
    out = {}
    for f in expr.atoms(sympy.Float):
        v = float(f)
        if round(v) != 0 and abs(v) < 1e9 and abs(v - round(v)) <= NEAR_INTEGER * abs(v):
            out[f] = sympy.Integer(round(v))
    return out


def merge_numeric_factors(expr: sympy.Expr) -> sympy.Expr:
    """Fold the exact numbers multiplying a float into it: ``0.4231/sqrt(pi)`` -> ``0.2387``.

    A snap judges one float at a time; after an earlier snap left ``1/sqrt(pi)`` beside a float,
    only the product (``3/(4*pi)``) is a nice number.
    """
    if not expr.args or expr.is_number:
        return expr
    args = [merge_numeric_factors(a) for a in expr.args]
    if expr.is_Mul:
        numbers = [a for a in args if a.is_number]
        if any(isinstance(a, sympy.Float) for a in numbers) and len(numbers) > 1:
            value = sympy.Mul(*numbers).evalf()
            if isinstance(value, sympy.Float):
                return sympy.Mul(value, *[a for a in args if not a.is_number])
    return expr.func(*args)


def factor_powered_sums(expr: sympy.Expr) -> sympy.Expr:
    """Move a float scale out of every powered or multiplied sum: ``k/sqrt(a*X - a)`` ->
    ``(k/sqrt(a))/sqrt(X - 1)``, ``k*m*(a*H + a*M)`` -> ``(k*a)*m*(H + M)``.

    ``k`` and ``a`` there are one constant in two: a refit cannot tell them apart and neither
    snaps alone. Only sums whose coefficients are all floats have the redundancy; the scale taken
    out is the largest coefficient's size (the smallest would blow the others up), which becomes +-1.
    """
    if not expr.args or expr.is_number:
        return expr
    args = [factor_powered_sums(a) for a in expr.args]
    if expr.is_Pow and args[0].is_Add:
        split = _float_scale(args[0])
        if split is not None:
            return split[0] ** args[1] * split[1] ** args[1]
    if expr.is_Mul and any(a.is_Add for a in args):
        parts: list[sympy.Expr] = []
        for a in args:
            split = _float_scale(a) if a.is_Add else None
            parts.extend(split if split is not None else [a])
        return sympy.Mul(*parts)
    return expr.func(*args)


def _float_scale(total: sympy.Expr) -> tuple[sympy.Float, sympy.Expr] | None:
    """``(scale, total / scale)`` for a sum whose coefficients are all floats; None otherwise
    (one exact term: no redundancy)."""
    terms = [t.as_coeff_Mul() for t in total.args]
    if not all(isinstance(c, sympy.Float) and c != 0 for c, _ in terms):
        return None
    scale = max(abs(c) for c, _ in terms)
    unit = {scale: sympy.Integer(1), -scale: sympy.Integer(-1)}
    return scale, sympy.Add(*[unit.get(c, c / scale) * rest for c, rest in terms])


def float_constants(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with every non-integer numeric constant as a Float, so a refit can move it.

    Unlike ``evalf``, this also reaches exact factors inside function arguments
    (``sin(sqrt(154)*x/(7*sqrt(pi)) - 11/7)``). Integers and rational exponents (``x**2``,
    ``x**(3/2)``) stay exact: they are structure, not fitted constants.
    """
    if expr.is_number:
        if expr.is_Integer or expr.is_real is False or _not_finite(expr):
            return expr
        value = expr.evalf()
        return value if isinstance(value, sympy.Float) else expr
    if expr.is_Pow:
        exp = expr.exp if expr.exp.is_Rational else float_constants(expr.exp)
        return sympy.Pow(float_constants(expr.base), exp)
    if not expr.args:
        return expr
    return expr.func(*[float_constants(a) for a in expr.args])


# numbers that count as structure, not as fitted constants (freed_constants): integers and halves up to this size
STRUCTURAL = 3


def freed_constants(expr: sympy.Expr) -> sympy.Expr:
    """``expr`` with every maximal numeric part that is not an integer or half up to ``STRUCTURAL``
    (``5/7``, ``11*pi``, ``sqrt(2)/3``, ``23``) as a float: the constants a fit may move.

    Snapped numbers are frozen by later refits; freeing them lets a refit under another loss (or on
    other rows) move them again, and counts them honestly as fitted constants."""
    if expr.is_number:
        value = complex(expr.evalf())
        if value.imag != 0 or not np.isfinite(value.real):
            return expr
        if float(2 * value.real).is_integer() and abs(value.real) <= STRUCTURAL:
            return expr
        return sympy.Float(value.real)
    if not expr.args or isinstance(expr, sympy.Symbol):
        return expr
    return expr.func(*(freed_constants(a) for a in expr.args))



class ConstantTemplate:
    """A formula with its floats as parameters, compiled once: evaluated and refitted on any rows
    (cross-validation refits one formula on every fold). ``floats`` in a fixed order, the start values."""

    def __init__(self, expr: sympy.Expr, symbols: Sequence[sympy.Symbol]) -> None:
        self.expr = expr
        self.floats = sorted(expr.atoms(sympy.Float), key=sympy.default_sort_key)
        params = [sympy.Symbol(f"_k{n}") for n in range(len(self.floats))]
        template = expr.xreplace(dict(zip(self.floats, params)))
        self._fn = sympy.lambdify([*symbols, *params], template, modules="numpy")
        self.start = np.array([float(f) for f in self.floats])

    def predict(self, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
        """The formula's values on the rows ``X`` with constants ``theta`` (NaN where not real)."""
        cols = list(np.asarray(X, dtype=np.float64).T)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _real_or_nan(np.asarray(self._fn(*cols, *theta)) * np.ones(len(cols[0]) if cols else 1))

    def residual(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray, weight: np.ndarray | float = 1.0) -> np.ndarray:
        """Weighted residuals, with a large finite value where the formula is not finite (for least squares)."""
        out = (self.predict(theta, X) - y) * weight
        return np.where(np.isfinite(out), out, 1e150)

    def fit(self, X: np.ndarray, y: np.ndarray, relative: bool = False, max_nfev: int = 200) -> np.ndarray:
        """Least-squares constants on ``(X, y)`` from the formula's own values; the start when the fit fails or is worse."""
        from scipy.optimize import least_squares

        if not self.floats:
            return self.start
        weight = 1.0 / np.abs(y) if relative else 1.0
        try:
            sol = least_squares(self.residual, self.start, args=(X, y, weight), max_nfev=max_nfev,
                                method="lm" if len(y) >= len(self.start) else "trf")
        except (ValueError, np.linalg.LinAlgError):
            return self.start
        before = float(np.sum(self.residual(self.start, X, y, weight) ** 2))
        return sol.x if float(np.sum(sol.fun**2)) <= before else self.start


def refit_constants(
    expr: sympy.Expr,
    symbols: Sequence[sympy.Symbol],
    X: np.ndarray,
    y: np.ndarray,
    max_nfev: int = 200,
    relative: bool = False,
    max_floats: int = 40,
    weights: np.ndarray | None = None,
    robust_scale: float | None = None,
) -> sympy.Expr:
    """Least-squares refit of every float in ``expr`` on ``(X, y)``; unchanged if it fails or is worse.

    ``relative`` minimises errors relative to ``|y|`` (for targets spanning decades); ``weights``
    multiply the residuals instead (``1 / sigma`` for per-row uncertainties). ``robust_scale``: a
    soft-L1 loss with that residual scale (scipy's ``least_squares(loss="soft_l1")``), so rows far
    beyond it (outliers) pull the fit linearly, not quadratically; "worse" is then judged by that
    loss. Formulas with more than ``max_floats`` constants are left as they are (the refit would
    cost more than it gives).
    """
    from scipy.optimize import least_squares

    if not expr.atoms(sympy.Float) or len(expr.atoms(sympy.Float)) > max_floats or _not_finite(expr):
        return expr
    template = ConstantTemplate(expr, symbols)
    floats = template.floats
    weight = np.asarray(weights, dtype=np.float64) if weights is not None else (1.0 / np.abs(y) if relative else 1.0)

    def residual(theta: np.ndarray) -> np.ndarray:
        return template.residual(theta, X, y, weight)

    start = template.start
    scale = float(robust_scale) if robust_scale is not None and robust_scale > 0 else 0.0
    robust = scale > 0
    try:
        if robust:
            sol = least_squares(residual, start, max_nfev=max_nfev * len(start), loss="soft_l1", f_scale=scale)
        else:
            sol = least_squares(residual, start, max_nfev=max_nfev, method="lm" if len(y) >= len(start) else "trf")
    except (ValueError, np.linalg.LinAlgError):
        return expr
    fitted = expr.xreplace({f: sympy.Float(v) for f, v in zip(floats, sol.x)})
    if robust or weights is not None:
        def cost(theta: np.ndarray) -> float:
            r = residual(theta)
            if robust:
                return float(np.sum(2 * ((1 + (r / scale) ** 2) ** 0.5 - 1)))
            return float(np.sum(r**2))
        return fitted if cost(sol.x) <= cost(start) else expr
    before = formula_rmse(expr, symbols, X, y, relative)
    after = formula_rmse(fitted, symbols, X, y, relative)
    return fitted if after <= before else expr


# ------------------------------------------------------------------------ simplify
def simplify_capped(expr: sympy.Expr, timeout: float = 5.0) -> sympy.Expr:
    """``sympy.simplify`` under a wall-clock cap (then ``expr`` is kept); the simpler result wins.

    Simpler is judged by :func:`complexity`; a failing simplify also keeps ``expr``.
    """
    try:
        result = call_with_timeout(sympy.simplify, (expr,), timeout)
    except Exception:  # noqa: BLE001 - TimedOut or any sympy failure: keep the input
        return expr
    if result is None or complexity(result) > complexity(expr):
        return expr
    return result
