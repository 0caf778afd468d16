"""The structured candidate generator: surrogate -> structure tree -> KAN graph -> formula.

1. fit a KAN surrogate (:mod:`.surrogate`) and decompose it (:func:`.structure.decompose`);
2. build the tree's :class:`~kandisco.kan.graph.KANGraph` and train it on the data, so each leaf
   module learns its part of the law from real measurements;
3. each leaf gets a few candidate formulas fitted to its module's outputs: library fits (and fits of
   powers of the output, and a power law) for a 1-D leaf, a small flat search (the
   :class:`~kandisco.discovery.problem.SubSearch` callback the pipeline supplies) for a larger one;
4. the candidates are judged on the data (:func:`_choose_leaves`: the whole law refitted per
   candidate, the simplest within 10% of the best kept), then the law's constants are refitted and
   snapped (:func:`~kandisco.discovery.polish.polish_formula`).

When that law is not exact, alternative trees (:data:`TREE_VARIANTS`) go through steps 2-4 too.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy
import torch

from ..kan.layer import EDGE_SYMBOLIC
from ..symbolic.formula import (
    complexity,
    float_constants,
    formula_rmse,
    refit_constants,
    to_callable,
)
from ..symbolic.select import suggest
from .config import FLAT_LIBRARY
from .factor import shifted_product
from .polish import polish_formula, uses_relative_error
from .problem import NothingToPropose, SubSearch
from .structure import (
    MULTIPLICATIVE_THRESHOLD,
    OUTER_FUNCTIONS,
    Node,
    build_graph,
    decompose,
)
from .surrogate import fit_surrogate

__all__ = ["StructuredRun", "run_structured"]

# the outer functions that a root can peel off (see _fit_tree), as sympy functions
OUTER_SYMPY = {"inv": lambda s: 1 / s, "sqrt": sympy.sqrt, "asin": sympy.asin, "exp": sympy.exp}

# separability thresholds on a surrogate: at least 4x those for exact functions (its values carry
# ~0.1-1% error), more for a surrogate whose validation error is larger
SURROGATE_TOLERANCE = 4.0


@dataclass
class StructuredRun:
    """What the structured generator produced (formulas in the pipeline's symbols) and how."""

    formulas: list[sympy.Expr]
    tree: Node
    model: Any  # the trained GraphModule
    leaf_formulas: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # e.g. trees that gave no formula, and why


# alternative trees (keyword arguments of decompose), tried in turn while none gives an exact law
TREE_VARIANTS: tuple[dict[str, bool], ...] = ({}, {"flip_scaling": True}, {"outer_first": True}, {"scaling_first": True})
# an alternative tree is tried only with at least this many seconds left, and while the structured
# strategy has used less than this share of the time it started with (the flat strategies need the rest)
VARIANT_MIN_SECONDS = 8.0
VARIANT_TIME_SHARE = 0.5


def run_structured(
    symbols: Sequence[sympy.Symbol],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    relative: bool = False,
    deadline: float | None = None,
    seed: int = 0,
    steps: int = 60,
    search: SubSearch | None = None,
    exact_relative_rmse: float = 1e-9,
    simplify_seconds: float = 3.0,
    noise: float = 0.0,
    correlated_rows: float = 1.0,
) -> StructuredRun:
    """Run the four steps above; raises :class:`NothingToPropose` when the tree is a single leaf (no structure).

    When the first tree's law is not exact, the other :data:`TREE_VARIANTS` (when their trees
    differ) are built and fitted too, time permitting; the formulas of all of them are returned,
    and ``tree``/``model`` are those of the best. ``search`` finds formulas of leaves with several
    inputs (without it they get only the product candidates); a law within ``exact_relative_rmse``
    of the data ends the search for other trees. ``noise``: the target's one-sigma noise in the
    loss's units, for statistical snapping of the assembled law (0: none known); ``correlated_rows``:
    the rows per independent error there.
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    names = [s.name for s in symbols]
    X, y = train
    surrogate = fit_surrogate(X, y, *val, seed=seed, deadline=deadline)
    timings["surrogate"] = time.perf_counter() - t0
    # the surrogate's own error shows up in the scores (about its relative validation error, less
    # the noise of the validation rows: the tests compare surrogate values, which carry no noise)
    error = surrogate.val_error
    if noise > 0:
        error = surrogate.error_beyond_noise(*val, noise * np.abs(val[1]) if relative else noise)
    tolerance = max(SURROGATE_TOLERANCE, 2.0 * error / MULTIPLICATIVE_THRESHOLD)
    spread = 1.0 if relative else (float(np.std(val[1])) or 1.0)
    seen: set[str] = set()
    best: tuple[float, StructuredRun] | None = None
    formulas: list[sympy.Expr] = []
    notes: list[str] = []
    for variant in TREE_VARIANTS:
        now = time.perf_counter()
        if best is not None and (best[0] <= exact_relative_rmse * spread or (deadline is not None and (
                deadline - now < VARIANT_MIN_SECONDS or now - t0 > VARIANT_TIME_SHARE * (deadline - t0)))):
            break
        t1 = time.perf_counter()
        tree = decompose(surrogate, X, names, seed=seed, symbols=symbols, tolerance=tolerance, error=error, **variant)
        timings["structure"] = timings.get("structure", 0.0) + time.perf_counter() - t1
        if tree.kind == "leaf" or tree.describe() in seen:
            continue
        seen.add(tree.describe())
        try:
            run = _fit_tree(tree, symbols, train, val, relative, deadline, seed, steps, search, simplify_seconds, noise,
                            correlated_rows)
        except (ValueError, ArithmeticError, RuntimeError, np.linalg.LinAlgError) as exc:
            notes.append(f"tree failed ({type(exc).__name__}: {exc}):\n{tree.describe(1)}")
            continue
        for key, value in run.timings.items():
            timings[key] = timings.get(key, 0.0) + value
        formulas.extend(run.formulas)
        loss = min(formula_rmse(e, symbols, *val, relative) for e in run.formulas)
        loss = loss if np.isfinite(loss) else float("inf")
        if best is None or loss < best[0]:
            best = (loss, run)
    if best is None:
        raise NothingToPropose("no structure found (or no tree gave a formula): the flat strategies cover this problem")
    timings["total"] = time.perf_counter() - t0
    run = best[1]
    return StructuredRun(formulas, run.tree, run.model, run.leaf_formulas, timings, notes)


def _fit_tree(
    tree: Node,
    symbols: Sequence[sympy.Symbol],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    relative: bool,
    deadline: float | None,
    seed: int,
    steps: int,
    search: SubSearch | None = None,
    simplify_seconds: float = 3.0,
    noise: float = 0.0,
    correlated_rows: float = 1.0,
) -> StructuredRun:
    """Steps 2-4 for one tree: its graph trained on the data, leaf formulas chosen, the law polished.

    An outer function at the root (``y = F(inner)``) is peeled off the data instead of trained
    through: the graph of ``inner`` fits ``F^-1(y)``, which is exact, and never meets F's clamped
    domain edges (``asin`` near +-1).
    """
    timings: dict[str, float] = {}
    names = [s.name for s in symbols]
    data, peeled, whole = (train, val), [], tree
    while tree.kind == "outer" and tree.outer in OUTER_SYMPY:
        inverse, allowed = OUTER_FUNCTIONS[tree.outer]
        if not (allowed(train[1]) and allowed(val[1])):
            break
        peeled.append(tree.outer)
        train, val = (train[0], inverse(train[1])), (val[0], inverse(val[1]))
        tree = tree.children[0]
    inner_relative = uses_relative_error(train[1]) if peeled else relative
    X, y = train
    graph, leaves = build_graph(tree, names, seed=seed)
    model = graph.compile()
    scale = float(np.std(y)) or 1.0
    Xt = torch.as_tensor(X, dtype=torch.float64)
    yt = torch.as_tensor(y / scale, dtype=torch.float64)[:, None]
    stop = (lambda step, loss: time.perf_counter() > deadline) if deadline is not None else None
    t1 = time.perf_counter()
    _warm_start(model, tree, leaves, Xt, yt, seed, stop)
    model.fit(Xt, yt, steps=steps, verbose=False, seed=seed, callback=stop)
    timings["graph fit"] = time.perf_counter() - t1

    inputs = model.module_inputs(Xt)
    at_most = NOISY_LEAF_CANDIDATES if noise > 0 else LEAF_CANDIDATES
    candidates: dict[str, list[sympy.Expr]] = {}
    missing: list[str] = []
    for n, (name, leaf) in enumerate(leaves.items()):
        remaining = (deadline - time.perf_counter()) if deadline is not None else 20.0 * (len(leaves) - n)
        # small problems: a few seconds each (1-D leaves need no search: see _leaf_candidates)
        share = min(max(remaining / (len(leaves) - n) - 1.0, 2.0), 5.0 + 3.0 * len(leaf.variables))
        Z = inputs[name].numpy()
        with torch.no_grad():
            out = model.kans[name](inputs[name])[:, 0].numpy() * scale
        # constants as floats: the leaf's are gauge-dependent (a factor can move between the leaves of
        # a product) and fitted to a module, not to the data, so they are refitted and snapped only
        # on the whole formula
        try:
            found = _leaf_candidates(leaf.variables, Z, out, share, seed, search, at_most=at_most)
            candidates[name] = [float_constants(e / scale) for e in found]
        except ValueError:
            missing.append(name)
    if missing:  # a module that learned no library shape: the data may still say what its leaf is
        if len(missing) > 1:
            raise ValueError(f"no formula fits leaves {', '.join(missing)}")
        others = {k: v[0] for k, v in candidates.items()}
        implied = _implied_leaf_candidates(model, {missing[0]: leaves[missing[0]]}, symbols, others, scale, train, inner_relative, seed, noise)
        if missing[0] not in implied:
            raise ValueError(f"no formula fits leaf {', '.join(leaves[missing[0]].variables)}")
        candidates.update(implied)
    timings["leaves"] = time.perf_counter() - t1 - timings["graph fit"]
    chosen, near = _choose_leaves(model, symbols, candidates, scale, train, val, inner_relative, deadline)
    if not _nearly_exact(model, symbols, chosen, scale, train, val, inner_relative):
        implied = _implied_leaf_candidates(model, leaves, symbols, chosen, scale, train, inner_relative, seed, noise)
        for name, cands in implied.items():
            candidates[name] = list(dict.fromkeys(cands + candidates[name]))[: 2 * at_most]
        if implied:
            chosen, near = _choose_leaves(model, symbols, candidates, scale, train, val, inner_relative, deadline)
    leaf_text = {name: str(e * scale) for name, e in chosen.items()}
    timings["choice"] = time.perf_counter() - t1 - timings["graph fit"] - timings["leaves"]
    # with noise, the runners-up of the leaf choice are polished too: the front decides on the snapped laws
    variants = [chosen] + ([{**chosen, name: e} for _, name, e in near[:NOISY_LEAF_ALTERNATIVES]] if noise > 0 else [])
    formulas: list[sympy.Expr] = []
    for leaves_chosen in variants:
        if deadline is not None and formulas and time.perf_counter() > deadline:
            break
        (expr,), _ = model.formula(symbols, overrides={name: [e] for name, e in leaves_chosen.items()})
        expr = expr * scale
        for name in reversed(peeled):
            expr = OUTER_SYMPY[name](expr)
        formulas.extend(polish_formula(expr, symbols, *data, simplify_seconds=simplify_seconds, relative=relative, noise=noise,
                                       correlated_rows=correlated_rows))
    return StructuredRun(formulas, whole, model, leaf_text, timings)


# a leaf's data come from a trained module, fitted only approximately: every formula this close to
# them (relative to their spread, or within 3x the best) is a candidate, judged on the data by
# _choose_leaves; at most LEAF_CANDIDATES per leaf
LEAF_TOLERANCE = 1e-3
LEAF_CANDIDATES = 5
# ... and more on noisy data, where a noisy module's output lets many shapes in and the data choose
NOISY_LEAF_CANDIDATES = 8
# powers p of a positive leaf's outputs that are also fitted (then the candidate is fit**(1/p))
LEAF_POWERS = (sympy.Integer(-2), sympy.Integer(-1), sympy.Integer(2), sympy.Rational(1, 2), sympy.Rational(-1, 2))
# a positive leaf output's log is fitted where it exceeds this fraction of its largest size
LEAF_LOG_FLOOR = 1e-3
# a 1-D fit explaining less than this share of the leaf's variance is no candidate
LEAF_MIN_R2 = 0.999


def _leaf_candidates(
    variables: Sequence[str], Z: np.ndarray, out: np.ndarray, budget: float, seed: int, search: SubSearch | None = None,
    at_most: int = LEAF_CANDIDATES,
    noisy: bool = False,
) -> list[sympy.Expr]:
    """Formulas for one leaf (in its port symbols), the best fit to the module's outputs first.

    A 1-D leaf is one edge: the library's ``c*f(a*u+b)+d`` fits (:func:`~kandisco.symbolic.select.suggest`,
    a fraction of a second) of the output, of its powers and of its log, plus the power law ``c*u**p``
    cover it, and for a positive ``u`` fits of ``out/u`` and ``u/out``. A 2-D leaf gets ``c + g*h``
    candidates (:func:`_shifted_product_candidates`); larger leaves, and a 2-D leaf that is no such
    product, are small discovery problems (``search``, a flat discovery) when ``budget`` is positive.
    At most ``at_most`` are returned, the simplest first, and always the closest fit. ``noisy``:
    ``out`` carries the data's noise (values implied by noisy rows), so no fit explains
    :data:`LEAF_MIN_R2` of it; fits within twice the best one's unexplained share count instead.
    """

    ports = [sympy.Symbol(v, real=True) for v in variables]
    spread = float(np.std(out)) or 1.0
    scored: list[tuple[float, sympy.Expr]] = []
    if len(variables) == 1:
        u = Z[:, 0]

        def add_fits(target: np.ndarray, topk: int, back: Any = None, where: np.ndarray | None = None) -> None:
            """Library fits of ``target`` (a transform of ``out``, on the points ``where``), as
            candidates ``back(fit)`` for ``out``."""
            keep = where if where is not None else slice(None)
            fits = suggest(u[keep], target, topk=topk, library=list(FLAT_LIBRARY))
            unexplained = 1.0 - LEAF_MIN_R2
            if noisy and fits:
                unexplained = max(unexplained, 2.0 * (1.0 - max(f.r2 for f in fits)))
            for fit in fits:
                if fit.r2 >= 1.0 - unexplained:
                    expr = _unit_scales(fit.to_sympy(ports[0]))
                    expr = back(expr) if back is not None else expr
                    scored.append((formula_rmse(expr, ports, Z, out), expr))

        add_fits(out, 2 * LEAF_CANDIDATES)
        if np.all(out > 0):  # (c*f(a*u+b)+d)**(1/p): 1/sqrt(1 - u**2) is no affine f, its -2nd power is
            for p in LEAF_POWERS:  # (u^2/(1 - u^2))^2 (Feynman I.32.17) has the -1/2 power 1/u^2 - 1
                add_fits(out ** float(p), LEAF_CANDIDATES, lambda e, p=p: e ** (1 / p))
        # exp(c/u + d), a Boltzmann factor: its tail near 0 may come out of the module slightly
        # negative, so the log is fitted where the output is clearly positive
        clear = out > LEAF_LOG_FLOOR * np.max(np.abs(out))
        if clear.mean() > 0.9:
            add_fits(np.log(out[clear]), 3, sympy.exp, clear)
        one_sign = bool(np.all(out > 0) or np.all(out < 0))
        if np.all(u > 0):  # u*g(u) and u/g(u): u*tanh(u) and u/(exp(u) - 1) (Planck) are no c*f(a*u+b)+d
            add_fits(out / u, 3, lambda e: ports[0] * e)
            if one_sign:
                add_fits(u / out, 3, lambda e: ports[0] / e)
                p, c = np.polyfit(np.log(u), np.log(np.abs(out)), 1)  # the power law c*u**p
                expr = float(np.sign(out[0]) * np.exp(c)) * ports[0] ** sympy.Float(p)
                scored.append((formula_rmse(expr, ports, Z, out), expr))
    else:
        if len(variables) == 2:
            scored.extend(_shifted_product_candidates(variables, Z, out, seed))
        factored = any(loss <= FACTORED_TOLERANCE * spread for loss, _ in scored)
        if budget > 0 and not factored and search is not None:
            scored.extend(search(Z, out, list(variables), budget, seed))
    scored = [(loss, e) for loss, e in scored if np.isfinite(loss)]
    if not scored:
        raise ValueError(f"no formula fits leaf {', '.join(variables)}")
    best = min(loss for loss, _ in scored)
    limit = max(3.0 * best, LEAF_TOLERANCE * spread)
    # simplest first: near-linear module outputs are matched *closer* by bent functions (acos, x^3
    # with huge offsets) that chase the spline's error; the data decide among them
    close = sorted(((complexity(e), loss, e) for loss, e in scored if loss <= limit), key=lambda t: t[:2])
    unique = list(dict.fromkeys(e for _, _, e in close))[:at_most]
    closest = min(scored, key=lambda t: t[0])[1]
    if closest not in unique:  # the closest fit keeps a place: on noisy data it is often the only true one
        unique[-1] = closest
    for e in unique:
        if not e.free_symbols <= set(ports):
            raise ValueError(f"leaf formula {e} has unexpected symbols")
    return unique


# a chosen law already this close (relative RMSE on validation) needs no data-implied leaf targets
IMPLIED_SKIP_RMSE = 1e-7
# points where the law's slope in a leaf is below this share of its median size imply nothing reliable
IMPLIED_MIN_SLOPE = 0.05


def _nearly_exact(
    model: Any,
    symbols: Sequence[sympy.Symbol],
    chosen: dict[str, sympy.Expr],
    scale: float,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    relative: bool,
) -> bool:
    """Whether the law with the ``chosen`` leaves, its constants refitted, is already (nearly) exact."""
    spread = 1.0 if relative else (float(np.std(val[1])) or 1.0)
    (current,), _ = model.formula(symbols, overrides={k: [v] for k, v in chosen.items()})
    current = refit_constants(current * scale, symbols, *train, relative=relative)
    return formula_rmse(current, symbols, *val, relative) <= IMPLIED_SKIP_RMSE * spread


def _implied_leaf_candidates(
    model: Any,
    leaves: dict[str, Node],
    symbols: Sequence[sympy.Symbol],
    chosen: dict[str, sympy.Expr],
    scale: float,
    train: tuple[np.ndarray, np.ndarray],
    relative: bool,
    seed: int,
    noise: float = 0.0,
) -> dict[str, list[sympy.Expr]]:
    """Candidates for each 1-D or 2-D leaf of ``leaves`` fitted to what the *data* say it is, not to its module.

    A module is only ~0.1-1% accurate, too little to tell ``1/sqrt(1-u**2)`` from a bent look-alike.
    But where the law is linear in a leaf (sums and products above it), with the other leaves'
    formulas (``chosen``) in place: ``y = alpha(x)*leaf + beta(x)``, so ``leaf = (y - beta)/alpha``
    point by point. The other leaves' constants are first refitted on the data, with this leaf held
    at its module's outputs. With ``noise`` (> 0) the implied values carry it: see ``noisy`` in
    :func:`_leaf_candidates`.
    """
    X, y = train
    inputs = model.module_inputs(torch.as_tensor(X, dtype=torch.float64))
    hole = sympy.Symbol("_leaf_value", real=True)
    found: dict[str, list[sympy.Expr]] = {}
    for name, leaf in leaves.items():
        if len(leaf.variables) > 2:
            continue  # 2-D leaves get c + g*h candidates (no flat search on the implied values)
        (expr,), _ = model.formula(symbols, overrides={**{k: [v] for k, v in chosen.items()}, name: [hole]})
        expr = expr * scale
        if hole not in expr.free_symbols or sympy.diff(expr, hole, 2) != 0:
            continue  # an outer function above the leaf: not linear in it
        with torch.no_grad():
            module = model.kans[name](inputs[name])[:, 0].numpy()
        extended = [*symbols, hole]
        expr = refit_constants(expr, extended, np.column_stack([X, module]), y, relative=relative)
        alpha = to_callable(sympy.diff(expr, hole), symbols)(X)
        beta = to_callable(expr.subs(hole, 0), symbols)(X)
        with np.errstate(all="ignore"):
            target = (y - beta) / alpha
        keep = np.isfinite(target) & (np.abs(alpha) > IMPLIED_MIN_SLOPE * np.median(np.abs(alpha)))
        if keep.mean() < 0.5:
            continue
        Z = inputs[name].numpy()[keep]
        try:
            cands = _leaf_candidates(leaf.variables, Z, target[keep], 0.0, seed, noisy=noise > 0,
                                     at_most=NOISY_LEAF_CANDIDATES if noise > 0 else LEAF_CANDIDATES)
        except ValueError:
            continue
        found[name] = [float_constants(e) for e in cands]
    return found


# a 2-D leaf's c + g*h candidates this close (relative to its spread) make its flat search unneeded
FACTORED_TOLERANCE = 1e-4
# 1-D formulas per factor combined into c + g*h candidates
FACTOR_CANDIDATES = 2
# a factorisation worse than this (relative RMS) is no c + g*h
LEAF_FACTOR_MAX_ERROR = 1e-2


def _shifted_product_candidates(
    variables: Sequence[str], Z: np.ndarray, out: np.ndarray, seed: int
) -> list[tuple[float, sympy.Expr]]:
    """``c + g(a)*h(b)`` candidates for a 2-D leaf (:func:`~.factor.shifted_product`), scored on ``out``.

    ``g`` and ``h`` come out of the factorisation point by point; each gets 1-D formulas, and the
    best few of each are combined.
    """
    try:
        fit = shifted_product(Z[:, 0], Z[:, 1], out)
    except (ValueError, np.linalg.LinAlgError):  # e.g. too few distinct points for the splines
        return []
    if not np.isfinite(fit.relative_error) or fit.relative_error > LEAF_FACTOR_MAX_ERROR:
        return []
    ports = [sympy.Symbol(v, real=True) for v in variables]
    try:
        g = _leaf_candidates(variables[:1], Z[:, :1], fit.g, 0.0, seed)[:FACTOR_CANDIDATES]
        h = _leaf_candidates(variables[1:], Z[:, 1:], fit.h, 0.0, seed)[:FACTOR_CANDIDATES]
    except ValueError:
        return []
    scored = []
    for eg in g:
        for eh in h:
            expr = sympy.Float(fit.offset) + eg * eh
            scored.append((formula_rmse(expr, ports, Z, out), expr))
    return scored


def _unit_scales(expr: sympy.Expr) -> sympy.Expr:
    """Unit factors as integers: x^2's canonical scale a = 1.0 is structure, not a constant."""
    return expr.xreplace({sympy.Float(1.0): sympy.Integer(1), sympy.Float(-1.0): sympy.Integer(-1)})


