"""The simulation check: integrate a found system from each trajectory's first state and compare.

A law that fits derivatives pointwise can still drift or blow up when integrated. For each
trajectory the found right-hand sides are integrated with scipy's ``solve_ivp`` (LSODA, which
switches to a stiff method by itself; ``max_step`` a fiftieth of the span) on the trajectory's own
times, from its first (smoothed) state. Errors are per state relative to the state's standard
deviation over all trajectories; ``drift_time`` is the first time the largest of them passes
``tolerance`` (``None``: never within the span). A solution that leaves a box ``blowup`` times the
data's range (a terminal event), turns non-finite, or makes the integrator fail ends early and is
reported with its status, never raised.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import sympy
from scipy.integrate import solve_ivp

__all__ = ["SimulationReport", "TrajectoryCheck", "simulate_laws"]


@dataclass
class TrajectoryCheck:
    """The found system against one trajectory."""

    label: str
    t_start: float
    t_end: float
    status: str  # ok | blew up | non-finite | stalled: <why> | failed: <message>
    error: float  # RMSE over the simulated span, per state relative to its std, the largest state's (inf if none)
    errors: dict[str, float] = field(default_factory=dict)  # per state
    drift_time: float | None = None  # time since t_start at which the relative error first passes the tolerance
    t: list[float] = field(default_factory=list)  # the simulated times (for plots; not in to_dict)
    y: list[list[float]] = field(default_factory=list)  # (n_states, n_times)


@dataclass
class SimulationReport:
    """Every trajectory's check, and the tolerance the drift times are measured against."""

    tolerance: float
    trajectories: list[TrajectoryCheck]

    @property
    def max_error(self) -> float:
        return max((c.error for c in self.trajectories), default=float("inf"))

    @property
    def all_ok(self) -> bool:
        return all(c.status == "ok" for c in self.trajectories)

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for c in self.trajectories:
            row = asdict(c)
            row.pop("t")
            row.pop("y")
            rows.append(row)
        return {"tolerance": self.tolerance, "max_error": self.max_error, "trajectories": rows}


class _NonFinite(Exception):
    pass


class _Stalled(Exception):
    """The solver spent its evaluations: a law singular on the path (``v**2/x`` as x crosses 0) shrinks its steps to nothing."""


def simulate_laws(
    laws: Mapping[str, sympy.Expr],
    states: Sequence[str],
    trajectories: Sequence[tuple[str, np.ndarray, np.ndarray]],
    *,
    tolerance: float = 0.1,
    blowup: float = 100.0,
    rtol: float = 1e-8,
    atol: float = 1e-10,
    max_evaluations: int = 200_000,
) -> SimulationReport:
    """Integrate ``d state/dt = laws[state]`` on each ``(label, t, X)`` (``X``: (n, n_states)) and compare.

    ``X[0]`` is the initial state; the comparison is on ``t``. See the module docstring. A trajectory
    whose integration needs more than ``max_evaluations`` evaluations of the laws stops there with the
    status ``stalled`` (a count, not a clock, so that the report does not depend on the machine).
    """
    symbols = [sympy.Symbol(s, real=True) for s in states]
    by_name = {s.name: s for s in symbols}
    exprs = []
    for s in states:
        if s not in laws:
            raise KeyError(f"no law for state {s!r}")
        law = sympy.sympify(laws[s])
        exprs.append(law.xreplace({a: by_name[a.name] for a in law.free_symbols if a.name in by_name}))
    fn = sympy.lambdify(symbols, exprs, modules="numpy")
    stacked = np.concatenate([np.asarray(X, dtype=float) for _, _, X in trajectories])
    scale = np.std(stacked, axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    low, high = stacked.min(axis=0), stacked.max(axis=0)
    box = blowup * np.maximum(high - low, scale)

    evaluations = [0]

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        evaluations[0] += 1
        if evaluations[0] > max_evaluations:
            raise _Stalled
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.array(np.broadcast_arrays(*fn(*y)), dtype=float).reshape(len(states))
        if not np.all(np.isfinite(out)):
            raise _NonFinite
        return out

    def escaped(t: float, y: np.ndarray) -> float:
        return float(np.min(box - np.abs(y - (low + high) / 2)))

    escaped.terminal = True  # type: ignore[attr-defined]
    checks = []
    for label, t, X in trajectories:
        t = np.asarray(t, dtype=float)
        X = np.asarray(X, dtype=float)
        span = (float(t[0]), float(t[-1]))
        status = "ok"
        sol_t, sol_y = np.array([t[0]]), X[:1].T
        evaluations[0] = 0
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sol = solve_ivp(rhs, span, X[0], method="LSODA", t_eval=t, rtol=rtol, atol=atol,
                                max_step=(span[1] - span[0]) / 50, events=escaped)
            sol_t, sol_y = sol.t, sol.y
            if sol.status == 1:
                status = "blew up"
            elif sol.status < 0:
                status = f"failed: {sol.message}"
        except _NonFinite:
            status = "non-finite"
        except _Stalled:
            status = f"stalled: {max_evaluations} evaluations of the laws without reaching the end (a singular law?)"
        except Exception as exc:  # noqa: BLE001 - a found law may break the integrator in many ways; report, never crash
            status = f"failed: {type(exc).__name__}: {exc}"[:200]
        n = len(sol_t)
        rel = np.abs(sol_y.T - X[:n]) / scale  # (n, n_states)
        errors = {s: float(np.sqrt(np.mean(rel[:, k] ** 2))) for k, s in enumerate(states)}
        worst = rel.max(axis=1)
        past = np.nonzero(worst > tolerance)[0]
        drift = float(sol_t[past[0]] - t[0]) if len(past) else (None if n == len(t) else float(sol_t[-1] - t[0]))
        error = max(errors.values()) if n == len(t) else float("inf")
        checks.append(TrajectoryCheck(label=str(label), t_start=span[0], t_end=span[1], status=status, error=error, errors=errors,
                                      drift_time=drift, t=sol_t.tolist(), y=sol_y.tolist()))
    return SimulationReport(tolerance=tolerance, trajectories=checks)
