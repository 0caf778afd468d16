"""``kandisco``: :func:`kandisco.discovery.discover` with the job's budget and seed."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import sympy

from . import Method


class Kandisco(Method):
    """kandisco's own pipeline; its formula is already in the feature names."""

    name = "kandisco"
    distribution = "kandisco"

    def prepare(self) -> None:
        """Build (first time on a machine, ~30 s) or load the compiled B-spline kernel off the clock."""
        from ...kan import native

        native.kernel()

    def fit(self, X: np.ndarray, y: np.ndarray, features: Sequence[str], target: str, budget: float, seed: int) -> sympy.Expr:
        from ...data import load_dataset
        from ...discovery import discover

        data = load_dataset((X, y), feature_names=list(features), target_name=target)
        return discover(data, budget_seconds=budget, seed=seed).expr
