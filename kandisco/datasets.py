"""Shipped data: the AI Feynman equation table (data generated on demand) and Kepler's planets.

Formulas in the table use variable names that collide with sympy's (``gamma``, ``beta``, ``I``), so
they are always parsed with every variable given as a local symbol.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import sympy

__all__ = ["DATASETS_DIR", "FeynmanEquation", "feynman_equations", "feynman_equation", "feynman_data", "kepler_path"]

DATASETS_DIR = Path(__file__).resolve().parents[1] / "datasets"


@dataclass(frozen=True)
class FeynmanEquation:
    """One row of the Feynman table: ``output = formula(variables)`` with uniform sampling ranges."""

    id: str
    output: str
    formula: str
    variables: tuple[str, ...]
    ranges: tuple[tuple[float, float], ...]

    @property
    def symbols(self) -> list[sympy.Symbol]:
        return [sympy.Symbol(v, real=True) for v in self.variables]

    @property
    def expr(self) -> sympy.Expr:
        """The formula as sympy, with every variable a (real) symbol, never a sympy function."""
        local = {v: s for v, s in zip(self.variables, self.symbols)}
        return sympy.parse_expr(self.formula, local_dict=local)


@lru_cache(maxsize=1)
def feynman_equations() -> dict[str, FeynmanEquation]:
    """All equations of ``datasets/feynman_equations.csv`` keyed by id (``"I.6.2a"``, ...)."""
    path = DATASETS_DIR / "feynman_equations.csv"
    out: dict[str, FeynmanEquation] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            names, ranges = [], []
            for i in range(1, 11):
                name = (row.get(f"v{i}_name") or "").strip()
                if name:
                    names.append(name)
                    ranges.append((float(row[f"v{i}_low"]), float(row[f"v{i}_high"])))
            out[row["id"]] = FeynmanEquation(row["id"], row["output"], row["formula"], tuple(names), tuple(ranges))
    return out


def feynman_equation(eq_id: str) -> FeynmanEquation:
    """One equation by id; a clear KeyError lists close ids when it is mistyped."""
    table = feynman_equations()
    if eq_id not in table:
        import difflib

        close = difflib.get_close_matches(eq_id, table, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown Feynman equation {eq_id!r}{hint}")
    return table[eq_id]


def feynman_data(
    eq_id: str, n: int = 1000, noise: float = 0.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, FeynmanEquation]:
    """Sample ``n`` points uniformly in the table's ranges; add Gaussian noise of ``noise * std(y)``.

    Returns ``(X (n, d), y (n,), equation)``. The same seed gives the same data.
    """
    eq = feynman_equation(eq_id)
    rng = np.random.default_rng(seed)
    lows = np.array([r[0] for r in eq.ranges])
    highs = np.array([r[1] for r in eq.ranges])
    X = rng.uniform(lows, highs, size=(n, len(lows)))
    fn = sympy.lambdify(eq.symbols, eq.expr, modules="numpy")
    y = np.asarray(fn(*X.T), dtype=np.float64) * np.ones(n)
    if noise:
        y = y + rng.normal(0.0, noise * np.std(y), size=n)
    return X, y, eq


def kepler_path() -> Path:
    """``datasets/kepler_planets.csv``: semi-major axis, period and eccentricity of 11 bodies."""
    return DATASETS_DIR / "kepler_planets.csv"
