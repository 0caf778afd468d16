"""``pykan``: the KAN 2.0 reference implementation (pykan 0.2.8) run the way its README shows.

Inputs are standardised (pykan's grids live on [-1, 1]); then ``KAN(width=[d, 5, 1], grid=5, k=3)``,
``fit`` (LBFGS, ``lamb=0.001``), ``prune``, ``fit``, ``auto_symbolic`` with the README's library,
``fit``, ``symbolic_formula``. Its variables ``x_1, x_2, ...`` are replaced by the standardised
features, which writes the formula in the task's units. pykan has no time limit: a phase is skipped
when the budget is spent, and the harness's wall-clock limit catches the rest. Crashes propagate and
are recorded as results.

pykan quirks handled: it builds tensors in torch's default dtype (float64 during the fit, restored
after), and ``prune`` writes checkpoints to ``ckpt_path`` even with ``auto_save=False`` (a
temporary directory here).
"""

from __future__ import annotations

import copy
import os
import tempfile
import time
from typing import Sequence

import numpy as np
import sympy

from . import Method, feature_symbols

LIBRARY = ["x", "x^2", "x^3", "x^4", "exp", "log", "sqrt", "tanh", "sin", "abs"]
STEPS = 50


class PyKAN(Method):
    """pykan's documented fit / prune / auto_symbolic workflow."""

    name = "pykan"
    module = "kan"
    distribution = "pykan"
    steps = STEPS  # LBFGS steps per fit phase

    def fit(self, X: np.ndarray, y: np.ndarray, features: Sequence[str], target: str, budget: float, seed: int) -> sympy.Expr:
        os.environ.setdefault("TQDM_DISABLE", "1")  # pykan's fit always draws a progress bar
        import torch

        start = time.perf_counter()
        previous = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            formula, variables, mu, sd = self._workflow(X, y, seed, budget, start)
        finally:
            torch.set_default_dtype(previous)
        expr = sympy.sympify(formula[0])
        syms = feature_symbols(features)
        swap = {v: (s - float(m)) / float(d) for v, s, m, d in zip(variables, syms, mu, sd)}
        return expr.xreplace(swap)

    def _workflow(self, X: np.ndarray, y: np.ndarray, seed: int, budget: float, start: float):
        """pykan's steps on standardised inputs; returns its formula, its variables and the scaling."""
        import torch
        from kan import KAN

        mu, sd = X.mean(axis=0), X.std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        Xn = torch.tensor((X - mu) / sd)
        yt = torch.tensor(np.asarray(y, dtype=np.float64)[:, None])
        dataset = {"train_input": Xn, "train_label": yt, "test_input": Xn, "test_label": yt}
        with tempfile.TemporaryDirectory(prefix="pykan-") as ckpt:
            model = KAN(width=copy.deepcopy([X.shape[1], 5, 1]), grid=5, k=3, seed=seed, auto_save=False,
                        ckpt_path=ckpt, device="cpu")
            model.fit(dataset, opt="LBFGS", steps=self.steps, lamb=0.001)
            model = model.prune()
            model.auto_save = False  # prune returns a model with auto_save=True
            if time.perf_counter() - start < budget:
                model.fit(dataset, opt="LBFGS", steps=self.steps)
            model.auto_symbolic(lib=LIBRARY, verbose=0)
            if time.perf_counter() - start < budget:
                model.fit(dataset, opt="LBFGS", steps=self.steps)
            formula, variables = model.symbolic_formula()
        return formula, variables, mu, sd
