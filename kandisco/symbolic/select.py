"""Choosing a symbolic function: trading goodness of fit against complexity.

The scoring rule (:func:`score_fits`, higher is better)::

    score = -log10(max(1 - R^2, 0) + floor)
            - complexity_weight * complexity
            - amplification_weight * log10(max(amplification / amplification_free, 1))

``-log10(1 - R^2)`` counts the *decades of variance explained* (R^2 = 0.99 is
2 decades, 0.99999 is 5); each unit of complexity costs ``complexity_weight``
decades (default 0.15, i.e. a function one unit more complex must leave 1.4x
less variance unexplained); ``floor`` (default 1e-10) caps the credit a
near-perfect fit can earn, so that fits better than 1 part in 1e10 count as
equally perfect and the simpler one wins.  The last term (default weight 0.5,
free up to 10) penalises *degenerate* fits, where ``c f`` is much larger than
the variation it explains and cancels against ``d`` (a parabola written as
``1549 sin(0.034 x - 1.58) + 1549``); ``amplification`` comes from
:class:`~kandisco.symbolic.affine.AffineFits` and is about 1-3 for honest fits.
R^2 is the held-out R^2 of ``fit_affine``.  Consequences, all tested:

* a fit at R^2 = 0.999 (3 decades) beats ``0`` (R^2 = 0, 0 decades) unless it
  costs more than 20 complexity units: a clear sine is never replaced by 0
  (pykan's ``0.8 * complexity + 0.2 * log2(1 - R^2)`` lets ``0`` win at 0.99);
* between two fits of (near-)equal R^2 the simpler wins;
* a fit whose unexplained variance is 1000x larger (0.99 vs 0.99999) loses
  even to a function 4 complexity units (0.6 decades) more complex.

Ranking: scores within ``tie_tol`` (0.01 decades, i.e. 2 % in unexplained
variance, well below what a held-out set can resolve) of the best remaining
one count as ties, resolved by lower complexity, then library order (so exact
twins such as sin/cos or sigmoid/tanh resolve deterministically).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy
import torch
from torch import Tensor

from .affine import AffineFits, fit_affine
from .library import SymbolicLibrary, get_library

__all__ = ["SymbolicFit", "score_fits", "rank_order", "select_best", "rank_edge", "suggest"]

MIN_POINTS = 5


def score_fits(
    r2: Tensor | np.ndarray | float,
    complexity: Tensor | np.ndarray | float,
    amplification: Tensor | np.ndarray | float | None = None,
    *,
    complexity_weight: float = 0.15,
    floor: float = 1e-10,
    amplification_weight: float = 0.5,
    amplification_free: float = 10.0,
) -> Tensor:
    """Score (higher is better) by the module's rule; all inputs broadcast, NaN R^2 scores -inf."""
    r2_t = torch.as_tensor(r2, dtype=torch.float64)
    cx = torch.as_tensor(complexity, dtype=torch.float64)
    unexplained = (1.0 - r2_t).clamp(min=0.0)
    score = -torch.log10(unexplained + floor) - complexity_weight * cx
    if amplification is not None:
        amp = torch.nan_to_num(torch.as_tensor(amplification, dtype=torch.float64), nan=math.inf)
        score = score - amplification_weight * torch.log10((amp / amplification_free).clamp(min=1.0))
    return torch.where(torch.isnan(score), torch.full_like(score, -math.inf), score)


def rank_order(scores: Sequence[float], complexities: Sequence[float], tie_tol: float = 0.01) -> list[int]:
    """Indices best first: repeatedly take, among the scores within ``tie_tol`` of the best
    remaining one, the lowest complexity (then the lowest index)."""
    left = list(range(len(scores)))
    order: list[int] = []
    while left:
        top = max(scores[k] for k in left)
        if top == -math.inf:
            near = left
        else:
            near = [k for k in left if scores[k] >= top - tie_tol]
        pick = min(near, key=lambda k: (complexities[k], k))
        order.append(pick)
        left.remove(pick)
    return order


def _nice(v: float) -> sympy.Expr:
    """A 4-significant-digit sympy number for display (integers stay integers)."""
    if math.isfinite(v) and abs(v - round(v)) <= 1e-9 * max(1.0, abs(v)):
        return sympy.Integer(int(round(v)))
    return sympy.Float(float(f"{v:.4g}"))


