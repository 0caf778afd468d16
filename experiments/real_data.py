"""Discovery on real measurements: the law found beside the textbook law refitted, with errors.

Runs :func:`kandisco.discover` on each table of ``datasets/real/`` (real data behind classical laws,
sources in ``datasets/real/README.md``) and fits the textbook law's constants on the same rows
(scipy least squares through :func:`kandisco.symbolic.formula.refit_constants`, standard errors
from :mod:`kandisco.symbolic.uncertainty`). Both are judged on every row of the table (the tables
have 7-50 rows, so a 20% test split would be one to ten rows): RMSE, complexity, and the verdict
"as good" when the law found is at most 5% less accurate than the textbook law and no more complex.

    python experiments/real_data.py                 # every table, 60 s each -> a Markdown table on stdout
    python experiments/real_data.py --budget 20 --out experiments/results/real_data/<date>_<commit>.md
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import sympy

from kandisco import DataError, discover
from kandisco.bench.provenance import git_state
from kandisco.symbolic.formula import complexity, formula_rmse, refit_constants
from kandisco.symbolic.parse import parse_formula
from kandisco.symbolic.uncertainty import constant_errors, with_errors

ROOT = Path(__file__).resolve().parents[1] / "datasets" / "real"


@dataclass(frozen=True)
class RealTable:
    """One table: its file, the rows used, the target and inputs, and the textbook law (floats are its constants)."""

    name: str
    file: str
    target: str
    features: tuple[str, ...]
    textbook: str  # in the column names; every float is a constant to fit, from this start
    where: tuple[str, str] | None = None  # (column, value): the rows of one group


TABLES = [
    RealTable("Hubble 1929", "hubble1929.csv", "v_km_s", ("r_Mpc",), "500.0*r_Mpc"),
    RealTable("Boyle 1662", "boyle1662.csv", "pressure_inHg", ("volume_spaces",), "1400.0/volume_spaces"),
    RealTable("Galileo's ramp", "galileo_falling_bodies.csv", "distance_punti", ("height_punti",), "25.0*height_punti**0.5"),
    RealTable("capacitor discharge", "capacitor_discharge.csv", "V_volt", ("t_s",), "9.0*exp(-2.0*t_s)"),
    RealTable("Forbes' boiling points", "forbes_boiling_point.csv", "pres_inHg", ("bp_degF",), "0.4*exp(0.02*bp_degF)"),
    RealTable("Puromycin (treated)", "puromycin_michaelis_menten.csv", "rate_counts_per_min2", ("conc_ppm",),
              "200.0*conc_ppm/(0.06 + conc_ppm)", where=("state", "treated")),
    RealTable("Puromycin (untreated)", "puromycin_michaelis_menten.csv", "rate_counts_per_min2", ("conc_ppm",),
              "160.0*conc_ppm/(0.05 + conc_ppm)", where=("state", "untreated")),
    RealTable("Langmuir 1918 IX", "langmuir_1918_table_IX.csv", "q_mm3", ("p_bar",), "2.0*p_bar/(1 + 0.02*p_bar)"),
    RealTable("binary stars", "kepler_binary_stars.csv", "p_years", ("d_AU", "m1_Msun", "m2_Msun"),
              "1.0*d_AU**1.5/(m1_Msun + m2_Msun)**0.5"),
]


def load(table: RealTable) -> pd.DataFrame:
    frame = pd.read_csv(ROOT / table.file)
    if table.where is not None:
        column, value = table.where
        frame = frame[frame[column] == value]
    return frame[[*table.features, table.target]].reset_index(drop=True)


def textbook_fit(table: RealTable, frame: pd.DataFrame) -> tuple[str, float, int]:
    """The textbook law refitted on every row: the law with errors, its RMSE, its complexity."""
    symbols = [sympy.Symbol(n, real=True) for n in table.features]
    expr = parse_formula(table.textbook, list(table.features))
    X, y = frame[list(table.features)].to_numpy(float), frame[table.target].to_numpy(float)
    fitted = refit_constants(expr, symbols, X, y, max_nfev=2000)
    errors = constant_errors(fitted, symbols, X, y)
    return with_errors(fitted, errors.constants), formula_rmse(fitted, symbols, X, y), complexity(fitted)


def run(table: RealTable, budget: float, seed: int) -> dict:
    frame = load(table)
    row = {"table": table.name, "rows": len(frame)}
    try:
        start = time.perf_counter()
        result = discover(frame, target=table.target, features=list(table.features), budget_seconds=budget, seed=seed)
        row["seconds"] = time.perf_counter() - start
    except DataError as exc:
        row.update(found=f"(not run: {exc})", found_rmse=math.nan, found_cx=0)
        result = None
    text, text_rmse, text_cx = textbook_fit(table, frame)
    row.update(textbook=text, text_rmse=text_rmse, text_cx=text_cx)
    if result is not None:
        X, y = frame[list(table.features)].to_numpy(float), frame[table.target].to_numpy(float)
        row.update(found=result.formula_with_errors or result.formula, found_rmse=float(np.sqrt(np.mean((result.predict(X) - y) ** 2))),
                   found_cx=result.complexity, noise=result.config.get("noise", {}).get("kind"),
                   outliers=", ".join(str(r) for r in result.outliers) or "-")
    good = math.isfinite(row["found_rmse"]) and row["found_rmse"] <= 1.05 * text_rmse and row["found_cx"] <= text_cx
    row["verdict"] = "as good" if good else ("not run" if result is None else "worse")
    return row


def markdown(rows: list[dict], budget: float, seed: int) -> str:
    commit = git_state()["commit_short"]
    lines = [f"# Real-data development set: law found vs textbook law refitted (budget {budget:g} s, seed {seed}, commit {commit})",
             "", "RMSE on every row of the table; complexity = expression-tree nodes; errors are one sigma.", "",
             "| table | rows | law found | RMSE | cx | textbook law refitted | RMSE | cx | verdict | outlier lines | s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['table']} | {r['rows']} | `{r['found']}` | {r['found_rmse']:.4g} | {r['found_cx']} | `{r['textbook']}` | "
                     f"{r['text_rmse']:.4g} | {r['text_cx']} | {r['verdict']} | {r.get('outliers', '-')} | {r.get('seconds', 0):.0f} |")
    good = sum(r["verdict"] == "as good" for r in rows)
    lines += ["", f"**{good} of {len(rows)}** tables: the law found is as accurate as the textbook law (within 5%) and no more complex."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    args = ap.parse_args(argv)
    rows = []
    for table in TABLES:
        rows.append(run(table, args.budget, args.seed))
        print(f"{table.name}: {rows[-1]['found']} ({rows[-1]['verdict']})", file=sys.stderr)
    text = markdown(rows, args.budget, args.seed)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