# a leaf candidate within this factor of the best global error (after the refit) counts as as good;
# the simplest of those is kept
CHOICE_TOLERANCE = 0.1
# on noisy data, this many runners-up of the leaf choice (one leaf swapped) are polished as laws too
NOISY_LEAF_ALTERNATIVES = 4
# a second pass re-judges each leaf once the others have found their formulas
CHOICE_PASSES = 2


def _choose_leaves(
    model: Any,
    symbols: Sequence[sympy.Symbol],
    candidates: dict[str, list[sympy.Expr]],
    scale: float,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    relative: bool,
    deadline: float | None,
) -> tuple[dict[str, sympy.Expr], list[tuple[float, str, sympy.Expr]]]:
    """One formula per leaf, judged on the data: the module's outputs are only approximate.

    Starting from each leaf's simplest candidate, every leaf in turn tries the others: the whole
    formula is refitted on ``train`` and scored on ``val``; the simplest candidate within
    ``CHOICE_TOLERANCE`` of the best score is kept. (A tanh can match a module's square to 1e-4,
    but only the square makes the whole law exact.) Also returned: the other candidates within that
    tolerance in the last pass, ``(score, leaf, formula)``, best first - on noisy data the simplest
    leaf is not always the one whose constants snap to the simplest law.
    """
    choice = {name: cands[0] for name, cands in candidates.items()}  # the simplest of each
    near: dict[str, list[tuple[float, str, sympy.Expr]]] = {}
    spread = 1.0 if relative else (float(np.std(train[1])) or 1.0)

    def score(name: str, cand: sympy.Expr) -> float:
        (expr,), _ = model.formula(symbols, overrides={k: [cand if k == name else v] for k, v in choice.items()})
        return formula_rmse(refit_constants(expr * scale, symbols, *train, relative=relative), symbols, *val, relative)

    for _ in range(CHOICE_PASSES):
        changed = False
        for name, cands in candidates.items():
            if len(cands) < 2 or (deadline is not None and time.perf_counter() > deadline):
                continue
            scored = [(score(name, cand), complexity(cand), n) for n, cand in enumerate(cands)]
            best = min(loss for loss, _, _ in scored)
            if not np.isfinite(best):
                continue
            good = [t for t in scored if t[0] <= best * (1 + CHOICE_TOLERANCE) + 1e-12 * spread]
            pick = cands[min(good, key=lambda t: t[1:])[2]]
            near[name] = [(t[0], name, cands[t[2]]) for t in good if cands[t[2]] != pick]
            changed = changed or pick != choice[name]
            choice[name] = pick
        if not changed:
            break
    return choice, sorted((t for ts in near.values() for t in ts), key=lambda t: t[0])


