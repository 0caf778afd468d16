"""``pysr``: PySR's ``PySRRegressor`` with ``timeout_in_seconds``; needs a Julia installation.

Importing ``pysr`` starts ``juliacall``, which downloads Julia when it finds none. So Julia is looked
for first (``julia`` on PATH, or ``PYTHON_JULIAPKG_EXE`` naming an executable) and, without it, the
method is unavailable and ``pysr`` is never imported. The formula comes from PySR's sympy export.
Not exercised on machines without Julia (the test skips).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np
import sympy

from . import Method, internal_names, to_features


def julia_executable() -> str | None:
    """The Julia that juliacall would use without downloading one, or None."""
    exe = os.environ.get("PYTHON_JULIAPKG_EXE")
    if exe and Path(exe).is_file() and os.access(exe, os.X_OK):
        return exe
    return shutil.which("julia")


class PySR(Method):
    """PySR (SymbolicRegression.jl) with a basic physics operator set."""

    name = "pysr"
    module = "pysr"
    distribution = "pysr"

    def unavailable(self) -> str | None:
        if julia_executable() is None:
            return "Julia is not installed"
        if importlib.util.find_spec("pysr") is None:
            return "pysr is not installed (pip install 'kandisco[bench]')"
        return None

    def fit(self, X: np.ndarray, y: np.ndarray, features: Sequence[str], target: str, budget: float, seed: int) -> sympy.Expr:
        reason = self.unavailable()
        if reason:  # never let the import download Julia
            raise RuntimeError(f"pysr unavailable: {reason}")
        from pysr import PySRRegressor

        est = PySRRegressor(
            niterations=10**6,
            timeout_in_seconds=budget,
            binary_operators=["+", "-", "*", "/"],
            unary_operators=["sin", "cos", "exp", "log", "sqrt"],
            maxsize=30,
            parallelism="serial",
            random_state=seed,
            verbosity=0,
            progress=False,
            temp_equation_file=True,
        )
        names = internal_names(X.shape[1])
        est.fit(np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64), variable_names=names)
        return to_features(est.sympy(), features)
