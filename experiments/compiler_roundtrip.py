"""Compile every Feynman formula to a KAN graph and check it computes the formula (issue 5, item 3).

For each equation: ``compile_formula`` with the default library, then the largest relative error of
the compiled graph's forward pass and of its ``formula()`` against the table's formula on 1,000
uniform points in the table's ranges (seed 0). Status ``ok`` when both are <= 1e-6, ``mismatch``
otherwise, ``unsupported`` when the compiler refuses (the reason is listed). The same check with
the smaller ``physics`` library subset (no tan, tanh, arcsin, x^4, 1/x^3 ...) shows what a missing
function does: powers become chains, tanh its exp form, arcsin is refused.

Run: ``python experiments/compiler_roundtrip.py`` (writes ``experiments/results/compiler_roundtrip.md``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from kandisco.datasets import feynman_equations
from kandisco.discovery.compiler import (
    UnsupportedExpressionError,
    compile_formula,
    compiled_edges,
    roundtrip_error,
)
from kandisco.symbolic.library import SUBSETS

TOL = 1e-6
OUT = Path(__file__).resolve().parent / "results" / "compiler_roundtrip.md"


def check(eq, library: str | None = None) -> dict:
    """One equation's row: status, errors, graph size, or the compiler's reason."""
    t0 = time.perf_counter()
    try:
        graph = compile_formula(eq.expr, eq.variables, library=library)
    except UnsupportedExpressionError as exc:
        return {"id": eq.id, "status": "unsupported", "reason": str(exc), "seconds": time.perf_counter() - t0}
    err = roundtrip_error(graph, eq.expr, eq.ranges, n=1000, seed=0)
    err_formula = roundtrip_error(graph, eq.expr, eq.ranges, n=1000, seed=0, formula=True)
    return {
        "id": eq.id,
        "status": "ok" if max(err, err_formula) <= TOL else "mismatch",
        "error": err,
        "error_formula": err_formula,
        "modules": len(graph.modules),
        "edges": len(compiled_edges(graph)),
        "names": ", ".join(graph.modules),
        "seconds": time.perf_counter() - t0,
    }


def table(rows: list[dict]) -> list[str]:
    lines = [
        "| id | status | max rel. error (graph) | max rel. error (formula()) | modules | edges | module names (or why unsupported) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["status"] == "unsupported":
            lines.append(f"| {r['id']} | unsupported | | | | | {r['reason']} |")
        else:
            lines.append(
                f"| {r['id']} | {r['status']} | {r['error']:.1e} | {r['error_formula']:.1e} | "
                f"{r['modules']} | {r['edges']} | {r['names']} |"
            )
    return lines


def counts_of(rows: list[dict]) -> dict[str, int]:
    return {s: sum(r["status"] == s for r in rows) for s in ("ok", "unsupported", "mismatch")}


def physics_section(eqs) -> tuple[list[str], dict[str, int]]:
    """Counts with the ``physics`` subset, and the rows that are not ``ok``."""
    rows = [check(eq, library="physics") for eq in eqs.values()]
    counts = counts_of(rows)
    lines = [
        "",
        "## With the smaller `physics` library",
        "",
        (
            f"`library=\"physics\"` ({', '.join(SUBSETS['physics'])}): **{counts['ok']} ok / "
            f"{counts['unsupported']} unsupported / {counts['mismatch']} mismatch**. Missing powers are"
        ),
        "chains of library powers (x^4 = (x^2)^2), tanh is compiled in its exp form; the rest:",
        "",
    ]
    return lines + table([r for r in rows if r["status"] != "ok"]), counts


def main() -> int:
    torch.set_num_threads(1)
    eqs = feynman_equations()
    t0 = time.perf_counter()
    rows = [check(eq) for eq in eqs.values()]
    total = time.perf_counter() - t0
    counts = counts_of(rows)
    ok_rows = [r for r in rows if r["status"] != "unsupported"]
    worst = max(ok_rows, key=lambda r: max(r["error"], r["error_formula"]))
    summary = [
        "# Compiler round trip on the Feynman table",
        "",
        "`python experiments/compiler_roundtrip.py`: every formula of `datasets/feynman_equations.csv` is",
        "compiled with `kandisco.discovery.compiler.compile_formula` (default library), then the compiled",
        "graph's forward pass and its `formula()` are compared with the table's formula on 1,000 uniform",
        f"points in the table's ranges (seed 0). `ok`: both max relative errors <= {TOL:g}.",
        "",
        (
            f"**{counts['ok']} ok / {counts['unsupported']} unsupported / {counts['mismatch']} mismatch** "
            f"of {len(rows)} formulas; worst error {max(worst['error'], worst['error_formula']):.1e} ({worst['id']}); "
            f"{sum(r.get('modules', 0) for r in rows)} modules and {sum(r.get('edges', 0) for r in rows)} edges "
            f"in all; {total:.1f} s on one thread."
        ),
        "",
    ]
    physics, physics_counts = physics_section(eqs)
    lines = summary + table(rows) + physics
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\nwrote {OUT}")
    return 0 if counts["mismatch"] == 0 and physics_counts["mismatch"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