@dataclass
class SymbolicFit:
    """``c * f(a * x + b) + d`` with its R^2 (held out), complexity and score."""

    name: str
    a: float
    b: float
    c: float
    d: float
    r2: float
    complexity: float
    score: float
    sympy_fn: Callable[[sympy.Expr], sympy.Expr] | None = field(default=None, repr=False, compare=False)

    @property
    def params(self) -> tuple[float, float, float, float]:
        return (self.a, self.b, self.c, self.d)

    def _expr(self, x: sympy.Symbol, fn: Callable[[sympy.Expr], sympy.Expr], num: Callable[[float], sympy.Expr]):
        if self.name == "0":
            return num(self.d)
        inner = num(self.a) * x + num(self.b)
        return num(self.c) * fn(inner) + num(self.d)

    def to_sympy(self, x_symbol: sympy.Symbol | None = None, library: SymbolicLibrary | None = None) -> sympy.Expr:
        """The fitted function as a sympy expression in ``x_symbol`` (full-precision floats)."""
        x = x_symbol if x_symbol is not None else sympy.Symbol("x")
        return self._expr(x, self._sympy_fn(library), sympy.Float)

    def _sympy_fn(self, library: SymbolicLibrary | None) -> Callable[[sympy.Expr], sympy.Expr]:
        if library is not None:
            return library[self.name].sympy_fn
        if self.sympy_fn is not None:
            return self.sympy_fn
        return get_library(None)[self.name].sympy_fn

    def __str__(self) -> str:
        try:
            fn = self._sympy_fn(None)
        except KeyError:
            return f"{self.c:.4g}*{self.name}({self.a:.4g}*x{self.b:+.4g}){self.d:+.4g}"
        expr = sympy.N(self._expr(sympy.Symbol("x"), fn, _nice), 4)  # also rounds constants sympy folded
        return sympy.sstr(expr, full_prec=False).replace(" ", "")

    def to_dict(self) -> dict[str, float | str]:
        """JSON-able plain dict (no callables)."""
        return {k: getattr(self, k) for k in ("name", "a", "b", "c", "d", "r2", "complexity", "score")}


def rank_edge(
    fits: AffineFits, edge: int, library: SymbolicLibrary | None = None, *, tie_tol: float = 0.01, **score_kwargs
) -> list[SymbolicFit]:
    """All functions of one edge as :class:`SymbolicFit`, best first (see the module's rule)."""
    lib = get_library(library)
    amp = fits.amplification[edge] if fits.amplification is not None else None
    scores = score_fits(fits.r2[edge], fits.complexities, amp, **score_kwargs)  # (F,)
    out = []
    for k, name in enumerate(fits.names):
        a, b, c, d = (float(v) for v in fits.params[edge, k])
        out.append(
            SymbolicFit(
                name=name, a=a, b=b, c=c, d=d,
                r2=float(fits.r2[edge, k]),
                complexity=float(fits.complexities[k]),
                score=float(scores[k]),
                sympy_fn=lib[name].sympy_fn if name in lib else None,
            )
        )
    order = rank_order([f.score for f in out], [f.complexity for f in out], tie_tol)
    return [out[k] for k in order]


def select_best(
    fits: AffineFits, library: SymbolicLibrary | None = None, *, tie_tol: float = 0.01, **score_kwargs
) -> list[SymbolicFit]:
    """The best-scoring function of every edge (one :class:`SymbolicFit` per edge)."""
    return [rank_edge(fits, e, library, tie_tol=tie_tol, **score_kwargs)[0] for e in range(fits.n_edges)]


def _as_1d(values: Tensor | np.ndarray | Sequence[float], what: str) -> np.ndarray:
    """Validated finite float64 1-D array."""
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{what} must be a 1-D sequence of numbers: {err}") from None
    if arr.ndim != 1:
        arr = arr.squeeze()
        if arr.ndim != 1:
            raise ValueError(f"{what} must be 1-D, got shape {np.shape(values)}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{what} has a non-finite value at index {int(bad[0])}: {arr[bad[0]]}")
    return arr


def suggest(
    x: Tensor | np.ndarray | Sequence[float],
    y: Tensor | np.ndarray | Sequence[float],
    topk: int = 5,
    library: SymbolicLibrary | str | Sequence[str] | None = None,
    *,
    score_kwargs: dict | None = None,
    **fit_kwargs,
) -> list[SymbolicFit]:
    """The ``topk`` best fits ``y ~ c * f(a * x + b) + d`` over the library, best first.

    Accepts lists, numpy arrays or tensors. ``score_kwargs`` go to :func:`score_fits`
    (and ``tie_tol`` to the ranking), ``fit_kwargs`` to
    :func:`~kandisco.symbolic.affine.fit_affine`.
    """
    xa, ya = _as_1d(x, "x"), _as_1d(y, "y")
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must have the same length, got {xa.size} and {ya.size}")
    if xa.size < MIN_POINTS:
        raise ValueError(f"need at least {MIN_POINTS} points to suggest a function, got {xa.size}")
    if np.ptp(xa) == 0:
        raise ValueError("x is constant: no function of x can be identified")
    if topk < 1:
        raise ValueError(f"topk must be >= 1, got {topk}")
    lib = get_library(library)
    fits = fit_affine(torch.from_numpy(xa)[None], torch.from_numpy(ya)[None], lib, **fit_kwargs)
    ranked = rank_edge(fits, 0, lib, **(score_kwargs or {}))
    return ranked[:topk]
