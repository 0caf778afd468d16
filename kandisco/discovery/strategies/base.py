"""The strategy protocol and the registry of planners that make the search plan.

A strategy is an object with a ``name``, a ``seed``, :meth:`Strategy.propose` (candidate formulas
for a :class:`~kandisco.discovery.problem.Problem` before a deadline) and :meth:`Strategy.describe`
(its settings as JSON-ready values, stored with each candidate). A *planner* looks at a problem
and returns the strategies worth trying, each with a priority; :func:`plan_strategies` merges
every registered planner's strategies, lowest priority first. A new strategy is a new module
with one :func:`register_planner` call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from ..problem import NothingToPropose, Problem, Proposal

__all__ = ["NothingToPropose", "Planner", "Strategy", "PLANNERS", "plan_strategies", "register_planner"]


@runtime_checkable
class Strategy(Protocol):
    """A way of proposing candidate laws for a problem within a deadline."""

    name: str
    seed: int

    def propose(self, problem: Problem, deadline: float | None) -> Proposal:
        """Candidate formulas; training stops early past ``deadline`` (a ``time.perf_counter()`` value)."""
        ...

    def describe(self) -> dict[str, Any]:
        """The strategy's settings as JSON-ready values (stored in each candidate's ``config``)."""
        ...


Planner = Callable[[Problem], list[tuple[float, Strategy]]]
PLANNERS: dict[str, Planner] = {}


def register_planner(name: str, planner: Planner) -> Planner:
    """Add ``planner`` (problem -> [(priority, strategy), ...]) to the default plan under ``name``."""
    if name in PLANNERS:
        raise ValueError(f"a planner named {name!r} is already registered")
    PLANNERS[name] = planner
    return planner


def plan_strategies(problem: Problem, planners: list[str] | None = None) -> list[Strategy]:
    """Every registered planner's strategies for ``problem`` (or only those ``planners``), by priority.

    Ties keep registration order, then each planner's own order, so the plan is deterministic.
    """
    names = list(PLANNERS) if planners is None else planners
    unknown = [n for n in names if n not in PLANNERS]
    if unknown:
        raise ValueError(f"unknown planner(s) {', '.join(unknown)}; registered: {', '.join(PLANNERS)}")
    entries = [(priority, k, j, s) for k, name in enumerate(names) for j, (priority, s) in enumerate(PLANNERS[name](problem))]
    return [s for *_, s in sorted(entries, key=lambda e: e[:3])]
