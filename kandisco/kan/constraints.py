"""Constraints on a learned law: symmetry, positivity, monotonicity, and a known-law prior.

:func:`constrain` wraps a KAN (or a compiled KAN graph) in a :class:`ConstrainedModel` that
:func:`~kandisco.kan.train.fit` trains like any model (``fit(..., constraints=[...])`` wraps for
you and hands the wrapper back as ``history.model``). The model computes

    f(x) = positive( symmetrise( base(x) + known(x) ) )

* :class:`Symmetric` ``("x", "y")`` or ``(0, 1)``: the average of the inside over every permutation
  of those inputs. Exact by construction: for a pair, ``a + b == b + a`` in floating point, so
  ``f(x, y) == f(y, x)`` bit for bit; for three or four variables it holds to rounding.
* :class:`Positive`: the output through softplus (or a square): never negative, at any point.
* :class:`Monotone` ``(i)``: a penalty on the wrong-signed part of df/dx_i at the training points
  (or at given points), in the loss's units (``(std(x_i) * df/dx_i)**2``): soft, not exact; it
  is zero for a law that is monotone there.
* :class:`KnownLaw`: a fixed torch module for the part of the law already known (a formula compiled
  into a KAN graph by :func:`kandisco.discovery.priors.known_law`); ``base`` learns the remainder.

:meth:`ConstrainedModel.output_formulas` applies the same construction to the base's formula
(its edges must be symbolic), so the law read back carries the constraint exactly.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sympy
import torch
from torch import nn

from ..errors import KandiscoError

__all__ = ["ConstraintError", "input_index", "Constraint", "Symmetric", "Positive", "Monotone", "KnownLaw", "ConstrainedModel", "constrain"]


class ConstraintError(KandiscoError, ValueError):
    """A constraint that cannot apply to this model (an input that does not exist, a clash)."""


class Constraint:
    """Base class of the constraints :func:`constrain` and ``fit(constraints=...)`` accept."""


def input_index(variable: int | str, names: Sequence[str] | None, n_inputs: int, what: str) -> int:
    """The column number of ``variable`` (a name or a number); a clear error naming ``what`` if there is none."""
    if isinstance(variable, str):
        if names is None or variable not in names:
            raise ConstraintError(f"{what}: no input named {variable!r}" + (f"; inputs are {', '.join(names)}" if names else
                                  " (the model has no input names: give column numbers)"))
        return list(names).index(variable)
    i = int(variable)
    if not 0 <= i < n_inputs:
        raise ConstraintError(f"{what}: input {i} does not exist (the model has {n_inputs} inputs)")
    return i


@dataclass(frozen=True)
class Symmetric(Constraint):
    """The law is unchanged by any permutation of these inputs (two to four, names or column numbers)."""

    variables: tuple[int | str, ...]

    def __init__(self, *variables: int | str) -> None:
        if len(variables) == 1 and isinstance(variables[0], (list, tuple)):
            variables = tuple(variables[0])
        if not 2 <= len(variables) <= 4 or len(set(variables)) != len(variables):
            raise ConstraintError(f"Symmetric needs two to four distinct inputs, got {variables!r}")
        object.__setattr__(self, "variables", tuple(variables))


@dataclass(frozen=True)
class Positive(Constraint):
    """The output is never negative: ``softplus(inside)`` (default) or ``inside**2``."""

    kind: str = "softplus"

    def __post_init__(self) -> None:
        if self.kind not in ("softplus", "square"):
            raise ConstraintError(f"Positive(kind={self.kind!r}): choose 'softplus' or 'square'")


@dataclass(frozen=True)
class Monotone(Constraint):
    """df/dx_i has the sign of ``increasing`` (a penalty of weight ``weight``; ``points``: where, default the training points)."""

    variable: int | str
    increasing: bool = True
    weight: float = 10.0
    points: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.weight > 0:
            raise ConstraintError(f"Monotone weight must be positive, got {self.weight}")


@dataclass(frozen=True, eq=False)
class KnownLaw(Constraint):
    """A known part of the law: ``module`` maps ``(n, d)`` inputs to ``(n,)`` or ``(n, 1)``; ``formula`` is
    its sympy form in the inputs' symbols (``x0, x1, ...`` or the given ``names``), for reading the law back."""

    module: nn.Module
    formula: sympy.Expr | None = None
    names: tuple[str, ...] | None = None


