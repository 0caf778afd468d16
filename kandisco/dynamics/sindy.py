"""The SINDy baseline (Brunton, Proctor & Kutz 2016) through pysindy, on the same data as kandisco.

Library: pysindy's ``PolynomialLibrary(degree=3) + FourierLibrary(n_frequencies=1)`` (1, x, x^2,
x y, ..., sin x, cos x, ...) of the states; optimizer: ``STLSQ`` (sequentially thresholded least
squares, refitting the kept terms without the ridge: ``unbias=True``). The threshold is chosen per
target, as a SINDy user would: a geometric grid from 1e-4 to 1 times the largest least-squares
coefficient, each fitted on 80% of the rows, and the sparsest model whose held-out RMSE is within
5% (plus rounding level) of the best one wins, refitted on every row. The derivatives are the
ones kandisco is given (:func:`~kandisco.dynamics.ode.prepare_trajectories`), so the comparison is
between the regressions, not between differentiators. pysindy is optional (the ``bench`` extra):
:func:`unavailable` says why it cannot run.
"""

from __future__ import annotations

import importlib.util
import math
import time
import warnings
from typing import Sequence

import numpy as np
import sympy

from ..errors import KandiscoError

__all__ = ["SindyUnavailable", "sindy_fit", "sindy_ode", "unavailable"]


class SindyUnavailable(KandiscoError, ImportError):
    """pysindy is not installed."""


def unavailable() -> str | None:
    """Why SINDy cannot run here (None when it can); does not import pysindy."""
    if importlib.util.find_spec("pysindy") is None:
        return "pysindy is not installed (pip install 'kandisco[bench]')"
    return None


def _expr(coef: np.ndarray, names: Sequence[str], states: Sequence[str]) -> sympy.Expr:
    """sum coef_k * feature_k with pysindy's feature names ('x v', 'x^2', 'sin(1 x)') as sympy."""
    local = {s: sympy.Symbol(s, real=True) for s in states}
    local.update(sin=sympy.sin, cos=sympy.cos)
    out: sympy.Expr = sympy.Integer(0)
    for c, name in zip(coef, names):
        if c != 0:
            term = sympy.sympify(name.replace("^", "**").replace(" ", "*"), locals=local)
            out += sympy.Float(float(c)) * term
    return out


def sindy_fit(X: np.ndarray, Y: np.ndarray, states: Sequence[str], budget: float = 30.0, seed: int = 0,
              degree: int = 3, n_frequencies: int = 1) -> list[sympy.Expr]:
    """One SINDy law per column of ``Y`` (n, m) over the library of ``X`` (n, d) named ``states``."""
    reason = unavailable()
    if reason:
        raise SindyUnavailable(reason)
    import pysindy as ps

    start = time.perf_counter()
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float).reshape(len(X), -1)
    library = ps.PolynomialLibrary(degree=degree) + ps.FourierLibrary(n_frequencies=n_frequencies)
    theta = np.asarray(library.fit_transform(X))  # (n, n_terms)
    names = library.get_feature_names(list(states))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))
    cut = int(0.8 * len(X))
    fit_rows, val_rows = order[:cut], order[cut:]
    laws = []
    for j in range(Y.shape[1]):
        y = Y[:, j]
        scale = float(np.max(np.abs(np.linalg.lstsq(theta, y, rcond=None)[0]))) or 1.0
        tried: list[tuple[int, float, float]] = []  # (terms, held-out rmse, threshold)
        for threshold in np.geomspace(1e-4, 1.0, 17) * scale:
            if time.perf_counter() - start > budget and tried:
                break
            opt = ps.STLSQ(threshold=float(threshold), alpha=1e-6 * scale, max_iter=50)
            with warnings.catch_warnings():  # a threshold above every coefficient is one grid point, not news
                warnings.simplefilter("ignore")
                opt.fit(theta[fit_rows], y[fit_rows])
            coef = np.asarray(opt.coef_).ravel()
            rmse = float(np.sqrt(np.mean((theta[val_rows] @ coef - y[val_rows]) ** 2)))
            if math.isfinite(rmse):
                tried.append((int(np.count_nonzero(coef)), rmse, float(threshold)))
        best = min(r for _, r, _ in tried) if tried else math.inf
        window = 1.05 * best + 1e-10 * (float(np.std(y)) or 1.0)
        pick = min((t for t in tried if t[1] <= window), default=(0, 0.0, 1e-4 * scale))
        opt = ps.STLSQ(threshold=pick[2], alpha=1e-6 * scale, max_iter=50)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            opt.fit(theta, y)
        laws.append(_expr(np.asarray(opt.coef_).ravel(), names, states))
    return laws


def sindy_ode(prepared: object, budget: float = 30.0, seed: int = 0, simulate: bool = True, tolerance: float = 0.1) -> object:
    """SINDy on prepared trajectories (:class:`~kandisco.dynamics.ode.PreparedTrajectories`): an ODEResult."""
    from .ode import ODELaw, ODEResult, PreparedTrajectories, r2
    from .simulate import simulate_laws

    if not isinstance(prepared, PreparedTrajectories):
        raise TypeError(f"sindy_ode takes PreparedTrajectories, got {type(prepared).__name__}")
    start = time.perf_counter()
    table = prepared.table()
    X = table[prepared.states].to_numpy(float)
    Y = table[prepared.targets].to_numpy(float)
    exprs = sindy_fit(X, Y, prepared.states, budget=budget * len(prepared.states), seed=seed)
    seconds = (time.perf_counter() - start) / len(prepared.states)
    laws = {}
    for k, (state, target, expr) in enumerate(zip(prepared.states, prepared.targets, exprs)):
        fit = r2(expr, prepared.states, X, Y[:, k])
        laws[state] = ODELaw(state=state, target=target, formula=str(expr), r2_test=fit, r2=fit, seconds=seconds)
    report = simulate_laws({s: law.expr for s, law in laws.items()}, prepared.states, prepared.for_simulation(),
                           tolerance=tolerance) if simulate else None
    return ODEResult(states=prepared.states, time=prepared.time, laws=laws, simulation=report, prepared=prepared,
                     seconds=time.perf_counter() - start, notes=list(prepared.notes))
