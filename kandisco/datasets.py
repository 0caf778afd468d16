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

__all__ = ["DATASETS_DIR", "FeynmanEquation", "feynman_equations", "feynman_equation", "feynman_data", "kepler_path",
           "REALISTIC_DECADES", "realistic_rules", "realistic_feynman_data"]

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


# "realistic" sampling: each variable over decades, signed where the physics allows
REALISTIC_DECADES = (1.0, 0.5, 0.25)  # the scales of each variable's decades tried, widest first, until the law is finite and measurable
REALISTIC_PROBE_SEED = 20261202  # the scale of an equation is chosen on this probe, so train and test rows share it
REALISTIC_MAX_Y_DECADES = 20  # a target spanning more decades than this is no measurement: the scale is narrowed


@lru_cache(maxsize=1)
def realistic_rules() -> dict[str, tuple[str, bool, float, str]]:
    """``datasets/feynman_realistic.csv`` as ``{variable: (sampling, signed, decades, note)}``.

    ``log``: the magnitude log-uniform from the table's low bound to its high bound times
    ``10**decades`` (scaled down by the equation's scale), with a random sign where ``signed``;
    ``angle``: uniform on [-pi, pi].
    """
    out = {}
    with (DATASETS_DIR / "feynman_realistic.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            out[row["variable"]] = (row["sampling"], row["signed"] == "1", float(row["decades"]), row["note"])
    return out


def _realistic_sample(eq: FeynmanEquation, n: int, rng: np.random.Generator, scale: float) -> np.ndarray:
    rules = realistic_rules()
    cols = []
    for name, (low, high) in zip(eq.variables, eq.ranges):
        kind, signed, decades, _ = rules.get(name, ("log", False, 2.0, ""))
        if kind == "angle":
            col = rng.uniform(-np.pi, np.pi, n)
        elif low <= 0:  # a range from 0 (a fraction): log sampling has no bottom, keep the table's range
            col = rng.uniform(low, high, n)
        else:
            top = np.log10(high) + decades * scale
            col = 10 ** rng.uniform(np.log10(low), top, n)
            if signed:
                col = col * rng.choice([-1.0, 1.0], n)
        cols.append(col)
    return np.column_stack(cols)


def _realistic_rows(eq: FeynmanEquation, n: int, rng: np.random.Generator, scale: float) -> tuple[np.ndarray, np.ndarray] | None:
    """``n`` rows where the law is finite and non-zero (rows outside its domain, v > c say, redrawn), or None."""
    fn = sympy.lambdify(eq.symbols, eq.expr, modules="numpy")
    X_parts, y_parts, have = [], [], 0
    for _ in range(20):
        X = _realistic_sample(eq, 2 * n, rng, scale)
        with np.errstate(all="ignore"):
            y = np.asarray(fn(*X.T), dtype=np.float64) * np.ones(len(X))
        ok = np.isfinite(y) & (y != 0)
        if ok.mean() < 0.5:
            return None  # most of the box is outside the law's domain at this scale
        X_parts.append(X[ok])
        y_parts.append(y[ok])
        have += int(ok.sum())
        if have >= n:
            break
    X, y = np.concatenate(X_parts)[:n], np.concatenate(y_parts)[:n]
    if len(y) < n:
        return None
    span = np.log10(np.max(np.abs(y))) - np.log10(np.min(np.abs(y)))
    if span > REALISTIC_MAX_Y_DECADES or np.std(y) <= 1e-12 * np.max(np.abs(y)):
        return None
    return X, y


@lru_cache(maxsize=None)
def realistic_scale(eq_id: str) -> float | None:
    """The widest scale of :data:`REALISTIC_DECADES` at which ``eq_id``'s law is finite and measurable,
    or None when there is none (the law is then sampled on the table's own uniform ranges)."""
    eq = feynman_equation(eq_id)
    for scale in REALISTIC_DECADES:
        if _realistic_rows(eq, 2000, np.random.default_rng(REALISTIC_PROBE_SEED), scale) is not None:
            return scale
    return None


def realistic_feynman_data(eq_id: str, n: int = 1000, noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray, FeynmanEquation]:
    """Like :func:`feynman_data`, sampled the "realistic" way: every variable over decades (its
    ``datasets/feynman_realistic.csv`` rule, at the equation's :func:`realistic_scale`), signed
    where the physics allows, rows outside the law's domain redrawn. An equation with no such scale
    (its target would span more than ``REALISTIC_MAX_Y_DECADES``) keeps the table's uniform sampling.
    The same seed gives the same data."""
    scale = realistic_scale(eq_id)
    if scale is None:
        return feynman_data(eq_id, n, noise, seed)
    eq = feynman_equation(eq_id)
    rng = np.random.default_rng(seed)
    rows = None
    for _ in range(5):  # the probe's scale works for almost every draw; redraw the rare one that does not
        rows = _realistic_rows(eq, n, rng, scale)
        if rows is not None:
            break
    if rows is None:
        return feynman_data(eq_id, n, noise, seed)
    X, y = rows
    if noise:
        y = y + rng.normal(0.0, noise * np.std(y), size=n)
    return X, y, eq


def kepler_path() -> Path:
    """``datasets/kepler_planets.csv``: semi-major axis, period and eccentricity of 11 bodies."""
    return DATASETS_DIR / "kepler_planets.csv"