class ConstrainedModel(nn.Module):
    """``positive(symmetrise(base(x) + known(x)))`` with the base's training interface (see the module doc)."""

    base: Any  # a KAN or GraphModule (typed loosely: protocol.py's Trainable alias sits above this module)

    def __init__(self, base: Any, constraints: Sequence[Constraint], input_names: Sequence[str] | None = None) -> None:
        super().__init__()
        if isinstance(base, ConstrainedModel):
            raise ConstraintError("the base is already constrained: pass its constraints together to constrain()")
        self.base = base
        self.dtype: torch.dtype = self.base.dtype
        self.input_names = list(input_names) if input_names is not None else getattr(base, "input_names", None)
        n = int(self.base.n_inputs)
        self.constraints = list(constraints)
        groups: list[tuple[int, ...]] = []
        self.positive: Positive | None = None
        self.monotone: list[tuple[int, Monotone]] = []
        knowns: list[KnownLaw] = []
        for c in self.constraints:
            if isinstance(c, Symmetric):
                group = tuple(input_index(v, self.input_names, n, "Symmetric") for v in c.variables)
                if len(set(group)) != len(group):
                    raise ConstraintError(f"Symmetric{c.variables} names one input twice")
                if any(set(group) & set(g) for g in groups):
                    raise ConstraintError(f"Symmetric{c.variables} overlaps another symmetry: give all the variables in one Symmetric")
                groups.append(group)
            elif isinstance(c, Positive):
                if self.positive is not None:
                    raise ConstraintError("Positive given twice")
                self.positive = c
            elif isinstance(c, Monotone):
                self.monotone.append((input_index(c.variable, self.input_names, n, "Monotone"), c))
            elif isinstance(c, KnownLaw):
                knowns.append(c)
            else:
                raise ConstraintError(f"unknown constraint {c!r}; use Symmetric, Positive, Monotone or KnownLaw")
        self.groups = groups
        self.known = nn.ModuleList([k.module for k in knowns])
        self._known_laws = knowns
        # every permutation the symmetrisation averages over (product of the groups' permutations)
        per_group = [list(itertools.permutations(g)) for g in groups]
        self._perms: list[list[int]] = []
        for choice in itertools.product(*per_group) if groups else [()]:
            perm = list(range(n))
            for group, images in zip(groups, choice):
                for src, dst in zip(group, images):
                    perm[src] = dst
            self._perms.append(perm)
        self.train_inputs: torch.Tensor | None = None

    # ------------------------------------------------------------ what fit needs
    @property
    def n_inputs(self) -> int:
        return int(self.base.n_inputs)

    @property
    def n_outputs(self) -> int:
        return int(self.base.n_outputs)

    @property
    def layers(self) -> Any:
        return self.base.layers

    @property
    def grids_initialized(self) -> bool:
        return bool(self.base.grids_initialized)

    def base_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Every input the base sees for ``x``: ``x`` under each permutation, stacked (``(n * perms, d)``)."""
        x = torch.as_tensor(x).to(self.dtype)
        if len(self._perms) == 1:
            return x
        return torch.cat([x[:, p] for p in self._perms])

    def initialize_grids(self, x: torch.Tensor, grid_eps: float = 1.0) -> None:
        self.base.initialize_grids(self.base_inputs(x), grid_eps=grid_eps)

    def update_grid(self, x: torch.Tensor, grid_eps: float = 0.02) -> None:
        self.base.update_grid(self.base_inputs(x), grid_eps=grid_eps)

    def _inside(self, x: torch.Tensor) -> torch.Tensor:
        """base + known, ``(n, n_out)``, before symmetrisation."""
        out = self.base(x)
        for module in self.known:
            out = out + module(x).reshape(x.shape[0], -1)
        return out

    def _finish(self, out: torch.Tensor) -> torch.Tensor:
        if self.positive is None:
            return out
        return torch.nn.functional.softplus(out) if self.positive.kind == "softplus" else out * out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x).to(self.dtype)
        if len(self._perms) == 1:
            return self._finish(self._inside(x))
        n = x.shape[0]
        values = self._inside(self.base_inputs(x)).reshape(len(self._perms), n, -1)  # (perms, n, out)
        if len(self._perms) == 2:
            out = (values[0] + values[1]) * 0.5  # commutative: exactly symmetric
        else:
            out = values.mean(0)
        return self._finish(out)

    def activations(self, x: torch.Tensor) -> Any:
        """The base's activations on what it sees (for the sparsity penalty), with this model's output."""
        return replace(self.base.activations(self.base_inputs(x)), output=self(x))

    def penalty(self, x: torch.Tensor) -> torch.Tensor:
        """The monotonicity penalties at ``x`` (or each constraint's own points): zero without a Monotone."""
        total = torch.zeros((), dtype=self.dtype)
        for i, c in self.monotone:
            pts = torch.as_tensor(c.points).to(self.dtype) if c.points is not None else x
            pts = pts.detach().clone().requires_grad_(True)
            (g,) = torch.autograd.grad(self(pts)[:, 0].sum(), pts, create_graph=True)
            slope = g[:, i] if c.increasing else -g[:, i]
            scale = pts[:, i].detach().std() if pts.shape[0] > 1 else torch.ones((), dtype=self.dtype)
            total = total + c.weight * (torch.relu(-slope) * scale).pow(2).mean()
        return total

    # ------------------------------------------------------------ symbolic
    def auto_symbolic(self, X: Any = None, library: Any = None, **kwargs: Any) -> Any:
        """Fix the base's edges to library functions on what the base sees of ``X`` (default the training inputs)."""
        X = self.train_inputs if X is None else X
        if X is None:
            raise ConstraintError("no data: pass X, or fit the model first")
        return self.base.auto_symbolic(self.base_inputs(torch.as_tensor(X)), library, **kwargs)

    def output_formulas(self, symbols: Sequence[sympy.Symbol] | None = None) -> list[sympy.Expr]:
        """Each output as sympy, the constraints applied to the base's formula (its edges must be symbolic)."""
        if symbols is None:
            names = self.input_names or [f"x{i}" for i in range(self.n_inputs)]
            symbols = [sympy.Symbol(n, real=True) for n in names]
        symbols = list(symbols)
        if len(symbols) != self.n_inputs:
            raise ConstraintError(f"{len(symbols)} symbols for a model with {self.n_inputs} inputs")
        inside = list(self.base.output_formulas(symbols))
        for law in self._known_laws:
            if law.formula is None:
                raise ConstraintError("a KnownLaw without its formula: give KnownLaw(module, formula=...) to read the law back")
            by_name = {s.name: s for s in law.formula.free_symbols}
            own = law.names or tuple(f"x{i}" for i in range(self.n_inputs))
            mapping = {by_name[n]: symbols[i] for i, n in enumerate(own) if n in by_name}
            inside = [e + law.formula.xreplace(mapping) for e in inside]
        out = []
        for e in inside:
            if len(self._perms) > 1:
                e = sympy.Add(*[e.xreplace({symbols[i]: symbols[p[i]] for i in range(len(symbols))}) for p in self._perms])
                e = e / len(self._perms)
            if self.positive is not None:
                e = sympy.log(1 + sympy.exp(e)) if self.positive.kind == "softplus" else e**2
            out.append(e)
        return out


def constrain(model: nn.Module, *constraints: Constraint, input_names: Sequence[str] | None = None) -> ConstrainedModel:
    """``model`` (a KAN or a compiled graph) under ``constraints``; a constrained model gets the new ones added."""
    if isinstance(model, ConstrainedModel):
        return ConstrainedModel(model.base, [*model.constraints, *constraints], input_names or model.input_names)
    return ConstrainedModel(model, list(constraints), input_names)
