"""``operon``: pyoperon's scikit-learn ``SymbolicRegressor`` under a time limit.

Operon stops at ``max_time`` seconds (generation and evaluation caps are set out of reach, so time is
the budget, as for every method). The chosen model (``model_``, Operon's default
minimum-description-length pick from its Pareto front) is printed with ``get_model_string`` in the
names ``x0, x1, ...`` and parsed by :func:`kandisco.symbolic.parse.parse_formula` (Operon's ``^`` is a
power). Operon computes in float32, so its constants carry about 7 significant digits.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import sympy

from ...symbolic.parse import parse_formula
from . import Method, internal_names, to_features

ALLOWED_SYMBOLS = "add,sub,mul,div,square,exp,log,sqrt,sin,cos,constant,variable"


class Operon(Method):
    """Operon GP with nonlinear least squares on the constants (its defaults otherwise)."""

    name = "operon"
    module = "pyoperon"
    distribution = "pyoperon"

    def fit(self, X: np.ndarray, y: np.ndarray, features: Sequence[str], target: str, budget: float, seed: int) -> sympy.Expr:
        from pyoperon.sklearn import SymbolicRegressor

        est = SymbolicRegressor(
            allowed_symbols=ALLOWED_SYMBOLS,
            max_time=max(1, int(budget)),
            generations=10**9,
            max_evaluations=10**12,
            n_threads=1,
            random_state=seed,
        )
        est.fit(np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64))
        names = internal_names(X.shape[1])
        text = est.get_model_string(est.model_, 16, names)
        return to_features(parse_formula(text, names), features)
