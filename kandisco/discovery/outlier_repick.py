"""The Pareto front judged again without the outliers that the noise estimate missed.

Rows far off their neighbours are left out of the search (:mod:`.noise`), but the local fits that
find them can miss one (a planet's period off by a factor 4.6 among 200 rows, when its neighbours
are themselves off): every candidate's constants were then fitted with it. Under relative error
one such row pulls a one-constant law's constant from 1 to 0.89, and a nine-term sum that bends
around it looks ten times better than the law. The chosen law's own residuals name such rows
(beyond :data:`~kandisco.discovery.law_fit.OUTLIER_SIGMAS` robust sigmas); when some of them are
among the rows the search used, each front entry is refitted on the training rows without them,
its constants snapped again, and its loss recomputed on the validation rows without them, so the
pick is made between laws fitted on the same clean rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy
from scipy.spatial import cKDTree

from ..symbolic.formula import formula_rmse, refit_constants, snap_constants
from .noise import standardised

__all__ = ["isolated_rows", "refit_without_rows"]

# a row named an outlier counts as one only if none of its this many nearest neighbours is named too
ISOLATION_NEIGHBOURS = 3


def refit_without_rows(
    exprs: Sequence[sympy.Expr],
    symbols: Sequence[sympy.Symbol],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    *,
    relative: bool,
    noise: float = 0.0,
    correlated_rows: float = 1.0,
) -> list[tuple[sympy.Expr, float]]:
    """Each formula refitted on ``train`` and snapped (the statistical rule with ``noise``), with its
    loss on ``val``: ``[(formula, loss), ...]`` in the order given (both sets without the outliers)."""
    out: list[tuple[sympy.Expr, float]] = []
    for expr in exprs:
        refit = refit_constants(expr, symbols, *train, relative=relative)
        snapped = snap_constants(refit, symbols, *val, refit_on=train, relative=relative, noise=noise,
                                 correlated_rows=correlated_rows)
        out.append((snapped, formula_rmse(snapped, symbols, *val, relative)))
    return out


def isolated_rows(X: np.ndarray, named: Sequence[int], k: int = ISOLATION_NEIGHBOURS) -> list[int]:
    """The rows of ``named`` (indices into ``X``) none of whose ``k`` nearest neighbours (inputs
    standardised) is named too. Outliers are scattered; a law that is wrong somewhere names a
    region, a cluster of neighbours (a Gaussian's peak, missed by a simpler sum that fits the
    tails to the noise): those are no outliers, and refitting without them hides the miss."""
    named = sorted(set(int(i) for i in named))
    if not named or len(X) <= k:
        return named
    Z = standardised(np.asarray(X, dtype=np.float64))
    _, idx = cKDTree(Z).query(Z[named], k=k + 1)
    marked = set(named)
    return [row for row, near in zip(named, idx) if not any(int(j) in marked for j in near[1:])]
