"""``KANDiscoverer``: a scikit-learn estimator around :func:`kandisco.discover`.

As scikit-learn's ``isotonic_regression`` / ``IsotonicRegression``: the function does the work,
the estimator only stores parameters in ``__init__``, validates in ``fit`` and exposes fitted
attributes ending in ``_``.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any, Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .data import load_dataset
from .discovery import SearchConfig, discover
from .progress import ProgressBar, verbosity

__all__ = ["KANDiscoverer"]


class KANDiscoverer(RegressorMixin, BaseEstimator):
    """Find a closed-form law with a KAN; ``predict`` evaluates the formula.

    Parameters:
        budget_seconds: search time for ``fit``.
        seed: fixes the result.
        library: symbolic library (None, a subset name, a list of names or a SymbolicLibrary).
        pick: rule that picks the formula from the Pareto front (``best``, ``accuracy``, ``simplest``).
        feature_names: names for the columns of a plain array (default: a DataFrame's columns, or
            ``x0, x1, ...``).
        max_strategies: try at most this many strategies; unlike the time budget this makes ``fit``
            independent of the machine's speed (see :func:`kandisco.discover`).
        n_jobs: worker processes (None: every core; 1: one process). The result does not depend
            on it for a plan that fits the budget.
        config: search settings (:class:`kandisco.SearchConfig`; None for the defaults).
        noise: the target's relative uncertainty (0.01 = 1% of each value); None estimates it from the
            data (see docs/noise.md). Per-row error bars: ``fit(X, y, sigma=...)``.
        units: ``{column: unit}`` in pint's spelling, the target under ``"y"`` (``{"L": "m", "g": "m/s^2",
            "y": "s"}``): the search also runs on the Buckingham pi groups and a law whose units do not
            match never wins (see :func:`kandisco.discover`).
        constants: named physical constants added as inputs with their units (``"c,G,hbar"``).
        verbose: 0 leaves logging as the application set it; 1 shows a tqdm.auto progress bar over
            the budget and the ``kandisco`` logger's info messages during ``fit``; 2 also debug
            messages (see :func:`kandisco.progress.verbosity`).

    Fitted attributes: ``formula_`` (sympy), ``constants_`` (the law's fitted constants with their
    standard errors), ``noise_`` (the noise used: given or estimated), ``equations_`` (the Pareto front as a DataFrame:
    complexity, loss, score, formula, sympy, latex, callable, chosen; as PySR's),
    ``result_`` (the DiscoveryResult), ``feature_names_in_``, ``n_features_in_``.
    """

    def __init__(
        self,
        *,
        budget_seconds: float = 60.0,
        seed: int = 0,
        library: Any = None,
        pick: str = "best",
        feature_names: Sequence[str] | None = None,
        max_strategies: int | None = None,
        n_jobs: int | None = None,
        config: SearchConfig | None = None,
        noise: float | None = None,
        units: Mapping[str, str] | None = None,
        constants: str | None = None,
        verbose: int = 0,
    ) -> None:
        self.budget_seconds = budget_seconds
        self.max_strategies = max_strategies
        self.seed = seed
        self.library = library
        self.pick = pick
        self.feature_names = feature_names
        self.n_jobs = n_jobs
        self.config = config
        self.noise = noise
        self.units = units
        self.constants = constants
        self.verbose = verbose

    def fit(self, X: Any, y: Any, sigma: Any = None) -> "KANDiscoverer":
        """Search the law of ``y`` in the columns of ``X``; ``sigma``: one-sigma uncertainty of each ``y``."""
        names = list(getattr(X, "columns", [])) or self.feature_names
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        if names is None or len(names) != X.shape[1]:
            names = [f"x{i}" for i in range(X.shape[1])]
        names = [str(n) for n in names]
        data = load_dataset((X, y), feature_names=names, target_name="y", min_rows=5)
        with ExitStack() as stack:
            bar = None
            if self.verbose >= 1:
                stack.enter_context(verbosity(self.verbose))
                bar = stack.enter_context(ProgressBar(self.budget_seconds, desc="KANDiscoverer.fit"))
            self.result_ = discover(
                data, budget_seconds=self.budget_seconds, seed=self.seed, library=self.library, pick=self.pick,
                max_strategies=self.max_strategies, n_jobs=self.n_jobs, config=self.config, progress=bar,
                noise=self.noise, sigma=None if sigma is None else np.asarray(sigma, dtype=np.float64),
                units=None if self.units is None else dict(self.units), constants=self.constants,
            )
        self.formula_ = self.result_.expr
        self.constants_ = list(self.result_.constants)
        self.noise_ = dict(self.result_.config.get("noise", {}))
        self.equations_ = self.result_.pareto_frame()
        self.feature_names_in_ = np.asarray(names, dtype=object)
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "result_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.result_.predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True  # a formula search on random data may not beat R^2 0.5
        return tags
