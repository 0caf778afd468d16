"""PDE examples (issue 21): a KAN solves four PDEs through kandisco.pde, side by side with a plain-torch
MLP PINN of about the same parameter count and the same training time, and DeepXDE where it installs.

Problems: 2-D Poisson (u = sin(pi x) sin(pi y) on [-1, 1]^2), 1-D heat (u = exp(-pi^2 t / 10) sin(pi x)),
viscous Burgers (nu = 0.01/pi, u(x, 0) = -sin(pi x); exact solution by Cole-Hopf and Gauss-Hermite
quadrature) and Helmholtz (u = sin(pi x) sin(4 pi y), k = 1). Errors are relative L2 on a tensor grid
over the closed domain; seconds are training wall time on one torch thread (the KAN's formula reading
is timed apart).

    python experiments/pde_examples.py                        # every problem and method, written to experiments/results/pde/
    python experiments/pde_examples.py --only poisson --methods kan
    python experiments/pde_examples.py --quick                # smaller budgets, a smoke run (nothing written)
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kandisco.bench.provenance import MANIFEST_FILE, MANIFEST_FORMAT, environment, git_state, package_versions
from kandisco.pde import Problem, collocation, grid_points, laplacian, partial, physics_loss, solve, time_derivative

PI = math.pi
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "pde"


# ------------------------------------------------------------------------------------------ problems
def _poisson() -> Problem:
    def f(x):
        return -2 * PI**2 * torch.sin(PI * x[:, 0]) * torch.sin(PI * x[:, 1])

    return Problem(lambda u, x: laplacian(u, x) - f(x), {"x": (-1, 1), "y": (-1, 1)}, boundary=0.0,
                   exact=lambda x: torch.sin(PI * x[:, 0]) * torch.sin(PI * x[:, 1]), name="poisson-2d")


ALPHA = 0.1


def _heat() -> Problem:
    return Problem(lambda u, x: time_derivative(u, x) - ALPHA * partial(u, x, 0, order=2), {"x": (0, 1), "t": (0, 1)},
                   boundary=0.0, initial=lambda x: torch.sin(PI * x[:, 0]),
                   exact=lambda x: torch.exp(-ALPHA * PI**2 * x[:, 1]) * torch.sin(PI * x[:, 0]), name="heat-1d")


NU = 0.01 / PI
_HZ, _HW = np.polynomial.hermite.hermgauss(200)


def burgers_exact(x: torch.Tensor) -> torch.Tensor:
    """Cole-Hopf: u = -int sin(pi(x - s z)) F(x - s z) w(z) dz / int F(x - s z) w(z) dz, s = sqrt(4 nu t),
    F(y) = exp(-cos(pi y) / (2 pi nu)), by 200-point Gauss-Hermite quadrature (in log space: F overflows)."""
    xs, ts = x[:, 0].double().numpy()[:, None], x[:, 1].double().numpy()[:, None]
    y = xs - np.sqrt(4 * NU * ts) * _HZ[None, :]
    log_f = -np.cos(PI * y) / (2 * PI * NU)
    weights = _HW[None, :] * np.exp(log_f - log_f.max(axis=1, keepdims=True))
    u = -(weights * np.sin(PI * y)).sum(1) / weights.sum(1)
    return torch.as_tensor(np.where(ts[:, 0] == 0, -np.sin(PI * xs[:, 0]), u))


def _burgers() -> Problem:
    def residual(u, x):
        ux = partial(u, x, 0)
        return time_derivative(u, x) + u[:, 0] * ux - NU * partial(u, x, 0, order=2)

    return Problem(residual, {"x": (-1, 1), "t": (0, 1)}, boundary=0.0, initial=lambda x: -torch.sin(PI * x[:, 0]),
                   exact=burgers_exact, name="burgers")


A1, A2, K = 1, 4, 1.0


def _helmholtz() -> Problem:
    def q(x):
        return (K**2 - (A1**2 + A2**2) * PI**2) * torch.sin(A1 * PI * x[:, 0]) * torch.sin(A2 * PI * x[:, 1])

    return Problem(lambda u, x: laplacian(u, x) + K**2 * u[:, 0] - q(x), {"x": (-1, 1), "y": (-1, 1)}, boundary=0.0,
                   exact=lambda x: torch.sin(A1 * PI * x[:, 0]) * torch.sin(A2 * PI * x[:, 1]), name="helmholtz")


@dataclass
class Case:
    """A problem and the KAN settings it is solved with (the MLP and DeepXDE get the KAN's budget)."""

    make: Callable[[], Problem]
    width: list[Any]
    grids: tuple[int, ...]
    steps: tuple[int, ...]
    truth: str  # the exact solution as text
    n_interior: int = 1024
    n_face: int = 32
    resample: float = 0.0
    formula: bool = True  # read the solution as a formula (not for Burgers: it has no closed form to find)
    extra: dict[str, Any] = field(default_factory=dict)


CASES = {
    "poisson": Case(_poisson, [2, [0, 1]], (5, 10, 20, 40), (20, 20, 30, 30), "sin(pi*x)*sin(pi*y)"),
    "heat": Case(_heat, [2, [0, 1]], (5, 10, 20), (20, 20, 30), "exp(-pi**2*t/10)*sin(pi*x)"),
    "burgers": Case(_burgers, [2, 8, 1], (5, 10, 20), (30, 30, 30), "Cole-Hopf integral (no closed form)", resample=0.5,
                    formula=False),
    "helmholtz": Case(_helmholtz, [2, [0, 1]], (10, 20, 40), (20, 30, 30), "sin(pi*x)*sin(4*pi*y)"),
}


# ------------------------------------------------------------------------------------------ methods
def run_kan(case: Case, quick: bool, seed: int) -> dict[str, Any]:
    problem = case.make()
    steps = tuple(max(2, s // 4) for s in case.steps) if quick else case.steps
    started = time.perf_counter()
    s = solve(problem, width=case.width, grids=case.grids, steps=steps, n_interior=case.n_interior, n_face=case.n_face,
              resample=case.resample, seed=seed, formula=case.formula)
    total = time.perf_counter() - started
    row = {"method": "kandisco KAN", "params": s.n_params, "seconds": s.seconds, "l2": s.l2_error(),
           "formula": None if s.formula is None else str(s.formula), "formula_seconds": total - s.seconds,
           "formula_l2": s.l2_error(of="formula") if s.formula is not None else None, "loss": s.loss,
           "width": json.dumps(case.width), "grids": list(case.grids), "steps": list(steps)}
    if s.formula is not None and not case.truth.startswith("Cole"):
        import sympy

        names = {n: sympy.Symbol(n, real=True) for n in problem.box.names}
        truth = sympy.sympify(case.truth, locals=names)
        row["formula_exact"] = bool(sympy.simplify(s.formula - truth) == 0)
    return row


def mlp_hidden(params: int, d: int, layers: int = 2) -> int:
    """The hidden width whose tanh MLP (d -> h -> ... -> 1, ``layers`` hidden) has the parameter count closest to ``params``."""
    def count(h: int) -> int:
        return d * h + h + (layers - 1) * (h * h + h) + h + 1

    return min(range(1, 200), key=lambda h: abs(count(h) - params))


def run_mlp(case: Case, budget: float, params: int, seed: int) -> dict[str, Any]:
    """A plain-torch PINN (tanh MLP, Adam for a third of the budget then LBFGS) on the KAN's points and loss."""
    problem = case.make()
    torch.manual_seed(seed)
    h = mlp_hidden(params, problem.box.dim)
    net = torch.nn.Sequential(torch.nn.Linear(problem.box.dim, h), torch.nn.Tanh(), torch.nn.Linear(h, h), torch.nn.Tanh(),
                              torch.nn.Linear(h, 1)).double()
    points = collocation(problem, case.n_interior, case.n_face, "sobol", seed)
    started = time.perf_counter()
    adam = torch.optim.Adam(net.parameters(), lr=1e-3)
    while time.perf_counter() - started < budget / 3:
        adam.zero_grad()
        loss = physics_loss(problem, net, points)[0]
        loss.backward()
        adam.step()
    lbfgs = torch.optim.LBFGS(net.parameters(), lr=1.0, max_iter=20, history_size=10, line_search_fn="strong_wolfe",
                              tolerance_grad=1e-32, tolerance_change=1e-32)

    def closure() -> torch.Tensor:
        lbfgs.zero_grad()
        value = physics_loss(problem, net, points)[0]
        value.backward()
        return value

    while time.perf_counter() - started < budget:
        lbfgs.step(closure)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    x = grid_points(problem.box)
    with torch.no_grad():
        got = net(x)[:, 0]
    truth = problem.exact(x)
    n_params = sum(p.numel() for p in net.parameters())
    return {"method": f"MLP PINN (torch, 2x{h} tanh)", "params": n_params, "seconds": seconds,
            "l2": float(torch.linalg.norm(got - truth) / torch.linalg.norm(truth)), "formula": None,
            "loss": float(physics_loss(problem, net, points)[0].detach())}


def deepxde_reason() -> str | None:
    """Why DeepXDE cannot run here (None when it can)."""
    os.environ.setdefault("DDE_BACKEND", "pytorch")
    try:
        import deepxde  # noqa: F401
    except Exception as exc:  # an absent or broken install: say which
        return f"deepxde is not importable ({type(exc).__name__}: {exc}); pip install deepxde (the bench extra)"
    return None


def run_deepxde(name: str, case: Case, budget: float, params: int, seed: int) -> dict[str, Any]:
    """The same problem in DeepXDE (pytorch backend, float64): a tanh FNN of the MLP's size, Adam then L-BFGS,
    with the KAN's numbers of points; iterations are sized to the budget by a short timed trial."""
    import deepxde as dde

    dde.config.set_default_float("float64")
    dde.config.set_random_seed(seed)
    problem = case.make()
    box = problem.box
    space = dde.geometry.Rectangle([box.lows[0], box.lows[1]], [box.highs[0], box.highs[1]]) if problem.time is None else \
        dde.geometry.Interval(box.lows[0], box.highs[0])
    geom = space if problem.time is None else dde.geometry.GeometryXTime(space, dde.geometry.TimeDomain(box.lows[1], box.highs[1]))

    def pde(x, u):
        return problem.residual(u, x).reshape(-1, 1)

    zero = lambda x: np.zeros((len(x), 1))
    conds = [dde.icbc.DirichletBC(geom, zero, lambda x, on: on)]
    if problem.time is not None:
        init = problem.initial
        conds = [dde.icbc.DirichletBC(geom, zero, lambda x, on: on),  # on the space boundary of a GeometryXTime
                 dde.icbc.IC(geom, lambda x: init(torch.as_tensor(x)).numpy()[:, None], lambda x, on: on)]
        data = dde.data.TimePDE(geom, pde, conds, num_domain=case.n_interior, num_boundary=2 * case.n_face,
                                num_initial=2 * case.n_face, train_distribution="Sobol")
    else:
        data = dde.data.PDE(geom, pde, conds, num_domain=case.n_interior, num_boundary=4 * case.n_face, train_distribution="Sobol")
    h = mlp_hidden(params, box.dim)
    net = dde.nn.FNN([box.dim, h, h, 1], "tanh", "Glorot normal")
    model = dde.Model(data, net)
    model.compile("adam", lr=1e-3, loss_weights=[1.0] + [100.0] * len(conds))
    started = time.perf_counter()
    model.train(iterations=200, display_every=1000, verbose=0)
    per_iter = (time.perf_counter() - started) / 200
    model.train(iterations=max(1, int((budget / 3) / per_iter) - 200), display_every=10**6, verbose=0)
    spent = time.perf_counter() - started
    dde.optimizers.config.set_LBFGS_options(maxiter=max(10, int((budget - spent) / (3 * per_iter))))
    model.compile("L-BFGS", loss_weights=[1.0] + [100.0] * len(conds))
    model.train(display_every=10**6, verbose=0)
    seconds = time.perf_counter() - started
    x = grid_points(box)
    got = model.predict(x.numpy())[:, 0]
    truth = problem.exact(x).numpy()
    n_params = sum(p.numel() for p in net.parameters())
    return {"method": f"DeepXDE {dde.__version__} (2x{h} tanh)", "params": n_params, "seconds": seconds,
            "l2": float(np.linalg.norm(got - truth) / np.linalg.norm(truth)), "formula": None}


def _deepxde_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("deepxde")
    except Exception:  # not installed
        return None


# ------------------------------------------------------------------------------------------ table
def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| problem | method | params | seconds | relative L2 | formula |", "|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("skipped"):
            lines.append(f"| {r['problem']} | {r['method']} | - | - | - | skipped: {r['skipped']} |")
            continue
        formula = f"`{r['formula']}`" if r.get("formula") else "-"
        if r.get("formula_exact") is not None:
            formula += " (exact)" if r["formula_exact"] else " (not the truth)"
        lines.append(f"| {r['problem']} | {r['method']} | {r['params']} | {r['seconds']:.1f} | {r['l2']:.2e} | {formula} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(CASES), help=f"problems, comma-separated ({', '.join(CASES)})")
    ap.add_argument("--methods", default="kan,mlp,deepxde")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="a quarter of the steps, nothing written")
    ap.add_argument("--out", type=Path, help="results folder (default experiments/results/pde/<date>_<commit>/)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        ap.error(f"unknown problems {unknown}; choose from {', '.join(CASES)}")
    methods = [m.strip() for m in args.methods.split(",")]
    git = git_state()
    started = _dt.datetime.now(_dt.timezone.utc)
    out = args.out or RESULTS / f"{started.date().isoformat()}_{git['commit_short']}"
    reason = deepxde_reason() if "deepxde" in methods else None
    if reason:
        print(f"DeepXDE skipped: {reason}", file=sys.stderr)
    rows: list[dict[str, Any]] = []
    for name in names:
        first = len(rows)
        case = CASES[name]
        kan = run_kan(case, args.quick, args.seed)
        kan["problem"] = name
        if "kan" in methods:
            rows.append(kan)
            print(f"{name}: KAN l2 {kan['l2']:.2e} in {kan['seconds']:.1f} s, formula {kan['formula']}", file=sys.stderr)
        if "mlp" in methods:
            rows.append({"problem": name, **run_mlp(case, kan["seconds"], kan["params"], args.seed)})
            print(f"{name}: MLP l2 {rows[-1]['l2']:.2e}", file=sys.stderr)
        if "deepxde" in methods:
            if reason:
                rows.append({"problem": name, "method": "DeepXDE", "skipped": reason})
            else:
                rows.append({"problem": name, **run_deepxde(name, case, kan["seconds"], kan["params"], args.seed)})
                print(f"{name}: DeepXDE l2 {rows[-1]['l2']:.2e} in {rows[-1]['seconds']:.1f} s", file=sys.stderr)
        if not args.quick or args.out is not None:  # after each problem: an interrupted run keeps what it finished
            write_results(out, rows[first:], methods, args.seed, git, started, argv)
    print(table(rows))
    return 0


def write_results(out: Path, rows: list[dict[str, Any]], methods: list[str], seed: int, git: dict[str, Any],
                  started: _dt.datetime, argv: list[str] | None) -> None:
    """Append this run's rows to ``out/pde.jsonl`` and its session to the manifest, then rewrite report.md from
    every row there: runs of a few problems each (in parallel processes) fill one folder."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "pde.jsonl").open("a") as fh:
        fh.write("".join(json.dumps({**r, "commit": git["commit"], "seed": seed}, default=str) + "\n" for r in rows))
    every = [json.loads(line) for line in (out / "pde.jsonl").read_text().splitlines() if line.strip()]
    order = {name: i for i, name in enumerate(CASES)}
    every.sort(key=lambda r: order.get(r["problem"], len(order)))
    kan_rows = {r["problem"]: r for r in every if r.get("method") == "kandisco KAN"}
    headline = "; ".join(f"{p} KAN L2 {r['l2']:.1e}" for p, r in kan_rows.items())
    command = ["python", "experiments/pde_examples.py", *(argv if argv is not None else sys.argv[1:])]
    session = {**git, "started": started.isoformat(), "ended": _dt.datetime.now(_dt.timezone.utc).isoformat(), "status": "complete",
               "argv": command, "suites": ["pde"], "methods": methods, "seeds": [seed],
               "packages": {**package_versions(), "deepxde": _deepxde_version()}, **environment()}
    path = out / MANIFEST_FILE
    sessions = json.loads(path.read_text()).get("sessions", []) if path.exists() else []
    manifest = {"format": MANIFEST_FORMAT, "suites": ["pde"], "methods": sorted({m for s in [*sessions, session] for m in s["methods"]}),
                "noises": [], "seeds": [seed], "budgets": [], "commits": list(dict.fromkeys(s["commit"] for s in [*sessions, session])),
                "headline": headline, "sessions": [*sessions, session]}
    path.write_text(json.dumps(manifest, indent=1, default=str) + "\n")
    commands = "\n".join(f"    {' '.join(s['argv'])}" for s in manifest["sessions"])
    (out / "report.md").write_text(
        f"# PDE examples: KAN vs MLP PINN vs DeepXDE (commit {git['commit_short']}{' dirty' if git.get('dirty') else ''}, seed {seed})\n\n"
        "Relative L2 error on a tensor grid over the closed domain; seconds: training wall time, one torch thread, "
        "on a 2-core machine shared with other jobs (wall time there is noisy). The MLP and DeepXDE get the KAN's "
        "training time (measured in the same process just before) and about its parameter count.\n\n"
        f"{table(every)}\n\nCommands:\n\n{commands}\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
