"""``sindy``: pysindy's sparse regression (STLSQ over polynomials to degree 3 and sin/cos) on a table.

The tabular face of :func:`kandisco.dynamics.sindy.sindy_fit`: ``y ~ f(X)`` with the threshold
chosen on held-out rows. For laws of motion from trajectories, use the same function through
``kandisco.dynamics.sindy.sindy_ode`` (experiments/ode_suite.py). pysindy is in the ``bench`` extra.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import sympy

from . import Method, internal_names, to_features


class Sindy(Method):
    """SINDy with a polynomial (degree 3) + Fourier (one frequency) library."""

    name = "sindy"
    module = "pysindy"
    distribution = "pysindy"

    def prepare(self) -> None:
        """Import pysindy (and scikit-learn under it, seconds) before the job's clock starts."""
        import pysindy  # noqa: F401

    def fit(self, X: np.ndarray, y: np.ndarray, features: Sequence[str], target: str, budget: float, seed: int) -> sympy.Expr:
        from ...dynamics.sindy import sindy_fit

        names = internal_names(X.shape[1])  # pysindy's term names are split on spaces: plain names in, the task's out
        return to_features(sindy_fit(X, y[:, None], names, budget=budget, seed=seed)[0], features)
