"""Polishing a candidate law, shared by every strategy: refit its constants on the whole formula,
snap them to nice numbers where the held-out error allows, simplify.

The flat strategies, the structured strategy's assembled laws and its leaves all go through
:func:`polish_formula`, so a rule for constants changes in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy

from ..symbolic.formula import (
    complexity,
    factor_powered_sums,
    formula_rmse,
    freed_constants,
    merge_numeric_factors,
    refit_constants,
    simplify_capped,
    snap_constants,
    to_callable,
)

__all__ = ["polish_formula", "resnap_noisy", "resolve_fixed_sign_abs", "tidy", "uses_relative_error"]


def polish_formula(
    expr: sympy.Expr,
    symbols: Sequence[sympy.Symbol],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    simplify_seconds: float = 3.0,
    relative: bool = False,
    noise: float = 0.0,
    correlated_rows: float = 1.0,
) -> list[sympy.Expr]:
    """Refit constants on the whole formula, snap them to nice numbers, simplify.

    Returns the refitted formula and, when different, the snapped-and-simplified one (both go
    to the Pareto front, which decides). ``relative``: errors relative to ``|y|``.
    ``noise``: the target's one-sigma noise in the loss's units (0: none known), for the statistical
    snapping of :func:`~kandisco.symbolic.formula.snap_constants`; ``correlated_rows``: the rows per
    independent error there (1: independent rows).
    """
    expr = tidy(expr)
    refit = refit_constants(expr, symbols, *train, relative=relative)
    snapped = snap_constants(refit, symbols, *val, refit_on=train, relative=relative, noise=noise,
                             correlated_rows=correlated_rows)
    snapped = resolve_fixed_sign_abs(snapped, symbols, np.vstack([train[0], val[0]]))
    snapped = tidy(simplify_capped(snapped, timeout=simplify_seconds))
    snapped = snap_constants(snapped, symbols, *val, refit_on=train, relative=relative, noise=noise, correlated_rows=correlated_rows)
    out = [refit]
    if snapped != refit:
        out.append(snapped)
    return out


def resnap_noisy(
    expr: sympy.Expr,
    symbols: Sequence[sympy.Symbol],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    relative: bool,
    noise: float,
    allowed_loss: float,
    correlated_rows: float = 1.0,
) -> sympy.Expr | None:
    """The chosen law of noisy data polished once more from its numbers set free, or None when that
    gives nothing better.

    A strategy snaps constants where it fits (a log-log view, a leaf of the structure), and a snapped
    number is frozen from then on: ``c**(sqrt(410)/10)`` for ``c**2`` keeps the bias of the view that
    chose it. Here every number but small integers and halves is a float again
    (:func:`~kandisco.symbolic.formula.freed_constants`), refitted on the whole formula under the
    pipeline's loss and snapped by the statistical rule. The result is returned when at least one of the
    freed numbers snapped again, it has no more nodes, and its held-out loss is at most ``allowed_loss``.
    """
    freed = freed_constants(expr)
    if freed == expr or not freed.atoms(sympy.Float):
        return None
    polished = polish_formula(freed, symbols, train, val, relative=relative, noise=noise, correlated_rows=correlated_rows)[-1]
    if polished == expr or len(polished.atoms(sympy.Float)) >= len(freed.atoms(sympy.Float)):
        return None  # nothing snapped: the nice numbers it had stay
    if complexity(polished) > complexity(expr) or not formula_rmse(polished, symbols, *val, relative) <= allowed_loss:
        return None
    return polished


def resolve_fixed_sign_abs(expr: sympy.Expr, symbols: Sequence[sympy.Symbol], X: np.ndarray) -> sympy.Expr:
    """``Abs(u)`` as ``u`` or ``-u`` where ``u`` keeps one sign (never zero) on every row of ``X``.

    A leaf fitted as ``|a*x + b|`` computes the same as ``a*x + b`` wherever the data are, so on
    the data the plainer form is the same law: ``kb*v/(A*Abs(gamma - 1))`` with gamma in [2, 5] is
    ``kb*v/(A*(gamma - 1))``. An ``Abs`` whose argument changes sign in the data stays.
    """
    if not expr.has(sympy.Abs) or len(X) == 0:
        return expr
    def resolved(node: sympy.Abs) -> sympy.Expr:
        inner = node.args[0]
        try:
            values = to_callable(inner, symbols)(X)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError, NameError):
            return node
        if not np.all(np.isfinite(values)):
            return node
        if np.all(values > 0):
            return inner
        if np.all(values < 0):
            return -inner
        return node

    return expr.replace(lambda e: isinstance(e, sympy.Abs), resolved)


def tidy(expr: sympy.Expr) -> sympy.Expr:
    """Cheap normalisation: merge powers and logs (``sqrt(1/x)`` -> ``1/sqrt(x)``), and take
    redundant scales out of powered and multiplied sums (:func:`~kandisco.symbolic.formula.factor_powered_sums`).

    The rewrites that hold only for positive values (``log(x*y)`` -> ``log(x) + log(y)``,
    ``x**a * y**a`` -> ``(x*y)**a``) are forced only when every symbol is positive, i.e. the data
    are; with a signed input sympy applies only what holds for every real value."""
    force = all(s.is_positive for s in expr.free_symbols)
    try:
        expr = sympy.powsimp(sympy.expand_log(expr, force=force), force=force)
        if force:  # (1/x)**e -> x**-e: equal for x > 0
            expr = expr.replace(lambda e: e.is_Pow and e.base.is_Pow and e.base.exp == -1, lambda e: e.base.base ** (-e.exp))
    except (TypeError, ValueError, RecursionError):
        pass
    return merge_numeric_factors(factor_powered_sums(expr))


def uses_relative_error(y: np.ndarray) -> bool:
    """Positive targets spanning more than two decades are judged by relative error.

    A raw squared error there is dominated by the largest values (Kepler: the outer planets), so
    fits chase their measurement error and a law like ``a**1.5`` loses to ``0.9886*a**1.503``.
    """
    return bool(np.all(y > 0) and np.max(y) > 100 * np.min(y))
