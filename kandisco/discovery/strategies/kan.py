"""Flat KAN strategies: one view of the data, one network, trained through every stage.

Planned, simplest first (priorities in brackets; the structured strategy sits at 20):

* ``power_law`` [10] (positive data): a one-layer KAN on ``(log x, log y)`` with linear edges,
  i.e. ``y = C * prod x_i^p_i``: power laws become sums in log space;
* ``additive`` [30]: a one-layer KAN, ``y = sum f_i(x_i)``;
* ``log_additive`` [31] (positive y): ``log y = sum f_i(x_i)``, products of one-variable factors;
* ``power_p_additive`` [40] (positive y, few inputs): ``y**p = sum f_i(x_i)``;
* ``composition`` [43] (few inputs): ``y = F(sum f_i(x_i))``;
* ``power_law_general`` [50] (positive data): a two-layer KAN in log-log space;
* ``general_mult`` / ``general`` / ``log_general`` [60 + k]: two-layer KANs with and without
  multiplication nodes, trained sparse, pruned, refined, for each sparsity penalty k.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...kan import KAN
from ..config import POWER_LIBRARY
from ..polish import polish_formula
from ..problem import Problem, Proposal
from ..stages import extract_formula, fix_symbolic_edges, library_spec, prune_model, refine_and_fit, retrain, sparsify
from ..views import LogLogView, LogYView, PowerYView, RawView, View
from .base import Strategy, register_planner

__all__ = ["KANStrategy", "plan_kan_strategies"]


@dataclass
class KANStrategy:
    """One flat KAN run: which view of the data, which network, and how long to train it."""

    name: str
    width: list[Any]
    view: View
    library: Any = None
    lamb: float = 0.0
    grid: int = 5
    refine_to: int | None = None
    steps: int = 50
    seed: int = 0
    base_fun: str = "silu"
    prune: bool = False
    retrain_steps: int = 20
    simplify_seconds: float = 3.0

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": "kan", "width": self.width, "view": self.view.params(),
            "library": library_spec(self.library), "lamb": self.lamb, "grid": self.grid, "refine_to": self.refine_to,
            "steps": self.steps, "seed": self.seed, "base_fun": self.base_fun, "prune": self.prune,
        }

    def propose(self, problem: Problem, deadline: float | None) -> Proposal:
        """Train through stages 1-6 on the view, then polish on the data.

        Past ``deadline`` the training stages stop early; the symbolic stages still run, so that
        the strategy yields a formula.
        """
        Xv, yv = self.view.transform(*problem.train)
        y_mean = float(np.mean(yv)) if self.view.standardise else 0.0
        y_std = (float(np.std(yv)) or 1.0) if self.view.standardise else 1.0
        Xt = torch.as_tensor(Xv, dtype=torch.float64)
        yt = torch.as_tensor((yv - y_mean) / y_std, dtype=torch.float64)[:, None]
        model = KAN(self.width, grid=self.grid, seed=self.seed, base_fun=self.base_fun)
        sparsify(model, Xt, yt, self.lamb, self.steps, self.seed, deadline)
        if self.prune:
            prune_model(model, Xt)
        if self.refine_to:
            refine_and_fit(model, Xt, yt, self.refine_to, self.steps // 2, self.seed, deadline)
        fix_symbolic_edges(model, Xt, self.library)
        retrain(model, Xt, yt, steps=self.retrain_steps, seed=self.seed, deadline=deadline)
        expr = extract_formula(model, problem.symbols, self.view, y_mean, y_std)
        formulas = polish_formula(expr, problem.symbols, problem.train, problem.val, self.simplify_seconds, problem.relative,
                                 noise=problem.noise, correlated_rows=problem.correlated_rows)
        return Proposal(formulas, model)


def plan_kan_strategies(problem: Problem) -> list[tuple[float, Strategy]]:
    """The flat strategies that apply to ``problem`` (see the module docstring), with priorities."""
    cfg, seed, d = problem.config, problem.seed, problem.n_inputs
    library = problem.library
    flat = library if library is not None else list(cfg.flat_library)
    common = {"retrain_steps": cfg.retrain_steps, "simplify_seconds": cfg.simplify_seconds}
    raw, loglog, logy = RawView(), LogLogView(), LogYView()
    out: list[tuple[float, Strategy]] = []

    def add(priority: float, name: str, width: list[Any], view: View, lib: Any, **kw: Any) -> None:
        out.append((priority, KANStrategy(name, width, view, lib, **{"seed": seed, **common, **kw})))

    if problem.admits(loglog):
        add(10, "power_law", [d, 1], loglog, list(POWER_LIBRARY), grid=cfg.power_grid, steps=cfg.power_steps, base_fun="identity")
    add(30, "additive", [d, 1], raw, flat, grid=cfg.flat_grid, steps=cfg.flat_steps)
    if problem.admits(logy):
        add(31, "log_additive", [d, 1], logy, flat, grid=cfg.flat_grid, steps=cfg.flat_steps)
    if d <= cfg.composition_max_inputs:
        # y = F(sum f_i(x_i)) with F a power first (cheap, one layer), e.g. 1/sqrt(1 - u^2) ...
        for k, p in enumerate(cfg.y_powers):
            if problem.admits(PowerYView(p)):
                add(40 + 0.1 * k, f"power_{p:g}_additive", [d, 1], PowerYView(p), flat, grid=cfg.flat_grid, steps=cfg.flat_steps)
        # ... then any F, which the spline composition does not always pin down
        add(43, "composition", [d, 1, 1], raw, flat, grid=cfg.flat_grid, refine_to=cfg.composition_refine_to, steps=cfg.flat_steps)
    if problem.admits(loglog):
        add(50, "power_law_general", [d, d + 1, 1], loglog, flat, lamb=cfg.power_general_lambda, grid=cfg.general_grid,
            refine_to=cfg.general_refine_to, steps=cfg.flat_steps, prune=True)
    hidden = min(2 * d + 1, cfg.general_max_hidden)
    general = {"grid": cfg.general_grid, "refine_to": cfg.general_refine_to, "steps": cfg.general_steps, "prune": True}
    for k, lamb in enumerate(cfg.general_lambdas):
        s = seed + k
        add(60 + k, "general_mult", [d, [d, max(1, d - 1)], 1], raw, library, lamb=lamb, **{**general, "seed": s})
        add(60 + k, "general", [d, hidden, 1], raw, library, lamb=lamb, **{**general, "seed": s})
        if problem.admits(logy):
            add(60 + k, "log_general", [d, hidden, 1], logy, library, lamb=lamb, **{**general, "seed": s})
    return out


register_planner("kan", plan_kan_strategies)
