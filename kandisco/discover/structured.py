"""The structured candidate generator: surrogate -> structure tree -> KAN graph -> formula.

1. fit a KAN surrogate (:mod:`.surrogate`) and decompose it (:func:`.structure.decompose`);
2. build the tree's :class:`~kandisco.kan.graph.KANGraph` and train it on the data, so each leaf
   module learns its part of the law from real measurements;
3. each leaf is a small problem (one to three variables): its module's inputs and outputs on the
   training data go through :func:`~kandisco.discover.pipeline.discover` with the flat strategies;
4. the leaf formulas are substituted into the graph's formula, whose constants are then refitted
   and snapped on the data (:func:`~kandisco.discover.pipeline.polish_formula`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import sympy
import torch

from .structure import MULTIPLICATIVE_THRESHOLD, Node, build_graph, decompose
from .surrogate import fit_surrogate

__all__ = ["StructuredRun", "run_structured"]

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


def run_structured(
    symbols: Sequence[sympy.Symbol],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    relative: bool = False,
    deadline: float | None = None,
    seed: int = 0,
    steps: int = 60,
) -> StructuredRun:
    """Run the four steps above; raises ``ValueError`` when the tree is a single leaf (no structure)."""
    from .pipeline import default_strategies, discover, polish_formula
    from ..data import load_dataset

    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    names = [s.name for s in symbols]
    X, y = train
    surrogate = fit_surrogate(X, y, *val, seed=seed, deadline=deadline)
    timings["surrogate"] = time.perf_counter() - t0
    # the surrogate's own error shows up in the scores (about its relative validation error)
    tolerance = max(SURROGATE_TOLERANCE, 2.0 * surrogate.val_error / MULTIPLICATIVE_THRESHOLD)
    tree = decompose(surrogate, X, names, seed=seed, symbols=symbols, tolerance=tolerance)
    timings["structure"] = time.perf_counter() - t0 - timings["surrogate"]
    if tree.kind == "leaf":
        raise ValueError("no structure found: the flat strategies cover this problem")

    graph, leaves = build_graph(tree, names, seed=seed)
    model = graph.compile()
    scale = float(np.std(y)) or 1.0
    Xt = torch.as_tensor(X, dtype=torch.float64)
    yt = torch.as_tensor(y / scale, dtype=torch.float64)[:, None]
    stop = (lambda step, loss: time.perf_counter() > deadline) if deadline is not None else None
    t1 = time.perf_counter()
    _warm_start(model, leaves, Xt, seed, stop)
    model.fit(Xt, yt, steps=steps, verbose=False, seed=seed, callback=stop)
    timings["graph fit"] = time.perf_counter() - t1

    inputs = model.module_inputs(Xt)
    overrides: dict[str, list[sympy.Expr]] = {}
    leaf_text: dict[str, str] = {}
    for n, (name, leaf) in enumerate(leaves.items()):
        variables = leaf.variables
        remaining = (deadline - time.perf_counter()) if deadline is not None else 20.0 * (len(leaves) - n)
        # small problems: a few seconds each (1-D leaves are done by the first flat strategies)
        share = min(max(remaining / (len(leaves) - n) - 1.0, 2.0), 5.0 + 3.0 * len(variables))
        Z = inputs[name].numpy()
        with torch.no_grad():
            out = model.kans[name](inputs[name])[:, 0].numpy() * scale
        data = load_dataset((Z, out), feature_names=list(variables), target_name=name)
        plan = default_strategies(data, seed, structured=False)
        res = discover(data, budget_seconds=share, seed=seed, strategies=plan, stop_at=3e-6)
        ports = {sympy.Symbol(v, real=True) for v in variables}
        expr = _simplest_close(res, float(np.std(out)) or 1.0)
        expr = expr.xreplace({s: sympy.Symbol(s.name, real=True) for s in expr.free_symbols})
        # constants as floats: the leaf's are gauge-dependent (a factor can move between the leaves of
        # a product), so they are snapped only on the whole formula, after the global refit
        overrides[name] = [(expr / scale).evalf()]
        leaf_text[name] = str(expr)
        if not expr.free_symbols <= ports:
            raise ValueError(f"leaf {name} formula {expr} has unexpected symbols")
    timings["leaves"] = time.perf_counter() - t1 - timings["graph fit"]
    (expr,), _ = model.formula(symbols, overrides=overrides)
    expr = expr * scale
    formulas = polish_formula(expr, symbols, train, val, relative=relative)
    timings["total"] = time.perf_counter() - t0
    return StructuredRun(formulas, tree, model, leaf_text, timings)


# a leaf's data come from a trained module: formulas this close (relative to its spread) are all
# "exact"; among them the simplest is the leaf's law
LEAF_TOLERANCE = 1e-4


def _simplest_close(result: Any, spread: float) -> sympy.Expr:
    """The simplest Pareto-front formula within ``LEAF_TOLERANCE`` (or 3x the best loss)."""
    best = min(c.loss for c in result.pareto)
    limit = max(3.0 * best, LEAF_TOLERANCE * spread)
    close = [c for c in result.pareto if c.loss <= limit]
    chosen = min(close, key=lambda c: (c.complexity, c.loss))
    return chosen.expr(result.features)


def _warm_start(model: Any, leaves: dict[str, Node], X: torch.Tensor, seed: int, stop: Any) -> None:
    """Fit each leaf module to its surrogate slice (scaled to unit size) before the joint fit.

    A product of several modules trained from scratch rarely finds the law (each factor's gradient
    is scaled by all the others); started from the right shapes, the joint fit only has to settle
    the constants that the slices leave open.
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
