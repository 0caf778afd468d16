"""A PDE problem: a residual, a box domain, Dirichlet / Neumann boundary conditions, an initial condition.

``residual(u, x)`` receives the network output ``u`` (``(n, 1)``) and the points ``x`` (``(n, d)``,
one column per domain variable in the domain's order, gradients enabled) and returns the residual
per point (``(n,)``, ``(n, 1)``, or ``(n, k)`` for a system); it is built with the helpers of
:mod:`kandisco.pde.operators`. Conditions are callables from points ``(n, d)`` to values ``(n,)``,
or plain numbers. A box face is named after its variable and side: ``"x-"`` is ``x = low``, ``"x+"``
is ``x = high``. With a time variable, ``initial`` holds at ``t = low`` and the boundary conditions
apply on the faces of the other (space) variables only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Union

import torch

from .errors import PDEError

__all__ = ["Box", "Condition", "Face", "Problem"]

Condition = Union[Callable[[torch.Tensor], torch.Tensor], float, int]
Residual = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Face:
    """One face of the box: variable ``name`` (column ``dim``) fixed at ``value``; ``sign`` is the outward normal."""

    name: str
    dim: int
    value: float
    sign: int


@dataclass(frozen=True)
class Box:
    """A box domain: variable names in column order and their intervals."""

    names: tuple[str, ...]
    lows: tuple[float, ...]
    highs: tuple[float, ...]

    @classmethod
    def from_mapping(cls, domain: Mapping[str, Sequence[float]]) -> Box:
        """``{"x": (-1, 1), "y": (0, 2)}`` -> a Box, checked: names are identifiers, intervals finite and non-empty."""
        if not isinstance(domain, Mapping) or not domain:
            raise PDEError(f"domain must map variable names to intervals, e.g. {{'x': (-1, 1)}}; got {domain!r}")
        names, lows, highs = [], [], []
        for name, interval in domain.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise PDEError(f"domain variable {name!r} must be a name such as 'x' or 't'")
            try:
                low, high = (float(v) for v in interval)
            except (TypeError, ValueError):
                raise PDEError(f"domain[{name!r}] must be an interval (low, high), got {interval!r}") from None
            if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
                raise PDEError(f"domain[{name!r}] = {interval!r}: need finite low < high")
            names.append(name)
            lows.append(low)
            highs.append(high)
        return cls(tuple(names), tuple(lows), tuple(highs))

    @property
    def dim(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        """Column of variable ``name``."""
        if name not in self.names:
            raise PDEError(f"{name!r} is not a domain variable; variables: {', '.join(self.names)}")
        return self.names.index(name)

    def faces(self, variables: Sequence[str] | None = None) -> list[Face]:
        """The two faces of each of ``variables`` (default all), low side first."""
        out = []
        for name in self.names if variables is None else variables:
            i = self.index(name)
            out += [Face(f"{name}-", i, self.lows[i], -1), Face(f"{name}+", i, self.highs[i], +1)]
        return out

    def volume(self) -> float:
        return math.prod(h - lo for lo, h in zip(self.lows, self.highs))


def _check_condition(value: object, what: str) -> None:
    if not (callable(value) or isinstance(value, (int, float))):
        raise PDEError(f"{what} must be a callable (points -> values) or a number, got {type(value).__name__}")


@dataclass
class Problem:
    """A PDE on a box (see the module doc). ``exact`` (optional) is a callable exact solution, for errors.

    Args:
        residual: ``residual(u, x) -> (n,)`` (zero where the PDE holds).
        domain: variable names to intervals, in the column order the residual sees.
        boundary: Dirichlet values: one condition for every space face, or ``{face: condition}``.
        neumann: outward normal derivative du/dn, the same way (a face takes one kind of condition).
        initial: u at the start of the time interval (needs ``time``).
        time: the time variable's name (default ``"t"`` when an initial condition is given and the domain has a ``t``).
        exact: the exact solution (points -> values), when known; :func:`solve` reports the error against it.
        name: a label for tables.
    """

    residual: Residual
    domain: Mapping[str, Sequence[float]]
    boundary: Condition | Mapping[str, Condition] | None = None
    neumann: Condition | Mapping[str, Condition] | None = None
    initial: Condition | None = None
    time: str | None = None
    exact: Callable[[torch.Tensor], torch.Tensor] | None = None
    name: str = "pde"
    box: Box = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not callable(self.residual):
            raise PDEError(f"residual must be a callable residual(u, x), got {type(self.residual).__name__}")
        self.box = Box.from_mapping(self.domain)
        if self.time is None and self.initial is not None and "t" in self.box.names:
            self.time = "t"
        if self.time is not None:
            self.box.index(self.time)
        if self.initial is not None:
            if self.time is None:
                raise PDEError("an initial condition needs a time variable: pass time='...' (one of the domain's variables)")
            _check_condition(self.initial, "initial")
        if self.exact is not None and not callable(self.exact):
            raise PDEError(f"exact must be a callable (points -> values), got {type(self.exact).__name__}")
        dirichlet = self._by_face(self.boundary, "boundary")
        neumann = self._by_face(self.neumann, "neumann")
        both = sorted(set(dirichlet) & set(neumann))
        if both:
            raise PDEError(f"faces {both} have both a Dirichlet and a Neumann condition; give each face one")
        self._dirichlet, self._neumann = dirichlet, neumann

    @property
    def space(self) -> list[str]:
        """The variables that are not time."""
        return [n for n in self.box.names if n != self.time]

    def _by_face(self, spec: Condition | Mapping[str, Condition] | None, what: str) -> dict[str, Condition]:
        if spec is None:
            return {}
        faces = {f.name: f for f in self.box.faces(self.space)}
        if isinstance(spec, Mapping):
            unknown = sorted(set(spec) - set(faces))
            if unknown:
                raise PDEError(f"{what}: unknown faces {unknown}; the faces are {', '.join(faces)}")
            for face, value in spec.items():
                _check_condition(value, f"{what}[{face!r}]")
            return dict(spec)
        _check_condition(spec, what)
        return {name: spec for name in faces}

    def dirichlet_faces(self) -> list[tuple[Face, Condition]]:
        """Every face with a Dirichlet condition, and the condition."""
        faces = {f.name: f for f in self.box.faces(self.space)}
        return [(faces[n], c) for n, c in self._dirichlet.items()]

    def neumann_faces(self) -> list[tuple[Face, Condition]]:
        """Every face with a Neumann condition, and the condition."""
        faces = {f.name: f for f in self.box.faces(self.space)}
        return [(faces[n], c) for n, c in self._neumann.items()]

    def initial_face(self) -> Face | None:
        """The face ``time = low`` where the initial condition holds (None without one)."""
        if self.initial is None or self.time is None:
            return None
        return self.box.faces([self.time])[0]

    def index(self, name: str) -> int:
        """Column of variable ``name`` in the points the residual receives."""
        return self.box.index(name)


def evaluate_condition(condition: Condition, points: torch.Tensor, what: str) -> torch.Tensor:
    """Values ``(n,)`` of a condition at ``points``; a wrong shape or a non-finite value is a :class:`PDEError`."""
    if not callable(condition):
        return torch.full((points.shape[0],), float(condition), dtype=points.dtype)
    with torch.no_grad():
        values = torch.as_tensor(condition(points), dtype=points.dtype)
    if values.dim() == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.dim() == 0:
        values = values.expand(points.shape[0])
    if values.shape != (points.shape[0],):
        raise PDEError(f"{what} must return one value per point ({points.shape[0]}), got shape {tuple(values.shape)}")
    if not bool(torch.isfinite(values).all()):
        raise PDEError(f"{what} returned NaN or infinite values")
    return values.detach().clone()
