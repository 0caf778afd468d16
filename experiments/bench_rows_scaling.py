"""Time to law against table size: three laws at 1,000 ... 1,000,000 rows, one run each.

Issue 16 asks that time to law at 100,000 rows be at most twice that at 1,000, with the same law.
Discovery searches on a seeded subsample (``SearchConfig.search_rows``), judges every formula on all
validation rows and refits the chosen law on all training rows, so the search itself does not grow
with the table. Each row of the table is one ``kandisco.discover`` call (60 s budget, seed 0) in this
process; "exact" is sympy equivalence with the true law (:func:`kandisco.symbolic.equivalence.check_equivalence`).

    python experiments/bench_rows_scaling.py                  # every core, 1e3 .. 1e6 rows
    python experiments/bench_rows_scaling.py --jobs 1 --rows 1000,10000
    python experiments/bench_rows_scaling.py --out experiments/results/rows_scaling.md
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sympy

import kandisco
from kandisco.symbolic.equivalence import check_equivalence


@dataclass(frozen=True)
class Law:
    name: str
    truth: str
    variables: tuple[str, ...]
    ranges: tuple[tuple[float, float], ...]
    fn: Callable[..., np.ndarray]


LAWS = (
    Law("lorentz", "q*(E + v*B)", ("q", "E", "v", "B"), ((1, 3),) * 4, lambda q, E, v, B: q * (E + v * B)),
    Law("mixed", "exp(-E)*sin(2*q) + v**2", ("q", "E", "v"), ((1, 3),) * 3, lambda q, E, v: np.exp(-E) * np.sin(2 * q) + v**2),
    Law("gravity", "G*m1*m2/r**2", ("G", "m1", "m2", "r"), ((1, 2), (1, 5), (1, 5), (1, 3)),
        lambda G, m1, m2, r: G * m1 * m2 / r**2),
)


def _commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
        return head + (" (dirty)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(rows: list[int], jobs: int | None, budget: float, seed: int) -> list[dict]:
    out = []
    for law in LAWS:
        for n in rows:
            rng = np.random.default_rng(seed)
            X = np.column_stack([rng.uniform(lo, hi, n) for lo, hi in law.ranges])
            y = law.fn(*X.T)
            data = kandisco.load_dataset((X, y), feature_names=list(law.variables), target_name="y")
            t0 = time.perf_counter()
            res = kandisco.discover(data, budget_seconds=budget, seed=seed, n_jobs=jobs)
            seconds = time.perf_counter() - t0
            truth = sympy.sympify(law.truth, locals={v: sympy.Symbol(v, real=True) for v in law.variables})
            verdict = check_equivalence(res.expr, truth, dict(zip(law.variables, law.ranges))).verdict
            out.append({"law": law.name, "rows": n, "seconds": seconds, "formula": res.formula, "verdict": verdict,
                        "search_rows": res.config["search_rows"]})
            print(f"{law.name:8} {n:>8} rows {seconds:7.1f} s  {verdict:8} {res.formula}", flush=True)
    return out


def table(results: list[dict], jobs: int | None, budget: float) -> str:
    lines = [
        f"# Time to law against rows (budget {budget:g} s, n_jobs={jobs or 'all'}, seed 0)",
        "",
        f"commit {_commit()}; {platform.node()}, {os.cpu_count()} cores; `python experiments/bench_rows_scaling.py`",
        "",
        "| law | rows | seconds | x time at 1,000 | searched rows | verdict | formula |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    base = {r["law"]: r["seconds"] for r in results if r["rows"] == min(x["rows"] for x in results)}
    for r in results:
        lines.append(f"| {r['law']} | {r['rows']:,} | {r['seconds']:.1f} | {r['seconds'] / base[r['law']]:.2f} | "
                     f"{r['search_rows']:,} | {r['verdict']} | `{r['formula']}` |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000,10000,100000,1000000", help="comma-separated table sizes")
    parser.add_argument("--jobs", type=int, help="n_jobs for discover (default: every core)")
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="also write the table (markdown) here")
    args = parser.parse_args()
    rows = [int(v) for v in args.rows.split(",") if v.strip()]
    results = run(rows, args.jobs, args.budget, args.seed)
    text = table(results, args.jobs, args.budget)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
