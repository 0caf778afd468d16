"""Views: transformations of the data that a strategy searches in, undone in the formula.

A view turns ``(X, y)`` into what the network sees (``log`` of positive inputs, ``log y``, a power
of ``y``), says what each network input is in formula terms, writes the network's formula back in
the data's units, and labels plots. Views are registered by name (:func:`register_view`);
:func:`get_view` rebuilds one from its name and parameters (as stored in a candidate's config), so
no code asks "which view is this?" with a string comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import sympy

from ..units import PiGroups

__all__ = ["View", "RawView", "LogLogView", "LogYView", "PowerYView", "PiGroupView", "register_view", "get_view", "VIEWS"]


@dataclass(frozen=True)
class View:
    """The identity view; subclasses override what they change. ``standardise``: the target is
    scaled to zero mean and unit spread before training (views whose target is a log are not)."""

    name: ClassVar[str] = "raw"
    standardise: ClassVar[bool] = True

    def applies(self, X: np.ndarray, y: np.ndarray) -> bool:
        """Whether the view is defined on these data (logs need positive values)."""
        return True

    def transform(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return X, y

    def inputs(self, symbols: Sequence[sympy.Symbol]) -> list[sympy.Expr]:
        """What each network input is, in the data's symbols."""
        return list(symbols)

    def undo(self, g: sympy.Expr) -> sympy.Expr:
        """The target in the data's units from the network's (unscaled) output ``g``."""
        return g

    def labels(self, names: Sequence[str], target: str) -> tuple[list[str], str]:
        """Axis labels for plots of the network: its inputs' and output's names."""
        return list(names), target

    def plot_inputs(self, X: np.ndarray) -> np.ndarray:
        """The data as the network saw them (for plots of its edge functions)."""
        return X

    def params(self) -> dict[str, Any]:
        """JSON-ready description: ``{"name": ..., **parameters}``; :func:`get_view` reads it back."""
        return {"name": self.name}


@dataclass(frozen=True)
class RawView(View):
    """The data as they are."""


