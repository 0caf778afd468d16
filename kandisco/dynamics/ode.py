"""Laws of motion from time series: ``discover_ode`` (issue 20).

A long-format table (one row per sample: a time column, the state columns and, for several
trajectories, a group column) is split into trajectories, each checked (enough samples, finite
values, time strictly increasing and evenly spaced, no gaps: a :class:`~kandisco.data.DataError`
naming the column and the file line otherwise). Each state's derivative is estimated per
trajectory (:mod:`.derivatives`, the ``derivative`` package); samples near a noisy trajectory's
ends, where smoothing splines are least reliable, are left out of the fit and said so in the notes.
Then :func:`kandisco.discover` runs once per state derivative with every state as an input, and the
found system is integrated back from each trajectory's first state (:mod:`.simulate`).

The pieces run alone too: :func:`prepare_trajectories` (split, validate, differentiate) gives the
table any regression can use (the SINDy adapter in :mod:`.sindy` uses the same one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import sympy

from ..data import DataError, name_rows
from ..discovery import DiscoveryResult, discover
from .derivatives import DerivativeEstimate, estimate_derivative
from .simulate import SimulationReport, simulate_laws
from .table import numeric_column, read_frame, row_name

__all__ = ["ODELaw", "ODEResult", "PreparedTrajectories", "Trajectory", "discover_ode", "prepare_trajectories", "MIN_SAMPLES"]

MIN_SAMPLES = 10  # per trajectory
EVEN_RTOL = 1e-3  # time steps within this fraction of the median step count as even (CSV rounding)
GAP_FACTOR = 1.5  # a step this many times the median is a gap
TRIM = 0.02  # fraction of a noisy trajectory's samples left out at each end (at least 2)


@dataclass
class Trajectory:
    """One trajectory: its label, times, states (n, n_states), derivative estimates and kept rows."""

    label: str
    t: np.ndarray
    X: np.ndarray
    dX: np.ndarray
    dX_sigma: np.ndarray  # (n_states,) each derivative's estimated error std (0: a clean series)
    dX_correlated: np.ndarray  # (n_states,) samples per independent derivative error (1: a clean series)
    smoothed0: np.ndarray  # the smoothed first state (the simulation's starting point)
    keep: np.ndarray  # boolean mask of the samples used in the fit
    methods: list[str]
    lines: np.ndarray  # file line (CSV) or row position (frame) of each sample


@dataclass
class PreparedTrajectories:
    """Trajectories checked and differentiated; :meth:`table` is the regression table."""

    time: str
    states: list[str]
    group: str | None
    trajectories: list[Trajectory]
    targets: list[str]  # derivative column names, one per state
    notes: list[str] = field(default_factory=list)
    rows_are_lines: bool = False  # Trajectory.lines are a file's line numbers (else a frame's row positions)
    units: dict[str, str] = field(default_factory=dict)  # from the table's header (``x [m]``), by column

    def table(self) -> pd.DataFrame:
        """Kept samples of every trajectory: the states and each state's estimated derivative."""
        frames = []
        for tr in self.trajectories:
            frame = pd.DataFrame(tr.X[tr.keep], columns=self.states)
            for k, name in enumerate(self.targets):
                frame[name] = tr.dX[tr.keep, k]
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def source_rows(self) -> np.ndarray:
        """For each row of :meth:`table`, the sample's line in the file (or row in the frame) it came from."""
        return np.concatenate([tr.lines[tr.keep] for tr in self.trajectories])

    def describe_rows(self, rows: Sequence[int]) -> str:
        """``lines 14, 15`` (a file) or ``rows 12, 13`` (a frame) for rows of :meth:`table`; at most 12 named."""
        return name_rows(self.source_rows()[np.asarray(rows, dtype=int)].tolist(), "line" if self.rows_are_lines else "row")

    def sigma(self, k: int) -> np.ndarray | None:
        """Per kept sample, the estimated error std of state ``k``'s derivative; None when every series was clean."""
        values = np.concatenate([np.full(int(tr.keep.sum()), tr.dX_sigma[k]) for tr in self.trajectories])
        if not np.any(values > 0):
            return None
        return np.where(values > 0, values, values[values > 0].min())  # a clean trajectory beside noisy ones: the smallest sigma

    def correlated_rows(self, k: int) -> float:
        """Rows per independent error of state ``k``'s derivative over the noisy trajectories (kept samples weigh in); 1 when all are clean."""
        pairs = [(int(tr.keep.sum()), float(tr.dX_correlated[k])) for tr in self.trajectories if tr.dX_sigma[k] > 0]
        total = sum(n for n, _ in pairs)
        return max(1.0, sum(n * c for n, c in pairs) / total) if total else 1.0

    def for_simulation(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """``(label, t, X)`` per trajectory, the first state replaced by its smoothed value."""
        out = []
        for tr in self.trajectories:
            X = tr.X.copy()
            X[0] = tr.smoothed0
            out.append((tr.label, tr.t, X))
        return out


@dataclass
class ODELaw:
    """One state's law: ``d state / dt = formula``."""

    state: str
    target: str
    formula: str  # sympy-parsable, in the state names
    r2_test: float  # held-out R^2 of the derivative (the discovery's test split)
    r2: float  # R^2 on every kept sample
    seconds: float
    result: DiscoveryResult | None = None  # None for methods other than kandisco
    outliers: list[int] = field(default_factory=list)  # samples beyond 5 robust sigmas of the law: lines of the file (rows of a frame)

    @property
    def expr(self) -> sympy.Expr:
        local = {s: sympy.Symbol(s, real=True) for s in _names_in(self.formula)}
        return sympy.sympify(self.formula, locals=local)


@dataclass
class ODEResult:
    """What :func:`discover_ode` found: a law per state, the simulation check, notes."""

    states: list[str]
    time: str
    laws: dict[str, ODELaw]
    simulation: SimulationReport | None
    prepared: PreparedTrajectories
    seconds: float
    notes: list[str] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)  # of the states, the time and each derivative column, where given

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``laws`` maps each state to its derivative's formula; R^2 and the simulation beside."""
        return {
            "states": self.states,
            "time": self.time,
            "laws": {s: law.formula for s, law in self.laws.items()},
            "r2": {s: _finite(law.r2) for s, law in self.laws.items()},
            "r2_test": {s: _finite(law.r2_test) for s, law in self.laws.items()},
            "targets": {s: law.target for s, law in self.laws.items()},
            "seconds": {s: law.seconds for s, law in self.laws.items()},
            "outliers": {s: law.outliers for s, law in self.laws.items()},
            "outlier_rows_are": "line numbers" if self.prepared.rows_are_lines else "row indices",
            "units": self.units,
            "simulation": _clean(self.simulation.to_dict()) if self.simulation is not None else None,
            "derivatives": {tr.label: tr.methods for tr in self.prepared.trajectories},
            "trajectories": len(self.prepared.trajectories),
            "notes": self.notes,
            "total_seconds": self.seconds,
        }


