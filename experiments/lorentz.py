"""Issue 18's acceptance on the Lorentz force F = q (E + v x B): ten signed inputs, all three components.

    python experiments/lorentz.py                 # 1,000 rows, 60 s per component, seed 0
    python experiments/lorentz.py --seeds 0,1,2 --budget 60

q ~ U(-2, 2); E, v, B components ~ U(-1, 1). One vector discovery (``target=["Fx", "Fy", "Fz"]``)
per seed; each component is scored exact when sympy finds it equal to the law. Prints a table and
writes it to experiments/results/lorentz.md (the commit in its title).
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import sympy

import kandisco

NAMES = ["q", "Ex", "Ey", "Ez", "vx", "vy", "vz", "Bx", "By", "Bz"]


def lorentz_table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    q = rng.uniform(-2, 2, n)
    E, v, B = (rng.uniform(-1, 1, (n, 3)) for _ in range(3))
    F = q[:, None] * (E + np.cross(v, B))
    return pd.DataFrame(np.column_stack([q, E, v, B, F]), columns=[*NAMES, "Fx", "Fy", "Fz"])


def truths() -> dict[str, sympy.Expr]:
    s = {n: sympy.Symbol(n, real=True) for n in NAMES}
    return {"Fx": s["q"] * (s["Ex"] + s["vy"] * s["Bz"] - s["vz"] * s["By"]),
            "Fy": s["q"] * (s["Ey"] + s["vz"] * s["Bx"] - s["vx"] * s["Bz"]),
            "Fz": s["q"] * (s["Ez"] + s["vx"] * s["By"] - s["vy"] * s["Bx"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--rows", type=int, default=1000)
    args = ap.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip() or "unknown"
    lines = [f"# Lorentz force, {args.rows} rows, {args.budget:g} s per component, commit {commit}", "",
             "| seed | component | exact | seconds | formula |", "|---|---|---|---|---|"]
    exact_total = 0
    seeds = [int(s) for s in args.seeds.split(",")]
    for seed in seeds:
        result = kandisco.discover(lorentz_table(args.rows, seed), target=["Fx", "Fy", "Fz"], budget_seconds=args.budget, seed=seed)
        for name, r in result.laws.items():
            law = r.expr.xreplace({x: sympy.Symbol(x.name, real=True) for x in r.expr.free_symbols})
            exact = sympy.simplify(law - truths()[name]) == 0
            exact_total += exact
            lines.append(f"| {seed} | {name} | {'yes' if exact else 'no'} | {r.seconds:.1f} | `{r.formula}` |")
        lines.append(f"| {seed} | shared factor | | | `{result.shared_factor}` |")
    lines += ["", f"{exact_total}/{3 * len(seeds)} components exact."]
    text = "\n".join(lines)
    print(text)
    (Path(__file__).resolve().parent / "results" / "lorentz.md").write_text(f"{text}\n\nRun on {datetime.date.today()}.\n")


if __name__ == "__main__":
    main()
