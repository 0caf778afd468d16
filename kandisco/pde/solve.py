"""``solve(problem)``: train a KAN on a PDE's residual and conditions, then read its solution as a formula.

Training: collocation points inside the box and on its faces (Sobol by default), a physics loss
``mean(residual**2) + boundary_weight * (Dirichlet + Neumann + initial mean squares)``, LBFGS
through :func:`kandisco.kan.train.fit` on a grid-extension schedule (``grids=(5, 10, 20)``: train,
re-express every spline on the finer grid, train again), optionally moving part of the interior
points to where the residual is large between stages.

Reading the formula (the KAN tutorial's recipe, with the physics loss as the judge): prune weak edges
and retrain, fix every edge to its best library function (:meth:`KAN.auto_symbolic`), turn the
formula into a torch module whose constants are trained on the same physics loss, then snap the
constants (``3.14159...`` -> ``pi``) and keep the simplest candidate whose physics loss is no worse
than the trained network's.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy
import torch

from ..discovery.polish import polish_formula, tidy
from ..export import UnsupportedNodeError, to_torch
from ..kan import KAN
from ..kan.formula import SplineEdgeError
from ..kan.train import fit
from ..symbolic.equivalence import snap_floats
from ..symbolic.formula import complexity, simplify_capped
from ..symbolic.library import UnknownFunctionError
from .errors import PDEError
from .problem import Problem, evaluate_condition
from .sampling import grid_points, resample_by_residual, sample_box, sample_face

__all__ = ["Collocation", "Solution", "collocation", "count_parameters", "physics_loss", "solve"]

Model = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Collocation:
    """The points a solve trains on, with the condition values at them (fixed while training)."""

    interior: torch.Tensor  # (n, d)
    dirichlet: torch.Tensor  # (nb, d)
    dirichlet_values: torch.Tensor  # (nb,)
    neumann: torch.Tensor  # (nn, d)
    neumann_values: torch.Tensor  # (nn,)
    neumann_dims: torch.Tensor  # (nn,) column of the face's variable
    neumann_signs: torch.Tensor  # (nn,) outward normal, +-1
    initial: torch.Tensor  # (n0, d)
    initial_values: torch.Tensor  # (n0,)

    def all_points(self) -> torch.Tensor:
        """Every point (interior and faces): what the grids are fitted to."""
        return torch.cat([self.interior, self.dirichlet, self.neumann, self.initial])


def collocation(problem: Problem, n_interior: int = 1024, n_face: int = 64, method: str = "sobol", seed: int = 0,
                dtype: torch.dtype = torch.float64) -> Collocation:
    """Collocation points for ``problem``: ``n_interior`` inside, ``n_face`` on each face with a condition."""
    box = problem.box
    empty = torch.zeros(0, box.dim, dtype=dtype)
    none = torch.zeros(0, dtype=dtype)
    interior = sample_box(box, n_interior, method, seed, dtype)
    parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("d", "dv", "n", "nv", "nd", "ns")}
    for k, (face, cond) in enumerate(problem.dirichlet_faces()):
        pts = sample_face(box, face, n_face, method, seed + 1 + k, dtype)
        parts["d"].append(pts)
        parts["dv"].append(evaluate_condition(cond, pts, f"boundary[{face.name!r}]"))
    for k, (face, cond) in enumerate(problem.neumann_faces()):
        pts = sample_face(box, face, n_face, method, seed + 101 + k, dtype)
        parts["n"].append(pts)
        parts["nv"].append(evaluate_condition(cond, pts, f"neumann[{face.name!r}]"))
        parts["nd"].append(torch.full((pts.shape[0],), face.dim, dtype=torch.long))
        parts["ns"].append(torch.full((pts.shape[0],), float(face.sign), dtype=dtype))
    face0 = problem.initial_face()
    if face0 is not None and problem.initial is not None:
        x0 = sample_face(box, face0, max(n_face, 2 * n_face * max(1, box.dim - 1)), method, seed + 201, dtype)
        u0 = evaluate_condition(problem.initial, x0, "initial")
    else:
        x0, u0 = empty, none

    def cat(key: str, default: torch.Tensor) -> torch.Tensor:
        return torch.cat(parts[key]) if parts[key] else default

    return Collocation(interior, cat("d", empty), cat("dv", none), cat("n", empty), cat("nv", none),
                       cat("nd", torch.zeros(0, dtype=torch.long)), cat("ns", none), x0, u0)


def _values(model: Model, x: torch.Tensor) -> torch.Tensor:
    """The model's output at ``x`` as ``(n, 1)`` (a KAN gives that, a formula module gives ``(n,)``)."""
    return model(x).reshape(x.shape[0], -1)[:, :1]


