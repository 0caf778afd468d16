"""Structure analysis: separability and symmetry tests on a surrogate, a decomposition tree, a KANGraph.

The tests look at a function ``f`` (a fitted surrogate or any vectorised callable) at points drawn
from the data. Each is the finite-step form of a derivative identity, which keeps it robust to a
surrogate's small wiggles (a spline's second derivative is noisy; its values are not):

* additive separability ``f = g(x_A) + h(x_B)`` <=> ``d2f/dx_i dx_j = 0`` for ``i in A, j in B``;
  tested as the mixed second difference ``f(a,b) + f(a',b') - f(a,b') - f(a',b)``, relative to
  the spread of ``f``;
* multiplicative separability ``f = g(x_A) h(x_B)`` <=> ``d2 log|f| / dx_i dx_j = 0``; tested as
  ``f(a,b) f(a',b') - f(a,b') f(a',b)`` relative to ``|f(a,b) f(a',b')| + |f(a,b') f(a',b)|``;
* generalized separability ``f = F(g(x_A) + h(x_B))`` or ``F(g(x_A) * h(x_B))`` for F in a small
  set of invertible outer functions (``1/s``, ``sqrt(s)``, ``asin(s)``, ``exp(s)``): additive or
  multiplicative separability of ``F^-1(f)``; and ``f = c + g(x_A) h(x_B)`` for an unknown ``c``
  (multiplicative separability of a finite difference of f);
* symmetries ``f`` depends on ``x_i`` and ``x_j`` only through ``x_i - x_j`` (``df/dx_i + df/dx_j
  = 0``), ``x_i + x_j``, ``x_i * x_j`` or ``x_i / x_j``: moving along the invariant curve changes
  ``f`` much less than moving either variable alone by the same step;
* scaling (homogeneity) ``f(l x_i, l x_j) = l^p f`` <=> ``f = x_j^p h(x_i / x_j, rest)``: along the
  ``x_i / x_j`` curve ``log|f|`` changes linearly in ``log l`` (``c^2 h(v/c)``, ``h(t/s)/s``).

Scores are medians over point pairs, so they are scale-free and a few bad surrogate values do not
decide. Where the data cover a thin region of the box (sampled along curves or trajectories), the
pairs are chosen so that every point a test evaluates lies near data, and separability is judged
against the pair's own variation (:func:`_supported_pairs`): a surrogate's extrapolation into empty
regions never decides. :func:`decompose` applies the tests recursively (splits first, then shifted products and
outer functions, then symmetries, then scalings) and returns a tree; :func:`build_graph` turns the tree into a :class:`KANGraph`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import sympy

from ..kan import KAN, KANGraph
from ..symbolic.library import get_library

T = TypeVar("T")

__all__ = [
    "OUTER_FUNCTIONS",
    "SYMMETRIES",
    "Node",
    "additive_score",
    "build_graph",
    "decompose",
    "multiplicative_score",
    "scaling_score",
    "separable_groups",
    "symmetry_score",
]

Fn = Callable[[np.ndarray], np.ndarray]



# a pair of variable groups counts as separable when its score is below these (scores are relative)
ADDITIVE_THRESHOLD = 1e-3
MULTIPLICATIVE_THRESHOLD = 1e-3
SYMMETRY_THRESHOLD = 0.05
# a surrogate's own error moves f along an invariant curve too, by about a third of that error (its
# errors at nearby points are alike): the symmetry threshold rises to SYMMETRY_ERROR_SHARE * error /
# (f's change off the curve), up to SYMMETRY_MAX_THRESHOLD, and such a loosened verdict must beat
# every other pair and kind by SYMMETRY_MARGIN (a score at most that share of the runner-up's)
SYMMETRY_ERROR_SHARE = 0.5
SYMMETRY_MAX_THRESHOLD = 0.2
SYMMETRY_MARGIN = 0.5

SYMMETRIES = ("minus", "divide", "plus", "times")
# outer functions F for generalized separability, with F^-1 (applied to f) and a domain check
OUTER_FUNCTIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], bool]]] = {
    "inv": (lambda f: 1.0 / f, lambda f: bool(np.all(f > 0) or np.all(f < 0))),
    "sqrt": (lambda f: f**2, lambda f: bool(np.all(f > 0))),
    "asin": (np.sin, lambda f: bool(np.all(np.abs(f) < np.pi / 2))),  # asin(n sin(theta))
    "exp": (np.log, lambda f: bool(np.all(f > 0))),  # exp(-m g x / (k T))
}
# the library function of each outer function's graph module (c*F(a*s + b) + d, affine trainable)
OUTER_LIBRARY_NAMES = {"inv": "1/x", "sqrt": "sqrt", "asin": "arcsin", "exp": "exp", "shift": "x"}


# ------------------------------------------------------------------------------ tests
def _pair_points(points: np.ndarray, n_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    i = rng.integers(0, len(points), n_pairs)
    j = rng.integers(0, len(points), n_pairs)
    return points[i], points[j]


def _swap(p: np.ndarray, q: np.ndarray, group: Sequence[int]) -> np.ndarray:
    out = p.copy()
    out[:, list(group)] = q[:, list(group)]
    return out


def _corners(fn: Fn, points: np.ndarray, A: Sequence[int], rng: np.random.Generator,
             n_pairs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """f at (a,b), (a',b'), (a,b'), (a',b) for random pairs of points, groups A and the rest,
    and whether the pairs had to be chosen locally (:func:`_supported_pairs`)."""
    p, q, local = _supported_pairs(points, A, n_pairs, rng)
    f_pp, f_qq = fn(p), fn(q)
    f_pq = fn(_swap(p, q, [c for c in range(points.shape[1]) if c not in A]))  # a from p, b from q
    f_qp = fn(_swap(p, q, A))  # a from q, b from p
    return f_pp, f_qq, f_pq, f_qp, local


# a swapped corner counts as inside the data when its nearest data point is at most this many times
# the data's own median nearest-neighbour distance away (inputs standardised)
SUPPORT_FACTOR = 3.0
SUPPORT_SHARE = 0.5  # below this share of random pairs with both corners inside, the data are "thin"
SUPPORT_OVERSAMPLE = 8  # candidate pairs drawn per pair kept, for thin data


def _supported_pairs(points: np.ndarray, A: Sequence[int], n_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, bool]:
    """Pairs of data points for the separability tests, and whether they are *local*.

    Inputs sampled over a box give swapped corners (a from one point, b from the other) among the
    data: the random pairs are used as they are. Inputs sampled along curves or trajectories
    (strongly correlated) leave most of the box empty, where a surrogate only extrapolates: then
    only pairs whose corners lie near data are kept (the nearest ones when too few are), and the
    tests measure the mixed difference against the pair's own variation (``local``)."""
    p, q = _pair_points(points, n_pairs, rng)
    if points.shape[1] < 2 or len(points) < 20:
        return p, q, False
    from scipy.spatial import cKDTree

    centre, scale = points.mean(axis=0), points.std(axis=0)
    scale[scale == 0] = 1.0
    tree = cKDTree((points - centre) / scale)
    typical = float(np.median(tree.query((points - centre) / scale, k=2)[0][:, 1])) or 1e-12
    rest = [c for c in range(points.shape[1]) if c not in A]

    def gaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.maximum(tree.query((_swap(a, b, rest) - centre) / scale)[0], tree.query((_swap(b, a, rest) - centre) / scale)[0])

    if np.mean(gaps(p, q) <= SUPPORT_FACTOR * typical) >= SUPPORT_SHARE:
        return p, q, False
    p, q = _pair_points(points, SUPPORT_OVERSAMPLE * n_pairs, rng)
    g = gaps(p, q)
    inside = np.flatnonzero(g <= SUPPORT_FACTOR * typical)
    keep = inside[:n_pairs] if len(inside) >= n_pairs // 4 else np.argsort(g, kind="stable")[: max(n_pairs // 4, 1)]
    return p[keep], q[keep], True