def _finite(v: float) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def _clean(obj: Any) -> Any:
    """inf and nan to None, so the JSON is strict."""
    if isinstance(obj, float):
        return _finite(obj)
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def _names_in(formula: str) -> set[str]:
    import re

    return set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", formula)) - {"sin", "cos", "tan", "exp", "log", "sqrt", "pi", "E", "Abs", "tanh",
                                                                    "asin", "acos", "atan", "sinh", "cosh", "sign", "erf", "erfc"}


def _check_times(t: np.ndarray, rows: np.ndarray, time: str, label: str, source: str, lines: bool) -> None:
    steps = np.diff(t)
    back = np.nonzero(steps <= 0)[0]
    if len(back):
        i = int(back[0])
        what = "repeats" if steps[i] == 0 else "decreases"
        hint = "" if label else " (several trajectories in one file? name the column that tells them apart: group=/--group)"
        raise DataError(f"{row_name(source, lines, int(rows[i + 1]))}: time {time!r} {what} ({t[i]:g} then {t[i + 1]:g}){_in(label)}; "
                        f"time must increase strictly within a trajectory{hint}")
    median = float(np.median(steps))
    gaps = np.nonzero(steps > GAP_FACTOR * median)[0]
    if len(gaps):
        i = int(gaps[0])
        raise DataError(f"{row_name(source, lines, int(rows[i + 1]))}: gap in time {time!r}{_in(label)}: {t[i]:g} to {t[i + 1]:g} "
                        f"(the usual step is {median:g}); split the trajectory there (a new group value) or resample it")
    uneven = np.nonzero(np.abs(steps - median) > EVEN_RTOL * median)[0]
    if len(uneven):
        i = int(uneven[0])
        raise DataError(f"{row_name(source, lines, int(rows[i + 1]))}: uneven time steps in {time!r}{_in(label)}: {steps[i]:g} "
                        f"against the usual {median:g}; derivatives need evenly sampled trajectories (resample them)")


def _in(label: str) -> str:
    return f" in trajectory {label}" if label else ""


