"""Issue 20 item 3: potentials V(x, y) from samples of a conservative force F = -grad V (and a refusal).

Each potential below is written from its textbook definition; its force is sympy's exact gradient.
Positions are drawn uniformly in a box (or an annulus, for the laws singular at the origin), the
forces get Gaussian noise of 0 and 1% of each component's std, and
:func:`kandisco.dynamics.discover_potential` (curl test, a KAN V trained on the forces through
autograd, V read as a formula by :func:`kandisco.discover`, constants refitted on the forces) runs
with ``--budget`` seconds and one process. A potential is *exact* when kandisco's equivalence check
says found and true V differ by a constant on the sampled region. The rotational fields have no
potential: the right answer is the curl test's refusal.

    python experiments/potentials.py                       # -> results/potentials/<date>_<commit>/
    python experiments/potentials.py --budget 30 --potentials kepler,quartic --noise 0 --out /tmp/pot

Writes results.jsonl (one row per potential and noise), manifest.json and report.md; rerun
``python experiments/results_index.py`` after.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import sympy
from _sequential import run_sequentially, write_report  # experiments/_sequential.py: this folder is on sys.path when a script runs

from kandisco.bench.provenance import output_dir, start_session
from kandisco.bench.runner import RESULTS_FILE, latest_rows, load_results
from kandisco.dynamics import discover_potential
from kandisco.symbolic.equivalence import check_equivalence

HERE = Path(__file__).resolve().parent
SUITE = "potentials"
x, y = sympy.symbols("x y", real=True)


@dataclass(frozen=True)
class Field:
    """A 2-D force field: from a potential (``V``) or given directly (``force``, no potential)."""

    name: str
    description: str
    low: float
    high: float
    annulus: bool = False  # sample radii in [low, high] (laws singular at the origin) instead of the box [low, high]^2
    V: sympy.Expr | None = None
    force: tuple[sympy.Expr, sympy.Expr] | None = None

    def forces(self) -> tuple[sympy.Expr, sympy.Expr]:
        if self.force is not None:
            return self.force
        if self.V is None:
            raise ValueError(f"{self.name}: neither a potential nor a force")
        return -sympy.diff(self.V, x), -sympy.diff(self.V, y)


FIELDS = {f.name: f for f in [
    Field("quartic", "the issue's V = k x^2/2 + a y^4 (k = 3, a = 1/4)", -1.5, 1.5, V=3 * x**2 / 2 + y**4 / 4),
    Field("kepler", "gravity of a point mass, V = -G M / r (G M = 5/2)", 0.5, 3.0, annulus=True, V=-sympy.Rational(5, 2) / sympy.sqrt(x**2 + y**2)),
    Field("henon_heiles", "Henon-Heiles: (x^2 + y^2)/2 + x^2 y - y^3/3", -1.0, 1.0, V=(x**2 + y**2) / 2 + x**2 * y - y**3 / 3),
    Field("coupled_springs", "two masses, three unit springs: x^2/2 + y^2/2 + (x - y)^2/2", -2.0, 2.0, V=x**2 / 2 + y**2 / 2 + (x - y)**2 / 2),
    Field("pendulum_spring", "a pendulum angle x beside a spring y: -2 cos(x) + 3 y^2/2", -3.0, 3.0, V=-2 * sympy.cos(x) + 3 * y**2 / 2),
    Field("gaussian_well", "a Gaussian well: -2 exp(-(x^2 + y^2)/2)", -2.5, 2.5, V=-2 * sympy.exp(-(x**2 + y**2) / 2)),
    Field("rotation", "a pure rotation (-y, x): not conservative", -1.0, 1.0, force=(-y, x)),
    Field("vortex_sink", "a sink with a swirl (-x - y, x - y): not conservative", -1.0, 1.0, force=(-x - y, x - y)),
]}


def sample(field: Field, n: int, noise: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    if field.annulus:
        r = rng.uniform(field.low, field.high, n)
        theta = rng.uniform(0, 2 * np.pi, n)
        P = np.column_stack([r * np.cos(theta), r * np.sin(theta)])
    else:
        P = rng.uniform(field.low, field.high, (n, 2))
    F = np.column_stack([np.asarray(sympy.lambdify([x, y], f, "numpy")(*P.T), dtype=float) * np.ones(n) for f in field.forces()])
    if noise > 0:
        F = F + rng.normal(0.0, 1.0, F.shape) * noise * F.std(axis=0)
    return pd.DataFrame({"x": P[:, 0], "y": P[:, 1], "Fx": F[:, 0], "Fy": F[:, 1]})


def run_one(field: Field, noise: float, budget: float, seed: int, n: int) -> dict[str, Any]:
    frame = sample(field, n, noise, seed)
    started = time.perf_counter()
    result = discover_potential(frame, ["x", "y"], ["Fx", "Fy"], budget_seconds=budget, seed=seed, n_jobs=1)
    seconds = time.perf_counter() - started
    if field.V is None:
        verdict = "refused" if result.formula is None else "a potential for a rotational field"
        recovered = result.formula is None
    elif result.formula is None:
        verdict, recovered = "refused", False
    else:
        span = (field.low, field.high) if not field.annulus else (-field.high / math.sqrt(2), field.high / math.sqrt(2))
        try:
            verdict = check_equivalence(result.expr, field.V, {"x": span, "y": span}, timeout=10).verdict
        except Exception as exc:  # noqa: BLE001 - a formula the check cannot handle is not a recovery
            verdict = f"error: {type(exc).__name__}"
        recovered = verdict in ("exact", "additive")  # a potential is defined up to a constant
    return {"task": field.name, "method": "kandisco", "noise": noise, "seed": seed, "budget": budget, "n": n,
            "truth": str(field.V) if field.V is not None else f"F = {field.forces()}", "formula": result.formula or "",
            "verdict": verdict, "recovered": recovered, "curl_ratio": result.curl.ratio, "conservative": result.curl.conservative,
            "force_r2": result.force_r2, "kan_force_r2": result.kan_force_r2, "seconds": seconds}


def _fmt(v: Any, spec: str = ".3g") -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def table_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| field | noise | right? | verdict | curl ratio | force R^2 (law) | force R^2 (KAN) | seconds | formula |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (r["noise"], list(FIELDS).index(r["task"]))):
        lines.append(f"| {row['task']} | {row['noise']:g} | {'yes' if row['recovered'] else 'no'} | {row['verdict']} | "
                     f"{_fmt(row['curl_ratio'])} | {_fmt(row['force_r2'], '.9f')} | {_fmt(row['kan_force_r2'], '.6f')} | "
                     f"{row['seconds']:.1f} | `{row['formula'][:80]}` |")
    return lines


def summary_lines(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for noise in sorted({r["noise"] for r in rows}):
        cell = [r for r in rows if r["noise"] == noise]
        with_v = [r for r in cell if FIELDS[r["task"]].V is not None]
        without = [r for r in cell if FIELDS[r["task"]].V is None]
        out.append(f"noise {noise:g}: {sum(r['recovered'] for r in with_v)}/{len(with_v)} potentials exact, "
                   f"{sum(r['recovered'] for r in without)}/{len(without)} rotational fields refused")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per potential (default 60)")
    ap.add_argument("--noise", default="0,0.01", help="force noise, fractions of each component's std (default 0,0.01)")
    ap.add_argument("--potentials", help=f"comma-separated names (default: all of {', '.join(FIELDS)})")
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path)
    where.add_argument("--results-root", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)
    fields = [FIELDS[n.strip()] for n in args.potentials.split(",")] if args.potentials else list(FIELDS.values())
    noises = [float(v) for v in args.noise.split(",") if v.strip()]
    out = output_dir(args.out, None if args.out else args.results_root, SUITE)
    out.mkdir(parents=True, exist_ok=True)
    done = {(r["task"], float(r["noise"]), int(r["seed"])) for r in load_results(out / RESULTS_FILE)}
    todo = [(f, nz) for nz in noises for f in fields if (f.name, nz, args.seed) not in done]
    jobs = [SimpleNamespace(method="kandisco", task=SimpleNamespace(suite=SUITE, id=f.name), noise=nz, seed=args.seed, budget=args.budget,
                            limit=args.budget, n_train=args.samples, n_test=0) for f, nz in todo] or [
        SimpleNamespace(method="kandisco", task=SimpleNamespace(suite=SUITE, id=""), noise=0.0, seed=args.seed, budget=args.budget,
                        limit=args.budget, n_train=args.samples, n_test=0)]
    session = start_session(out, jobs, argv=[sys.argv[0], *(argv if argv is not None else sys.argv[1:])], workers=1, todo=len(todo))
    status = run_sequentially(out, session, todo, lambda job: run_one(job[0], job[1], args.budget, args.seed, args.samples),
                              lambda job, row: f"{job[0].name:>16} noise={job[1]:<5g} {row['seconds']:6.1f}s {row['verdict']:<10} "
                                               f"{row['formula'][:100]}")
    rows = latest_rows(load_results(out / RESULTS_FILE))
    write_report(out, "Potentials from forces (issue 20 item 3)",
                 f"{len(fields)} fields, {args.samples} samples each, force noise {', '.join(f'{n:g}' for n in noises)} (fraction of each "
                 f"component's std), {args.budget:g} s each, one process. Written by experiments/potentials.py.",
                 summary_lines(rows), table_lines(rows))
    return 0 if status == "complete" else 130


if __name__ == "__main__":
    sys.exit(main())
