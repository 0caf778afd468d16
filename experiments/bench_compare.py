"""The committed method comparison: Kepler plus a seeded sample of 30 Feynman equations.

Every method gets the same per-task budget on the same data (1,000 training rows per Feynman task,
noise 0 and 1% of std(y)), scored by the SRBench rules of ``kandisco.bench``. PySR runs only where
Julia is installed (elsewhere its rows say ``unavailable: Julia is not installed``).

    python experiments/bench_compare.py                     # the comparison -> results/bench_compare/
    python experiments/bench_compare.py --full              # all 100 Feynman equations, kandisco only
                                                            #   -> results/bench_feynman100/
    python experiments/bench_compare.py --smoke             # Kepler + 2 equations, 10 s -> results/bench_smoke/

Interrupted runs resume (rows already in results.jsonl are skipped). ``--scheduler ADDRESS`` runs the
jobs on a Dask cluster instead of ``--jobs`` local processes.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kandisco.bench import load_tasks, make_jobs, run_bench, sample_feynman_ids
from kandisco.bench.report import write_report

HERE = Path(__file__).resolve().parent
SAMPLE_SIZE, SAMPLE_SEED = 30, 0  # the same sample as feynman_recovery.py --sample 30 --seed 0
METHODS = ["kandisco", "operon", "gplearn", "pykan", "pysr"]
NOISE = [0.0, 0.01]
SMOKE_IDS = ["I.12.1", "II.3.24"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help="all 100 Feynman equations, kandisco only")
    mode.add_argument("--smoke", action="store_true", help=f"Kepler + {', '.join(SMOKE_IDS)} at 10 s (a quick check)")
    ap.add_argument("--budget", type=float, help="seconds per job (default 60; 10 with --smoke)")
    ap.add_argument("--methods", help=f"comma-separated (default {','.join(METHODS)}; kandisco with --full)")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    ap.add_argument("--noise", help=f"comma-separated noise levels, fractions of std(y) (default {','.join(f'{n:g}' for n in NOISE)})")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="jobs at once (default: number of cores)")
    ap.add_argument("--scheduler", help="Dask scheduler address")
    ap.add_argument("--out", help="output directory (default experiments/results/bench_compare, _feynman100 or _smoke)")
    args = ap.parse_args(argv)

    if args.full:
        ids, methods, name, budget = None, ["kandisco"], "bench_feynman100", 60.0
        title = "Feynman, all 100 equations: kandisco"
        notes = ["All 100 equations of datasets/feynman_equations.csv."]
        tasks = load_tasks("feynman")
    else:
        ids = SMOKE_IDS if args.smoke else sample_feynman_ids(SAMPLE_SIZE, SAMPLE_SEED)
        methods, name, budget = METHODS, "bench_smoke" if args.smoke else "bench_compare", 10.0 if args.smoke else 60.0
        title = ("Smoke test: Kepler + 2 Feynman equations" if args.smoke
                 else f"Kepler + {SAMPLE_SIZE} Feynman equations: kandisco, Operon, gplearn, pykan, PySR")
        how = "" if args.smoke else f"a seeded sample (numpy default_rng({SAMPLE_SEED}), {SAMPLE_SIZE} of 100) "
        notes = [f"Tasks: kepler and the Feynman equations {how}{', '.join(ids)}."]
        tasks = load_tasks("kepler") + load_tasks("feynman", ids)
    if args.methods:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    budget = args.budget or budget
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    out = Path(args.out) if args.out else HERE / "results" / name
    noise = [float(n) for n in args.noise.split(",") if n.strip()] if args.noise else NOISE
    jobs = make_jobs(tasks, methods, noise, seeds, budget)

    def progress(row: dict) -> None:
        if row.get("event") == "start":
            print(f"{row['todo']} jobs to run, {row['done']} already in {row['path']}", file=sys.stderr)
            return
        what = row.get("formula") if row.get("status") == "ok" else row.get("status")
        mark = "OK " if row.get("recovered") else "-- "
        print(f"{mark}{row['task']:>10} {row['method']:<9} noise={row['noise']:<5g} {float(row.get('seconds') or 0):6.1f}s  {what}",
              file=sys.stderr, flush=True)

    run_bench(jobs, out, workers=args.jobs, scheduler=args.scheduler, progress=progress)
    md, png = write_report(out, title, notes, task_order=[t.id for t in tasks])
    print(f"report: {md}, {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