def prepare_trajectories(
    data: Any,
    time: str = "t",
    states: Sequence[str] | str | None = None,
    group: str | None = None,
    *,
    derivative: str = "auto",
    trim: float | None = None,
) -> PreparedTrajectories:
    """Split ``data`` into trajectories by ``group``, validate them and estimate every state's derivative.

    ``states`` default to every numeric column other than ``time`` and ``group``. ``trim``: the
    fraction of samples left out at each end of a trajectory whose series needed smoothing (default
    2%, at least 2 samples; clean series keep every sample).
    """
    frame, source, lines, units = read_frame(data)
    for name, col in (("time", time), ("group", group)):
        if col is not None and col not in frame.columns:
            raise DataError(f"{source}: no {name} column {col!r}; columns: {', '.join(map(str, frame.columns))}")
    if isinstance(states, str):
        states = [s.strip() for s in states.split(",") if s.strip()]
    if states is None:
        states = [c for c in frame.columns if c not in (time, group) and pd.api.types.is_numeric_dtype(frame[c])]
        if not states:
            raise DataError(f"{source}: no numeric state columns besides {time!r}")
    states = list(states)
    for s in states:
        if s not in frame.columns:
            raise DataError(f"{source}: no state column {s!r}; columns: {', '.join(map(str, frame.columns))}")
        if s in (time, group):
            raise DataError(f"{source}: {s!r} cannot be both a state and the {'time' if s == time else 'group'} column")
    if len(set(states)) != len(states):
        raise DataError(f"{source}: a state is listed twice: {', '.join(states)}")
    if group is not None and frame[group].isna().any():
        row = int(np.nonzero(frame[group].isna().to_numpy())[0][0])
        raise DataError(f"{row_name(source, lines, row)}: group column {group!r} is empty")
    t_all = numeric_column(frame, time, source, lines)
    X_all = np.column_stack([numeric_column(frame, s, source, lines) for s in states])
    taken = set(frame.columns)
    targets = []
    for s in states:
        name = f"d{s}"
        while name in taken:
            name += "_dt"
        targets.append(name)
        taken.add(name)
    groups = [("", np.arange(len(frame)))] if group is None else [
        (str(key), np.asarray(idx)) for key, idx in frame.groupby(group, sort=False).indices.items()]
    trajectories = []
    notes: list[str] = []
    trimmed = 0
    for label, rows in groups:
        where = f"trajectory {label}" if label else "the trajectory"
        if len(rows) < MIN_SAMPLES:
            raise DataError(f"{source}: {where} has {len(rows)} samples; at least {MIN_SAMPLES} are needed for derivatives")
        t = t_all[rows]
        _check_times(t, rows, time, label, source, lines)
        X = X_all[rows]
        estimates: list[DerivativeEstimate] = [estimate_derivative(X[:, k], t, method=derivative) for k in range(len(states))]
        dX = np.column_stack([e.dxdt for e in estimates])
        smoothed0 = np.array([e.smoothed[0] for e in estimates])
        dX_sigma = np.array([e.dxdt_sigma for e in estimates])
        dX_correlated = np.array([e.correlated_samples for e in estimates])
        keep = np.ones(len(t), dtype=bool)
        if any("s=0," not in e.method for e in estimates):
            cut = max(2, int(round((TRIM if trim is None else trim) * len(t))))
            keep[:cut] = keep[-cut:] = False
            trimmed += 2 * cut
        trajectories.append(Trajectory(label=label or "0", t=t, X=X, dX=dX, dX_sigma=dX_sigma, dX_correlated=dX_correlated,
                                       smoothed0=smoothed0, keep=keep,
                                       methods=[e.method for e in estimates], lines=rows + (2 if lines else 0)))
    if trimmed:
        notes.append(f"{trimmed} samples at the ends of smoothed trajectories left out of the fit (derivative estimates are "
                     "least reliable there); the simulation check uses every sample")
    notes.append(f"{len(trajectories)} trajectories, {sum(len(tr.t) for tr in trajectories)} samples; derivatives: "
                 + ", ".join(sorted({m for tr in trajectories for m in tr.methods})))
    return PreparedTrajectories(time=time, states=states, group=group, trajectories=trajectories, targets=targets, notes=notes,
                                rows_are_lines=lines, units=units)


def r2(expr: sympy.Expr, states: Sequence[str], X: np.ndarray, y: np.ndarray) -> float:
    """R^2 of ``expr`` (in the state names) on ``(X, y)``; -inf when not finite."""
    symbols = [sympy.Symbol(s, real=True) for s in states]
    by_name = {s.name: s for s in symbols}
    expr = expr.xreplace({a: by_name[a.name] for a in expr.free_symbols if a.name in by_name})
    with np.errstate(all="ignore"):
        pred = np.broadcast_to(np.asarray(sympy.lambdify(symbols, expr, modules="numpy")(*X.T), dtype=float), y.shape)
    if not np.all(np.isfinite(pred)):
        return -math.inf
    sst = float(np.sum((y - y.mean()) ** 2))
    sse = float(np.sum((y - pred) ** 2))
    return 1.0 - sse / sst if sst > 0 else (1.0 if sse == 0 else -math.inf)


Regression = Callable[[pd.DataFrame, str, list[str]], tuple[sympy.Expr, float, "DiscoveryResult | None"]]


