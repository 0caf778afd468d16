"""Feynman recovery rate of `kandisco.discovery` (the discovery-pipeline issue's protocol).

For each equation: 1,000 points sampled uniformly in the table's ranges (seed 0), Gaussian noise of
``noise * std(y)``, ``discover`` with a per-equation budget, then the SRBench check of
``kandisco.symbolic.equivalence`` against the true formula. One JSON line per (equation, noise) is
appended to ``--out`` as soon as it finishes, so an interrupted run resumes where it stopped.

    python experiments/feynman_recovery.py --budget 60 --noise 0 --jobs 2 \
        --out experiments/results/feynman_recovery.jsonl

Prints (and writes beside the JSONL as .md) the per-equation table and the rate per noise level.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np


def run_one(eq_id: str, noise: float, budget: float, seed: int, n: int) -> dict:
    import torch

    torch.set_num_threads(1)  # one core per equation; --jobs sets how many run at once
    from kandisco.datasets import feynman_data
    from kandisco.discovery import discover
    from kandisco.symbolic.equivalence import check_equivalence

    X, y, eq = feynman_data(eq_id, n=n, noise=noise, seed=seed)
    start = time.perf_counter()
    row = {"id": eq_id, "noise": noise, "seed": seed, "budget": budget, "n_vars": len(eq.variables), "truth": eq.formula}
    try:
        res = discover(_dataset(X, y, eq), budget_seconds=budget, seed=seed)
        verdict = check_equivalence(res.expr, eq.expr, dict(zip(eq.variables, eq.ranges)), timeout=10)
        row.update(status="ok", formula=res.formula, r2_test=res.r2_test, complexity=res.complexity,
                   recovered=verdict.recovered, verdict=verdict.verdict, strategy=res.pareto[res.chosen].strategy)
    except Exception as exc:  # noqa: BLE001 - a failure is a result to record
        row.update(status=f"error: {type(exc).__name__}: {exc}", recovered=False)
    row["seconds"] = time.perf_counter() - start
    return row


def _dataset(X, y, eq):
    from kandisco.data import load_dataset

    return load_dataset((X, y), feature_names=list(eq.variables), target_name=eq.output)


def _job(args: tuple) -> dict:
    return run_one(*args)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ids", help="comma-separated equation ids (default: all 100)")
    ap.add_argument("--sample", type=int, help="a seeded random sample of this many ids instead")
    ap.add_argument("--noise", default="0", help="comma-separated noise levels (fraction of std(y))")
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", default="experiments/results/feynman_recovery.jsonl")
    args = ap.parse_args(argv)

    from kandisco.datasets import feynman_equations

    ids = list(feynman_equations())
    if args.ids:
        ids = [i.strip() for i in args.ids.split(",")]
    elif args.sample:
        ids = sorted(np.random.default_rng(args.seed).choice(ids, size=args.sample, replace=False).tolist(), key=ids.index)
    noises = [float(v) for v in args.noise.split(",")]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if out.exists():
        for line in out.read_text().splitlines():
            r = json.loads(line)
            done.add((r["id"], r["noise"], r["seed"], r["budget"]))
    jobs = [(i, nz, args.budget, args.seed, args.n) for nz in noises for i in ids if (i, nz, args.seed, args.budget) not in done]
    print(f"{len(jobs)} jobs to run ({len(done)} already in {out})", file=sys.stderr)
    ctx = mp.get_context("spawn")
    with ctx.Pool(args.jobs, maxtasksperchild=1) as pool, out.open("a") as fh:
        for row in pool.imap_unordered(_job, jobs):
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            mark = "OK " if row.get("recovered") else "-- "
            print(f"{mark}{row['id']:>10} noise={row['noise']:<5} {row['seconds']:6.1f}s  {row.get('formula', row['status'])}", file=sys.stderr)
    report(out, ids, noises, args.seed, args.budget)
    return 0


def report(path: Path, ids: list[str], noises: list[float], seed: int, budget: float) -> str:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows = [r for r in rows if r["id"] in ids and r["noise"] in noises and r["seed"] == seed and r["budget"] == budget]
    lines = [f"# Feynman recovery, kandisco.discovery, budget {budget:g} s/equation, seed {seed}, 1000 points", ""]
    lines.append("| noise | equations | recovered | rate | median seconds |")
    lines.append("|---|---|---|---|---|")
    for nz in noises:
        sub = [r for r in rows if r["noise"] == nz]
        rec = sum(bool(r.get("recovered")) for r in sub)
        med = float(np.median([r["seconds"] for r in sub])) if sub else float("nan")
        lines.append(f"| {nz:g} | {len(sub)} | {rec} | {rec / max(len(sub), 1):.0%} | {med:.1f} |")
    lines += ["", "| id | noise | recovered | verdict | strategy | seconds | test R^2 | formula |", "|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["noise"], ids.index(r["id"]) if r["id"] in ids else 0)):
        formula = str(r.get("formula", r["status"])).replace("|", "\\|")
        r2 = r.get("r2_test")
        lines.append(f"| {r['id']} | {r['noise']:g} | {'yes' if r.get('recovered') else 'no'} | {r.get('verdict', '-')} | "
                     f"{r.get('strategy', '-')} | {r['seconds']:.1f} | {r2 if r2 is None else f'{r2:.6f}'} | `{formula}` |")
    text = "\n".join(lines) + "\n"
    path.with_suffix(".md").write_text(text)
    print("\n".join(lines[:4 + len(noises)]))
    return text


if __name__ == "__main__":
    sys.exit(main())