def _warm_start(
    model: Any, tree: Node, leaves: dict[str, Node], X: torch.Tensor, y: torch.Tensor, seed: int, stop: Any
) -> None:
    """Fit each leaf module to its surrogate slice (scaled to unit size) before the joint fit.

    A product of several modules trained from scratch rarely finds the law (each factor's gradient
    is scaled by all the others); started from the right shapes, the joint fit only has to settle
    the constants that the slices leave open. A product's size and sign are set here too.
    """
    inputs = model.module_inputs(X)
    for name, leaf in leaves.items():
        if leaf.fn is None:
            continue
        Z = inputs[name]
        target = leaf.fn(Z.numpy())
        size = float(np.median(np.abs(target)))
        if not np.all(np.isfinite(target)) or size == 0:
            continue
        t = torch.as_tensor(target / size, dtype=torch.float64)[:, None]
        model.kans[name].fit(Z, t, steps=20, verbose=False, seed=seed, callback=stop)
    _scale_outer_inputs(model, X)
    _match_product_scale(model, tree, leaves, X, y)


def _match_product_scale(model: Any, tree: Node, leaves: dict[str, Node], X: torch.Tensor, y: torch.Tensor) -> None:
    """Scale one factor of a product root so the warm-started law matches ``y`` in size and sign.

    Each slice carries the sign of the others at the reference point: four factors can start as
    ``-f``, and the joint fit would have to pass one factor through zero to flip it (it stalls
    there instead). The least-squares factor ``k = <y, m>/<m, m>`` is moved into one leaf module.
    """
    factor = _linear_leaf(tree)
    name = next((n for n, leaf in leaves.items() if leaf is factor), None)
    if name is None:
        return
    with torch.no_grad():
        m = model(X)[:, 0]
        k = float((m * y[:, 0]).sum() / (m * m).sum())
        if not np.isfinite(k) or k == 0:
            return
        kan = model.kans[name]  # its output node's affine node_scale * v + node_bias, times k
        kan.node_scale[-1].mul_(k)
        kan.node_bias[-1].mul_(k)