def discover_ode(
    data: Any,
    time: str = "t",
    states: Sequence[str] | str | None = None,
    group: str | None = None,
    *,
    budget_seconds: float = 30.0,
    seed: int = 0,
    n_jobs: int | None = None,
    derivative: str = "auto",
    simulate: bool = True,
    tolerance: float = 0.1,
    units: Mapping[str, str] | None = None,
    derivative_sigma: bool = True,
    prepared: PreparedTrajectories | None = None,
    **discover_options: Any,
) -> ODEResult:
    """Find ``d state / dt = f(states)`` for every state of the trajectories in ``data``.

    ``data``: a CSV path or DataFrame in long format; ``group``: the column telling trajectories
    apart (default: one trajectory). ``budget_seconds`` is per law. ``units``: ``{column: unit}``
    for the states and the time, on top of those in the table's header (``x [m]``, ``t [s]``); they
    are checked and reported with each derivative's (``result.units``), not imposed on the search
    (see :func:`_derivative_units`).
    ``discover_options`` go to :func:`kandisco.discover` (``config``, ``max_strategies``, ...).
    ``simulate``: integrate the found system from each trajectory's start (:mod:`.simulate`).
    ``derivative_sigma``: give the discovery each smoothed derivative's estimated error
    (:mod:`.derivatives`, a parametric bootstrap) as the target's sigma, and how many samples its
    errors are correlated over as ``correlated_rows``. The error of a smoothed derivative is
    correlated along a trajectory, so the discovery's own noise estimate (from neighbouring samples)
    would put the noise floor far too low and reject every law as unfit, and tests that counted
    every sample as independent would reject every snap (``-0.4991*x`` for ``-x/2``).
    """
    import time as _time

    start = _time.perf_counter()
    prep = prepared if prepared is not None else prepare_trajectories(data, time, states, group, derivative=derivative)
    all_units = _derivative_units(prep, {**prep.units, **dict(units or {})})
    table = prep.table()
    X = table[prep.states].to_numpy(float)
    laws: dict[str, ODELaw] = {}
    notes = list(prep.notes)
    user_correlated = discover_options.pop("correlated_rows", None)
    for k, (state, target) in enumerate(zip(prep.states, prep.targets)):
        t0 = _time.perf_counter()
        given = "sigma" in discover_options or "noise" in discover_options
        sigma = prep.sigma(k) if derivative_sigma and not given else None
        # the smoothed derivative's errors run along the trajectory: the tests count its independent samples
        correlated = user_correlated or (prep.correlated_rows(k) if sigma is not None else 1.0)
        result = discover(table[[*prep.states, target]], target=target, features=list(prep.states), budget_seconds=budget_seconds,
                          seed=seed, n_jobs=n_jobs, sigma=sigma, correlated_rows=correlated, **discover_options)
        expr = result.expr
        # the discovery saw the derivative table (its rows are positions in it): name the samples in the user's data
        outliers = prep.source_rows()[np.asarray(result.outliers, dtype=int)].astype(int).tolist() if result.outliers else []
        if outliers:
            notes.append(f"d{state}/d{prep.time}: {len(outliers)} sample(s) lie beyond 5 robust standard deviations of the law "
                         f"({prep.describe_rows(result.outliers)}): kept, the law's constants refitted robustly")
        laws[state] = ODELaw(state=state, target=target, formula=str(expr), r2_test=float(result.r2_test),
                             r2=r2(expr, prep.states, X, table[target].to_numpy(float)), seconds=_time.perf_counter() - t0, result=result,
                             outliers=outliers)
    report = simulate_laws({s: law.expr for s, law in laws.items()}, prep.states, prep.for_simulation(), tolerance=tolerance) if simulate else None
    return ODEResult(states=prep.states, time=prep.time, laws=laws, simulation=report, prepared=prep,
                     seconds=_time.perf_counter() - start, notes=notes, units=all_units)


def _derivative_units(prep: PreparedTrajectories, units: Mapping[str, str]) -> dict[str, str]:
    """The given units of the states and time, checked, with each derivative's (the state's over the time's).

    They are carried, not imposed on the search: a law of motion's constants carry units (a rate in
    1/s, k/m in 1/s^2), so requiring dimensionless constants (what the discovery's dimensional analysis
    does) would make ``-2*x - 3*v/10`` inconsistent and let ``c*v**2/x`` win for a damped oscillator."""
    from ..units import UnitError, parse_unit

    known = {c: u for c, u in units.items() if c in (*prep.states, prep.time)}
    for column, unit in known.items():
        try:
            parse_unit(unit)
        except UnitError as exc:
            raise DataError(f"column {column!r}: {exc}") from None
    out = dict(known)
    for state, target in zip(prep.states, prep.targets):
        if state in known and prep.time in known:
            out[target] = "/".join(u if u.replace("_", "").isalnum() else f"({u})" for u in (known[state], known[prep.time]))
    return out
