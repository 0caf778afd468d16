"""The stages of a KAN strategy, each a plain function so it can be run (and tested) alone:

1. :func:`sparsify` - fit a KAN with the sparsity penalty;
2. :func:`prune_model` - drop edges/nodes under importance thresholds;
3. :func:`refine_and_fit` - grid extension, fit again;
4. :func:`fix_symbolic_edges` - auto-symbolic with a library;
5. :func:`retrain` - fit the affine parameters of the symbolic edges;
6. :func:`extract_formula` - network -> sympy in the data's units (the view undone).

Polishing (stage 7) is :func:`kandisco.discovery.polish.polish_formula`, shared with every strategy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import sympy
import torch

from ..kan import KAN
from ..kan.formula import network_formula
from .views import View

__all__ = ["sparsify", "prune_model", "refine_and_fit", "fix_symbolic_edges", "retrain", "extract_formula", "library_spec"]


def _stopper(deadline: float | None) -> Callable[[int, float], bool] | None:
    """A fit callback that stops training once ``deadline`` (perf_counter seconds) has passed."""
    if deadline is None:
        return None
    return lambda step, loss: time.perf_counter() > deadline


def sparsify(model: KAN, X: torch.Tensor, y: torch.Tensor, lamb: float, steps: int, seed: int = 0, deadline: float | None = None) -> KAN:
    """Stage 1: fit with the (scale-free) sparsity penalty ``lamb``."""
    model.fit(X, y, steps=steps, lamb=lamb, verbose=False, seed=seed, callback=_stopper(deadline))
    return model


def prune_model(model: KAN, X: torch.Tensor, edge_threshold: float = 3e-2, node_threshold: float = 1e-2) -> KAN:
    """Stage 2: drop edges and hidden nodes whose importance is under the thresholds."""
    model.prune(X, edge_threshold=edge_threshold, node_threshold=node_threshold)
    return model


def refine_and_fit(model: KAN, X: torch.Tensor, y: torch.Tensor, grid: int, steps: int, seed: int = 0, deadline: float | None = None) -> KAN:
    """Stage 3: extend the grid (functions preserved) and fit again without the penalty."""
    model.refine(grid, X)
    model.fit(X, y, steps=steps, verbose=False, seed=seed, callback=_stopper(deadline))
    return model


def fix_symbolic_edges(model: KAN, X: torch.Tensor, library: Any = None) -> KAN:
    """Stage 4: replace every active spline edge by its best library function."""
    model.auto_symbolic(X, library=library)
    return model


def retrain(model: KAN, X: torch.Tensor, y: torch.Tensor, steps: int = 30, seed: int = 0, deadline: float | None = None) -> KAN:
    """Stage 5: fit the affine parameters of the symbolic edges (grids no longer matter)."""
    model.fit(X, y, steps=steps, update_grid=False, verbose=False, seed=seed, callback=_stopper(deadline))
    return model


def extract_formula(model: KAN, symbols: Sequence[sympy.Symbol], view: View, y_mean: float = 0.0, y_std: float = 1.0) -> sympy.Expr:
    """Stage 6: the network's formula in the data's units (undoing the target scaling, then the view).

    The scaling is applied only where the view standardised the target: ``1.0*g + 0.0`` would stay
    in the formula as two more fitted constants."""
    g = network_formula(model, view.inputs(symbols))[0]
    return view.undo(y_std * g + y_mean if view.standardise else g)


def library_spec(library: Any) -> Any:
    """A library setting as JSON-ready values: None, a subset name or names as given, a custom
    SymbolicLibrary as ``{"custom": [its function names]}``."""
    if library is None or isinstance(library, str):
        return library
    if isinstance(library, (list, tuple)) and all(isinstance(n, str) for n in library):
        return list(library)
    return {"custom": [entry["name"] for entry in library.to_spec()]}
