"""Issue 18's trajectory-sampled derivative suite: laws of motion as tables, in the benchmark harness.

Every two-state system of :mod:`kandisco.dynamics.systems` (ten of them) is integrated from three
initial conditions (solve_ivp, DOP853, rtol 1e-10; 400 samples each), and each state's *exact*
derivative (the law on the noise-free state) becomes a task: ``d<state> ~ f(states)``, 20 laws.
The samples are correlated and cover a thin region of the state space, which is the point (issue 18
item 4). The harness adds noise to the target (0 and 1% of its std) and scores the SRBench way
(kandisco's equivalence check, :mod:`kandisco.symbolic.equivalence`); its noise-free test rows are
drawn uniformly in the box around the trajectories, so the held-out R^2 is also a test of
extrapolation off the trajectories. kandisco and SINDy (pysindy, polynomial + Fourier library)
run side by side with the same budget, one job at a time.

    python experiments/trajectory_derivatives.py                  # -> results/trajectory-derivatives/<date>_<commit>/
    python experiments/trajectory_derivatives.py --budget 10 --systems harmonic,pendulum --out /tmp/td

The data are regenerated (deterministically) under ``--data`` (default a temporary folder), not
committed. A rerun into the same folder resumes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from kandisco.bench import make_jobs, run_bench
from kandisco.bench.provenance import output_dir
from kandisco.bench.report import write_report
from kandisco.bench.runner import RESULTS_FILE, latest_rows, load_results
from kandisco.bench.tasks import Task
from kandisco.dynamics.systems import two_state_systems
from kandisco.dynamics.trajectories import derivative_column, simulate_system

HERE = Path(__file__).resolve().parent
SUITE = "trajectory-derivatives"


def make_tasks(data_dir: Path, names: list[str] | None, n_trajectories: int, n_samples: int) -> list[Task]:
    """One CSV per system (states and exact derivatives), one task per state."""
    data_dir.mkdir(parents=True, exist_ok=True)
    tasks = []
    for system in two_state_systems():
        if names and system.name not in names:
            continue
        table = simulate_system(system, n_trajectories, n_samples, seed=0)
        path = data_dir / f"{system.name}.csv"
        table.drop(columns=["run", "t"]).to_csv(path, index=False, float_format="%.17g")
        for state, law in system.laws.items():
            tasks.append(Task(f"{system.name}:{state}", SUITE, tuple(system.states), derivative_column(state), str(law), str(path)))
    return tasks


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=20.0, help="seconds per law and method (default 20)")
    ap.add_argument("--methods", default="kandisco,sindy")
    ap.add_argument("--noise", default="0,0.01")
    ap.add_argument("--systems", help="comma-separated system names (default: every two-state system)")
    ap.add_argument("--trajectories", type=int, default=3)
    ap.add_argument("--samples", type=int, default=400, help="samples per trajectory (default 400)")
    ap.add_argument("--jobs", type=int, default=1, help="jobs at once (default 1)")
    ap.add_argument("--data", type=Path, help="folder for the generated CSVs (default: a temporary folder)")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path)
    where.add_argument("--results-root", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.systems.split(",")] if args.systems else None
    data_dir = args.data or Path(tempfile.mkdtemp(prefix="kandisco-trajectories-"))
    tasks = make_tasks(data_dir, names, args.trajectories, args.samples)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    noises = [float(v) for v in args.noise.split(",") if v.strip()]
    jobs = make_jobs(tasks, methods, noises, [0], args.budget, margin=60.0)
    out = output_dir(args.out, None if args.out else args.results_root, SUITE)

    def progress(row: dict) -> None:
        if row.get("event") == "start":
            print(f"{row['todo']} jobs to run, {row['done']} already in {row['path']}", file=sys.stderr)
            return
        mark = "OK " if row.get("recovered") else "-- "
        what = row.get("formula") if row.get("status") == "ok" else row.get("status")
        print(f"{mark}{row['task']:>24} {row['method']:<9} noise={row['noise']:<5g} {float(row.get('seconds') or 0):6.1f}s  {what}",
              file=sys.stderr, flush=True)

    run_bench(jobs, out, workers=args.jobs, progress=progress, argv=[sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    write_report(out, title="Trajectory-sampled derivatives of ten two-state systems (issue 18)",
                 notes=[f"{len(tasks)} laws; {args.trajectories} trajectories x {args.samples} samples per system; "
                        "target noise as a fraction of std(target); data regenerated by experiments/trajectory_derivatives.py"],
                 task_order=[t.id for t in tasks])
    rows = latest_rows(load_results(out / RESULTS_FILE))
    print(f"\n{'task':<26} {'method':<9} {'noise':<6} {'exact':<6} {'R^2 test':<10} {'s':>6}  formula")
    for row in sorted(rows, key=lambda r: (r["noise"], r["task"], r["method"])):
        r2 = row.get("r2_test")
        exact = "yes" if row.get("verdict") == "exact" else (row.get("verdict") or "no")[:6]
        print(f"{row['task']:<26} {row['method']:<9} {row['noise']:<6g} {exact:<6} "
              f"{(f'{r2:.6f}' if r2 is not None else '-'):<10} {float(row.get('seconds') or 0):6.1f}  {str(row.get('formula'))[:70]}")
    print()
    for method in methods:
        for noise in noises:
            cell = [r for r in rows if r["method"] == method and float(r["noise"]) == noise]
            recovered = sum(bool(r.get("recovered")) for r in cell)
            exact = sum(r.get("verdict") == "exact" for r in cell)
            print(f"{method:<9} noise {noise:<5g}: {recovered}/{len(cell)} derivatives recovered ({100 * recovered / max(1, len(cell)):.0f}%), "
                  f"{exact} of them exact (no additive or multiplicative constant off)")
    print(f"\nresults: {out}/ (report.md); then run python experiments/results_index.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