def additive_score(
    fn: Fn, points: np.ndarray, A: Sequence[int], seed: int = 0, n_pairs: int = 400,
    transform: Callable[[np.ndarray], np.ndarray] | None = None, near_zero: float | None = None,
) -> float:
    """Median |f(a,b) + f(a',b') - f(a,b') - f(a',b)| / std(f): 0 when f = g(x_A) + h(x_rest).

    ``transform`` (e.g. log|.|) is applied to f's values first; with ``near_zero`` pairs with a
    corner where ``|f| < near_zero * median|f|`` are left out.
    """
    rng = np.random.default_rng(seed)
    *corners, local = _corners(fn, points, A, rng, n_pairs)
    t = transform or (lambda v: v)
    keep = np.ones(len(corners[0]), dtype=bool)
    if near_zero is not None:  # log|f| near a zero of f is all surrogate error: leave those pairs out
        floor = near_zero * float(np.median(np.abs(fn(points))))
        keep = np.all([np.abs(c) > floor for c in corners], axis=0)
        if keep.sum() < 0.25 * len(keep):
            keep[:] = True
    values = [t(c[keep]) for c in corners]
    mixed = np.abs(values[0] + values[1] - values[2] - values[3])
    if local:  # thin data: against the change of f across the same pair, not the spread over the whole table
        return float(np.median(mixed) / (np.median(np.abs(values[0] - values[2]) + np.abs(values[1] - values[3])) or 1.0))
    return float(np.median(mixed) / _robust_spread(t(fn(points))))


def _robust_spread(values: np.ndarray) -> float:
    """The std of ``values``, but no more than their interquartile spread says (as a normal's std):
    near a pole (``1/sin^2``) a few huge values would make every difference look small."""
    q1, q3 = np.percentile(values, [25, 75])
    return float(min(np.std(values), (q3 - q1) / 1.349)) or float(np.std(values)) or 1.0


