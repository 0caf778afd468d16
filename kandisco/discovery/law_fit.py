"""The chosen law's last fit: outlying rows found and named, a robust refit when there are any,
a weighted one with per-row uncertainties, and a standard error for every fitted constant.

Outliers are judged against the law itself, on every row of the table: residuals beyond
``OUTLIER_SIGMAS`` robust standard deviations (1.4826 x the median absolute deviation). They stay
in the data and are reported (by line number for files); the constants are then refitted with a
soft-L1 loss on the training rows and their errors taken on the training rows that are not
outliers. With ``sigma`` (per-row one-sigma uncertainties) the fit is weighted by ``1 / sigma``,
the errors are absolute (scipy's ``absolute_sigma=True``) and the reduced chi-square is reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy

from ..symbolic.formula import refit_constants, snap_constants, to_callable
from ..symbolic.uncertainty import ConstantFit, FitErrors, constant_errors

__all__ = ["LawFit", "OUTLIER_SIGMAS", "fit_law", "finite_on", "outlier_rows"]

OUTLIER_SIGMAS = 5.0
# more outlying rows than this fraction: the law does not describe the data, they are not outliers
MAX_OUTLIER_FRACTION = 0.3
# residuals below this fraction of the target's spread are rounding, never outliers
ROUNDING = 1e-9
# smaller tables cannot tell an outlier from the law's own scatter (11 planets: the inner ones' relative errors)
MIN_ROWS_FOR_OUTLIERS = 20


@dataclass
class LawFit:
    """The law after its last fit, in the pipeline's symbols."""

    expr: sympy.Expr
    errors: FitErrors
    outliers: list[int] = field(default_factory=list)  # row indices into the whole table
    robust: bool = False
    weighted: bool = False

    @property
    def constants(self) -> tuple[ConstantFit, ...]:
        return self.errors.constants


def finite_on(expr: sympy.Expr, symbols: Sequence[sympy.Symbol], X: np.ndarray) -> bool:
    """Whether ``expr`` is finite and real on every row of ``X`` (a law that is not never wins)."""
    try:
        pred = to_callable(expr, symbols)(X)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return False
    return bool(np.all(np.isfinite(pred)))


def fit_law(
    expr: sympy.Expr,
    symbols: Sequence[sympy.Symbol],
    X: np.ndarray,
    y: np.ndarray,
    train_rows: np.ndarray,
    val_rows: np.ndarray | None = None,
    *,
    relative: bool,
    sigma: np.ndarray | None = None,
    refit: bool = False,
    correlated_rows: float = 1.0,
) -> LawFit:
    """Outliers of ``expr`` over all rows ``(X, y)``, then its constants refitted on ``train_rows``
    (robustly when there are outliers; weighted with ``sigma``) with their standard errors.

    With outliers, the robustly refitted constants are snapped again (the statistical rule of
    :func:`~kandisco.symbolic.formula.snap_constants`, on the rows that are not outliers, the
    residuals' robust spread as the noise): the search saw the outliers, and its snaps may not
    have been possible with them. ``refit``: refit on ``train_rows`` even without outliers or
    ``sigma`` (a small table's law, picked by cross-validation, is fitted on its training and
    validation rows together, while the search fitted it on the training rows alone).
    ``correlated_rows``: the rows per independent error (errors correlated along a trajectory): the
    standard errors, which assume independent rows, grow by its square root."""
    outliers, scale = outlier_rows(expr, symbols, X, y, relative, sigma)
    train_rows = np.asarray(train_rows)
    inliers = np.setdiff1d(train_rows, outliers) if outliers else train_rows
    Xt, yt = X[train_rows], y[train_rows]
    weights = None if sigma is None else 1.0 / sigma[train_rows]
    fitted = expr
    if expr.atoms(sympy.Float):
        if outliers:
            fitted = refit_constants(expr, symbols, Xt, yt, relative=relative, weights=weights, robust_scale=scale)
            if val_rows is not None and sigma is None:
                held_out = np.setdiff1d(np.asarray(val_rows), outliers)
                if len(held_out):
                    fitted = snap_constants(fitted, symbols, X[held_out], y[held_out], refit_on=(X[inliers], y[inliers]),
                                            relative=relative, noise=scale, correlated_rows=correlated_rows)
        elif sigma is not None or refit:
            fitted = refit_constants(expr, symbols, Xt, yt, relative=relative, weights=weights)
    if outliers and fitted != expr:  # the law moved: its own outliers are the ones to name
        outliers = outlier_rows(fitted, symbols, X, y, relative, sigma)[0] or outliers
        inliers = np.setdiff1d(train_rows, outliers)
    errors = constant_errors(fitted, symbols, X[inliers], y[inliers], relative=relative,
                             sigma=None if sigma is None else sigma[inliers], correlated_rows=correlated_rows)
    return LawFit(fitted, errors, outliers, robust=bool(outliers), weighted=sigma is not None)


def outlier_rows(expr: sympy.Expr, symbols: Sequence[sympy.Symbol], X: np.ndarray, y: np.ndarray, relative: bool,
                 sigma: np.ndarray | None = None) -> tuple[list[int], float]:
    """Rows whose residual under ``expr`` is beyond OUTLIER_SIGMAS robust deviations, and that scale
    (in the units the fit's residuals have: weighted, relative or absolute)."""
    if len(y) < MIN_ROWS_FOR_OUTLIERS:
        return [], 0.0
    pred = to_callable(expr, symbols)(X)
    resid = _scaled(pred - y, y, relative, sigma)
    finite = np.isfinite(resid)
    if not finite.all():
        return [], 0.0
    spread = 1.0 if relative or sigma is not None else (float(np.std(y)) or 1.0)
    mad = float(np.median(np.abs(resid - np.median(resid)))) * 1.4826
    if mad <= ROUNDING * spread:
        return [], 0.0
    far = np.flatnonzero(np.abs(resid - np.median(resid)) > OUTLIER_SIGMAS * mad)
    if len(far) > MAX_OUTLIER_FRACTION * len(y):
        return [], mad
    return [int(i) for i in far], mad


def _scaled(resid: np.ndarray, y: np.ndarray, relative: bool, sigma: np.ndarray | None) -> np.ndarray:
    if sigma is not None:
        return resid / sigma
    if relative:
        return resid / np.abs(y)
    return resid
