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
* ``pi_sparse``, ``pi_sparse_inverse``, ... [0.5-0.74], ``pi_sparse_rational`` [3.2] and
  ``pi_structured`` [19]: the sparse and structured strategies themselves on the groups
  (:class:`OnGroups`; sums of up to ``2 + 2 * groups`` terms, on noiseless data only exact ones,
  and ``exp(+-1/p)`` in the library, since a group's orientation is a convention: ``n_0/(2 cosh(x))``
  with ``x = mom*B/(kb*T)`` is ``1/g = exp(1/p) + exp(-1/p)`` in the group ``p = kb*T/(mom*B)``;
  and products of two functions, ``1 + r + 2*sqrt(r)*cos(delta)`` for two interfering beams of
  intensity ratio ``r``):
  a law that is a short sum, a power of one or a ratio of two in the groups
  (``x*m*omega_0**2/(q*Ef) = 1/(1 - (omega/omega_0)**2)``, ``(a + b)/(1 + a*b)`` for velocity addition),
  or a product of functions of single groups (``(1 - a)/sqrt(1 - b**2)`` for the Lorentz
  transformation), is then a problem in two or three variables instead of five or six.

The formulas come back in the data's symbols (``monomial * f(groups)``), so they are judged, and
checked for consistency, like every other candidate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import sympy

from ...units import PiGroups
from ..polish import polish_formula
from ..problem import NothingToPropose, Problem, Proposal
from ..sparse import UNARY
from ..views import PiGroupView
from .base import Strategy, register_planner
from .kan import KANStrategy, plan_kan_strategies
from .sparse import SparseStrategy, plan_sparse_strategies
from .structured import plan_structured

__all__ = ["MonomialStrategy", "OnGroups", "plan_unit_strategies"]

# the sparse strategies on the groups keep their order at a tenth of their priorities (plain [5] at 0.5,
# rational [32] at 3.2): before the KAN strategies, since they take a second or two each
GROUP_SPARSE_SCALE = 0.1
# ... with few terms per group, and exact ones only on noiseless data: a function of one group is what
# a ten-term sum imitates best (Planck's x**3/(exp(x) - 1) as a ratio of two quartics to 4e-11), while
# a squared distance in three groups, 1 - 2a + a**2 + (b - c)**2, has six terms
GROUP_BASE_TERMS = 2
GROUP_TERMS_PER_GROUP = 2
# the structured strategy on the groups: just before the structured strategy on the inputs [20]
GROUP_STRUCTURED = 19.0


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


@dataclass
class OnGroups:
    """Another strategy run on the pi groups: it sees ``Z = groups(X)`` and ``g = y / M(X)``, ``M``
    the monomial with the target's units, and its laws come back as ``M * f(groups)`` in the data's
    symbols, refitted there (the inner strategy fitted ``g``, not ``y``).

    The inner problem keeps the error model: relative errors of ``g`` are those of ``y``; an absolute
    noise ``sigma`` on ``y`` is ``sigma / |M|`` on ``g``, whose root mean square over the rows is the
    inner noise level (what the expected RMSE of the true law on ``g`` is).
    """

    inner: Any
    pi: PiGroups
    name: str = ""
    seed: int = 0

    def __post_init__(self) -> None:
        self.name = self.name or f"pi_{self.inner.name}"
        self.seed = self.inner.seed

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "name": self.name, "on_groups": self.pi.to_dict()}

    def propose(self, problem: Problem, deadline: float | None) -> Proposal:
        proxy = groups_problem(problem, self.pi)
        proposal = self.inner.propose(proxy, deadline)
        back = {s.name: e for s, e in zip(proxy.symbols, self.pi.group_exprs(problem.symbols))}
        monomial = self.pi.monomial(problem.symbols)
        formulas: list[sympy.Expr] = []
        for f in proposal.formulas:
            if deadline is not None and time.perf_counter() > deadline and formulas:
                break
            expr = monomial * f.xreplace({s: back[s.name] for s in f.free_symbols if s.name in back})
            formulas += polish_formula(expr, problem.symbols, problem.train, problem.val, problem.config.simplify_seconds,
                                       problem.relative, noise=problem.noise, correlated_rows=problem.correlated_rows)
        return Proposal(formulas, notes=[f"{self.name}: on {self.pi.describe()['law']}", *proposal.notes])


def groups_problem(problem: Problem, pi: PiGroups) -> Problem:
    """``problem`` on the pi groups (:class:`OnGroups`): symbols ``p0, p1, ...``, no units."""
    (X, y), (Xv, yv) = problem.train, problem.val
    M = pi.monomial_values(X)
    scale = 1.0 if problem.relative else float(np.sqrt(np.mean(1 / M**2)))  # (the unseen noise's estimate likewise)
    return replace(problem, train=(pi.group_values(X), y / M), val=(pi.group_values(Xv), yv / pi.monomial_values(Xv)),
                   symbols=[sympy.Symbol(f"p{k}", positive=True) for k in range(pi.n_groups)],
                   names=[f"p{k}" for k in range(pi.n_groups)], units=None, noise=problem.noise * scale,
                   unseen_noise=problem.unseen_noise * scale)


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
    proxy = groups_problem(problem, pi)
    terms = GROUP_BASE_TERMS + GROUP_TERMS_PER_GROUP * pi.n_groups
    sparse = [(priority, replace(strategy, max_terms=min(strategy.max_terms, terms), exact_only=True, functions=tuple(UNARY),
                                 function_pairs=True))
              for priority, strategy in plan_sparse_strategies(proxy) if isinstance(strategy, SparseStrategy)]
    out: list[tuple[float, Strategy]] = [(priority * GROUP_SPARSE_SCALE, OnGroups(strategy, pi)) for priority, strategy in sparse]
    out += [(GROUP_STRUCTURED, OnGroups(strategy, pi)) for _, strategy in plan_structured(proxy)]
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
