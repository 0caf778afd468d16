"""The committed method comparison: Kepler plus a seeded sample of 30 Feynman equations.

Every method gets the same per-task budget on the same data (1,000 training rows per Feynman task,
noise 0 and 1% of std(y)), scored by the SRBench rules of ``kandisco.bench``. PySR runs only where
Julia is installed (elsewhere its rows say ``unavailable: Julia is not installed``).

Runs are filed as ``experiments/results/<suite>/<date>_<commit>/`` (results.jsonl, manifest.json,
report.md, report.png) and the index ``experiments/results/README.md`` is rewritten:

    python experiments/bench_compare.py                     # the comparison -> results/compare/<date>_<commit>/
    python experiments/bench_compare.py --full --seeds 0,1,2
                                                            # all 100 Feynman equations, kandisco only, 3 seeds
                                                            #   -> results/feynman/<date>_<commit>/
    python experiments/bench_compare.py --smoke             # Kepler + 2 equations, 10 s -> results/smoke/...
    python experiments/bench_compare.py --out DIR           # any directory instead of the layout

Interrupted runs resume (rows already in results.jsonl are skipped; with the layout, the latest
folder of the same suite and commit is reused). ``--scheduler ADDRESS`` runs the jobs on a Dask
cluster instead of ``--jobs`` local processes.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from kandisco.bench import BenchError, Task, load_tasks, make_jobs, run_bench, sample_feynman_ids
from kandisco.bench.provenance import output_dir
from kandisco.bench.report import write_report

HERE = Path(__file__).resolve().parent
RESULTS_ROOT = HERE / "results"
SAMPLE_SIZE, SAMPLE_SEED = 30, 0  # the same sample as feynman_recovery.py --sample 30 --seed 0
METHODS = ["kandisco", "operon", "gplearn", "pykan", "pysr"]
NOISE = [0.0, 0.01]
SMOKE_IDS = ["I.12.1", "II.3.24"]
SUITE_COMPARE, SUITE_FULL, SUITE_SMOKE = "compare", "feynman", "smoke"  # folder names under --results-root


def _numbers(kind: Callable[[str], float | int], what: str) -> Callable[[str], list]:
    """An argparse type for comma-separated numbers (``0,1,2``), duplicates dropped, order kept."""

    def parse(text: str) -> list:
        try:
            values = [kind(v.strip()) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} are comma-separated numbers such as 0,1,2; got {text!r}") from None
        if not values:
            raise argparse.ArgumentTypeError(f"no {what} in {text!r}")
        return list(dict.fromkeys(values))

    return parse


def parser() -> argparse.ArgumentParser:
    """The command line (kept separate so that tests can check it without running anything)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help="all 100 Feynman equations, kandisco only")
    mode.add_argument("--smoke", action="store_true", help=f"Kepler + {', '.join(SMOKE_IDS)} at 10 s (a quick check)")
    ap.add_argument("--budget", type=float, help="seconds per job (default 60; 10 with --smoke)")
    ap.add_argument("--methods", help=f"comma-separated (default {','.join(METHODS)}; kandisco with --full)")
    ap.add_argument("--seeds", type=_numbers(int, "seeds"), default=[0], help="comma-separated seeds, e.g. 0,1,2 (default 0)")
    ap.add_argument("--noise", type=_numbers(float, "noise levels"),
                    help=f"comma-separated noise levels, fractions of std(y) (default {','.join(f'{n:g}' for n in NOISE)})")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="jobs at once (default: number of cores)")
    ap.add_argument("--scheduler", help="Dask scheduler address")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--results-root", type=Path,
                       help="file the run as ROOT/<suite>/<date>_<commit>/ (default experiments/results)")
    where.add_argument("--out", type=Path, help="any output directory instead of the results layout")
    return ap


@dataclass
class Plan:
    """What one invocation runs and where it writes."""

    tasks: list[Task]
    methods: list[str]
    noise: list[float]
    seeds: list[int]
    budget: float
    out: Path
    root: Path | None  # the results root the run is filed under (None with --out)
    title: str
    notes: list[str]


def plan(args: argparse.Namespace) -> Plan:
    """Tasks, methods, noise, seeds, budget, output folder and report text for parsed ``args``."""
    seeds = list(args.seeds)
    if args.full:
        suite, methods, budget = SUITE_FULL, ["kandisco"], 60.0
        title = "Feynman, all 100 equations: kandisco"
        notes = ["All 100 equations of datasets/feynman_equations.csv."]
        tasks = load_tasks("feynman")
    else:
        ids = SMOKE_IDS if args.smoke else sample_feynman_ids(SAMPLE_SIZE, SAMPLE_SEED)
        suite, methods, budget = (SUITE_SMOKE, METHODS, 10.0) if args.smoke else (SUITE_COMPARE, METHODS, 60.0)
        title = ("Smoke test: Kepler + 2 Feynman equations" if args.smoke
                 else f"Kepler + {SAMPLE_SIZE} Feynman equations: kandisco, Operon, gplearn, pykan, PySR")
        how = "" if args.smoke else f"a seeded sample (numpy default_rng({SAMPLE_SEED}), {SAMPLE_SIZE} of 100) "
        notes = [f"Tasks: kepler and the Feynman equations {how}{', '.join(ids)}."]
        tasks = load_tasks("kepler") + load_tasks("feynman", ids)
    if args.methods:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.jobs is not None and args.jobs < 1:
        raise BenchError(f"--jobs must be at least 1, got {args.jobs}")
    root = None if args.out is not None else (args.results_root or RESULTS_ROOT)
    out = output_dir(args.out, root, suite)
    return Plan(tasks, list(methods), list(args.noise or NOISE), seeds, args.budget or budget, out, root, title, notes)


def _refresh_index(root: Path) -> None:
    """Rewrite ROOT/README.md with experiments/results_index.py (the committed index of runs)."""
    spec = importlib.util.spec_from_file_location("results_index", HERE / "results_index.py")
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--root", str(root)])


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        p = plan(args)
        jobs = make_jobs(p.tasks, p.methods, p.noise, p.seeds, p.budget)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def progress(row: dict) -> None:
        if row.get("event") == "start":
            print(f"{row['todo']} jobs to run, {row['done']} already in {row['path']}", file=sys.stderr)
            return
        what = row.get("formula") if row.get("status") == "ok" else row.get("status")
        mark = "OK " if row.get("recovered") else "-- "
        print(f"{mark}{row['task']:>10} {row['method']:<9} noise={row['noise']:<5g} seed={row['seed']} "
              f"{float(row.get('seconds') or 0):6.1f}s  {what}", file=sys.stderr, flush=True)

    run_bench(jobs, p.out, workers=args.jobs, scheduler=args.scheduler, progress=progress)
    md, png = write_report(p.out, p.title, p.notes, task_order=[t.id for t in p.tasks])
    print(f"report: {md}, {png}")
    if p.root is not None:
        _refresh_index(p.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
