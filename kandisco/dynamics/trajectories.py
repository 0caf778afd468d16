"""Trajectory-sampled data: states along solve_ivp trajectories of a system, with exact derivatives.

:func:`simulate_system` integrates an :class:`~kandisco.dynamics.systems.ODESystem` from several
initial conditions (scipy's ``solve_ivp``, DOP853, rtol 1e-10 and atol 1e-12 by default) and
returns a long-format table: one row per sample, the group column ``run``, the time ``t``, the
states, and each state's exact derivative ``d<state>`` evaluated from the law on the *noise-free*
state. ``noise`` adds Gaussian noise to the states of a fraction of each state's standard deviation
(over all runs), the way a measurement would; ``derivative_noise`` does the same to the derivative
columns (the benchmark's convention of a noisy target). Samples along trajectories are correlated
and cover a thin region of the state space: issue 18's test data for structure tests and the
trajectory-derivative benchmark (experiments/trajectory_derivatives.py).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy.integrate import solve_ivp

from ..errors import KandiscoError
from .systems import ODESystem

__all__ = ["IntegrationError", "derivative_column", "simulate_system"]


class IntegrationError(KandiscoError, RuntimeError):
    """solve_ivp failed on a system's own law (a bad initial condition or time span)."""


def derivative_column(state: str) -> str:
    """The name of a state's derivative column: ``x`` -> ``dx``."""
    return f"d{state}"


def simulate_system(
    system: ODESystem,
    n_trajectories: int = 3,
    n_samples: int = 400,
    *,
    initial: Sequence[Sequence[float]] | np.ndarray | None = None,
    t_end: float | None = None,
    noise: float = 0.0,
    derivative_noise: float = 0.0,
    seed: int = 0,
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> pd.DataFrame:
    """Integrate ``system`` from ``n_trajectories`` initial states (or ``initial``) and sample it.

    Returns columns ``run, t, <states...>, d<state>...``: ``n_samples`` evenly spaced times on
    ``[0, t_end]`` per run. Noise fractions are relative to each column's standard deviation.
    """
    if n_samples < 5:
        raise ValueError(f"n_samples must be at least 5, got {n_samples}")
    if noise < 0 or derivative_noise < 0:
        raise ValueError(f"noise fractions must be non-negative, got {noise}, {derivative_noise}")
    y0s = np.asarray(initial, dtype=float) if initial is not None else system.initial_conditions(n_trajectories, seed)
    if y0s.ndim != 2 or y0s.shape[1] != len(system.states):
        raise ValueError(f"initial must have shape (n, {len(system.states)}), got {y0s.shape}")
    span = float(t_end if t_end is not None else system.t_end)
    times = np.linspace(0.0, span, n_samples)
    f = system.rhs()
    frames = []
    for run, y0 in enumerate(y0s):
        sol = solve_ivp(f, (0.0, span), y0, method="DOP853", t_eval=times, rtol=rtol, atol=atol)
        if not sol.success or sol.y.shape[1] != len(times):
            raise IntegrationError(f"{system.name}, run {run} from {y0.tolist()}: {sol.message}")
        states = sol.y  # (n_states, n_samples)
        derivs = f(0.0, states)  # (n_states, n_samples): the law on the noise-free states
        frame = {"run": np.full(len(times), run), "t": times}
        frame.update({s: states[k] for k, s in enumerate(system.states)})
        frame.update({derivative_column(s): derivs[k] for k, s in enumerate(system.states)})
        frames.append(pd.DataFrame(frame))
    table = pd.concat(frames, ignore_index=True)
    rng = np.random.default_rng(seed + 1)
    for columns, fraction in ((list(system.states), noise), ([derivative_column(s) for s in system.states], derivative_noise)):
        if fraction > 0:
            for col in columns:
                scale = float(table[col].std()) or 1.0
                table[col] = table[col] + rng.normal(0.0, fraction * scale, len(table))
    return table
