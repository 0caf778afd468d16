"""Vector laws: several targets from the same inputs (``F = q*(E + v x B)`` as Fx, Fy, Fz).

:func:`discover_vector` runs one discovery per output on the same inputs, rows and split (the other
outputs are never inputs), then reads what the laws share: the factor common to every component
(``q`` for the Lorentz force), reported as :attr:`VectorResult.shared_factor`. The per-output
search receives the pipeline's single-target ``discover`` as an argument, so this module never
imports the pipeline (which dispatches a list of targets here).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import sympy

from ..data import DataError, load_dataset
from .result import DiscoveryResult

__all__ = ["VectorResult", "discover_vector", "split_targets"]


@dataclass
class VectorResult:
    """One :class:`~kandisco.discovery.result.DiscoveryResult` per output, and what their laws share."""

    laws: dict[str, DiscoveryResult]
    shared_factor: str | None = None  # the factor common to every law (column names), or None
    notes: list[str] = field(default_factory=list)

    @property
    def targets(self) -> list[str]:
        return list(self.laws)

    @property
    def formulas(self) -> dict[str, str]:
        """Each output's law as a string in the column names."""
        return {t: r.formula for t, r in self.laws.items()}

    @property
    def seconds(self) -> float:
        return float(sum(r.seconds for r in self.laws.values()))

    def __getitem__(self, target: str) -> DiscoveryResult:
        return self.laws[target]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Every output's prediction, one column per target in order."""
        return np.column_stack([r.predict(X) for r in self.laws.values()])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``laws`` maps each output to its formula; ``results`` holds each output's full result."""
        return {"laws": self.formulas, "shared_factor": self.shared_factor, "notes": self.notes,
                "results": {t: json.loads(r.to_json()) for t, r in self.laws.items()}}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def __repr__(self) -> str:
        laws = "; ".join(f"{t} = {f}" for t, f in self.formulas.items())
        return f"VectorResult({laws})"


def split_targets(target: Any) -> list[str] | None:
    """The output names of a vector target (``"Fx,Fy,Fz"`` or a list of two or more), else None."""
    if isinstance(target, str):
        names = [t.strip() for t in target.split(",") if t.strip()]
    elif isinstance(target, (list, tuple)):
        names = [str(t).strip() for t in target]
    else:
        return None
    if len(names) < 2:
        return None
    if len(set(names)) < len(names):
        raise DataError(f"target names a column more than once: {', '.join(names)}")
    return names


def discover_vector(data: Any, targets: Sequence[str], features: Sequence[str] | str | None,
                    discover_one: Callable[..., DiscoveryResult], *, dropna: bool = False, units: Any = None) -> VectorResult:
    """One law per output in ``targets`` from the same ``features`` (default: every numeric column
    that is not an output), each by ``discover_one(dataset)``."""
    names = list(targets)
    if features is None:
        probe = load_dataset(data, names[0], None, dropna=dropna, units=units)
        features = [f for f in probe.feature_names if f not in names]
        if not features:
            raise DataError(f"no input columns are left once the outputs {', '.join(names)} are set apart")
    else:
        listed = [f.strip() for f in features.split(",")] if isinstance(features, str) else list(features)
        clash = [f for f in listed if f in names]
        if clash:
            raise DataError(f"{', '.join(clash)} cannot be both an output and an input")
        features = listed
    laws: dict[str, DiscoveryResult] = {}
    for name in names:
        dataset = load_dataset(data, name, features, dropna=dropna, units=units)
        dataset = replace(dataset, notes=[_without_outputs(n, names) for n in dataset.notes if _without_outputs(n, names)])
        laws[name] = discover_one(dataset)
    result = VectorResult(laws)
    factor = shared_factor([r.expr for r in laws.values()])
    if factor is not None:
        result.shared_factor = sympy.sstr(factor)
        result.notes.append(f"every component has the factor {result.shared_factor}")
    return result


def shared_factor(laws: Sequence[sympy.Expr]) -> sympy.Expr | None:
    """The product of the non-numeric factors that every law has (``q`` in ``q*(Ex + ...)``), or None."""
    common: list[sympy.Expr] | None = None
    for law in laws:
        factors = [f for f in sympy.Mul.make_args(sympy.factor_terms(law)) if f.free_symbols]
        if common is None:
            common = factors
        else:
            common = [f for f in common if any(sympy.simplify(f - g) == 0 for g in factors)]
        if not common:
            return None
    return sympy.Mul(*common) if common else None


def _without_outputs(note: str, outputs: Sequence[str]) -> str:
    """The data's note on unused columns without the other outputs (they are outputs, not unused); '' if none is left."""
    head = "numeric columns not used as features: "
    if not note.startswith(head):
        return note
    rest = [c for c in note[len(head):].split(", ") if c not in outputs]
    return head + ", ".join(rest) if rest else ""
