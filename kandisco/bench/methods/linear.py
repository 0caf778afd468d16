"""``linear``: ordinary least squares with an intercept, the floor any symbolic method should beat."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import sympy

from . import Method, feature_symbols


class Linear(Method):
    """``y = c0 + sum_i c_i x_i`` by least squares (deterministic, no time budget needed)."""

    name = "linear"

    def fit(self, X: np.ndarray, y: np.ndarray, features: Sequence[str], target: str, budget: float, seed: int) -> sympy.Expr:
        A = np.column_stack([np.ones(len(y)), X])
        coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        syms = feature_symbols(features)
        return sympy.Float(coef[0]) + sum((sympy.Float(c) * s for c, s in zip(coef[1:], syms)), sympy.Integer(0))
