"""Figures of an ODE result: data against the simulated trajectories, and a phase portrait.

Built like :mod:`kandisco.plot`: plain :class:`matplotlib.figure.Figure` objects without pyplot;
write them with :func:`kandisco.plot.save_figure`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_phase", "plot_trajectories"]


def _pairs(result: Any) -> list[tuple[Any, Any]]:
    """(trajectory, its simulation check or None) for each trajectory of an ODEResult."""
    checks = result.simulation.trajectories if result.simulation is not None else []
    by_label = {c.label: c for c in checks}
    return [(tr, by_label.get(tr.label)) for tr in result.prepared.trajectories]


def plot_trajectories(result: Any, max_trajectories: int = 6) -> Figure:
    """One panel per state: the data (dots) and the found system integrated from its start (lines)."""
    states = result.states
    fig = Figure(figsize=(7.0, 2.2 * len(states)))
    axes = [fig.add_subplot(len(states), 1, k + 1) for k in range(len(states))]
    colors = [f"C{i % 10}" for i in range(max_trajectories)]
    for i, (tr, check) in enumerate(_pairs(result)[:max_trajectories]):
        for k, ax in enumerate(axes):
            ax.plot(tr.t, tr.X[:, k], ".", ms=2, color=colors[i], alpha=0.5, label=f"data {tr.label}" if k == 0 else None)
            if check is not None and check.t:
                ax.plot(check.t, np.asarray(check.y)[k], "-", lw=1.2, color=colors[i], label=f"simulated {tr.label}" if k == 0 else None)
    for k, ax in enumerate(axes):
        law = result.laws.get(states[k])
        ax.set_ylabel(states[k])
        if law is not None:
            ax.set_title(f"d{states[k]}/d{result.time} = {law.formula}"[:110], fontsize=8)
    axes[-1].set_xlabel(result.time)
    axes[0].legend(fontsize=6, ncol=2, loc="best")
    fig.tight_layout()
    return fig


def plot_phase(result: Any, max_trajectories: int = 6) -> Figure:
    """The first two states against each other: data (dots) and simulation (lines); one state: x against dx/dt."""
    fig = Figure(figsize=(5.0, 4.5))
    ax = fig.add_subplot()
    one = len(result.states) == 1
    for i, (tr, check) in enumerate(_pairs(result)[:max_trajectories]):
        color = f"C{i % 10}"
        if one:
            ax.plot(tr.X[:, 0], tr.dX[:, 0], ".", ms=2, color=color, alpha=0.5)
            continue
        ax.plot(tr.X[:, 0], tr.X[:, 1], ".", ms=2, color=color, alpha=0.5, label=f"data {tr.label}")
        if check is not None and check.t:
            y = np.asarray(check.y)
            ax.plot(y[0], y[1], "-", lw=1.2, color=color, label=f"simulated {tr.label}")
    ax.set_xlabel(result.states[0])
    ax.set_ylabel(f"d{result.states[0]}/d{result.time} (estimated)" if one else result.states[1])
    ax.set_title("phase portrait", fontsize=9)
    if not one:
        ax.legend(fontsize=6, ncol=2, loc="best")
    fig.tight_layout()
    return fig
