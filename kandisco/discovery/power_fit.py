"""The power law in the magnitudes: ``log|y|`` on ``log|x_i|`` by (weighted) least squares.

Shared by the signed power-law strategy (the law ``C * prod |x_i|**p_i`` with a sign pattern) and
the sparse strategies' monomial factor (the inputs whose exponent is a whole number)."""

from __future__ import annotations

import numpy as np

__all__ = ["log_magnitude_fit"]


def log_magnitude_fit(X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray | None:
    """``[log C, p_1, ..., p_d]`` of ``log|y| = log C + sum p_i log|x_i|`` by least squares (rows
    weighted by ``weights``), or None when the solution is not finite. No value may be zero."""
    design = np.column_stack([np.ones(len(y)), np.log(np.abs(X))])
    target = np.log(np.abs(y))
    if weights is not None:
        design, target = design * weights[:, None], target * weights
    solution = np.linalg.lstsq(design, target, rcond=None)[0]
    return solution if np.all(np.isfinite(solution)) else None
