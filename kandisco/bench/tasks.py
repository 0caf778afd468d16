"""Benchmark tasks: the Feynman equations, Kepler's planets, and user tables with a known formula.

Every task turns into the same :class:`TaskData` for a (noise, seed): training rows whose target
carries Gaussian noise of ``noise * std(y)`` (as :func:`kandisco.datasets.feynman_data`; SRBench's
own code scales by the root mean square of y, which is never smaller), and *noise-free* test rows
on which R^2 is scored.

* ``feynman``: the 100 equations of ``datasets/feynman_equations.csv``. Training data is exactly
  ``feynman_data(id, n_train, noise, seed)`` (what ``experiments/feynman_recovery.py`` uses); test
  data is ``feynman_data(id, n_test, 0, TEST_SEED_OFFSET + seed)``.
* ``feynman-realistic``: the same equations sampled as measurements are (``realistic_feynman_data``):
  each variable log-uniform over decades (``datasets/feynman_realistic.csv`` documents the rule of
  every variable), signed where the physics allows (charges, velocities, fields, positions, angles
  on [-pi, pi]), rows outside the law's domain redrawn; test rows the same way with another seed.
* ``kepler``: the 11 bodies of ``datasets/kepler_planets.csv``, ``T_years = a_AU**(3/2)`` with the
  eccentricity as a distractor. All rows train; the test rows are the law itself at points drawn
  uniformly inside the observed range of each feature.
* a task table (any CSV path): columns ``id, data, target, formula`` and optionally ``features``
  (separated by commas as ``--features`` takes them, by ``;`` or by spaces; blank: every numeric
  column but the target); ``data`` is a CSV path relative to the table. Scored like Kepler.

Units: each Feynman task carries its variables' units from ``datasets/feynman_units.csv`` (AI
Feynman's units table) and a task table's CSV those in its header (``v [m/s]``); they reach the
methods that use them (``kandisco-units``, which ``kandisco bench --units`` adds) as ``TaskData.units``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import sympy

from ..datasets import kepler_path
from ..errors import KandiscoError
from ..symbolic.parse import parse_formula

__all__ = ["BenchError", "Task", "TaskData", "SUITES", "FEYNMAN_NOISE_LEVELS", "TEST_SEED_OFFSET",
           "load_tasks", "feynman_tasks", "feynman_units", "kepler_task", "table_tasks", "sample_feynman_ids", "parse_features"]

FEYNMAN_NOISE_LEVELS = (0.0, 0.001, 0.01, 0.1)
TEST_SEED_OFFSET = 1_000_000_007  # test points use another random stream than the training points
SUITES = ("feynman", "feynman-realistic", "kepler")


class BenchError(KandiscoError, ValueError):
    """A benchmark request that cannot run as given (unknown suite, id, method; bad task table)."""


@dataclass
class TaskData:
    """What one job sees: noisy training rows, noise-free test rows, the true law and its ranges."""

    task: str
    features: tuple[str, ...]
    target: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    truth: sympy.Expr | None
    ranges: dict[str, tuple[float, float]]
    noise: float
    seed: int
    units: dict[str, str] | None = None  # unit of every feature and of the target, where known


@dataclass(frozen=True)
class Task:
    """One benchmark problem: a Feynman equation id, or a CSV with a known formula."""

    id: str
    suite: str
    features: tuple[str, ...]
    target: str
    formula: str
    data_path: str | None = None  # CSV tasks only
    ranges: tuple[tuple[float, float], ...] = field(default=())  # Feynman: the table's sampling ranges
    units: tuple[tuple[str, str], ...] = field(default=())  # (name, unit) of the features and target, where known

    def truth(self) -> sympy.Expr:
        """The true law as sympy, every feature a real symbol of its name."""
        if self.suite in ("feynman", "feynman-realistic"):
            from ..datasets import feynman_equation

            return feynman_equation(self.id).expr
        return parse_formula(self.formula, self.features)

    def data(self, noise: float, seed: int, n_train: int = 1000, n_test: int = 1000) -> TaskData:
        """Training rows with ``noise * std(y)`` Gaussian noise and noise-free test rows (same seed, same data)."""
        if noise < 0:
            raise BenchError(f"noise must be >= 0, got {noise}")
        if self.suite == "feynman":
            from ..datasets import feynman_data

            X, y, eq = feynman_data(self.id, n=n_train, noise=noise, seed=seed)
            Xt, yt, _ = feynman_data(self.id, n=n_test, noise=0.0, seed=TEST_SEED_OFFSET + seed)
            ranges = dict(zip(eq.variables, eq.ranges))
            return TaskData(self.id, self.features, self.target, X, y, Xt, yt, eq.expr, ranges, noise, seed, dict(self.units) or None)
        if self.suite == "feynman-realistic":
            from ..datasets import realistic_feynman_data

            X, y, eq = realistic_feynman_data(self.id, n=n_train, noise=noise, seed=seed)
            Xt, yt, _ = realistic_feynman_data(self.id, n=n_test, noise=0.0, seed=TEST_SEED_OFFSET + seed)
            both = np.vstack([X, Xt])  # the equivalence screen samples where the data are (signed: across 0)
            ranges = {v: (float(lo), float(hi)) for v, lo, hi in zip(eq.variables, both.min(axis=0), both.max(axis=0))}
            return TaskData(self.id, self.features, self.target, X, y, Xt, yt, eq.expr, ranges, noise, seed, dict(self.units) or None)
        return self._csv_data(noise, seed, n_test)

    def _csv_data(self, noise: float, seed: int, n_test: int) -> TaskData:
        from ..data import load_dataset

        ds = load_dataset(self.data_path, self.target, list(self.features))
        X, y = ds.X, ds.y.copy()
        rng = np.random.default_rng(seed)
        if noise:
            y = y + rng.normal(0.0, noise * np.std(y), size=len(y))
        lows, highs = X.min(axis=0), X.max(axis=0)
        test_rng = np.random.default_rng(TEST_SEED_OFFSET + seed)
        Xt = test_rng.uniform(lows, highs, size=(n_test, X.shape[1]))
        truth = self.truth()
        syms = [sympy.Symbol(f, real=True) for f in self.features]
        yt = np.asarray(sympy.lambdify(syms, truth, modules="numpy")(*Xt.T), dtype=np.float64) * np.ones(n_test)
        ranges = {f: (float(lo), float(hi)) for f, lo, hi in zip(self.features, lows, highs)}
        units = {**dict(self.units), **ds.units} or None
        return TaskData(self.id, self.features, self.target, X, y, Xt, yt, truth, ranges, noise, seed, units)


def feynman_tasks(suite: str = "feynman") -> list[Task]:
    """The 100 Feynman equations in table order (``suite="feynman-realistic"``: sampled over decades, signed)."""
    from ..datasets import feynman_equations

    units = feynman_units()
    return [Task(eq.id, suite, eq.variables, eq.output, eq.formula, None, eq.ranges,
                 tuple((n, units[n]) for n in (*eq.variables, eq.output) if n in units))
            for eq in feynman_equations().values()]


def feynman_units() -> dict[str, str]:
    """``datasets/feynman_units.csv`` as ``{variable: unit}`` in pint's spelling (``m**2*s**-2*kg``; ``1``
    when dimensionless). The table gives exponents of m, s, kg, K and V (no ampere: charge is J/V)."""
    from ..datasets import DATASETS_DIR

    path = DATASETS_DIR / "feynman_units.csv"
    out = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            powers = [(u, int(row[col])) for u, col in (("m", "m"), ("s", "s"), ("kg", "kg"), ("K", "T"), ("V", "V"))]
            out[row["variable"].strip()] = "*".join(u if p == 1 else f"{u}**{p}" for u, p in powers if p) or "1"
    return out


def kepler_task() -> Task:
    """Kepler's third law on the Solar System's bodies (period in years, semi-major axis in AU)."""
    return Task("kepler", "kepler", ("a_AU", "eccentricity"), "T_years", "a_AU**(3/2)", str(kepler_path()))


def table_tasks(path: str | Path) -> list[Task]:
    """Tasks from a user table with columns ``id, data, target, formula[, features]``."""
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"{path}: no such task table (suites are {', '.join(SUITES)} or a CSV path)")
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"id", "data", "target", "formula"} - set(reader.fieldnames or [])
        if missing:
            raise BenchError(f"{path}: task table lacks column(s) {', '.join(sorted(missing))} "
                             "(needs id, data, target, formula and optionally features)")
        tasks = []
        for line, row in enumerate(reader, start=2):
            data = Path(row["data"].strip())
            data = data if data.is_absolute() else path.parent / data
            task_id = (row["id"] or "").strip()
            features = parse_features(row.get("features") or "", f"{path}:{line}: task {task_id!r}")
            if not features:
                features = _numeric_columns(data, row["target"].strip(), f"{path}:{line}")
            task = Task(task_id, "table", features, row["target"].strip(), row["formula"].strip(), str(data))
            try:
                task.truth()
            except ValueError as exc:
                raise BenchError(f"{path}:{line}: formula of task {task.id!r}: {exc}") from None
            tasks.append(task)
    return tasks


def parse_features(cell: str, where: str = "features") -> tuple[str, ...]:
    """Feature names of a task table's ``features`` cell: ``x,y``, ``x;y`` or ``x y``; ``()`` when blank.

    Commas and semicolons separate when present (blanks around names are stripped), spaces otherwise.
    An empty name (``x,,y``, a trailing comma), a name with a blank inside or a repeated name is a
    BenchError naming ``where`` and the cell.
    """
    text = cell.strip()
    if not text:
        return ()
    names = [n.strip() for n in re.split(r"[,;]", text)] if re.search(r"[,;]", text) else text.split()
    for name in names:
        problem = ("an empty name" if not name else f"the name {name!r} contains a blank" if re.search(r"\s", name)
                   else f"{name!r} appears twice" if names.count(name) > 1 else None)
        if problem:
            raise BenchError(f"{where}: features cell {cell!r} has {problem} "
                             "(write names separated by commas, semicolons or spaces, e.g. x,y)")
    return tuple(names)


def _numeric_columns(data: Path, target: str, where: str) -> tuple[str, ...]:
    from ..data import DataError, load_dataset

    try:
        return tuple(load_dataset(data, target).feature_names)
    except DataError as exc:
        raise BenchError(f"{where}: {exc}") from None


def load_tasks(suites: str | Sequence[str], ids: Sequence[str] | None = None) -> list[Task]:
    """Tasks of the named suites (comma-separated names or task-table paths), filtered by ``ids``.

    An id that no selected suite has is an error naming the closest ids.
    """
    if isinstance(suites, str):
        suites = [s.strip() for s in suites.split(",") if s.strip()]
    if not suites:
        raise BenchError("no suite given")
    tasks: list[Task] = []
    for suite in suites:
        if suite in ("feynman", "feynman-realistic"):
            tasks += feynman_tasks(suite)
        elif suite == "kepler":
            tasks.append(kepler_task())
        elif suite.endswith(".csv") or Path(suite).exists():
            tasks += table_tasks(suite)
        else:
            raise BenchError(f"unknown suite {suite!r}: use {', '.join(SUITES)} or the path of a task table CSV")
    if ids:
        by_id = {t.id: t for t in tasks}
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], list(by_id), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise BenchError(f"unknown task id {unknown[0]!r} in suite(s) {', '.join(suites)}{hint}")
        tasks = [by_id[i] for i in dict.fromkeys(ids)]
    return tasks


def sample_feynman_ids(n: int, seed: int = 0) -> list[str]:
    """A seeded sample of ``n`` Feynman ids in table order (the sample ``feynman_recovery.py --sample`` draws)."""
    ids = [t.id for t in feynman_tasks()]
    if not 0 < n <= len(ids):
        raise BenchError(f"sample size must be between 1 and {len(ids)}, got {n}")
    picked = np.random.default_rng(seed).choice(ids, size=n, replace=False).tolist()
    return sorted(picked, key=ids.index)
