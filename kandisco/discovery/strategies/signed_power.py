"""Sign-aware power laws: ``y = C * prod x_i^p_i`` when inputs or the target take both signs.

The ``power_law`` strategy fits ``log y`` on ``log x``, which needs positive data. Coulomb's law with
signed charges, ``q1*q2/(4*pi*epsilon*r**2)``, is a power law in the magnitudes times a sign: here
``log|y|`` is fitted on ``log|x|`` by least squares (one linear solve; under additive noise on the
rows clear of it, weighted by their signal-to-noise ratio), and the sign of ``y`` is
matched by the parity pattern ``s * prod sign(x_i)^k_i`` that agrees with most rows (every pattern
over the signed inputs is tried: at most 2^10). Each factor is written so that it is exact for
either sign: ``x**p`` where the parity of an integer ``p`` matches, ``x*|x|**(p - 1)`` for an odd
factor and ``|x|**p`` for an even one otherwise; the formula is then polished like every other
(exponents snap to integers, where ``Abs`` disappears).

Planned [priority 10, beside ``power_law``] when some input or the target is signed, or when
additive noise drowns the small values of a positive target spanning decades; never with a zero value.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from ..polish import polish_formula
from ..power_fit import log_magnitude_fit
from ..problem import NothingToPropose, Problem, Proposal
from .base import Strategy, register_planner

__all__ = ["SignedPowerLawStrategy", "sign_pattern"]

MAX_SIGNED_INPUTS = 10  # 2^10 parity patterns at most
MIN_AGREEMENT = 0.95  # the sign pattern must match this share of rows, else the law is no signed power law
CLEAR_SIGMAS = 3.0  # under additive noise, rows with |y| beyond this many sigmas carry the fit (see _clear_rows)
MIN_CLEAR_ROWS = 20
DECADES_SPAN = 100.0  # a positive target whose largest value is this many times its smallest "spans decades"


def sign_pattern(X: np.ndarray, y: np.ndarray) -> tuple[float, tuple[int, ...], float]:
    """``(s, k, agreement)``: the pattern ``sign(y) = s * prod_i sign(x_i)^k_i`` that matches most rows."""
    neg = X < 0
    signed = [i for i in range(X.shape[1]) if neg[:, i].any() and (~neg[:, i]).any()]
    if len(signed) > MAX_SIGNED_INPUTS:
        raise NothingToPropose(f"{len(signed)} signed inputs: too many sign patterns to try")
    y_neg = y < 0
    best = (1.0, tuple(0 for _ in range(X.shape[1])), -1.0)
    for bits in itertools.product((0, 1), repeat=len(signed)):
        parity = np.zeros(len(y), dtype=bool)
        for i, b in zip(signed, bits):
            if b:
                parity ^= neg[:, i]
        for s in (1.0, -1.0):
            predicted_neg = parity if s > 0 else ~parity
            agreement = float(np.mean(predicted_neg == y_neg))
            if agreement > best[2]:
                k = [0] * X.shape[1]
                for i, b in zip(signed, bits):
                    k[i] = b
                best = (s, tuple(k), agreement)
    return best


def _clear_rows(X: np.ndarray, y: np.ndarray, noise: float, relative: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows the magnitude fit uses and each one's weight in it.

    Under additive noise ``sigma`` (absolute loss), ``log|y|`` has the error ``sigma/|y|``: rows
    with ``|y|`` near the noise carry no sign and no magnitude, yet an unweighted fit counts them as
    much as the rest (``y ~ m*q**4/n**2`` over four decades with 1% of its spread as noise, as in
    III.19.51, has a quarter of its rows within 3 sigmas, some of them of the wrong sign). So only
    rows beyond ``CLEAR_SIGMAS`` noise sigmas are used, weighted by ``|y|/sigma`` (the inverse of
    that error), when enough remain; otherwise, and without additive noise, every row counts the same."""
    ones = np.ones(len(y))
    if relative or not noise > 0:
        return X, y, ones
    clear = np.abs(y) > CLEAR_SIGMAS * noise
    if clear.sum() < max(MIN_CLEAR_ROWS, 3 * (X.shape[1] + 1)):
        return X, y, ones
    return X[clear], y[clear], np.abs(y[clear]) / noise


def _factor(x: sympy.Symbol, p: float, odd: int, signed: bool) -> sympy.Expr:
    """``x`` to the power ``p`` with the sign behaviour ``odd`` (1: changes sign with x), exact for either sign."""
    if not signed:
        return x ** sympy.Float(p)
    if odd:
        return x * sympy.Abs(x) ** sympy.Float(p - 1)
    return sympy.Abs(x) ** sympy.Float(p)


@dataclass
class SignedPowerLawStrategy:
    """``log|y|`` on ``log|x|`` by least squares, then the sign pattern (module docstring)."""

    name: str = "signed_power_law"
    seed: int = 0
    simplify_seconds: float = 3.0

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "signed_power_law", "seed": self.seed}

    def propose(self, problem: Problem, deadline: float | None) -> Proposal:
        X, y = problem.train
        if np.any(X == 0) or np.any(y == 0):
            raise NothingToPropose("a zero input or target: no power law in the magnitudes")
        Xc, yc, weight = _clear_rows(X, y, problem.noise, problem.relative)
        s, k, agreement = sign_pattern(Xc, yc)
        if agreement < MIN_AGREEMENT:
            raise NothingToPropose(f"no sign pattern of the inputs gives the target's sign (best: {agreement:.0%} of rows)")
        sol = log_magnitude_fit(Xc, yc, weight)
        if sol is None:
            raise NothingToPropose("the power law in the magnitudes cannot be fitted")
        signed = [bool(np.any(X[:, i] < 0)) or bool(np.any(problem.val[0][:, i] < 0)) for i in range(X.shape[1])]
        expr = sympy.Float(s * float(np.exp(sol[0]))) * sympy.Mul(*[
            _factor(sym, float(p), odd, sgn) for sym, p, odd, sgn in zip(problem.symbols, sol[1:], k, signed)])
        formulas = polish_formula(expr, problem.symbols, problem.train, problem.val, self.simplify_seconds, problem.relative,
                                  noise=problem.noise, correlated_rows=problem.correlated_rows)
        return Proposal(formulas, notes=[f"{self.name}: the target's sign matches the pattern on {agreement:.1%} of rows"])


def plan_signed_power(problem: Problem) -> list[tuple[float, Strategy]]:
    """The strategy when some input or the target is signed (positive data: ``power_law`` covers it),
    or when additive noise drowns the small values of a target spanning decades (``power_law``'s
    unweighted log-log fit is biased there: II.13.17 at 1% came out as ``c**(sqrt(410)/10)``)."""
    y = problem.train[1]
    drowned = problem.noise > 0 and not problem.relative and bool(np.max(np.abs(y)) > DECADES_SPAN * np.min(np.abs(y)))
    if problem.x_positive and problem.y_positive and not drowned:
        return []
    return [(10, SignedPowerLawStrategy(seed=problem.seed, simplify_seconds=problem.config.simplify_seconds))]


register_planner("signed_power", plan_signed_power)