def multiplicative_score(
    fn: Fn, points: np.ndarray, A: Sequence[int], seed: int = 0, n_pairs: int = 400, offset_free: bool = False,
) -> float:
    """:func:`additive_score` of ``log|f|``: 0 when f = g(x_A) h(x_rest) (any sign, any scale).

    ``offset_free``: test ``f(x + h e_i) - f(x)`` (``i`` the first column of A) instead, which is
    separable when ``f = c + g(x_A) h(x_rest)`` for an unknown constant ``c`` - the situation of a
    term found by an additive split, whose offset is not known.
    """
    if offset_free:
        fn = _difference(fn, points, A[0])
    log_abs = lambda v: np.log(np.abs(v) + 1e-300)
    return additive_score(fn, points, A, seed=seed, n_pairs=n_pairs, transform=log_abs, near_zero=0.1)


def _difference(fn: Fn, points: np.ndarray, i: int) -> Fn:
    """x -> f(x + h e_i) - f(x), the step h a tenth of column i's range (turned back at the top)."""
    lo, hi = points[:, i].min(), points[:, i].max()
    h = 0.1 * (hi - lo) or 1e-3

    def diff(x: np.ndarray) -> np.ndarray:
        step = np.where(x[:, i] + h <= hi, h, -h)
        moved = x.copy()
        moved[:, i] = x[:, i] + step
        return (fn(moved) - fn(x)) * np.sign(step)

    return diff


