"""Conservative forces from a learned potential (issue 20 item 3): F = -grad V, V read as a formula.

:func:`curl_test` first asks whether the force field is conservative at all: at every sample the
Jacobian ``J = dF/dx`` is estimated by a local linear fit over its nearest neighbours, and the
field is conservative when the antisymmetric part is small against the whole,
``median ||J - J^T|| / ||J|| < tolerance`` (0 for a gradient field, 2 for a pure rotation).

:func:`discover_potential` then trains a KAN ``V(z)`` whose negative gradient, taken by autograd
(``create_graph=True``, so the loss on the forces trains V), matches the forces: LBFGS through
:func:`kandisco.kan.train.fit` on a grid-extension schedule, first ``[d, 1, 1]`` (sums of
one-variable potentials, radial ones), then ``[d, 2d + 1, 1]`` when that is not enough. Positions and
forces are scaled inside and V written back in the user's units. V's values on the samples go to
:func:`kandisco.discover`; the formulas it offers have their constants refitted on the *forces*
(scipy least squares on ``-grad V``), their degenerate corners tried (a phase at pi/2, a small-argument
limit, a negligible constant), and the simplest that fits the forces as well as the best is kept. A
second discovery on that law's values (free of the KAN's approximation error: ``-k/r`` is steep where
r is small) offers more; last, floats within 1% of a nice number snap one at a time, the others
refitted on the forces, while the force fit stays in the same window.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import sympy

from ..data import DataError
from ..discovery import DiscoveryResult, discover
from ..symbolic.equivalence import snap_floats
from ..symbolic.formula import complexity, factor_powered_sums, freed_constants, merge_numeric_factors, plainest_nice_numbers, to_callable
from ..symbolic.limits import negligible_constant_terms, small_argument_limit
from .table import numeric_column, read_frame

__all__ = ["CurlTest", "PotentialResult", "curl_test", "discover_potential"]


@dataclass(frozen=True)
class CurlTest:
    """How far the force field is from a gradient field."""

    ratio: float  # median over samples of ||J - J^T||_F / ||J||_F
    tolerance: float
    neighbours: int

    @property
    def conservative(self) -> bool:
        return self.ratio < self.tolerance


@dataclass
class PotentialResult:
    """The potential found (None when the field is not conservative), its force fit and the curl test."""

    positions: list[str]
    forces: list[str]
    curl: CurlTest
    formula: str | None = None  # V in the position names, without an additive constant
    force_r2: float | None = None  # R^2 of -grad V against the forces, over all components
    kan_force_r2: float | None = None  # the same for the trained KAN
    discovery: DiscoveryResult | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def expr(self) -> sympy.Expr | None:
        if self.formula is None:
            return None
        return sympy.sympify(self.formula, locals={n: sympy.Symbol(n, real=True) for n in self.positions})

    def to_dict(self) -> dict[str, Any]:
        return {"positions": self.positions, "forces": self.forces, "potential": self.formula, "force_r2": self.force_r2,
                "kan_force_r2": self.kan_force_r2, "conservative": self.curl.conservative, "curl_ratio": self.curl.ratio,
                "seconds": self.seconds, "notes": self.notes}


def curl_test(P: np.ndarray, F: np.ndarray, tolerance: float = 0.2, neighbours: int | None = None) -> CurlTest:
    """Estimate the Jacobian of ``F`` (n, d) over positions ``P`` (n, d) locally and compare its antisymmetric part."""
    from scipy.spatial import cKDTree

    P = np.asarray(P, dtype=float)
    F = np.asarray(F, dtype=float)
    n, d = P.shape
    k = neighbours or min(n - 1, max(4 * (d + 1), 16))
    if n <= d + 2:
        raise DataError(f"the curl test needs more than {d + 2} samples, got {n}")
    scale = P.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    _, idx = cKDTree(P / scale).query(P / scale, k=k + 1)
    ratios = np.empty(n)
    for i in range(n):
        nb = idx[i]
        A = np.column_stack([np.ones(len(nb)), P[nb] - P[i]])  # (k+1, d+1)
        coef, *_ = np.linalg.lstsq(A, F[nb], rcond=None)  # (d+1, d): row 0 the value, rows 1.. dF_j/dx_i
        J = coef[1:].T  # J[j, i] = dF_j / dx_i
        norm = np.linalg.norm(J)
        ratios[i] = np.linalg.norm(J - J.T) / norm if norm > 0 else 0.0
    return CurlTest(ratio=float(np.median(ratios)), tolerance=tolerance, neighbours=k)


def _train_width(Z: np.ndarray, G: np.ndarray, width: list[int], grids: Sequence[int], steps: int, seed: int,
                 deadline: float) -> tuple[Any, float]:
    """One KAN ``V(z)`` of ``width`` with ``-grad V = G``: LBFGS through :func:`kandisco.kan.train.fit` on a grid schedule.

    The loss differentiates the network by autograd (``create_graph=True``, so training moves V through
    its gradient). A stage ends at ``steps``, the deadline, or when ten steps gained less than 1%.
    Returns the model and its loss (mean squared force error; G has unit RMS, so about 1 - R^2).
    """
    import torch

    from ..kan import KAN
    from ..kan.train import fit

    model = KAN(width, grid=int(grids[0]), seed=seed)
    dtype = next(model.parameters()).dtype
    z = torch.as_tensor(Z, dtype=dtype)
    g = torch.as_tensor(G, dtype=dtype)

    def force_loss(m: Any, zb: torch.Tensor, gb: torch.Tensor) -> torch.Tensor:
        x = zb.clone().requires_grad_(True)
        grad_v, = torch.autograd.grad(m(x).sum(), x, create_graph=True)
        return torch.mean((grad_v + gb) ** 2)

    model.initialize_grids(z)  # knots on the range of the data that reaches each layer, as the KAN's own fit does
    for stage, size in enumerate(grids):
        if time.perf_counter() > deadline:
            break
        if stage:
            model.refine(int(size), x=z)
        losses: list[float] = []

        def stop(step: int, value: float, losses: list[float] = losses) -> bool:
            losses.append(value)
            stalled = len(losses) > 10 and value > 0.99 * losses[-11]
            return stalled or time.perf_counter() > deadline

        fit(model, z, g, loss_fn=force_loss, steps=steps, update_grid=True, grid_update_num=5, stop_grid_update_step=steps // 2,
            seed=seed + stage, verbose=False, callback=stop)
    return model, float(force_loss(model, z, g).detach())


# the wider KAN is kept only when its force loss is below this fraction of the [d, 1, 1] one's
WIDER_GAIN = 0.1


def _train_potential(Z: np.ndarray, G: np.ndarray, grids: Sequence[int], steps: int, seed: int, deadline: float) -> tuple[Any, float]:
    """The smallest KAN whose gradient matches the scaled forces: ``[d, 1, 1]``, then ``[d, 2d + 1, 1]`` if needed.

    ``[d, 1, 1]`` is ``V = g(f_1(z_1) + ... + f_d(z_d))``: sums of one-variable potentials and radial
    ones (``g(r^2)``) are of this shape and train in seconds. The wider network is trained when the small
    one's loss is above 1e-7 and time is left, and kept only when its loss is under a tenth of the small
    one's: a shape the small one cannot hold (Henon-Heiles' x**2*y) costs it orders of magnitude, while
    on a shape it holds (-k/r, steep at small r) the wider one only trims its approximation error, and
    its V then reads as sums of sines; on noisy forces both stop at the noise.
    """
    d = Z.shape[1]
    best = _train_width(Z, G, [d, 1, 1], grids, steps, seed, deadline)
    if best[1] > 1e-7 and time.perf_counter() < deadline:
        wide = _train_width(Z, G, [d, 2 * d + 1, 1], grids, steps, seed, deadline)
        if math.isfinite(wide[1]) and wide[1] < WIDER_GAIN * best[1]:
            best = wide
    return best


def _force_fit(expr: sympy.Expr, symbols: list[sympy.Symbol], P: np.ndarray, F: np.ndarray) -> tuple[sympy.Expr, float]:
    """Refit ``expr``'s floats so that -grad expr matches F; (refitted expr, force RMSE)."""
    from scipy.optimize import least_squares

    floats = sorted(expr.atoms(sympy.Float), key=str)
    params = [sympy.Symbol(f"_c{i}") for i in range(len(floats))]
    template = expr.xreplace(dict(zip(floats, params)))
    grads = [-sympy.diff(template, s) for s in symbols]
    fn = sympy.lambdify([*symbols, *params], grads, modules="numpy")

    def residual(c: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            out = np.column_stack([np.broadcast_to(np.asarray(v, dtype=float), (len(P),)) for v in fn(*P.T, *c)])
        r = (out - F).ravel()
        return np.where(np.isfinite(r), r, 1e10)

    c0 = np.array([float(f) for f in floats])
    if len(floats):
        c0 = least_squares(residual, c0, method="lm" if len(P) * P.shape[1] > len(c0) else "trf", max_nfev=2000).x
    fitted = template.xreplace({p: sympy.Float(v) for p, v in zip(params, c0)})
    return fitted, float(np.sqrt(np.mean(residual(c0) ** 2)))


def _without_constant(expr: sympy.Expr) -> sympy.Expr:
    const, _ = sympy.expand(expr).as_coeff_Add()
    return sympy.expand(expr) - const if const.is_number else expr


def _discover_values(P: np.ndarray, V: np.ndarray, positions: list[str], budget: float, seed: int, n_jobs: int | None,
                     options: dict[str, Any]) -> DiscoveryResult:
    """:func:`kandisco.discover` on a table of positions and potential values (mean 0)."""
    import pandas as pd

    table = pd.DataFrame(P, columns=positions)
    table["V"] = V - V.mean()
    return discover(table, target="V", features=positions, budget_seconds=budget, seed=seed, n_jobs=n_jobs, **options)


class _ForceFits:
    """Formulas for V with their constants refitted on the *forces*, and the rule that picks one.

    The KAN's V values carry its approximation error (steep potentials such as -k/r most), so the
    formula that fits them best can be an approximant; the forces are the measurements. Each formula
    added has its numbers freed (:func:`~kandisco.symbolic.formula.freed_constants`) and refitted so
    that -grad V matches the forces. :meth:`choose` takes the simplest formula whose force RMSE is
    within ``3/sqrt(2 n)`` of the best (an RMSE's relative standard error over n force values), or
    within 1e-9 of the forces' scale on exact data. Refits stop at ``deadline`` (a refit of a long
    formula's many constants costs seconds), but for the formulas added with ``always=True``.
    """

    MAX_FLOATS = 12  # a formula with more constants is no law to read, and its refit is slow

    def __init__(self, symbols: list[sympy.Symbol], P: np.ndarray, F: np.ndarray, deadline: float = math.inf) -> None:
        self.symbols, self.P, self.F, self.deadline = symbols, P, F, deadline
        self.exact = 1e-9 * (float(np.sqrt(np.mean(F**2))) or 1.0)  # a force RMSE this small is a law fitting exactly
        self.fits: dict[str, tuple[sympy.Expr, float, int]] = {}  # by the formula as given: (refitted, force RMSE, complexity)

    def add(self, expr: sympy.Expr, always: bool = False) -> None:
        expr = self._named(expr)
        key = sympy.srepr(expr)
        if key in self.fits or not expr.free_symbols or (not always and time.perf_counter() > self.deadline):
            return
        freed = _without_constant(freed_constants(expr))
        if len(freed.atoms(sympy.Float)) > self.MAX_FLOATS:
            return
        fitted, rmse = _force_fit(freed, self.symbols, self.P, self.F)
        if math.isfinite(rmse):
            self.fits[key] = (fitted, rmse, complexity(fitted))

    def add_discovered(self, found: DiscoveryResult, limit: int = 25) -> None:
        """The discovery's law, then its Pareto front and ``limit`` best candidates by loss, simplest first,
        until a formula fits the forces exactly (a more complex one cannot be chosen then)."""
        self.add(found.expr, always=True)
        pool = sorted([*found.pareto, *sorted(found.candidates, key=lambda c: c.loss)[:limit]], key=lambda c: c.complexity)
        for candidate in pool:
            exact = [c for _, rmse, c in self.fits.values() if rmse <= self.exact]
            if exact and candidate.complexity > min(exact):
                break
            self.add(candidate.expr(found.features))

    def choose(self) -> tuple[sympy.Expr, float]:
        if not self.fits:
            raise DataError("no formula found for the potential has a finite gradient on the samples")
        window = self._window(min(rmse for _, rmse, _ in self.fits.values()))
        fitted, rmse, _ = min((f for f in self.fits.values() if f[1] <= window), key=lambda f: (f[2], f[1]))
        return fitted, rmse

    def _window(self, rmse: float) -> float:
        """The force RMSE still as good as ``rmse``: its relative standard error over n values, 3/sqrt(2n), above it."""
        return max(rmse * (1 + 3 / math.sqrt(2 * self.F.size)), self.exact)

    def snap(self, expr: sympy.Expr, rmse: float, reach: float = 0.01) -> tuple[sympy.Expr, float]:
        """Snap ``expr``'s floats to nice numbers (:func:`~kandisco.symbolic.formula.plainest_nice_numbers`: within
        ``reach`` relative, pi/2 before 11/7) one at a time, the others refitted on the forces, while the force RMSE stays in
        the window of :meth:`choose` around ``rmse`` (only exact snaps pass on exact data). Largest float first."""
        limit = self._window(rmse)
        tried: set[tuple[float, str]] = set()
        changed = True
        while changed:
            changed = False
            for f in sorted(expr.atoms(sympy.Float), key=lambda f: -abs(float(f))):
                v = float(f)
                for nice in plainest_nice_numbers(v, reach)[:8]:  # 0 first: a term the forces do not need goes
                    if (v, str(nice)) in tried:
                        continue
                    tried.add((v, str(nice)))
                    trial, trial_rmse = _force_fit(expr.xreplace({f: nice}), self.symbols, self.P, self.F)
                    if trial_rmse <= limit:
                        expr, rmse, changed = trial, trial_rmse, True
                        break
                if changed:
                    break
        return expr, rmse

    def values(self, expr: sympy.Expr) -> np.ndarray | None:
        """V of ``expr`` on the samples, or None where it is not finite."""
        V = to_callable(expr, self.symbols)(self.P)  # NaN where not real
        return V if np.all(np.isfinite(V)) else None

    def polish(self, expr: sympy.Expr, rounds: int = 3) -> None:
        """Add the degenerate corners of ``expr`` that the forces may accept: a fit can run ``a -> 0`` in
        ``c*sin(a*x + 1.5707963)``, which is ``c - c*a**2*x**2/2`` on the samples, and ``-k/sqrt(u + 3e-13)``
        is ``-k/sqrt(u)``. Each round snaps the floats within 1e-4 of a nice number (the phase to pi/2),
        takes the small-argument limit and drops negligible constant terms
        (:mod:`kandisco.symbolic.limits`); every form is refitted on the forces, and :meth:`choose` judges
        (a snap that costs force accuracy beyond the window is not chosen)."""
        for _ in range(rounds):
            near = {f: nice[1] for f in expr.atoms(sympy.Float) if len(nice := plainest_nice_numbers(float(f), 1e-4)) > 1}
            expr = expr.xreplace(near)
            changed = bool(near)
            for corner in (small_argument_limit, negligible_constant_terms):
                limited = corner(expr, self.symbols, self.P)
                if limited is not None:
                    expr, changed = merge_numeric_factors(factor_powered_sums(limited)), True
            if not changed:
                return
            self.add(expr, always=True)
            refitted = self.fits.get(sympy.srepr(self._named(expr)))
            if refitted is None:
                return
            expr = refitted[0]

    def _named(self, expr: sympy.Expr) -> sympy.Expr:
        by_name = {x.name: x for x in self.symbols}
        return expr.xreplace({a: by_name[a.name] for a in expr.free_symbols if a.name in by_name})


def discover_potential(
    data: Any,
    positions: Sequence[str],
    forces: Sequence[str],
    *,
    budget_seconds: float = 60.0,
    seed: int = 0,
    n_jobs: int | None = None,
    grids: Sequence[int] = (5, 10, 20),
    steps: int = 50,
    curl_tolerance: float = 0.2,
    force: bool = False,
    **discover_options: Any,
) -> PotentialResult:
    """Find V(positions) with forces = -grad V from a table of positions and forces (or accelerations).

    Runs the curl test first; a non-conservative field returns without a potential unless
    ``force=True``. ``budget_seconds`` covers training the KAN (60% at most) and the discovery.
    """
    start = time.perf_counter()
    frame, source, lines, _ = read_frame(data)
    positions, forces = list(positions), list(forces)
    if len(positions) != len(forces) or not positions:
        raise DataError(f"one force column per position column: got positions {positions} and forces {forces}")
    for col in [*positions, *forces]:
        if col not in frame.columns:
            raise DataError(f"{source}: no column {col!r}; columns: {', '.join(map(str, frame.columns))}")
    P = np.column_stack([numeric_column(frame, col, source, lines) for col in positions])
    F = np.column_stack([numeric_column(frame, col, source, lines) for col in forces])
    curl = curl_test(P, F, curl_tolerance)
    result = PotentialResult(positions=positions, forces=forces, curl=curl)
    if not curl.conservative and not force:
        result.notes.append(f"the force field is not conservative (curl ratio {curl.ratio:.3g} >= {curl.tolerance:g}): no potential "
                            "F = -grad V exists; force=True tries anyway")
        result.seconds = time.perf_counter() - start
        return result
    mu, s = P.mean(axis=0), P.std(axis=0)
    s = np.where(s > 0, s, 1.0)
    G = F * s  # -dV/dz with z = (x - mu) / s
    vscale = float(np.sqrt(np.mean(G**2))) or 1.0
    model, _ = _train_potential((P - mu) / s, G / vscale, grids, steps, seed, start + 0.5 * budget_seconds)
    import torch

    dtype = next(model.parameters()).dtype
    z = torch.as_tensor((P - mu) / s, dtype=dtype).requires_grad_(True)
    v = model(z)
    grad_v, = torch.autograd.grad(v.sum(), z)
    kan_forces = -grad_v.detach().numpy() * vscale / s
    sst = float(np.sum((F - F.mean(axis=0)) ** 2))
    result.kan_force_r2 = 1 - float(np.sum((kan_forces - F) ** 2)) / sst if sst > 0 else None
    V = v.detach().numpy().ravel() * vscale
    symbols = [sympy.Symbol(n, real=True) for n in positions]
    end = start + budget_seconds
    fits = _ForceFits(symbols, P, F, deadline=end)
    results = [_discover_values(P, V, positions, max(5.0, (end - time.perf_counter()) / 2), seed, n_jobs, discover_options)]
    while True:
        fits.add_discovered(results[-1])
        fitted, rmse = fits.choose()
        fits.polish(fitted)
        fitted, rmse = fits.choose()
        V_law = fits.values(fitted)
        if len(results) == 2 or end - time.perf_counter() <= 5.0 or V_law is None:
            break
        # once more on the chosen law's values: free of the KAN's error
        results.append(_discover_values(P, V_law, positions, end - time.perf_counter(), seed, n_jobs, discover_options))
    fitted, rmse = fits.snap(fitted, rmse)
    fitted = _without_constant(snap_floats(fitted))
    result.formula = str(fitted)
    result.force_r2 = 1 - (rmse**2 * F.size) / sst if sst > 0 else None
    result.discovery = results[-1]
    if result.force_r2 is not None and result.kan_force_r2 is not None and 1 - result.force_r2 > 10 * (1 - result.kan_force_r2):
        result.notes.append(f"the formula fits the forces far worse than the KAN potential (force R^2 {result.force_r2:.4g} against "
                            f"{result.kan_force_r2:.6g}): it is not the law; a larger budget may find it")
    result.notes.append(f"KAN potential: force R^2 {result.kan_force_r2:.6g}; V from discover: "
                        f"{'; then, on the refitted law: '.join(r.formula for r in results)}; {len(fits.fits)} formulas refitted on the forces, "
                        "the simplest of those that fit them as well as the best kept")
    result.seconds = time.perf_counter() - start
    return result