def _linear_leaf(tree: Node) -> Node | None:
    """A leaf that the output is proportional to (reached through products and substitutions only)."""
    if tree.kind == "leaf":
        return tree
    if tree.kind not in ("product", "substitute"):
        return None
    return next((leaf for c in tree.children if (leaf := _linear_leaf(c)) is not None), None)


def _scale_outer_inputs(model: Any, X: torch.Tensor) -> None:
    """Start each bounded outer function (``asin``, ``exp``) with its input inside its good range.

    The leaves were warm-started at unit size, so the product under an ``asin`` can leave [-1, 1],
    where the function (and its gradient) is clamped: the joint fit would never recover. The
    outer edge's inner affine ``a*s + b`` is set to map the signal into [-0.9, 0.9] (``asin``) or
    to zero mean and unit spread (``exp``).
    """
    inputs = model.module_inputs(X)
    for name, kan in model.kans.items():
        layer = kan.layers[0]
        if layer.n_in != 1 or layer.n_out != 1 or int(layer.state[0, 0]) != EDGE_SYMBOLIC:
            continue
        function = layer.sym_names[int(layer.sym_index[0, 0])]
        signal = inputs[name][:, 0]
        if function == "arcsin":
            a, b = 0.9 / (float(signal.abs().max()) or 1.0), 0.0
        elif function == "exp":
            a = 1.0 / (float(signal.std()) or 1.0)
            b = -a * float(signal.mean())
        else:
            continue
        with torch.no_grad():
            layer.sym_params[0, 0, 0], layer.sym_params[0, 0, 1] = a, b