def _move(kind: str, xi: np.ndarray, xj: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move (xi, xj) along the curve that keeps the invariant of ``kind``; ``t`` is the step."""
    if kind == "minus":
        return xi + t, xj + t
    if kind == "plus":
        return xi + t, xj - t
    if kind == "divide":
        return xi * np.exp(t), xj * np.exp(t)
    return xi * np.exp(t), xj * np.exp(-t)  # times


def _invariant_moves(
    points: np.ndarray, i: int, j: int, kind: str, seed: int, n_points: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Random points p, p moved along the invariant curve of ``kind``, p with only x_i or only x_j
    moved by the same step, the steps t and their scale (a quarter of the smaller range either way)."""
    rng = np.random.default_rng(seed)
    p = points[rng.integers(0, len(points), n_points)]
    if kind in ("times", "divide"):  # (a scaling moves a signed x_i too: its span is x_j's)
        cols = [c for c in (i, j) if np.all(points[:, c] > 0)] or [i, j]
        span = np.log(points[:, cols].max(0) / points[:, cols].min(0)).min()
    else:
        span = np.ptp(points[:, [i, j]], axis=0).min()
    t = rng.uniform(-0.25, 0.25, n_points) * span
    moved, only_i, only_j = p.copy(), p.copy(), p.copy()
    moved[:, i], moved[:, j] = _move(kind, p[:, i], p[:, j], t)
    only_i[:, i], only_j[:, j] = moved[:, i], moved[:, j]
    return p, moved, only_i, only_j, t, float(span)


def symmetry_score(
    fn: Fn, points: np.ndarray, i: int, j: int, kind: str, seed: int = 0, n_points: int = 400
) -> float:
    """How much f changes along the invariant curve of ``kind`` relative to moving x_i, x_j alone.

    0 when f depends on (x_i, x_j) only through x_i - x_j (``minus``), x_i + x_j (``plus``),
    x_i * x_j (``times``) or x_i / x_j (``divide``); about 1 or more otherwise.
    """
    if kind not in SYMMETRIES:
        raise ValueError(f"unknown symmetry {kind!r}; choose from {', '.join(SYMMETRIES)}")
    return _symmetry_parts(fn, points, i, j, kind, seed, n_points)[0]


def _symmetry_parts(
    fn: Fn, points: np.ndarray, i: int, j: int, kind: str, seed: int = 0, n_points: int = 400
) -> tuple[float, float]:
    """:func:`symmetry_score` and the median change of f off the curve (x_i or x_j moved alone)."""
    multiplicative = kind in ("times", "divide")
    if multiplicative and not (np.all(points[:, [i, j]] > 0)):
        return float("inf"), 0.0
    p, moved, only_i, only_j, _, _ = _invariant_moves(points, i, j, kind, seed, n_points)
    f0 = fn(p)
    f_moved = fn(moved)
    both = np.abs(f_moved - f0)
    alone = np.abs(fn(only_i) - f0) + np.abs(fn(only_j) - f0)
    spread = float(np.std(fn(points))) or 1.0
    if np.median(alone) < 1e-3 * spread:
        return float("inf"), 0.0  # f hardly depends on these two: no verdict
    return float(np.median(both) / np.median(alone)), float(np.median(alone))


def scaling_score(
    fn: Fn, points: np.ndarray, i: int, j: int, seed: int = 0, n_points: int = 400
) -> tuple[float, float]:
    """``(score, p)``: how far ``f(l x_i, l x_j) = l^p f`` is from holding, and the fitted degree p.

    Along the ``x_i / x_j`` curve, ``log|f|`` must change by ``p * log l`` for one p at every point;
    the score is the median misfit relative to how much ``log|f|`` changes when x_i or x_j moves
    alone (0 for a homogeneous f, about 1 or more otherwise). Needs a positive x_i or x_j (the
    other may take either sign: ``h((theta - theta1)/sigma)/sigma``).
    """
    if not (np.all(points[:, i] > 0) or np.all(points[:, j] > 0)):
        return float("inf"), 0.0
    p, moved, only_i, only_j, t, span = _invariant_moves(points, i, j, "divide", seed, n_points)
    values = [fn(q) for q in (p, moved, only_i, only_j)]
    floor = 0.1 * float(np.median(np.abs(values[0]))) # log|f| near a zero of f is all surrogate error
    keep = np.all([np.abs(v) > floor for v in values], axis=0) & (np.abs(t) > 0.02 * span)
    if keep.sum() < 0.25 * n_points or floor == 0:
        return float("inf"), 0.0
    logs = [np.log(np.abs(v[keep])) for v in values]
    r, tk = logs[1] - logs[0], t[keep]
    degree = float(np.median(r / tk))
    alone = np.abs(logs[2] - logs[0]) + np.abs(logs[3] - logs[0])
    if np.median(alone) < 1e-3:
        return float("inf"), 0.0  # f hardly depends on these two: no verdict
    return float(np.median(np.abs(r - degree * tk)) / np.median(alone)), degree


def separable_groups(
    fn: Fn, points: np.ndarray, kind: str, threshold: float | None = None, seed: int = 0, offset_free: bool = False,
) -> list[list[int]]:
    """The finest partition of the columns into groups with no (additive/multiplicative) interaction.

    Pairs are tested with the other columns held at each point's values; groups are the connected
    components of the "interacts" graph, then each split is confirmed on the whole group.
    """
    def score(f: Fn, pts: np.ndarray, A: Sequence[int], seed: int = 0) -> float:
        if kind == "additive":
            return additive_score(f, pts, A, seed=seed)
        return multiplicative_score(f, pts, A, seed=seed, offset_free=offset_free)
    thr = threshold if threshold is not None else (ADDITIVE_THRESHOLD if kind == "additive" else MULTIPLICATIVE_THRESHOLD)
    d = points.shape[1]
    parent = list(range(d))

    def root(a: int) -> int:
        while parent[a] != a:
            a = parent[a]
        return a

    for a, b in itertools.combinations(range(d), 2):
        if root(a) == root(b):
            continue
        pair_fn = _pair_view(fn, points, a, b)
        if score(pair_fn, points, [a], seed=seed + a * d + b) > thr:
            parent[root(b)] = root(a)
    groups: dict[int, list[int]] = {}
    for c in range(d):
        groups.setdefault(root(c), []).append(c)
    out = sorted(groups.values())
    if len(out) > 1 and any(score(fn, points, g, seed=seed + 7) > thr for g in out):
        return [list(range(d))]  # pairwise fine, jointly not: no split
    return out


def _pair_view(fn: Fn, points: np.ndarray, a: int, b: int) -> Fn:
    """``fn`` as seen when only columns a and b vary (the rest taken from a fixed shuffle of points)."""
    def view(x: np.ndarray) -> np.ndarray:
        base = points[np.arange(len(x)) % len(points)].copy()
        base[:, a], base[:, b] = x[:, a], x[:, b]
        return fn(base)

    return view


# ------------------------------------------------------------------------------ tree
@dataclass
class Node:
    """A decomposition tree node.

    ``kind``: ``leaf`` (an unknown function of ``variables``), ``sum`` / ``product`` (of the
    children), ``outer`` (``F(child)`` with ``F = outer``), or ``substitute`` (the child sees the new
    variable ``new_variable = definition`` in place of two old ones).
    """

    kind: str
    variables: list[str]
    children: list[Node] = field(default_factory=list)
    outer: str | None = None
    new_variable: str | None = None
    definition: sympy.Expr | None = None
    pair: tuple[str, str] | None = None  # substitute: the two variables it replaces ...
    symmetry: str | None = None  # ... and how: one of SYMMETRIES
    # leaf: the sub-function as seen on the surrogate (its variables' columns -> values, up to the
    # gauge of the split: a constant factor or offset); used to warm-start the leaf's module
    fn: Fn | None = field(default=None, repr=False, compare=False)

    def describe(self, indent: int = 0) -> str:
        pad = "  " * indent
        head = {
            "leaf": f"leaf f({', '.join(self.variables)})",
            "sum": "sum", "product": "product",
            "outer": f"outer {self.outer}",
            "substitute": f"substitute {self.new_variable} = {self.definition}",
        }[self.kind]
        return "\n".join([pad + head] + [c.describe(indent + 1) for c in self.children])

    def leaves(self) -> list[Node]:
        if self.kind == "leaf":
            return [self]
        return [leaf for c in self.children for leaf in c.leaves()]


@dataclass
class _Problem:
    """A (sub)function to decompose: evaluated on columns named ``names`` via ``fn``."""

    fn: Fn
    points: np.ndarray
    names: list[str]
    exprs: dict[str, sympy.Expr]
    offset: bool = False  # known only up to an additive constant (a term of a sum)
    tolerance: float = 1.0  # multiplies the separability thresholds
    error: float = 0.0  # relative error of fn's values (a surrogate's): the noise floor of symmetry scores


def decompose(
    fn: Fn,
    points: np.ndarray,
    names: Sequence[str],
    seed: int = 0,
    max_depth: int = 6,
    symbols: Sequence[sympy.Symbol] | None = None,
    tolerance: float = 1.0,
    scaling_first: bool = False,
    flip_scaling: bool = False,
    outer_first: bool = False,
    error: float = 0.0,
) -> Node:
    """Recursively split ``fn`` (a function of the columns ``names`` of ``points``) into a tree.

    ``tolerance`` multiplies the separability thresholds: 1 for exact functions; a surrogate's
    own error needs more (a wrong split there costs only a candidate that loses on the front).
    ``scaling_first``, ``outer_first`` and ``flip_scaling`` give alternative trees where the default
    one may be wrong or awkward: scalings tried before additive splits, outer functions before
    splits, and a scaling ``x_i^p h(x_j/x_i)`` written with the other variable as the power.
    ``error``: the relative error of ``fn``'s values (a surrogate's, less the data's noise), which
    loosens the symmetry tests where f changes little against it.
    """
    symbols = list(symbols) if symbols is not None else [sympy.Symbol(n, real=True) for n in names]
    problem = _Problem(fn, np.asarray(points, dtype=float), list(names), dict(zip(names, symbols)), tolerance=tolerance,
                       error=error)
    counter = itertools.count()
    order = OUTER_FIRST if outer_first else SCALING_FIRST if scaling_first else DEFAULT_ORDER
    opts = _Options(order, flip_scaling)
    return _decompose(problem, seed, max_depth, counter, opts)


# the order in which _decompose tries its steps; an alternative tries scalings before additive
# splits, for laws that a sum matches only approximately (c^2/sqrt(1 - v^2/c^2) ~ c^2 + v^2/2)
DEFAULT_ORDER = ("multiplicative", "additive", "shifted", "outer", "symmetry", "scaling")
SCALING_FIRST = ("multiplicative", "scaling", "additive", "shifted", "outer", "symmetry")
# ... and one tries outer functions first, for laws that a product matches only approximately
# (asin(n sin(theta)) ~ n sin(theta))
OUTER_FIRST = ("outer", "multiplicative", "additive", "shifted", "symmetry", "scaling")


@dataclass(frozen=True)
class _Options:
    order: tuple[str, ...] = DEFAULT_ORDER
    flip_scaling: bool = False  # f = x_i^p h(x_j / x_i) instead of x_j^p h(x_i / x_j)


def _decompose(p: _Problem, seed: int, depth: int, counter: itertools.count[int], opts: _Options = _Options()) -> Node:
    if len(p.names) == 1 or depth == 0:
        return Node("leaf", list(p.names), fn=p.fn)

    def recurse(q: _Problem) -> Node:
        return _decompose(q, seed + 1, depth - 1, counter, opts)

    for step in opts.order:
        node = _STEPS[step](p, seed, recurse, counter, opts)
        if node is not None:
            return node
    return Node("leaf", list(p.names), fn=p.fn)


def _split_step(kind: str):
    """f = g(x_A) * h(x_B) (``multiplicative``) or f = g(x_A) + h(x_B) (``additive``)."""
    def step(p: _Problem, seed: int, recurse, counter, opts: _Options) -> Node | None:
        thr = p.tolerance * (ADDITIVE_THRESHOLD if kind == "additive" else MULTIPLICATIVE_THRESHOLD)
        groups = separable_groups(p.fn, p.points, kind, thr, seed=seed, offset_free=p.offset)
        if len(groups) < 2:
            return None
        children = [recurse(_restrict(p, g, offset=p.offset or kind == "additive")) for g in groups]
        return Node("product" if kind == "multiplicative" else "sum", list(p.names), children)

    return step


def _outer_step(p: _Problem, seed: int, recurse, counter, opts: _Options) -> Node | None:
    """f = F(g(x_A) + h(x_B)) or F(g(x_A) * h(x_B)) for an outer function F of OUTER_FUNCTIONS.

    Several F can pass on a narrow range (``exp(-A)`` is nearly ``1/(1 + A)``): the one whose split
    scores best wins. A slice of a product is known up to a factor k, and ``log(k exp(g h)) =
    log k + g h``: under ``exp`` the product may carry an offset (a shifted split).
    """
    if p.offset:  # F(c + g) with c unknown cannot be inverted
        return None
    f_values = p.fn(p.points)
    found: list[tuple[float, str, str, _Problem, list[list[int]]]] = []
    for name, (inverse, allowed) in OUTER_FUNCTIONS.items():
        if not allowed(f_values):
            continue
        inner = _Problem(_composed(inverse, p.fn), p.points, p.names, p.exprs, tolerance=p.tolerance,
                         error=_carried_error(inverse, f_values, p.error))
        for kind in ("additive", "multiplicative"):
            split = _scored_split(inner, kind, seed)
            if split is not None:
                found.append((split[0], name, kind, inner, split[1]))
        if name == "exp":
            shifted = _shifted_split(inner, seed)
            if shifted is not None:
                found.append((shifted[0], name, "shifted", shifted[1], shifted[2]))
    if not found:
        return None
    _, name, kind, inner, groups = min(found, key=lambda t: t[0])
    children = [recurse(_restrict(inner, g, offset=kind == "additive")) for g in groups]
    node = Node("sum" if kind == "additive" else "product", list(p.names), children)
    if kind == "shifted":
        node = Node("outer", list(p.names), [node], outer="shift")
    return Node("outer", list(p.names), [node], outer=name)


def _carried_error(transform: Callable[[np.ndarray], np.ndarray], values: np.ndarray, error: float) -> float:
    """The relative error of ``transform(f)`` when f's values carry relative error ``error``."""
    if error <= 0:
        return 0.0
    with np.errstate(all="ignore"):
        base = transform(values)
        moved = np.abs(transform(values * (1.0 + error)) - base)
        scale = float(np.median(np.abs(base[np.isfinite(base)]))) if np.isfinite(base).any() else 0.0
    moved = moved[np.isfinite(moved)]
    return float(np.median(moved) / scale) if scale > 0 and moved.size else error


def _composed(outer: Callable[[np.ndarray], np.ndarray], inner: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """``x -> outer(inner(x))``."""
    return lambda x: outer(inner(x))


def _scored_split(p: _Problem, kind: str, seed: int, offset_free: bool = False) -> tuple[float, list[list[int]]] | None:
    """The groups of an additive/multiplicative split of ``p`` and its worst group score (in thresholds)."""
    thr = p.tolerance * (ADDITIVE_THRESHOLD if kind == "additive" else MULTIPLICATIVE_THRESHOLD)
    groups = separable_groups(p.fn, p.points, kind, thr, seed=seed, offset_free=offset_free)
    if len(groups) < 2:
        return None
    if kind == "additive":
        worst = max(additive_score(p.fn, p.points, g, seed=seed + 11) for g in groups)
    else:
        worst = max(multiplicative_score(p.fn, p.points, g, seed=seed + 11, offset_free=offset_free) for g in groups)
    return worst / thr, groups


def _shifted_split(p: _Problem, seed: int) -> tuple[float, _Problem, list[list[int]]] | None:
    """``(score, p - c, groups)`` when f = c + g(x_A) * h(x_B) for an unknown constant c.

    Candidate groups come from the offset-free test (necessary, not sufficient: ``r2 + (r1 - r2) k(m)``
    passes it); c is then estimated from those groups and the split confirmed on ``f - c``.
    """
    first = _scored_split(p, "multiplicative", seed, offset_free=True)
    if first is None:
        return None
    c = _product_offset(p.fn, p.points, first[1][0], seed)
    shift = lambda v: v - c  # noqa: E731
    shifted = _Problem(_composed(shift, p.fn), p.points, p.names, p.exprs, tolerance=p.tolerance,
                       error=_carried_error(shift, p.fn(p.points), p.error))
    split = _scored_split(shifted, "multiplicative", seed)
    return None if split is None else (split[0], shifted, split[1])


def _shifted_step(p: _Problem, seed: int, recurse, counter, opts: _Options) -> Node | None:
    """f = c + g(x_A) * h(x_B) for an unknown constant c (``beta (1 + alpha cos(theta))``)."""
    if p.offset:  # a term of a sum: the plain multiplicative split already allows the offset
        return None
    split = _shifted_split(p, seed)
    if split is None:
        return None
    _, shifted, groups = split
    children = [recurse(_restrict(shifted, g, offset=False)) for g in groups]
    return Node("outer", list(p.names), [Node("product", list(p.names), children)], outer="shift")


def _product_offset(fn: Fn, points: np.ndarray, A: Sequence[int], seed: int, n_pairs: int = 400) -> float:
    """c in f = c + g(x_A) h(x_rest): per pair of points ``(f_pp f_qq - f_pq f_qp) / (f_pp + f_qq - f_pq - f_qp)``."""
    f_pp, f_qq, f_pq, f_qp, _ = _corners(fn, points, A, np.random.default_rng(seed), n_pairs)
    den = f_pp + f_qq - f_pq - f_qp
    keep = np.abs(den) > 0.1 * np.median(np.abs(den))
    if not keep.any():
        return 0.0
    return float(np.median((f_pp * f_qq - f_pq * f_qp)[keep] / den[keep]))


def _symmetry_step(p: _Problem, seed: int, recurse, counter, opts: _Options) -> Node | None:
    """f depends on x_i, x_j only through x_i - x_j, x_i + x_j, x_i * x_j or x_i / x_j."""
    best = _best_symmetry(p, seed)
    if best is None:
        return None
    i, j, kind = best
    sub = _substitute(p, i, j, kind, f"u{next(counter)}")
    new = sub.names[-1]
    return Node("substitute", list(p.names), [recurse(sub)], new_variable=new, definition=sub.exprs[new],
                pair=(p.names[i], p.names[j]), symmetry=kind)


def _scaling_step(p: _Problem, seed: int, recurse, counter, opts: _Options) -> Node | None:
    """f = x_j^degree * h(x_i / x_j, rest): a power leaf times the rest."""
    scaling = None if p.offset else _best_scaling(p, seed)  # a term's unknown offset breaks scaling
    if scaling is None:
        return None
    i, j, degree = scaling
    if opts.flip_scaling or not np.all(p.points[:, j] > 0):  # the power x_j**degree needs x_j > 0
        i, j = j, i
    if not np.all(p.points[:, j] > 0):
        return None
    sub = _substitute(p, i, j, "divide", f"u{next(counter)}", degree=degree)
    new = sub.names[-1]
    power = Node("leaf", [p.names[j]], fn=_column_power(degree))
    rest = Node("substitute", list(p.names), [recurse(sub)], new_variable=new, definition=sub.exprs[new],
                pair=(p.names[i], p.names[j]), symmetry="divide")
    return Node("product", list(p.names), [power, rest])


_STEPS = {
    "multiplicative": _split_step("multiplicative"),
    "additive": _split_step("additive"),
    "shifted": _shifted_step,
    "outer": _outer_step,
    "symmetry": _symmetry_step,
    "scaling": _scaling_step,
}


# a scaling of degree closer to 0 than this is the plain x_i / x_j symmetry
MIN_SCALING_DEGREE = 0.1


def _best_scaling(p: _Problem, seed: int) -> tuple[int, int, float] | None:
    """The pair (i, j) under which f scales best (see :func:`scaling_score`), with its degree."""
    best, best_score = None, SYMMETRY_THRESHOLD
    for i, j in itertools.combinations(range(len(p.names)), 2):
        score, degree = scaling_score(p.fn, p.points, i, j, seed=seed)
        if score < best_score and abs(degree) > MIN_SCALING_DEGREE:
            best, best_score = (i, j, degree), score
    return best


def _best_symmetry(p: _Problem, seed: int) -> tuple[int, int, str] | None:
    """The pair and kind of the best symmetry score, if below its threshold (see SYMMETRY_ERROR_SHARE)."""
    scored: list[tuple[float, float, tuple[int, int, str]]] = []
    error = p.error * float(np.median(np.abs(p.fn(p.points)))) if p.error > 0 else 0.0
    for i, j in itertools.permutations(range(len(p.names)), 2):
        for kind in SYMMETRIES:
            if kind in ("plus", "times") and i > j:
                continue  # symmetric in i, j: test once
            score, alone = _symmetry_parts(p.fn, p.points, i, j, kind, seed=seed)
            floor = SYMMETRY_ERROR_SHARE * error / alone if alone > 0 else 0.0
            scored.append((score, min(max(SYMMETRY_THRESHOLD, floor), SYMMETRY_MAX_THRESHOLD), (i, j, kind)))
    if not scored:
        return None
    scored.sort(key=lambda t: t[0])
    score, threshold, best = scored[0]
    if score >= threshold:
        return None
    if score >= SYMMETRY_THRESHOLD:  # a loosened verdict must stand out from every other invariant
        same = lambda c: {c[0], c[1]} == {best[0], best[1]} and c[2] == best[2]  # noqa: E731 (x_j/x_i: the same)
        others = [t[0] for t in scored[1:] if not same(t[2])]
        if others and score > SYMMETRY_MARGIN * others[0]:
            return None
    return best


def _restrict(p: _Problem, group: Sequence[int], offset: bool) -> _Problem:
    """The sub-function of the columns in ``group``, the others held at the median point."""
    ref = np.median(p.points, axis=0)
    group = list(group)

    def fn(x: np.ndarray, full=p.fn, ref=ref, group=group) -> np.ndarray:
        base = np.repeat(ref[None, :], len(x), axis=0)
        base[:, group] = x
        return full(base)

    names = [p.names[g] for g in group]
    return _Problem(fn, p.points[:, group], names, {n: p.exprs[n] for n in names}, offset, p.tolerance, p.error)


def _invariant(kind: str, a, b):
    return {"minus": a - b, "plus": a + b, "times": a * b, "divide": a / b}[kind]


def _substitute(p: _Problem, i: int, j: int, kind: str, new_name: str, degree: float = 0.0) -> _Problem:
    """Replace columns i, j by u = invariant(x_i, x_j); x_j is placed inside both ranges per point.

    ``degree``: f scales as ``x_j^degree`` along the invariant (see :func:`scaling_score`); the
    sub-problem is ``f / x_j^degree``, which depends on u alone.
    """
    lo, hi = p.points.min(0), p.points.max(0)
    keep = [c for c in range(len(p.names)) if c not in (i, j)]

    def embed(z: np.ndarray) -> np.ndarray:
        u = z[:, -1]
        x = np.empty((len(z), len(p.names)))
        x[:, keep] = z[:, :-1]
        # the x_j range that keeps x_i (solved from u) inside its own range
        if kind == "minus":  # x_i = u + x_j
            j_lo, j_hi = lo[i] - u, hi[i] - u
        elif kind == "plus":  # x_i = u - x_j
            j_lo, j_hi = u - hi[i], u - lo[i]
        elif kind == "divide":  # x_i = u * x_j (u = 0, from a signed x_i: any x_j will do)
            zero = u == 0
            safe = np.where(zero, 1.0, u)
            j_lo, j_hi = np.where(zero, lo[j], lo[i] / safe), np.where(zero, hi[j], hi[i] / safe)
        else:  # times: x_i = u / x_j
            j_lo, j_hi = u / hi[i], u / lo[i]
        a, b = np.maximum(np.minimum(j_lo, j_hi), lo[j]), np.minimum(np.maximum(j_lo, j_hi), hi[j])
        xj = np.where(a <= b, 0.5 * (a + b), np.clip(0.5 * (j_lo + j_hi), lo[j], hi[j]))
        xi = {"minus": u + xj, "plus": u - xj, "divide": u * xj, "times": u / np.where(xj == 0, 1e-300, xj)}[kind]
        x[:, i], x[:, j] = xi, xj
        return x

    u_values = _invariant(kind, p.points[:, i], p.points[:, j])
    points = np.column_stack([p.points[:, keep], u_values])
    names = [p.names[c] for c in keep] + [new_name]
    exprs = {n: p.exprs[n] for n in names[:-1]}
    exprs[new_name] = _invariant(kind, p.exprs[p.names[i]], p.exprs[p.names[j]])
    def sub_fn(z: np.ndarray, full=p.fn) -> np.ndarray:
        x = embed(z)
        return full(x) / x[:, j] ** degree if degree else full(x)

    return _Problem(sub_fn, points, names, exprs, p.offset, p.tolerance, p.error)


# --------------------------------------------------------------------------- builder
def _column_power(degree: float) -> Callable[[np.ndarray], np.ndarray]:
    """``x -> x[:, 0] ** degree``."""
    return lambda x: x[:, 0] ** degree


def _required(value: T | None, what: str, node: Node) -> T:
    """A node field its kind guarantees (a malformed tree is a bug, named here)."""
    if value is None:
        raise ValueError(f"{node.kind} node without {what}: {node.describe()}")
    return value


def build_graph(tree: Node, inputs: Sequence[str], seed: int = 0, library: Any = None) -> tuple[KANGraph, dict[str, Node]]:
    """The tree as a :class:`~kandisco.kan.graph.KANGraph`; also ``{leaf module name: leaf node}``.

    Leaves become trainable KAN modules (``[1, 1]`` for one variable, ``[n, min(2n+1, 7), 1]``
    otherwise), sums and products become sum and mult nodes, an outer function becomes a ``[1, 1]``
    module whose edge is fixed to it (affine parameters trainable), and a substitution becomes a
    frozen module computing the invariant (``x_i - x_j`` etc.) from its two signals.
    """
    lib = get_library(library)
    graph = KANGraph()
    for name in inputs:
        graph.add_input(name)
    leaves: dict[str, Node] = {}
    counter = itertools.count()

    def fixed(kan: KAN, edges: list[tuple[int, int, str, tuple[float, float, float, float]]], trainable: bool) -> KAN:
        layer = kan.layers[0]
        for j in range(layer.n_out):
            for i in range(layer.n_in):
                layer.prune_edge(j, i)
        for j, i, fname, params in edges:
            layer.set_symbolic(j, i, lib[fname], params)
        kan.library = lib
        if not trainable:
            for prm in kan.parameters():
                prm.requires_grad_(False)
        return kan

    def emit(node: Node, signals: dict[str, str]) -> str:
        k = next(counter)
        if node.kind == "leaf":
            n = len(node.variables)
            width = [1, 1] if n == 1 else [n, min(2 * n + 1, 7), 1]
            name = graph.add_module(f"leaf{k}", KAN(width, seed=seed + k), inputs=list(node.variables))
            for v in node.variables:
                graph.connect(signals[v], f"{name}.{v}")
            leaves[name] = node
            return name
        if node.kind in ("sum", "product"):
            name = graph.add_sum(f"sum{k}") if node.kind == "sum" else graph.add_mult(f"mult{k}")
            for child in node.children:
                graph.connect(emit(child, signals), name)
            return name
        if node.kind == "outer":
            outer = _required(node.outer, "an outer function", node)
            kan = fixed(KAN([1, 1], seed=seed + k), [(0, 0, OUTER_LIBRARY_NAMES[outer], (1.0, 0.0, 1.0, 0.0))], trainable=True)
            name = graph.add_module(f"{outer}{k}", kan, inputs=["s"])
            graph.connect(emit(node.children[0], signals), name)
            return name
        # substitute: a frozen module for the invariant of the two variables
        a, b = _required(node.pair, "a variable pair", node)
        new_variable = _required(node.new_variable, "a new variable", node)
        if node.symmetry in ("minus", "plus"):
            sign = -1.0 if node.symmetry == "minus" else 1.0
            kan = fixed(KAN([2, 1], seed=seed + k), [(0, 0, "x", (1.0, 0.0, 1.0, 0.0)), (0, 1, "x", (1.0, 0.0, sign, 0.0))],
                        False)
        else:
            second = "1/x" if node.symmetry == "divide" else "x"
            kan = fixed(KAN([2, [0, 1]], seed=seed + k), [(0, 0, "x", (1.0, 0.0, 1.0, 0.0)), (1, 1, second, (1.0, 0.0, 1.0, 0.0))],
                        False)
        name = graph.add_module(new_variable, kan, inputs=["a", "b"])
        graph.connect(signals[a], f"{name}.a")
        graph.connect(signals[b], f"{name}.b")
        return emit(node.children[0], {**signals, new_variable: name})

    out = emit(tree, {n: n for n in inputs})
    graph.add_output("f")
    graph.connect(out, "f")
    return graph, leaves
