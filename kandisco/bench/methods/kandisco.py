"""``kandisco``: :func:`kandisco.discover` with the job's budget and seed.

A benchmark job gets one core (the runner starts one job per core), so discovery runs its
strategies in one process; ``KANDISCO_BENCH_JOBS=N`` gives each job N worker processes instead
(run the benchmark with ``--jobs 1`` then), which is how the all-cores timing is measured."""

from __future__ import annotations

import os
from typing import Mapping, Sequence

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
        jobs = int(os.environ.get("KANDISCO_BENCH_JOBS", "1"))
        return discover(data, budget_seconds=budget, seed=seed, n_jobs=jobs).expr


class KandiscoUnits(Kandisco):
    """kandisco told the task's units (Feynman: ``datasets/feynman_units.csv``): it searches the
    Buckingham pi groups too and only a dimensionally consistent law wins. Without units it is kandisco."""

    name = "kandisco-units"
    uses_units = True  # the worker passes TaskData.units to fit

    def fit(self, X: np.ndarray, y: np.ndarray, features: Sequence[str], target: str, budget: float, seed: int,
            units: Mapping[str, str] | None = None) -> sympy.Expr:
        from ...data import load_dataset
        from ...discovery import discover

        known = {n: u for n, u in (units or {}).items() if n in (*features, target)}
        data = load_dataset((X, y), feature_names=list(features), target_name=target, units=known)
        jobs = int(os.environ.get("KANDISCO_BENCH_JOBS", "1"))
        return discover(data, budget_seconds=budget, seed=seed, n_jobs=jobs).expr
