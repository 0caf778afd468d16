"""Symbolic edges of a KAN: suggest, fix, unfix and auto-fix ``c * f(a*x + b) + d`` per edge.

Edges are addressed as in KAN 2.0: ``(l, i, j)`` is the edge of layer ``l`` from input node ``i`` to
output (sub)node ``j``. Suggestions are fitted to what the edge computes now, on data ``X`` (the
model's last training inputs when ``X`` is omitted). :func:`auto_symbolic` fits every active
spline edge of the network against the whole library in one batched call.

The functions used are recorded in ``model.library`` so that a saved model can be reloaded (custom
functions must then be passed to :meth:`KAN.load`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import torch

from ..symbolic.affine import fit_affine
from ..symbolic.library import SymbolicFunction, SymbolicLibrary, get_library
from ..symbolic.select import SymbolicFit, rank_edge
from .layer import EDGE_PRUNED, EDGE_SPLINE, EDGE_SYMBOLIC

if TYPE_CHECKING:  # network.py imports this module
    from .network import KAN

__all__ = ["suggest_symbolic", "fix_symbolic", "unfix_symbolic", "auto_symbolic", "FixedEdge"]

LibrarySpec = SymbolicLibrary | str | Sequence[str] | None


@dataclass(frozen=True)
class FixedEdge:
    """One edge fixed by :func:`auto_symbolic`: where it is and the fit chosen for it."""

    layer: int
    i: int
    j: int
    fit: SymbolicFit


def _data(model: KAN, X: Any) -> torch.Tensor:
    if X is None:
        X = getattr(model, "train_inputs", None)
        if X is None:
            raise ValueError("no data: pass X, or fit the model first (it remembers its training inputs)")
    return model._check_input(torch.as_tensor(X))


def _check_edge(model: KAN, l: int, i: int, j: int) -> None:
    if not 0 <= l < model.depth:
        raise IndexError(f"layer {l} does not exist (the model has {model.depth} layers)")
    layer = model.layers[l]
    if not (0 <= i < layer.n_in and 0 <= j < layer.n_out):
        raise IndexError(f"edge ({l}, {i}, {j}) does not exist: layer {l} has {layer.n_in} inputs and {layer.n_out} outputs")


def _remember(model: KAN, fn: SymbolicFunction) -> None:
    """Add ``fn`` to the model's library (the one saved with it)."""
    if model.library is None:
        model.library = SymbolicLibrary()
    if fn.name not in model.library or model.library[fn.name] is not fn:
        model.library.add(fn, replace=True)


@torch.no_grad()
def _edge_samples(model: KAN, X: torch.Tensor, edges: list[tuple[int, int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(E, N) inputs and outputs of the given edges on data ``X`` (one pass through the network)."""
    acts = model.activations(X)
    xs = torch.stack([acts.inputs[l][:, i] for l, i, _ in edges])  # (E, N)
    ys = torch.stack([acts.edges[l][:, j, i] for l, i, j in edges])  # (E, N)
    return xs.double(), ys.double()


def suggest_symbolic(
    model: KAN, l: int, i: int, j: int, X: Any = None, topk: int = 5, library: LibrarySpec = None, **kwargs: Any
) -> list[SymbolicFit]:
    """The ``topk`` best library functions for edge ``(l, i, j)``, best first."""
    _check_edge(model, l, i, j)
    lib = get_library(library)
    xs, ys = _edge_samples(model, _data(model, X), [(l, i, j)])
    fits = fit_affine(xs, ys, lib, **kwargs)
    return rank_edge(fits, 0, lib)[:topk]


def fix_symbolic(
    model: KAN,
    l: int,
    i: int,
    j: int,
    name: str,
    X: Any = None,
    *,
    fit_params: bool = True,
    params: tuple[float, float, float, float] | None = None,
    library: LibrarySpec = None,
) -> SymbolicFit | None:
    """Make edge ``(l, i, j)`` the symbolic function ``name``.

    With ``fit_params`` (default) ``(a, b, c, d)`` are fitted to the edge's current function on ``X``
    and the fit is returned; otherwise ``params`` (default ``(1, 0, 1, 0)``) are used as given.
    """
    _check_edge(model, l, i, j)
    layer = model.layers[l]
    if int(layer.state[j, i]) == EDGE_PRUNED:
        raise ValueError(f"edge ({l}, {i}, {j}) is pruned; a pruned edge cannot be made symbolic")
    lib = get_library(library) if library is not None else (model.library or get_library(None))
    if name not in lib and model.library is not None and name in model.library:
        lib = model.library
    fn = lib[name]  # UnknownFunctionError (with suggestions) for a mistyped name
    fit = None
    if fit_params:
        xs, ys = _edge_samples(model, _data(model, X), [(l, i, j)])
        fits = fit_affine(xs, ys, lib.subset([name]))
        fit = rank_edge(fits, 0, lib.subset([name]))[0]
        params = fit.params
    _remember(model, fn)
    a, b, c, d = (float(p) for p in (params or (1.0, 0.0, 1.0, 0.0)))
    layer.set_symbolic(j, i, fn, (a, b, c, d))
    return fit


def unfix_symbolic(model: KAN, l: int, i: int, j: int) -> None:
    """Return edge ``(l, i, j)`` to its spline (kept unchanged while the edge was symbolic)."""
    _check_edge(model, l, i, j)
    if int(model.layers[l].state[j, i]) != EDGE_SYMBOLIC:
        raise ValueError(f"edge ({l}, {i}, {j}) is not symbolic")
    model.layers[l].set_spline(j, i)


def auto_symbolic(
    model: KAN,
    X: Any = None,
    library: LibrarySpec = None,
    *,
    score_kwargs: dict[str, Any] | None = None,
    max_samples: int = 2000,
    seed: int = 0,
    **kwargs: Any,
) -> list[FixedEdge]:
    """Fix every active spline edge to its best-scoring library function (one batched fit).

    The choice follows :func:`kandisco.symbolic.select.score_fits` (R^2 against complexity; its
    options through ``score_kwargs``); ``max_samples`` rows of ``X`` are used; other keywords go to
    :func:`~kandisco.symbolic.affine.fit_affine`. Returns what was fixed, edge by edge.
    """
    lib = get_library(library)
    X = _data(model, X)
    if X.shape[0] > max_samples:
        gen = torch.Generator().manual_seed(seed)
        X = X[torch.randperm(X.shape[0], generator=gen)[:max_samples]]
    edges = [
        (l, int(i), int(j))
        for l, layer in enumerate(model.layers)
        for j, i in (layer.state == EDGE_SPLINE).nonzero().tolist()
    ]
    if not edges:
        return []
    xs, ys = _edge_samples(model, X, edges)
    fits = fit_affine(xs, ys, lib, seed=seed, **kwargs)
    fixed = []
    for e, (l, i, j) in enumerate(edges):
        best = rank_edge(fits, e, lib, **(score_kwargs or {}))[0]
        fn = lib[best.name]
        _remember(model, fn)
        model.layers[l].set_symbolic(j, i, fn, best.params)
        fixed.append(FixedEdge(l, i, j, best))
    return fixed