def _residual(problem: Problem, model: Model, x: torch.Tensor) -> torch.Tensor:
    """``(n, k)`` residual at ``x``; a wrong shape is a :class:`PDEError` naming it."""
    x = x.detach().clone().requires_grad_(True)
    r = problem.residual(_values(model, x), x)
    if not isinstance(r, torch.Tensor):
        raise PDEError(f"residual must return a tensor, got {type(r).__name__}")
    if r.dim() == 1:
        r = r[:, None]
    if r.dim() != 2 or r.shape[0] != x.shape[0]:
        raise PDEError(f"residual must return one value (or one row) per point: {x.shape[0]} points gave shape {tuple(r.shape)}")
    return r


def physics_loss(problem: Problem, model: Model, points: Collocation, boundary_weight: float = 100.0) -> tuple[torch.Tensor, dict[str, float]]:
    """The training objective and its parts (unweighted mean squares: residual, dirichlet, neumann, initial)."""
    res = _residual(problem, model, points.interior).pow(2).mean()
    total = res
    parts = {"residual": float(res.detach())}
    if points.dirichlet.shape[0]:
        d = (_values(model, points.dirichlet)[:, 0] - points.dirichlet_values).pow(2).mean()
        total = total + boundary_weight * d
        parts["dirichlet"] = float(d.detach())
    if points.neumann.shape[0]:
        x = points.neumann.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(_values(model, x).sum(), x, create_graph=True)
        dn = g.gather(1, points.neumann_dims[:, None])[:, 0] * points.neumann_signs
        n = (dn - points.neumann_values).pow(2).mean()
        total = total + boundary_weight * n
        parts["neumann"] = float(n.detach())
    if points.initial.shape[0]:
        i = (_values(model, points.initial)[:, 0] - points.initial_values).pow(2).mean()
        total = total + boundary_weight * i
        parts["initial"] = float(i.detach())
    return total, parts


def count_parameters(model: torch.nn.Module) -> int:
    """Trainable numbers that shape the output (a KAN's idle symbolic-edge parameters not counted)."""
    return sum(p.numel() for name, p in model.named_parameters() if p.requires_grad and not name.endswith("sym_params"))


