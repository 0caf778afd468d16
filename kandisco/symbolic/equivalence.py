"""Is a found formula the true law? The SRBench rule, with a fast numeric screen first.

SRBench (La Cava et al. 2021) counts a *symbolic solution* when ``truth - found`` simplifies to a
constant or ``truth / found`` simplifies to a non-zero constant. Verdicts here:

* ``exact``: ``truth - found`` simplifies to 0;
* ``additive``: it simplifies to a non-zero constant;
* ``multiplicative``: ``truth / found`` simplifies to a constant other than 1;
* ``different``: neither (``recovered`` is False).

Steps: symbols are matched by name (assumptions ignored); floats in ``found`` that sit within
``snap_rtol`` of a simple rational (or rational multiple of pi) are snapped to it; both formulas are
evaluated on random points and anything whose difference and ratio are clearly not constant is
``different`` at once. Only survivors go to ``sympy.simplify``, capped at ``timeout`` seconds; when
simplify cannot decide in time, a numeric verdict that holds to ``1e-9`` on every point is accepted
and marked ``method="numeric"``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import sympy

from .._timeout import TimedOut, call_with_timeout

__all__ = ["Equivalence", "check_equivalence", "snap_floats"]


@dataclass(frozen=True)
class Equivalence:
    """Outcome of :func:`check_equivalence`."""

    verdict: str  # exact | additive | multiplicative | different
    method: str  # numeric-screen | simplify | numeric
    detail: str = ""

    @property
    def recovered(self) -> bool:
        return self.verdict != "different"


def snap_floats(expr: sympy.Expr, rtol: float = 1e-6, max_denominator: int = 100) -> sympy.Expr:
    """Replace each float within ``rtol`` of p/q or (p/q)*pi (q <= max_denominator) by that number."""
    reps = {}
    for f in expr.atoms(sympy.Float):
        v = float(f)
        if v == 0:
            reps[f] = sympy.Integer(0)
            continue
        for base in (sympy.Integer(1), sympy.pi):
            r = sympy.Rational(v / float(base)).limit_denominator(max_denominator)
            if r != 0 and abs(float(r * base) - v) <= rtol * abs(v):
                reps[f] = r * base
                break
    return expr.xreplace(reps)


def _by_name(expr: sympy.Expr, names: dict[str, sympy.Symbol]) -> sympy.Expr:
    return expr.xreplace({s: names.setdefault(s.name, sympy.Symbol(s.name, real=True)) for s in expr.free_symbols})


def _evaluate(expr: sympy.Expr, symbols: list[sympy.Symbol], points: np.ndarray) -> np.ndarray:
    fn = sympy.lambdify(symbols, expr, modules="numpy")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = np.asarray(fn(*points.T), dtype=np.complex128) * np.ones(points.shape[0])
    return out


def _is_constant(values: np.ndarray, tol: float) -> bool:
    scale = np.max(np.abs(values)) if values.size else 0.0
    return bool(np.ptp(values.real) <= tol * max(scale, 1e-300) and np.ptp(values.imag) <= tol * max(scale, 1e-300))


def _decide(diff: sympy.Expr, ratio: sympy.Expr) -> tuple[str, str]:
    """The symbolic verdict from ``truth - found`` and ``truth / found``."""
    d = sympy.simplify(diff)
    if d == 0:
        return "exact", ""
    if not d.free_symbols:
        return "additive", f"truth - found = {d}"
    r = sympy.simplify(ratio)
    if not r.free_symbols and r != 0:
        return "multiplicative", f"truth / found = {r}"
    return "different", f"truth - found = {d}"


def _simplify_with_timeout(diff: sympy.Expr, ratio: sympy.Expr, timeout: float) -> tuple[str, str]:
    try:
        return call_with_timeout(_decide, (diff, ratio), timeout)
    except TimedOut as exc:
        return "undecided", f"simplify {exc}"
    except Exception as exc:  # noqa: BLE001 - any sympy failure means "could not decide"
        return "undecided", f"{type(exc).__name__}: {exc}"


def check_equivalence(
    found: sympy.Expr,
    truth: sympy.Expr,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    *,
    n_points: int = 200,
    screen_tol: float = 1e-4,
    snap_rtol: float = 1e-6,
    timeout: float = 10.0,
    seed: int = 0,
) -> Equivalence:
    """Decide whether ``found`` equals ``truth`` up to an additive or multiplicative constant.

    ``ranges`` maps variable names to sampling intervals for the numeric screen (default
    ``[0.5, 2]`` for every variable, inside the domain of most physical laws); variables with a
    positive range are positive symbols for the symbolic check.
    """
    found = sympy.sympify(found)
    truth = sympy.sympify(truth)
    # a variable sampled on a positive range is positive: the law is only claimed there, and
    # without it sympy cannot see that c*m/sqrt(c**2 - v**2) is m/sqrt(1 - v**2/c**2)
    names: dict[str, sympy.Symbol] = {
        name: sympy.Symbol(name, positive=True) for name, (low, _) in dict(ranges or {}).items() if low > 0
    }
    truth = _by_name(truth, names)
    found = snap_floats(_by_name(found, names), rtol=snap_rtol)
    symbols = [names[n] for n in sorted(names)]
    ranges = dict(ranges or {})
    rng = np.random.default_rng(seed)
    lows = np.array([ranges.get(s.name, (0.5, 2.0))[0] for s in symbols], dtype=float)
    highs = np.array([ranges.get(s.name, (0.5, 2.0))[1] for s in symbols], dtype=float)
    points = rng.uniform(lows, highs, size=(n_points, len(symbols)))
    t = _evaluate(truth, symbols, points)
    f = _evaluate(found, symbols, points)
    ok = np.isfinite(t) & np.isfinite(f)
    if ok.sum() < max(5, n_points // 4):
        return Equivalence("different", "numeric-screen", "formulas are not finite on the sampled points")
    t, f = t[ok], f[ok]
    diff_const = _is_constant(t - f, screen_tol) if np.max(np.abs(t)) > 0 else _is_constant(f, screen_tol)
    with np.errstate(all="ignore"):
        ratio = t / f
    ratio_const = bool(np.all(np.isfinite(ratio)) and _is_constant(ratio, screen_tol) and np.all(ratio != 0))
    if not (diff_const or ratio_const):
        return Equivalence("different", "numeric-screen", "difference and ratio vary over the data")

    verdict, detail = _simplify_with_timeout(truth - found, truth / found, timeout)
    if verdict != "undecided":
        return Equivalence(verdict, "simplify", detail)
    # simplify could not decide in time: accept a numeric verdict only if it holds very tightly
    if _is_constant(t - f, 1e-9):
        exact = np.max(np.abs(t - f)) <= 1e-9 * np.max(np.abs(t))
        return Equivalence("exact" if exact else "additive", "numeric", detail)
    if ratio_const and _is_constant(t / f, 1e-9):
        return Equivalence("multiplicative", "numeric", detail)
    return Equivalence("different", "numeric", detail)
