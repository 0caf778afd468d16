"""Strategies on the Buckingham pi groups, planned when the units of every input and of the target
are known and the groups are fewer than the inputs.

* ``pi_monomial`` [1] (no group): the law is ``C * monomial``, ``C`` by least squares (the pendulum,
  ``T = 2 pi sqrt(L/g)``, is one constant to fit);
* ``pi_<flat>`` [a quarter of the flat strategy's priority for one-layer networks, so all of them
  run before the structured strategy; half for the deeper ones]: each flat KAN strategy of :mod:`.kan` on the
  groups, through :class:`~kandisco.discovery.views.PiGroupView` with the flat strategy's view
  inside (``pi_power_law`` is a power law in the groups, ``pi_additive`` a sum of functions of them);
* ``pi2_<flat>``, ``pi3_<flat>`` [just after]: the one-layer flat strategies with the target made
  dimensionless by the alternative monomials (:attr:`~kandisco.units.PiGroups.alternatives`): the
  groups are the same, but ``E/(m c^2) = 1/sqrt(1 - (v/c)^2)`` is one edge where ``E/(m v^2)`` is not.

The formulas come back in the data's symbols (``monomial * f(groups)``), so they are judged, and
checked for consistency, like every other candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import sympy

from ..polish import polish_formula
from ..problem import NothingToPropose, Problem, Proposal
from ..views import PiGroupView
from .base import Strategy, register_planner
from .kan import KANStrategy, plan_kan_strategies

__all__ = ["MonomialStrategy", "plan_unit_strategies"]


@dataclass
class MonomialStrategy:
    """``y = C * monomial`` when the units leave no dimensionless group: one constant, then polish."""

    name: str = "pi_monomial"
    seed: int = 0
    simplify_seconds: float = 3.0

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "monomial", "seed": self.seed}

    def propose(self, problem: Problem, deadline: float | None) -> Proposal:
        if problem.units is None or problem.units.pi is None:
            raise NothingToPropose("no units: no monomial with the target's units")
        pi = problem.units.pi
        X, y = problem.train
        M = pi.monomial_values(X)
        weight = 1 / np.abs(y) if problem.relative else np.ones_like(y)  # relative error: residuals / |y|
        C = float(np.sum(weight**2 * M * y) / np.sum(weight**2 * M * M))
        if not np.isfinite(C):
            raise NothingToPropose("the monomial cannot be fitted (zero or infinite values)")
        expr = sympy.Float(C) * pi.monomial(problem.symbols)
        return Proposal(polish_formula(expr, problem.symbols, problem.train, problem.val, self.simplify_seconds, problem.relative,
                                 noise=problem.noise, correlated_rows=problem.correlated_rows))


def plan_unit_strategies(problem: Problem) -> list[tuple[float, Strategy]]:
    """The strategies on the pi groups (module docstring); none without units or without a reduction."""
    units = problem.units
    if units is None or units.pi is None or units.pi.n_groups >= problem.n_inputs:
        return []
    pi = units.pi
    if pi.n_groups == 0:
        return [(1, MonomialStrategy(seed=problem.seed, simplify_seconds=problem.config.simplify_seconds))]
    base = PiGroupView.of(pi, problem.symbols)
    if not problem.admits(base):
        return []
    proxy = replace(problem, train=base.transform(*problem.train), val=base.transform(*problem.val),
                    symbols=[sympy.Symbol(f"p{k}", positive=True) for k in range(pi.n_groups)], units=None)
    out: list[tuple[float, Strategy]] = []
    flat = [(p, s) for p, s in plan_kan_strategies(proxy) if isinstance(s, KANStrategy)]
    for priority, strategy in flat:
        view = PiGroupView.of(pi, problem.symbols, strategy.view)
        if problem.admits(view):
            out.append((_priority(priority, strategy), replace(strategy, name=f"pi_{strategy.name}", view=view)))
    for j, monomial in enumerate(pi.alternatives):
        other = pi.with_target(monomial)
        for priority, strategy in flat:
            view = PiGroupView.of(other, problem.symbols, strategy.view)
            if len(strategy.width) == 2 and problem.admits(view):  # one layer: cheap
                out.append((_priority(priority, strategy) + 0.01 * (j + 1),
                            replace(strategy, name=f"pi{j + 2}_{strategy.name}", view=view)))
    return out


def _priority(flat: float, strategy: KANStrategy) -> float:
    """Where a strategy on the groups goes in the plan: one-layer networks (cheap on few groups) by a
    quarter of their flat priority, before the structured strategy [20]; deeper ones by half."""
    return flat / 4 if len(strategy.width) == 2 else flat / 2


register_planner("units", plan_unit_strategies)
