"""Issue 20's suite: laws of motion from noisy trajectories, kandisco beside SINDy, checked by simulation.

Every system of :mod:`kandisco.dynamics.systems` is integrated from three initial conditions
(solve_ivp, DOP853, rtol 1e-10; 400 samples each); the states get Gaussian noise of 0 and 1% of
each state's std; derivatives are *estimated* per trajectory (:mod:`kandisco.dynamics.derivatives`,
the derivative package). kandisco (:func:`kandisco.dynamics.discover_ode`, one discover per state,
``--budget`` seconds each, one process) and SINDy (pysindy STLSQ over a polynomial (degree 3) +
Fourier library, :mod:`kandisco.dynamics.sindy`) get the same trajectories and the same derivative
estimates. A law is *exact* when kandisco's equivalence check (:mod:`kandisco.symbolic.equivalence`,
floats snapped within 1e-6 of simple rationals) says ``truth - found`` is 0 on the box around the
trajectories; a system is *fully recovered* when all its laws are. The simulation error is the
largest per-state RMSE (relative to the state's std) of the found system integrated from each
trajectory's first state, over the trajectories; drift is the time until that error passes 0.1.

    python experiments/ode_suite.py                            # -> results/ode/<date>_<commit>/
    python experiments/ode_suite.py --budget 10 --systems decay,harmonic --out /tmp/ode

Writes results.jsonl (one row per system, method and noise; ``recovered`` = fully recovered, the
laws in ``laws``), manifest.json and report.md; rerun ``python experiments/results_index.py`` after.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from _sequential import run_sequentially, write_report  # experiments/_sequential.py: this folder is on sys.path when a script runs

from kandisco.bench.provenance import output_dir, start_session
from kandisco.bench.runner import RESULTS_FILE, latest_rows, load_results
from kandisco.dynamics import SYSTEMS, discover_ode, prepare_trajectories, simulate_system
from kandisco.dynamics.sindy import sindy_ode, unavailable
from kandisco.symbolic.equivalence import check_equivalence

HERE = Path(__file__).resolve().parent
SUITE = "ode"


def _score(result: Any, system: Any, ranges: dict[str, tuple[float, float]]) -> dict[str, Any]:
    laws = {}
    for state, truth in system.laws.items():
        law = result.laws[state]
        try:
            verdict = check_equivalence(law.expr, truth, ranges, timeout=10).verdict
        except Exception as exc:  # noqa: BLE001 - a formula the check cannot handle is not a recovery
            verdict = f"error: {type(exc).__name__}"
        laws[state] = {"formula": law.formula, "truth": str(truth), "verdict": verdict, "exact": verdict == "exact",
                       "r2": law.r2, "r2_test": law.r2_test, "seconds": law.seconds}
    sim = result.simulation
    drifts = [c.drift_time for c in sim.trajectories] if sim is not None else []
    return {"laws": laws, "sim_error": sim.max_error if sim is not None else None,
            "sim_status": [c.status for c in sim.trajectories] if sim is not None else [],
            "drift_times": drifts}


def run_one(system: Any, method: str, noise: float, budget: float, seed: int) -> dict[str, Any]:
    table = simulate_system(system, 3, 400, noise=noise, seed=seed)
    data = table[["run", "t", *system.states]]
    prep = prepare_trajectories(data, "t", list(system.states), "run")
    ranges = {s: (float(table[s].min()), float(table[s].max())) for s in system.states}
    start = time.perf_counter()
    if method == "kandisco":
        result = discover_ode(data, prepared=prep, budget_seconds=budget, seed=seed, n_jobs=1)
    else:
        result = sindy_ode(prep, budget=budget, seed=seed)
    seconds = time.perf_counter() - start
    scored = _score(result, system, ranges)
    exact = all(v["exact"] for v in scored["laws"].values())
    r2s = [v["r2_test"] for v in scored["laws"].values()]
    truth = json.dumps({s: str(e) for s, e in system.laws.items()})
    return {"task": system.name, "method": method, "noise": noise, "seed": seed, "status": "ok", "truth": truth,
            "formula": "; ".join(f"d{s} = {v['formula']}" for s, v in scored["laws"].items()),
            "recovered": exact, "verdict": "exact" if exact else "different", "r2_test": min(r2s) if all(map(math.isfinite, r2s)) else None,
            "seconds": seconds, "budget": budget, **scored}


def _fmt(v: Any, spec: str = ".3g") -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def table_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| system | state | method | noise | exact? | R^2 (held out) | simulation error | drift (of span) | seconds | formula |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (r["noise"], list(SYSTEMS).index(r["task"]), r["method"])):
        span = SYSTEMS[row["task"]].t_end
        drift = [d for d in row.get("drift_times", []) if d is not None]
        drift_text = "none" if not drift else f"{min(drift) / span:.2f}"
        for state, law in row["laws"].items():
            lines.append(f"| {row['task']} | {state} | {row['method']} | {row['noise']:g} | {'yes' if law['exact'] else 'no'} | "
                         f"{_fmt(law['r2_test'], '.6f')} | {_fmt(row['sim_error'])} | {drift_text} | {law['seconds']:.1f} | "
                         f"`{law['formula'][:80].replace('|', '/')}` |")
    return lines


def summary_lines(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for method in dict.fromkeys(r["method"] for r in rows):
        for noise in sorted({r["noise"] for r in rows}):
            cell = [r for r in rows if r["method"] == method and r["noise"] == noise]
            full = sum(r["recovered"] for r in cell)
            laws = [law for r in cell for law in r["laws"].values()]
            exact = sum(law["exact"] for law in laws)
            sims = [r["sim_error"] for r in cell if r["sim_error"] is not None]
            med = float(np.median(sims)) if sims else float("nan")
            out.append(f"{method} at noise {noise:g}: {full}/{len(cell)} systems fully recovered, {exact}/{len(laws)} laws exact, "
                       f"median simulation error {med:.3g}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=20.0, help="seconds per law (default 20)")
    ap.add_argument("--methods", default="kandisco,sindy")
    ap.add_argument("--noise", default="0,0.01")
    ap.add_argument("--systems", help="comma-separated names (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path)
    where.add_argument("--results-root", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)
    systems = [SYSTEMS[n.strip()] for n in args.systems.split(",")] if args.systems else list(SYSTEMS.values())
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if "sindy" in methods and unavailable():
        print(f"sindy skipped: {unavailable()}", file=sys.stderr)
        methods.remove("sindy")
    noises = [float(v) for v in args.noise.split(",") if v.strip()]
    out = output_dir(args.out, None if args.out else args.results_root, SUITE)
    out.mkdir(parents=True, exist_ok=True)
    done = {(r["task"], r["method"], float(r["noise"]), int(r["seed"])) for r in load_results(out / RESULTS_FILE)}
    todo = [(s, m, nz) for nz in noises for s in systems for m in methods if (s.name, m, nz, args.seed) not in done]
    task = SimpleNamespace(suite=SUITE, id="")
    jobs = [SimpleNamespace(method=m, task=SimpleNamespace(suite=SUITE, id=s.name), noise=nz, seed=args.seed, budget=args.budget,
                            limit=args.budget, n_train=1200, n_test=0) for s, m, nz in todo] or [
        SimpleNamespace(method=m, task=task, noise=0.0, seed=args.seed, budget=args.budget, limit=args.budget, n_train=1200, n_test=0)
        for m in methods]
    session = start_session(out, jobs, argv=[sys.argv[0], *(argv if argv is not None else sys.argv[1:])], workers=1, todo=len(todo))
    status = run_sequentially(out, session, todo, lambda job: run_one(job[0], job[1], job[2], args.budget, args.seed),
                              lambda job, row: f"{job[0].name:>18} {job[1]:<9} noise={job[2]:<5g} {row['seconds']:6.1f}s "
                                               f"sim={_fmt(row['sim_error'])}  {row['formula'][:110]}")
    rows = latest_rows(load_results(out / RESULTS_FILE))
    write_report(out, "ODE suite: laws of motion from trajectories, kandisco and SINDy (issue 20)",
                 f"{len(systems)} systems, 3 trajectories x 400 samples each, state noise {', '.join(f'{n:g}' for n in noises)} "
                 f"(fraction of each state's std), {args.budget:g} s per law, one process. Written by experiments/ode_suite.py.",
                 summary_lines(rows), table_lines(rows))
    return 0 if status == "complete" else 130


if __name__ == "__main__":
    sys.exit(main())