@dataclass(frozen=True)
class LogLogView(View):
    """``log y`` against ``log x``: a power law ``C prod x_i^p_i`` is a sum (positive data only)."""

    name: ClassVar[str] = "loglog"
    standardise: ClassVar[bool] = False

    def applies(self, X: np.ndarray, y: np.ndarray) -> bool:
        return bool(np.all(X > 0) and np.all(y > 0))

    def transform(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.log(X), np.log(y)

    def inputs(self, symbols: Sequence[sympy.Symbol]) -> list[sympy.Expr]:
        return [sympy.log(s) for s in symbols]

    def undo(self, g: sympy.Expr) -> sympy.Expr:
        return sympy.exp(g)

    def labels(self, names: Sequence[str], target: str) -> tuple[list[str], str]:
        return [f"log {n}" for n in names], f"log {target}"

    def plot_inputs(self, X: np.ndarray) -> np.ndarray:
        return np.log(X)


@dataclass(frozen=True)
class LogYView(View):
    """``log y`` against ``x``: a product of one-variable factors is a sum (positive y only)."""

    name: ClassVar[str] = "logy"
    standardise: ClassVar[bool] = False

    def applies(self, X: np.ndarray, y: np.ndarray) -> bool:
        return bool(np.all(y > 0))

    def transform(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return X, np.log(y)

    def undo(self, g: sympy.Expr) -> sympy.Expr:
        return sympy.exp(g)

    def labels(self, names: Sequence[str], target: str) -> tuple[list[str], str]:
        return list(names), f"log {target}"


@dataclass(frozen=True)
class PowerYView(View):
    """``y**power`` against ``x``: ``1/sqrt(1 - u**2)`` is no sum, its -2nd power is (positive y only)."""

    name: ClassVar[str] = "ypow"
    power: float = 1.0

    def applies(self, X: np.ndarray, y: np.ndarray) -> bool:
        return bool(np.all(y > 0))

    def transform(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return X, y**self.power

    def undo(self, g: sympy.Expr) -> sympy.Expr:
        return g ** sympy.Rational(1 / self.power).limit_denominator(12)

    def labels(self, names: Sequence[str], target: str) -> tuple[list[str], str]:
        return list(names), f"{target}^{self.power:g}"

    def params(self) -> dict[str, Any]:
        return {"name": self.name, "power": self.power}


@dataclass(frozen=True)
class PiGroupView(View):
    """Dimensionless groups in, the target's own group out (Buckingham pi), then ``inner`` on top.

    The network sees ``Z = groups(X)`` and ``y / M(X)``, ``M`` the monomial with the target's units
    (:class:`~kandisco.units.PiGroups`), through the inner view (``raw``, ``loglog``, ...); the
    formula comes back as ``M * inner.undo(g)`` in the data's symbols. ``symbols``: the pipeline's
    symbol names (positive symbols: groups need positive inputs); exponents are fraction strings,
    so :meth:`params` is JSON-ready and :func:`get_view` rebuilds the view.
    """

    name: ClassVar[str] = "pi"
    symbols: tuple[str, ...] = ()
    target_exponents: tuple[str, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()
    inner: Any = "raw"  # an inner view's name or params

    def __post_init__(self) -> None:  # lists from JSON -> tuples, so the view stays hashable
        object.__setattr__(self, "symbols", tuple(self.symbols))
        object.__setattr__(self, "target_exponents", tuple(str(e) for e in self.target_exponents))
        object.__setattr__(self, "groups", tuple(tuple(str(e) for e in g) for g in self.groups))
        if isinstance(self.inner, dict):
            object.__setattr__(self, "inner", tuple(sorted(self.inner.items())))

    @classmethod
    def of(cls, pi: PiGroups, symbols: Sequence[sympy.Symbol], inner: View | None = None) -> PiGroupView:
        """The view of ``pi``'s groups and monomial for the pipeline's ``symbols`` (one per input of ``pi``)."""
        spec = (inner or RawView()).params()
        return cls(tuple(s.name for s in symbols), tuple(str(e) for e in pi.target_exponents),
                   tuple(tuple(str(e) for e in g) for g in pi.groups), tuple(sorted(spec.items())))

    @property
    def pi(self) -> PiGroups:
        return PiGroups.from_dict({"inputs": self.symbols, "target": "y", "target_exponents": self.target_exponents,
                                   "groups": self.groups})

    @property
    def inner_view(self) -> View:
        return get_view(dict(self.inner) if isinstance(self.inner, tuple) else self.inner)

    @property
    def standardise(self) -> bool:  # type: ignore[override]
        return self.inner_view.standardise

    def _groups(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pi = self.pi
        return pi.group_values(X), y / pi.monomial_values(X)

    def applies(self, X: np.ndarray, y: np.ndarray) -> bool:
        used = self.pi.used()
        if not np.all(X[:, used] > 0):
            return False
        Z, w = self._groups(X, y)
        return bool(Z.shape[1] > 0 and np.all(np.isfinite(Z)) and np.all(np.isfinite(w)) and self.inner_view.applies(Z, w))

    def transform(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.inner_view.transform(*self._groups(X, y))

    def inputs(self, symbols: Sequence[sympy.Symbol]) -> list[sympy.Expr]:
        return self.inner_view.inputs(self.pi.group_exprs(symbols))

    def undo(self, g: sympy.Expr) -> sympy.Expr:
        return self.pi.monomial([sympy.Symbol(n, positive=True) for n in self.symbols]) * self.inner_view.undo(g)

    def labels(self, names: Sequence[str], target: str) -> tuple[list[str], str]:
        syms = [sympy.Symbol(n, positive=True) for n in names]
        pi = self.pi
        groups = [sympy.sstr(g) for g in pi.group_exprs(syms)]
        return self.inner_view.labels(groups, sympy.sstr(sympy.Symbol(target, positive=True) / pi.monomial(syms)))

    def plot_inputs(self, X: np.ndarray) -> np.ndarray:
        return self.inner_view.plot_inputs(self.pi.group_values(X))

    def params(self) -> dict[str, Any]:
        return {"name": self.name, "symbols": list(self.symbols), "target_exponents": list(self.target_exponents),
                "groups": [list(g) for g in self.groups], "inner": dict(self.inner) if isinstance(self.inner, tuple) else self.inner}


VIEWS: dict[str, Callable[..., View]] = {}


def register_view(name: str, factory: Callable[..., View]) -> None:
    """Make ``factory(**params)`` the view called ``name`` (a new view is one module and this call)."""
    if name in VIEWS:
        raise ValueError(f"a view named {name!r} is already registered")
    VIEWS[name] = factory


def get_view(spec: str | dict[str, Any] | View) -> View:
    """A view from its name, its :meth:`View.params` dict, or itself."""
    if isinstance(spec, View):
        return spec
    params = {"name": spec} if isinstance(spec, str) else dict(spec)
    name = params.pop("name", "raw")
    if name not in VIEWS:
        raise ValueError(f"unknown view {name!r}; known views: {', '.join(VIEWS)}")
    return VIEWS[name](**params)


for _view in (RawView, LogLogView, LogYView, PowerYView, PiGroupView):
    register_view(_view.name, _view)
