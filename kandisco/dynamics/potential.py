"""Conservative forces from a learned potential (issue 20 item 3): F = -grad V, V read as a formula.

:func:`curl_test` first asks whether the force field is conservative at all: at every sample the
Jacobian ``J = dF/dx`` is estimated by a local linear fit over its nearest neighbours, and the
field is conservative when the antisymmetric part is small against the whole,
``median ||J - J^T|| / ||J|| < tolerance`` (0 for a gradient field, 2 for a pure rotation).

:func:`discover_potential` then trains a KAN ``V(x)`` (torch) whose negative gradient, taken by
autograd (``create_graph=True``, so the loss on the forces trains V), matches the forces; positions
and forces are scaled inside and V written back in the user's units. V's values on the samples
(fixed up to a constant, set to mean 0) go to :func:`kandisco.discover`, and the formula found has
its constants refitted on the *forces* (scipy least squares on ``-grad V``), then snapped to simple
numbers where the force fit stays as good (within 1e-9 of the forces' scale, or 1% of the RMSE).
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


def _train_potential(Z: np.ndarray, G: np.ndarray, hidden: int, grid: int, steps: int, seed: int, deadline: float) -> Any:
    """A KAN V(z) with -grad V = G on the scaled samples (Adam, then LBFGS), by autograd through the network."""
    import torch

    from ..kan import KAN

    torch.manual_seed(seed)
    model = KAN([Z.shape[1], hidden, 1], grid=grid, seed=seed)
    dtype = next(model.parameters()).dtype
    z = torch.as_tensor(Z, dtype=dtype)
    g = torch.as_tensor(G, dtype=dtype)

    def loss() -> torch.Tensor:
        x = z.clone().requires_grad_(True)
        grad_v, = torch.autograd.grad(model(x).sum(), x, create_graph=True)
        return torch.mean((grad_v + g) ** 2)

    model.initialize_grids(z)  # knots on the range of the data that reaches each layer, as the KAN's own fit does
    adam = torch.optim.Adam(model.parameters(), lr=0.02)
    for step in range(steps):
        if time.perf_counter() > deadline:
            break
        if step and step % 50 == 0 and step <= steps // 2:
            model.update_grid(z)
        adam.zero_grad()
        value = loss()
        value.backward()
        adam.step()
    lbfgs = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=10, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        lbfgs.zero_grad()
        value = loss()
        value.backward()
        return value

    for _ in range(max(1, steps // 40)):
        if time.perf_counter() > deadline:
            break
        before = [p.detach().clone() for p in model.parameters()]
        start_loss = float(loss().detach())
        lbfgs.step(closure)
        after = float(loss().detach())
        if not math.isfinite(after) or after > start_loss:  # a step that made it worse is undone, and training ends
            with torch.no_grad():
                for p, b in zip(model.parameters(), before):
                    p.copy_(b)
            break
    return model


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


def _snap_rationals(expr: sympy.Expr, rtol: float) -> sympy.Expr:
    """Each float within ``rtol`` of p/q (q <= 12) becomes it; the force fit decides whether that stays."""
    reps = {}
    for f in expr.atoms(sympy.Float):
        r = sympy.Rational(float(f)).limit_denominator(12)
        if abs(float(r) - float(f)) <= rtol * abs(float(f)):
            reps[f] = r
    return expr.xreplace(reps)


def _without_constant(expr: sympy.Expr) -> sympy.Expr:
    const, _ = sympy.expand(expr).as_coeff_Add()
    return sympy.expand(expr) - const if const.is_number else expr


def discover_potential(
    data: Any,
    positions: Sequence[str],
    forces: Sequence[str],
    *,
    budget_seconds: float = 60.0,
    seed: int = 0,
    n_jobs: int | None = None,
    hidden: int = 5,
    grid: int = 5,
    steps: int = 400,
    curl_tolerance: float = 0.2,
    force: bool = False,
    **discover_options: Any,
) -> PotentialResult:
    """Find V(positions) with forces = -grad V from a table of positions and forces (or accelerations).

    Runs the curl test first; a non-conservative field returns without a potential unless
    ``force=True``. ``budget_seconds`` covers training the KAN (60% at most) and the discovery.
    """
    import pandas as pd

    start = time.perf_counter()
    frame = data if isinstance(data, pd.DataFrame) else pd.read_csv(data)
    positions, forces = list(positions), list(forces)
    if len(positions) != len(forces) or not positions:
        raise DataError(f"one force column per position column: got positions {positions} and forces {forces}")
    for col in [*positions, *forces]:
        if col not in frame.columns:
            raise DataError(f"no column {col!r}; columns: {', '.join(map(str, frame.columns))}")
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
        if not np.all(np.isfinite(values)):
            row = int(np.nonzero(~np.isfinite(values))[0][0])
            raise DataError(f"row {row}: column {col!r} is {frame[col].iloc[row]!r}, not a finite number")
    P = frame[positions].to_numpy(float)
    F = frame[forces].to_numpy(float)
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
    model = _train_potential((P - mu) / s, G / vscale, hidden, grid, steps, seed, start + 0.6 * budget_seconds)
    import torch

    dtype = next(model.parameters()).dtype
    z = torch.as_tensor((P - mu) / s, dtype=dtype).requires_grad_(True)
    v = model(z)
    grad_v, = torch.autograd.grad(v.sum(), z)
    kan_forces = -grad_v.detach().numpy() * vscale / s
    sst = float(np.sum((F - F.mean(axis=0)) ** 2))
    result.kan_force_r2 = 1 - float(np.sum((kan_forces - F) ** 2)) / sst if sst > 0 else None
    V = v.detach().numpy().ravel() * vscale
    V = V - V.mean()
    table = pd.DataFrame(P, columns=positions)
    table["V"] = V
    remaining = max(5.0, budget_seconds - (time.perf_counter() - start))
    found = discover(table, target="V", features=positions, budget_seconds=remaining, seed=seed, n_jobs=n_jobs, **discover_options)
    symbols = [sympy.Symbol(n, real=True) for n in positions]
    by_name = {x.name: x for x in symbols}
    expr = found.expr.xreplace({a: by_name[a.name] for a in found.expr.free_symbols if a.name in by_name})
    expr = _without_constant(expr)
    fitted, rmse = _force_fit(expr, symbols, P, F)
    snapped = _without_constant(_snap_rationals(fitted, rtol=1e-3))
    snapped_fit, snapped_rmse = _force_fit(snapped, symbols, P, F) if snapped != fitted else (fitted, rmse)
    scale = float(np.sqrt(np.mean(F**2))) or 1.0
    if snapped_rmse <= max(1.01 * rmse, 1e-9 * scale):
        fitted, rmse = _without_constant(snap_floats(snapped_fit)), snapped_rmse
    result.formula = str(fitted)
    result.force_r2 = 1 - (rmse**2 * F.size) / sst if sst > 0 else None
    result.discovery = found
    result.notes.append(f"KAN potential: force R^2 {result.kan_force_r2:.6g}; V from discover: {found.formula}; "
                        f"constants refitted on the forces")
    result.seconds = time.perf_counter() - start
    return result
