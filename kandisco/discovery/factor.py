"""Shifted rank-one factorisation of scattered 2-D data: ``t ~ c + g(a) * h(b)``.

A leaf of two variables can be such a product even when a surrogate was too rough for the
structure tests to say so (``1 + alpha*cos(theta)``, ``E + u*sin(theta)`` seen up to a factor).
Fitted on the leaf's own values, with ``g`` and ``h`` as cubic splines and alternating least
squares, it gives ``g`` and ``h`` point by point, and each then gets 1-D formulas like any leaf.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import BSpline

__all__ = ["ShiftedProduct", "shifted_product"]


@dataclass
class ShiftedProduct:
    """``t ~ offset + g * h`` at the data points; ``relative_error`` is the RMS residual / std(t)."""

    offset: float
    g: np.ndarray
    h: np.ndarray
    relative_error: float


def spline_design(x: np.ndarray, n_knots: int = 8, k: int = 3) -> np.ndarray:
    """(n, n_basis) cubic B-spline basis of ``x`` on knots at its quantiles (dense)."""
    inner = np.unique(np.quantile(x, np.linspace(0.0, 1.0, n_knots)))
    if len(inner) < 2:
        return np.ones((len(x), 1))
    knots = np.r_[[inner[0]] * k, inner, [inner[-1]] * k]
    return BSpline.design_matrix(np.clip(x, inner[0], inner[-1]), knots, k).toarray()


def shifted_product(a: np.ndarray, b: np.ndarray, t: np.ndarray, iterations: int = 60) -> ShiftedProduct:
    """Least-squares ``c + g(a) h(b)`` for values ``t`` at points ``(a, b)``.

    Started from the leading singular pair of a full tensor-spline fit, then alternating: with
    ``h`` fixed the model is linear in ``(c, g)``, and the other way round.
    """
    a, b, t = (np.asarray(v, dtype=float).ravel() for v in (a, b, t))
    n_knots = int(np.clip(len(t) // 50, 4, 12))  # the tensor fit needs a few points per coefficient
    A, B = spline_design(a, n_knots), spline_design(b, n_knots)
    spread = float(np.std(t)) or 1.0
    tensor = (A[:, :, None] * B[:, None, :]).reshape(len(t), -1)
    coef = np.linalg.lstsq(tensor, t, rcond=None)[0].reshape(A.shape[1], B.shape[1])
    _, _, vt = np.linalg.svd(coef - coef.mean())
    h = B @ vt[0]
    ones = np.ones((len(t), 1))
    c, g, last = 0.0, np.zeros_like(t), np.inf
    for _ in range(iterations):
        sol = np.linalg.lstsq(np.hstack([ones, A * h[:, None]]), t, rcond=None)[0]
        c, g = float(sol[0]), A @ sol[1:]
        sol = np.linalg.lstsq(np.hstack([ones, B * g[:, None]]), t, rcond=None)[0]
        c, h = float(sol[0]), B @ sol[1:]
        error = float(np.sqrt(np.mean((t - c - g * h) ** 2))) / spread
        if last - error < 1e-9 * max(error, 1e-12):
            break
        last = error
    size = float(np.std(h)) or 1.0  # the gauge g*k, h/k: h at unit spread
    return ShiftedProduct(c, g * size, h / size, float(np.sqrt(np.mean((t - c - g * h) ** 2))) / spread)
