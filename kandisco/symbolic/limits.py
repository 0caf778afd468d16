"""Limits of degenerate corners: a function whose argument stays near 0 on the data, as its leading
terms, and a constant term negligible beside the rest of its sum.

A fit can drift to a degenerate corner of a form: Boyle's 25 rows chose ``c/tan(a*V)`` and its
last fit ran ``a`` and ``c`` to 0 together, where the form is ``(c/a)/V``. Setting ``a`` to 0 makes
the formula undefined, so snapping cannot reach that law; writing ``tan(u)`` as ``u`` where
``|u|`` is small on every row can. :func:`small_argument_limit` does the rewrite; whether the data
accept it is the caller's test (:func:`~kandisco.symbolic.formula.snap_constants` judges it like
a snap).

The other corner is the large-argument one: ``c*A/(m*(c*B + 1))`` with ``c -> 1.4e7`` is ``A/(m*B)``,
but the ``1`` is no fitted float and never snaps to 0 (II.11.3's noiseless table ended as
``13925285*Ef*q/(m*(-13925285*omega**2 + 13925285*omega_0**2 + 1))``).
:func:`negligible_constant_terms` drops such a term, so the scale left is one constant to snap.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence

import numpy as np
import sympy

__all__ = ["NEGLIGIBLE_TERM", "SMALL_ARGUMENT", "negligible_constant_terms", "small_argument_limit"]

# an argument at most this large in magnitude on every row is near enough 0 to try the limit
# (tan(0.3) = 0.309, sin(0.3) = 0.296: what the data can resolve is the caller's test)
SMALL_ARGUMENT = 0.3
# a sum's constant term at most this fraction of the rest of the sum on every row is tried without it
NEGLIGIBLE_TERM = 1e-3
_T = sympy.Dummy("t")


@functools.lru_cache(maxsize=None)
def _leading_terms(func: type[sympy.Function]) -> sympy.Expr | None:
    """``func(t)`` to its first term in ``t`` (``tan(t)`` -> ``t``, ``cos(t)`` -> ``1 - t**2/2``),
    or None where ``func`` has no Taylor series at 0 (``log``)."""
    for order in (2, 3):
        try:
            series = func(_T).series(_T, 0, order).removeO()
        except (ValueError, NotImplementedError, TypeError, sympy.PoleError):
            return None
        if (series.has(sympy.zoo, sympy.oo, sympy.nan, sympy.Derivative, sympy.Subs) or series.atoms(sympy.Function)
                or series.free_symbols - {_T} or not series.is_polynomial(_T)):
            return None  # log's series has log(t); an undefined function's, its unknown derivatives
        if series.has(_T):
            return series
    return None


def _values(expr: sympy.Expr, symbols: Sequence[sympy.Symbol], X: np.ndarray) -> np.ndarray | None:
    """``expr`` on every row of ``X``, or None where it is not finite and real. Evaluated here,
    not by :func:`~kandisco.symbolic.formula.to_callable`: formula.py imports this module, and the
    package keeps its imports one-way (tests/test_architecture.py)."""
    try:
        fn = sympy.lambdify(list(symbols), expr, modules="numpy")
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = np.asarray(fn(*np.asarray(X, dtype=np.float64).T)) * np.ones(len(X))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError, KeyError):
        return None
    if np.iscomplexobj(values) or not np.all(np.isfinite(values)):
        return None
    return values.astype(np.float64)


def _small_on(arg: sympy.Expr, symbols: Sequence[sympy.Symbol], X: np.ndarray, threshold: float) -> bool:
    """Whether ``|arg| <= threshold`` on every row of ``X`` (finite and real there)."""
    values = _values(arg, symbols, X)
    return values is not None and bool(np.all(np.abs(values) <= threshold))


def small_argument_limit(
    expr: sympy.Expr, symbols: Sequence[sympy.Symbol], X: np.ndarray, threshold: float = SMALL_ARGUMENT
) -> sympy.Expr | None:
    """``expr`` with every one-argument function whose argument depends on the inputs and stays
    within ``threshold`` of 0 on the rows ``X`` replaced by its leading Taylor terms, or None when
    no function qualifies. Numeric factors merge (``c/(a*V)`` is one constant over ``V``)."""
    if len(X) == 0:
        return None
    changed = False

    def limit(node: sympy.Expr) -> sympy.Expr:
        nonlocal changed
        arg = node.args[0]
        terms = _leading_terms(node.func)  # cached per function: a series costs milliseconds
        if terms is None or not _small_on(arg, symbols, X, threshold):
            return node
        changed = True
        return terms.xreplace({_T: arg})

    out = expr.replace(lambda e: isinstance(e, sympy.Function) and len(e.args) == 1 and bool(e.args[0].free_symbols), limit)
    return out if changed else None


def negligible_constant_terms(
    expr: sympy.Expr, symbols: Sequence[sympy.Symbol], X: np.ndarray, threshold: float = NEGLIGIBLE_TERM
) -> sympy.Expr | None:
    """``expr`` with every constant term of a sum that is at most ``threshold`` of the rest of
    that sum on every row of ``X`` left out, or None when there is none (see the module)."""
    if len(X) == 0:
        return None
    changed = False

    def drop(node: sympy.Add) -> sympy.Expr:
        nonlocal changed
        constant, rest = node.as_independent(*node.free_symbols, as_Add=True)
        if constant == 0 or not rest.free_symbols:
            return node
        values = _values(rest, symbols, X)
        if values is None or not np.all(abs(float(constant)) <= threshold * np.abs(values)):
            return node
        changed = True
        return rest

    out = expr.replace(lambda e: isinstance(e, sympy.Add) and bool(e.free_symbols), drop)
    return out if changed else None
