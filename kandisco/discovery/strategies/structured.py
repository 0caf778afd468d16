"""The structured strategy: surrogate -> separability / symmetry tests -> module graph -> leaves
(:mod:`kandisco.discovery.structured`), planned right after the power law for two or more inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..problem import Problem, Proposal
from ..stages import library_spec
from ..structured import run_structured
from .base import Strategy, register_planner

__all__ = ["StructuredStrategy", "plan_structured"]


@dataclass
class StructuredStrategy:
    """Structure analysis on a surrogate, then a graph of small KAN modules trained on the data."""

    name: str = "structured"
    seed: int = 0
    steps: int = 60
    library: Any = None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "structured", "seed": self.seed, "steps": self.steps, "library": library_spec(self.library)}

    def propose(self, problem: Problem, deadline: float | None) -> Proposal:
        run = run_structured(
            problem.symbols, problem.train, problem.val, problem.relative, deadline, self.seed, self.steps,
            search=problem.search, exact_relative_rmse=problem.config.exact_relative_rmse,
            simplify_seconds=problem.config.simplify_seconds, noise=problem.noise, correlated_rows=problem.correlated_rows,
        )
        return Proposal(run.formulas, run.model, run.notes)


def plan_structured(problem: Problem) -> list[tuple[float, Strategy]]:
    """One structured run for two or more inputs, unless the config turns it off."""
    if not problem.config.structured or problem.n_inputs < 2:
        return []
    return [(20, StructuredStrategy(seed=problem.seed, steps=problem.config.structured_steps, library=problem.library))]


register_planner("structured", plan_structured)
