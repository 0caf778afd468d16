"""Small-argument limits: a function whose argument stays near 0 on the data, as its leading terms.

A fit can drift to a degenerate corner of a form: Boyle's 25 rows chose ``c/tan(a*V)`` and its
last fit ran ``a`` and ``c`` to 0 together, where the form is ``(c/a)/V``. Setting ``a`` to 0 makes
the formula undefined, so snapping cannot reach that law; writing ``tan(u)`` as ``u`` where
``|u|`` is small on every row can. :func:`small_argument_limit` does the rewrite; whether the data
accept it is the caller's test (:func:`~kandisco.symbolic.formula.snap_constants` judges it like
a snap).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence

import numpy as np
import sympy

__all__ = ["SMALL_ARGUMENT", "small_argument_limit"]

# an argument at most this large in magnitude on every row is near enough 0 to try the limit
# (tan(0.3) = 0.309, sin(0.3) = 0.296: what the data can resolve is the caller's test)
SMALL_ARGUMENT = 0.3
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


def _small_on(arg: sympy.Expr, symbols: Sequence[sympy.Symbol], X: np.ndarray, threshold: float) -> bool:
    """Whether ``|arg| <= threshold`` on every row of ``X`` (finite and real there). Evaluated here,
    not by :func:`~kandisco.symbolic.formula.to_callable`: formula.py imports this module, and the
    package keeps its imports one-way (tests/test_architecture.py)."""
    try:
        fn = sympy.lambdify(list(symbols), arg, modules="numpy")
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = np.asarray(fn(*np.asarray(X, dtype=np.float64).T)) * np.ones(len(X))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError, KeyError):
        return False
    return bool(not np.iscomplexobj(values) and np.all(np.isfinite(values)) and np.all(np.abs(values) <= threshold))


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