@dataclass
class Solution:
    """What :func:`solve` returns: the trained network, its formula, the loss histories and timings."""

    problem: Problem
    model: KAN
    formula: sympy.Expr | None
    history: dict[str, list[float]]  # per LBFGS step: loss, residual, dirichlet, neumann, initial, grid
    seconds: float
    n_params: int
    loss: float  # the trained network's physics loss
    formula_loss: float | None = None  # the formula's physics loss (None without a formula)
    formula_note: str = ""  # why there is no formula, or how it was read
    candidates: list[tuple[str, float, int]] = field(default_factory=list)  # (formula, physics loss, complexity)

    @property
    def residual_loss(self) -> list[float]:
        return self.history["residual"]

    @property
    def boundary_loss(self) -> list[float]:
        """Per step, the condition losses added (Dirichlet + Neumann + initial, unweighted)."""
        keys = [k for k in ("dirichlet", "neumann", "initial") if self.history.get(k)]
        return [sum(self.history[k][i] for k in keys) for i in range(len(self.history["loss"]))]

    def predict(self, points: Any) -> np.ndarray:
        """The network's solution at ``points`` (``(n, d)``, columns in the domain's order)."""
        x = torch.as_tensor(np.asarray(points, dtype=float), dtype=self.model.dtype)
        with torch.no_grad():
            return self.model(x)[:, 0].numpy()

    def formula_values(self, points: Any) -> np.ndarray:
        """The formula at ``points``; :class:`PDEError` when there is none."""
        if self.formula is None:
            raise PDEError(f"no formula was read: {self.formula_note}")
        x = torch.as_tensor(np.asarray(points, dtype=float), dtype=torch.float64)
        law = to_torch(self.formula, list(self.problem.box.names), trainable="none")
        with torch.no_grad():
            return law(x).numpy()

    def l2_error(self, exact: Callable[[torch.Tensor], Any] | None = None, n: int | None = None, of: str = "model") -> float:
        """Relative L2 error ``||u - exact|| / ||exact||`` on a tensor grid over the closed box
        (``n`` points per variable); ``of="formula"`` measures the formula instead of the network."""
        exact = exact or self.problem.exact
        if exact is None:
            raise PDEError("no exact solution: pass exact=... (points -> values) or give the Problem one")
        if of not in ("model", "formula"):
            raise PDEError(f"of must be 'model' or 'formula', got {of!r}")
        x = grid_points(self.problem.box, n)
        truth = torch.as_tensor(exact(x), dtype=torch.float64).reshape(-1).numpy()
        got = self.predict(x) if of == "model" else self.formula_values(x)
        denom = float(np.linalg.norm(truth))
        return float(np.linalg.norm(got - truth) / (denom if denom > 0 else 1.0))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (the model itself is saved with ``solution.model.save(path)``)."""
        return {"problem": self.problem.name, "domain": {k: list(v) for k, v in self.problem.domain.items()},
                "formula": None if self.formula is None else str(self.formula), "formula_loss": self.formula_loss,
                "formula_note": self.formula_note, "loss": self.loss, "seconds": self.seconds, "n_params": self.n_params,
                "model_config": self.model.config(), "history": self.history, "candidates": self.candidates}


def _check_residual(problem: Problem, model: KAN, points: Collocation) -> None:
    r = _residual(problem, model, points.interior[:4])
    if not bool(torch.isfinite(r).all()):
        raise PDEError("the residual is NaN or infinite at the first collocation points; check residual(u, x)")


def solve(
    problem: Problem,
    *,
    width: Sequence[int | Sequence[int]] | None = None,
    grids: Sequence[int] = (5, 10, 20),
    steps: int | Sequence[int] = 50,
    k: int = 3,
    n_interior: int = 1024,
    n_face: int = 64,
    sampling: str = "sobol",
    resample: float = 0.0,
    boundary_weight: float = 100.0,
    max_iter: int = 20,
    base_fun: str = "silu",
    seed: int = 0,
    time_limit: float | None = None,
    formula: bool = True,
    library: Any = None,
    prune_threshold: float = 0.05,
    formula_steps: int = 100,
    verbose: bool = False,
) -> Solution:
    """Train a KAN on ``problem`` and read its solution as a formula (see the module doc).

    Args:
        width: the KAN's widths (default ``[d, 5, 1]``); ``[2, [0, 1]]`` is one product of two sums
            of 1-D functions, the shape of a separable solution.
        grids: the grid-extension schedule; ``steps``: LBFGS steps per stage (one int, or one per stage).
        n_interior, n_face, sampling: collocation points inside and per face (``"sobol"``, ``"uniform"``, ``"grid"``).
        resample: after each stage but the last, this fraction of the interior points is redrawn where
            the residual is large (from a pool of 4x candidates); 0 keeps the points fixed.
        boundary_weight: weight of the condition terms against the residual.
        time_limit: seconds of training after which the remaining steps are skipped.
        formula: read the solution as a formula (``library``: the symbolic functions tried; default the whole library).
        prune_threshold: edges whose attribution score is below it are pruned before the formula is read.
    """
    if not isinstance(problem, Problem):
        raise PDEError(f"solve needs a Problem, got {type(problem).__name__}")
    if not grids or any(int(g) < 1 for g in grids):
        raise PDEError(f"grids must be a non-empty list of positive grid sizes, got {grids!r}")
    stage_steps = [int(steps)] * len(grids) if isinstance(steps, int) else [int(s) for s in steps]
    if len(stage_steps) != len(grids):
        raise PDEError(f"steps has {len(stage_steps)} entries for {len(grids)} grid stages")
    if not 0.0 <= resample < 1.0:
        raise PDEError(f"resample must be a fraction in [0, 1), got {resample}")
    d = problem.box.dim
    width = [d, 5, 1] if width is None else list(width)
    started = time.perf_counter()
    points = collocation(problem, n_interior, n_face, sampling, seed)
    model = KAN(width, grid=int(grids[0]), k=k, base_fun=base_fun, seed=seed)
    if model.n_inputs != d or model.n_outputs != 1:
        raise PDEError(f"width {width} must start with {d} (the domain's variables) and end with 1 output")
    model.initialize_grids(points.all_points())
    _check_residual(problem, model, points)

    history: dict[str, list[float]] = {key: [] for key in ("loss", "residual", "dirichlet", "neumann", "initial", "grid")}
    last: dict[str, float] = {}
    deadline = None if time_limit is None else started + float(time_limit)

    def loss_fn(m: Any, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        total, parts = physics_loss(problem, m, points, boundary_weight)
        last.clear()
        last.update(parts)
        return total

    for stage, (g, n_steps) in enumerate(zip(grids, stage_steps)):
        if deadline is not None and time.perf_counter() > deadline:
            break
        if stage > 0:
            model.refine(int(g), x=points.all_points())

        def record(step: int, value: float, g: int = int(g)) -> bool:
            history["loss"].append(value)
            for key in ("residual", "dirichlet", "neumann", "initial"):
                history[key].append(last.get(key, 0.0))
            history["grid"].append(float(g))
            return deadline is not None and time.perf_counter() > deadline

        X = points.all_points()
        # the hidden layers' grids follow the values that reach them for the first half of a stage
        fit(model, X, torch.zeros(X.shape[0], 1), loss_fn=loss_fn, steps=n_steps, update_grid=True, grid_update_num=5,
            stop_grid_update_step=n_steps // 2, max_iter=max_iter, seed=seed + stage, verbose=verbose, callback=record)
        if resample > 0 and stage < len(grids) - 1:
            n_new = int(resample * points.interior.shape[0])
            pool = sample_box(problem.box, 4 * points.interior.shape[0], "uniform", seed + 1000 + stage)
            scores = _residual(problem, model, pool).detach().pow(2).sum(1)
            keep = points.interior[torch.randperm(points.interior.shape[0], generator=torch.Generator().manual_seed(seed))[n_new:]]
            points.interior = torch.cat([keep, resample_by_residual(pool, scores, n_new, seed + stage)])
    model_loss = float(physics_loss(problem, model, points, boundary_weight)[0].detach())
    seconds = time.perf_counter() - started
    solution = Solution(problem, model, None, history, seconds, count_parameters(model), model_loss)
    if formula:
        _read_formula(solution, points, boundary_weight, library, prune_threshold, formula_steps, max_iter, seed)
    return solution


# ------------------------------------------------------------------------------------------ the formula
def _law_loss(problem: Problem, expr: sympy.Expr, symbols: list[sympy.Symbol], points: Collocation, weight: float) -> float:
    try:
        law = to_torch(expr, symbols, trainable="none")
        value = float(physics_loss(problem, law, points, weight)[0].detach())
    except (UnsupportedNodeError, PDEError, RuntimeError, TypeError, ValueError):
        return math.inf
    return value if math.isfinite(value) else math.inf


def _train_constants(problem: Problem, expr: sympy.Expr, symbols: list[sympy.Symbol], points: Collocation, weight: float,
                     steps: int, max_iter: int) -> sympy.Expr:
    """The formula's float constants trained on the physics loss (LBFGS); the input formula if that fails or is worse."""
    try:
        law = to_torch(expr, symbols, trainable="floats")
    except UnsupportedNodeError:
        return expr
    params = list(law.parameters())
    if not params or steps <= 0:
        return expr
    before = _law_loss(problem, expr, symbols, points, weight)
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-30, tolerance_change=1e-30)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        value = physics_loss(problem, law, points, weight)[0]
        if not bool(torch.isfinite(value)):
            return value.new_tensor(1e30)
        value.backward()
        return value

    good = copy.deepcopy(law.state_dict())
    for _ in range(max(1, steps // max_iter)):
        try:
            opt.step(closure)
        except (RuntimeError, IndexError):
            law.load_state_dict(good)
            break
        if not all(bool(torch.isfinite(p).all()) for p in params):
            law.load_state_dict(good)
            break
        good = copy.deepcopy(law.state_dict())
    trained = law.sympy()
    return trained if _law_loss(problem, trained, symbols, points, weight) <= before else expr


def _read_formula(solution: Solution, points: Collocation, weight: float, library: Any, prune_threshold: float,
                  steps: int, max_iter: int, seed: int) -> None:
    """Set ``solution.formula`` (and its loss, candidates, note) from the trained network."""
    problem = solution.problem
    symbols = [sympy.Symbol(n, real=True) for n in problem.box.names]
    X = points.all_points()
    sym = copy.deepcopy(solution.model)

    def loss_fn(m: Any, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        return physics_loss(problem, m, points, weight)[0]

    try:
        if prune_threshold > 0:
            sym.prune(X, edge_threshold=prune_threshold, node_threshold=prune_threshold / 5)
            fit(sym, X, torch.zeros(X.shape[0], 1), loss_fn=loss_fn, steps=max(1, steps // 5), update_grid=False,
                max_iter=max_iter, seed=seed, verbose=False)
        sym.auto_symbolic(X, library=library, seed=seed)
        (raw,) = sym.output_formulas(symbols)
    except (SplineEdgeError, UnknownFunctionError, ValueError, RuntimeError) as exc:
        solution.formula_note = f"the network could not be read as a formula ({type(exc).__name__}: {exc})"
        return
    raw = tidy(raw)
    trained = _train_constants(problem, raw, symbols, points, weight, steps, max_iter)
    with torch.no_grad():
        u = solution.model(X)[:, 0].numpy()
    Xn = X.numpy()
    half = Xn.shape[0] // 2
    scale = max((abs(float(f)) for f in trained.atoms(sympy.Float)), default=1.0)
    plain = trained.xreplace({f: sympy.Integer(0) for f in trained.atoms(sympy.Float) if abs(float(f)) < 1e-9 * scale})
    options = [trained, snap_floats(plain, rtol=1e-5), snap_floats(plain, rtol=1e-3)]
    try:
        options += polish_formula(trained, symbols, (Xn[::2], u[::2]), (Xn[1::2], u[1::2]) if half else (Xn, u))
    except (TypeError, ValueError, ZeroDivisionError):
        pass
    candidates: dict[str, tuple[sympy.Expr, float, int]] = {}
    for expr in options:
        for form in dict.fromkeys([expr, simplify_capped(expr, timeout=3.0)]):
            retrained = _train_constants(problem, form, symbols, points, weight, steps, max_iter) if form.atoms(sympy.Float) else form
            tiny = {f: sympy.Integer(0) for f in retrained.atoms(sympy.Float) if abs(float(f)) < 1e-9 * scale}
            for f in dict.fromkeys([form, retrained, snap_floats(retrained.xreplace(tiny), rtol=1e-6)]):
                if str(f) not in candidates:
                    candidates[str(f)] = (f, _law_loss(problem, f, symbols, points, weight), complexity(f))
    ranked = sorted(candidates.values(), key=lambda t: (t[2], t[1]))
    solution.candidates = [(str(e), loss, c) for e, loss, c in sorted(candidates.values(), key=lambda t: t[1])]
    best_loss = min(loss for _, loss, _ in ranked)
    if not math.isfinite(best_loss):
        solution.formula_note = "no candidate formula has a finite physics loss"
        return
    # the simplest formula whose physics loss is no worse than the network's (or within 1.5x of the best formula's)
    bar = max(solution.loss, 1.5 * best_loss)
    chosen = next((e, loss) for e, loss, _ in ranked if loss <= bar)
    solution.formula, solution.formula_loss = chosen
    solution.formula_note = "read from the pruned network's symbolic edges; constants trained on the physics loss and snapped"
