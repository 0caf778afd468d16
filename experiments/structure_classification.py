"""Separability verdicts of kandisco.discovery.structure on Feynman laws of known structure.

Each law of tests/data/structure_labels.csv (top level: multiplicative, additive or neither) is
tested on 500 points of its ranges (seed 0), once on the exact formula and, with --surrogate, once
on a KAN surrogate fitted to 1,000 noiseless samples (what the discovery pipeline sees; thresholds
as the structured strategy uses them). Prints the table and writes experiments/results/structure_classification.md.

    python experiments/structure_classification.py [--surrogate]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import sympy
import torch

from kandisco.datasets import feynman_data, feynman_equation
from kandisco.discovery.structure import MULTIPLICATIVE_THRESHOLD, ADDITIVE_THRESHOLD, decompose, separable_groups
from kandisco.discovery.structured import SURROGATE_TOLERANCE
from kandisco.discovery.surrogate import fit_surrogate

ROOT = Path(__file__).resolve().parents[1]


def verdict(fn, points, tolerance: float) -> str:
    if len(separable_groups(fn, points, "multiplicative", tolerance * MULTIPLICATIVE_THRESHOLD)) > 1:
        return "multiplicative"
    if len(separable_groups(fn, points, "additive", tolerance * ADDITIVE_THRESHOLD)) > 1:
        return "additive"
    return "neither"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--surrogate", action="store_true", help="also judge KAN surrogates fitted to samples")
    args = ap.parse_args()
    torch.set_num_threads(1)
    labels = dict(line.split(",") for line in (ROOT / "tests/data/structure_labels.csv").read_text().split()[1:])
    rows, t0 = [], time.perf_counter()
    for eq_id, truth in labels.items():
        eq = feynman_equation(eq_id)
        lo, hi = np.array([r[0] for r in eq.ranges]), np.array([r[1] for r in eq.ranges])
        points = np.random.default_rng(0).uniform(lo, hi, size=(500, len(lo)))
        f = sympy.lambdify(eq.symbols, eq.expr, "numpy")
        exact = verdict(lambda X: np.asarray(f(*X.T), dtype=float) * np.ones(len(X)), points, 1.0)
        row = {"id": eq_id, "formula": eq.formula, "truth": truth, "exact": exact}
        if args.surrogate:
            X, y, _ = feynman_data(eq_id, n=1000, seed=0)
            sur = fit_surrogate(X[:800], y[:800], X[800:], y[800:], seed=0)
            tol = max(SURROGATE_TOLERANCE, 2.0 * sur.val_error / MULTIPLICATIVE_THRESHOLD)
            row.update(surrogate=verdict(sur, X[:800], tol), surrogate_error=sur.val_error,
                       tree=decompose(sur, X[:800], list(eq.variables), tolerance=tol).describe().replace("\n", " / "))
        rows.append(row)
        print(row)
    lines = [
        "# Structure verdicts on Feynman laws of known structure",
        "",
        f"`python experiments/structure_classification.py{' --surrogate' if args.surrogate else ''}` ({time.perf_counter() - t0:.0f} s).",
        "Top-level verdict: the law splits into a product, into a sum, or neither.",
        "",
    ]
    for key in ["exact"] + (["surrogate"] if args.surrogate else []):
        right = sum(r[key] == r["truth"] for r in rows)
        false_sep = sum(r[key] != "neither" and r[key] != r["truth"] for r in rows)
        lines.append(f"- **{key}**: {right}/{len(rows)} right; false 'separable' verdicts: {false_sep}")
    lines += ["", "| id | formula | truth | exact" + (" | surrogate (rel. error) | surrogate tree" if args.surrogate else "") + " |",
              "|---|---|---|---" + ("|---|---" if args.surrogate else "") + "|"]
    for r in rows:
        extra = f" | {r['surrogate']} ({r['surrogate_error']:.1e}) | {r['tree']}" if args.surrogate else ""
        lines.append(f"| {r['id']} | `{r['formula']}` | {r['truth']} | {r['exact']}{extra} |")
    out = ROOT / "experiments/results/structure_classification.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:8]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
