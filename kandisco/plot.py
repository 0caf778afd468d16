"""Figures as objects: a model with its edge functions, the Pareto front, predicted against true.

Every ``plot_*`` function returns a :class:`matplotlib.figure.Figure` built without pyplot (no
global state, no GUI backend, safe in worker processes and notebooks); :func:`save_figure` writes
one through the Agg backend and closes it.

:func:`plot_model` dispatches on the model's type (``functools.singledispatch``): a flat
:class:`~kandisco.kan.KAN` is drawn as its layers with every active edge's function as a small
panel, a :class:`~kandisco.kan.GraphModule` (or an uncompiled :class:`~kandisco.kan.KANGraph`) as
its graph of inputs, modules, sum/mult nodes and outputs, each module box holding its formula (or
width) and panels of its edge functions. This module sits above :mod:`kandisco.kan`; the models'
``plot()`` methods import it only when called, so the engine never imports matplotlib on its own.
Register another model kind with ``@plot_model.register``.

The path-writing forms of the first version still work for existing callers:
``plot_network(model, X, path, ...)``, ``plot_pareto(result, path)`` and
``plot_predictions(y_true, y_pred, path, title)`` write the PNG and return its path.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from functools import singledispatch
from pathlib import Path
from typing import Any, Protocol, overload

import networkx as nx
import numpy as np
import sympy
import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch

from .kan.formula import SplineEdgeError, network_formula
from .kan.graph import INPUT, MODULE, MULT, OUTPUT, SUM, GraphModule, KANGraph
from .kan.layer import EDGE_PRUNED, EDGE_SYMBOLIC, KANLayer
from .kan.network import KAN

__all__ = ["plot_model", "plot_pareto", "plot_predictions", "save_figure", "plot_network", "MAX_MODULE_PANELS"]

MAX_MODULE_PANELS = 6  # edge-function panels drawn per module of a graph (the rest are counted in its label)
_N_SWEEP = 200  # points per input when no data is given


class _Point(Protocol):
    @property
    def complexity(self) -> int: ...

    @property
    def loss(self) -> float: ...


class ParetoResult(Protocol):
    """What :func:`plot_pareto` reads from a result (a :class:`~kandisco.discovery.DiscoveryResult`)."""

    @property
    def candidates(self) -> Sequence[_Point]: ...

    @property
    def pareto(self) -> Sequence[_Point]: ...

    @property
    def chosen(self) -> int: ...

    @property
    def config(self) -> Mapping[str, Any]: ...


# --------------------------------------------------------------------------- saving
def save_figure(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` as an image (PNG unless the suffix says otherwise) through Agg, close it, return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)  # headless whatever backend pyplot (if loaded) uses
    fig.savefig(path, dpi=dpi)
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:  # a pyplot-managed figure would otherwise stay open
        plt.close(fig)
    return path


# --------------------------------------------------------------------------- models
@singledispatch
def plot_model(model: object, X: Any = None, input_names: Sequence[str] | None = None, output_name: str = "y") -> Figure:
    """Draw a model: a :class:`KAN` with its edge functions, a :class:`GraphModule`/:class:`KANGraph` as its graph.

    ``X`` is data in the model's input columns (default: what it was trained on, else a sweep of
    each input's grid range); ``input_names``/``output_name`` label the inputs and the output.
    Edge panels show each active edge's function on the values that reach it, opacity by importance.
    """
    raise TypeError(f"cannot draw a {type(model).__name__}: expected a KAN, a GraphModule or a KANGraph")


def _sweep(lows: torch.Tensor, highs: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(_N_SWEEP, n) points spanning each column's [low, high] (columns swept together)."""
    ts = torch.linspace(0, 1, _N_SWEEP, dtype=dtype)[:, None]
    return lows.to(dtype)[None, :] + ts * (highs - lows).to(dtype)[None, :]


def _grid_range(layer: KANLayer) -> tuple[torch.Tensor, torch.Tensor]:
    """Per input of ``layer``, the range its knots cover (where its splines are defined)."""
    return layer.grid[:, layer.k], layer.grid[:, -layer.k - 1]


def _kan_inputs(model: KAN, X: Any) -> torch.Tensor:
    if X is None:
        X = model.train_inputs
    if X is None:
        return _sweep(*_grid_range(model.layers[0]), model.dtype)
    return torch.as_tensor(np.asarray(X), dtype=model.dtype)


def _edge_panel(
    ax: Axes, bounds: tuple[float, float, float, float], xs: np.ndarray, ys: np.ndarray, alpha: float, title: str | None
) -> Axes:
    """A small inset (in ``ax``'s data coordinates) plotting one edge function; symbolic ones titled."""
    inset = ax.inset_axes(bounds, transform=ax.transData)
    order = np.argsort(xs, kind="stable")
    inset.plot(xs[order], ys[order], color="tab:red" if title else "tab:blue", alpha=alpha)
    inset.set_xticks([])
    inset.set_yticks([])
    if title:
        inset.set_title(title, fontsize=7, pad=1)
    return inset


def _subnode_slot(model: KAN, level: int, sub: int) -> tuple[int, int, int]:
    """``(node, rank, arity)``: the node subnode ``sub`` of ``level`` feeds, its place among that
    node's subnodes and their number (1 for a sum node)."""
    n_sum = model.n_sum[level]
    if sub < n_sum:
        return sub, 0, 1
    start = n_sum
    for m, a in enumerate(model.mult_arity[level]):
        if sub < start + a:
            return n_sum + m, sub - start, a
        start += a
    raise IndexError(sub)


def _symbolic_name(layer: KANLayer, j: int, i: int) -> str | None:
    if int(layer.state[j, i]) != EDGE_SYMBOLIC:
        return None
    return layer.sym_names[int(layer.sym_index[j, i])]


@plot_model.register(KAN)
def _plot_kan(model: KAN, X: Any = None, input_names: Sequence[str] | None = None, output_name: str = "y") -> Figure:
    """Every active edge as a small plot of its function between its nodes (pruned edges not drawn).

    Edge opacity follows the KAN 2.0 importance score; symbolic edges are red and titled with their
    function; multiplication nodes are marked with a cross.
    """
    x = _kan_inputs(model, X)
    with torch.no_grad():
        acts = model.activations(x)
        att = model.attribute(x)
    depth = model.depth
    widths = [model.n_nodes(level) for level in range(depth + 1)]
    fig = Figure(figsize=(max(6.0, 1.6 * max(widths)), 2.6 * (depth + 1)))
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.12, 1.1)

    def node_xy(level: int, idx: int) -> tuple[float, float]:
        return (idx + 0.5) / widths[level], level / depth

    for level, n in enumerate(widths):
        for idx in range(n):
            px, py = node_xy(level, idx)
            mult = idx >= model.n_sum[level]
            ax.scatter([px], [py], s=120, color="black", marker="X" if mult else "o", zorder=3)
            if level == 0 and input_names:
                ax.text(px, py - 0.06, str(input_names[idx]), ha="center", va="top", fontsize=10)
            if level == depth:
                label = output_name if model.n_outputs == 1 else f"{output_name}[{idx}]"
                ax.text(px, py + 0.05, label, ha="center", va="bottom", fontsize=10)
    for l, layer in enumerate(model.layers):
        top = max(float(att.edge_scores[l].max()), 1e-12)
        for j in range(layer.n_out):
            target, rank, arity = _subnode_slot(model, l + 1, j)
            shift = rank - (arity - 1) / 2  # the factors of a product: apart at the node, and along the line
            for i in range(layer.n_in):
                if int(layer.state[j, i]) == EDGE_PRUNED:
                    continue
                (x0, y0), (x1, y1) = node_xy(l, i), node_xy(l + 1, target)
                x1 += 0.03 * shift
                alpha = float(np.clip(float(att.edge_scores[l][j, i]) / top, 0.08, 1.0))
                ax.plot([x0, x1], [y0, y1], color="grey", alpha=alpha, lw=1)
                t = 0.5 + 0.3 * shift / max(arity - 1, 1)
                xm, ym = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
                xs, ys = acts.inputs[l][:, i].numpy(), acts.edges[l][:, j, i].numpy()
                _edge_panel(ax, (xm - 0.05, ym - 0.05, 0.1, 0.1), xs, ys, alpha, _symbolic_name(layer, j, i))
    return fig


def _graph_inputs(model: GraphModule, X: Any) -> torch.Tensor:
    """Data for a graph drawing: ``X``, the training inputs, or a sweep of the ranges the modules' grids expect."""
    if X is None:
        X = model.train_inputs
    if X is not None:
        return torch.as_tensor(np.asarray(X), dtype=model.dtype)
    lows = torch.full((model.n_inputs,), -1.0, dtype=model.dtype)
    highs = torch.ones(model.n_inputs, dtype=model.dtype)
    for k, name in enumerate(model.input_names):
        for _, dst, attrs in model.spec.graph.out_edges(name, data=True):
            if model.spec.kind(dst) == MODULE:  # the first module it feeds says where its grid lies
                port = model.spec.graph.nodes[dst]["inputs"].index(attrs["dst_port"])
                lo, hi = _grid_range(model.kans[dst].layers[0])
                lows[k], highs[k] = lo[port], hi[port]
                break
    return _sweep(lows, highs, model.dtype)


def _module_label(name: str, kan: KAN, ports: Sequence[str], n_hidden: int) -> str:
    """A module's name with its formula in its port symbols (if all its edges are symbolic) or its width."""
    try:
        exprs = network_formula(kan, [sympy.Symbol(p, real=True) for p in ports], digits=3)
        body = "; ".join(str(e) for e in exprs)
        body = body if len(body) <= 44 else body[:41] + "..."
    except SplineEdgeError:
        body = "KAN [" + ", ".join(str(s) if not m else f"[{s}, {m}]" for s, m in kan.width) + "]"
    more = f"  (+{n_hidden} edges)" if n_hidden else ""
    return f"{name}: {body}{more}"


@plot_model.register(GraphModule)
def _plot_graph_module(
    model: GraphModule, X: Any = None, input_names: Sequence[str] | None = None, output_name: str = "y"
) -> Figure:
    """The module graph, inputs left to outputs right: a circle per input, sum (+), mult (x) and output
    node, a box per module with its formula or width and up to :data:`MAX_MODULE_PANELS` panels of its
    edge functions (on the values that reach them; opacity by the module's KAN 2.0 edge scores)."""
    spec = model.spec
    x = _graph_inputs(model, X)
    reach = model.module_inputs(x)
    g = nx.DiGraph(spec.graph)
    order = spec.node_names
    generations = [sorted(gen, key=order.index) for gen in nx.topological_generations(g)]
    gap_x, gap_y, box_w, box_h, radius = 3.2, 2.4, 2.4, 1.7, 0.32
    pos: dict[str, tuple[float, float]] = {}
    for col, names in enumerate(generations):
        for row, name in enumerate(names):
            pos[name] = (col * gap_x, ((len(names) - 1) / 2 - row) * gap_y)
    tallest = max(len(names) for names in generations)
    fig = Figure(figsize=(2.0 + 2.6 * len(generations), max(3.2, 2.2 * tallest)))
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_xlim(-box_w / 2 - 0.4, (len(generations) - 1) * gap_x + box_w / 2 + 0.4)
    half = (tallest - 1) / 2 * gap_y + box_h / 2 + 0.5
    ax.set_ylim(-half, half)

    colour = {INPUT: "#9ecae1", MODULE: "#fdebd0", SUM: "#a1d99b", MULT: "#fc9272", OUTPUT: "#bcbddc"}
    in_names = list(input_names) if input_names is not None else model.input_names

    def half_width(name: str) -> float:
        return box_w / 2 if spec.kind(name) == MODULE else radius

    for u, v, attrs in spec.graph.edges(data=True):
        (xu, yu), (xv, yv) = pos[u], pos[v]
        start, end = (xu + half_width(u), yu), (xv - half_width(v), yv)
        skips = round((xv - xu) / gap_x) > 1  # a straight line would run behind the nodes in between
        arrow = {"arrowstyle": "->", "color": "grey", "lw": 1, "connectionstyle": f"arc3,rad={-0.35 if skips else 0}"}
        ax.annotate("", xy=end, xytext=start, arrowprops=arrow)
        if attrs["dst_port"] is not None and spec.kind(v) == MODULE:
            ax.text(end[0] - 0.15, end[1] + 0.1, attrs["dst_port"], ha="right", va="bottom", fontsize=7, color="dimgrey")

    for name in order:
        kind, (px, py) = spec.kind(name), pos[name]
        if kind == MODULE:
            patch: Any = FancyBboxPatch(
                (px - box_w / 2, py - box_h / 2), box_w, box_h, boxstyle="round,pad=0.05",
                facecolor=colour[kind], edgecolor="black", lw=1,
            )
        else:
            patch = Circle((px, py), radius, facecolor=colour[kind], edgecolor="black", lw=1)
        patch.set_gid(f"node:{name}")
        ax.add_patch(patch)
        if kind == MODULE:
            _draw_module(ax, name, model, reach[name], (px, py), (box_w, box_h))
        else:
            label = {SUM: "+", MULT: "×"}.get(kind, name)
            if kind == INPUT:
                label = str(in_names[model.input_names.index(name)])
            elif kind == OUTPUT and model.n_outputs == 1 and output_name != "y":
                label = output_name
            ax.text(px, py, label, ha="center", va="center", fontsize=9 if kind in (INPUT, OUTPUT) else 12, zorder=4)
    return fig


def _draw_module(
    ax: Axes, name: str, model: GraphModule, xin: torch.Tensor, centre: tuple[float, float], size: tuple[float, float]
) -> None:
    """A module's label on top of its box and its first edge-function panels in a grid below."""
    kan = model.kans[name]
    with torch.no_grad():
        acts = kan.activations(xin)
        att = kan.attribute(xin)
    edges = [
        (l, j, i)
        for l, layer in enumerate(kan.layers)
        for j in range(layer.n_out)
        for i in range(layer.n_in)
        if int(layer.state[j, i]) != EDGE_PRUNED
    ]
    shown = edges[:MAX_MODULE_PANELS]
    (px, py), (w, h) = centre, size
    ports = model.spec.graph.nodes[name]["inputs"]
    ax.text(px, py + h / 2 - 0.12, _module_label(name, kan, ports, len(edges) - len(shown)),
            ha="center", va="top", fontsize=7, zorder=4)
    cols = min(3, max(1, len(shown)))
    rows = -(-len(shown) // cols) if shown else 0
    cell_w, cell_h = (w - 0.2) / cols, (h - 0.45) / max(rows, 1)
    tops = [float(att.edge_scores[l].max()) for l in range(kan.depth)]
    for n, (l, j, i) in enumerate(shown):
        r, c = divmod(n, cols)
        left = px - w / 2 + 0.1 + c * cell_w + 0.06
        bottom = py + h / 2 - 0.4 - (r + 1) * cell_h + 0.05
        alpha = float(np.clip(float(att.edge_scores[l][j, i]) / max(tops[l], 1e-12), 0.15, 1.0))
        xs, ys = acts.inputs[l][:, i].numpy(), acts.edges[l][:, j, i].numpy()
        _edge_panel(ax, (left, bottom, cell_w - 0.12, cell_h - 0.1), xs, ys, alpha, _symbolic_name(kan.layers[l], j, i))


@plot_model.register(KANGraph)
def _plot_graph(graph: KANGraph, X: Any = None, input_names: Sequence[str] | None = None, output_name: str = "y") -> Figure:
    """A graph not yet compiled: drawn as its compiled module (the same KAN objects)."""
    return _plot_graph_module(graph.compile(), X, input_names, output_name)


def plot_network(
    model: KAN | GraphModule | KANGraph,
    X: Any,
    path: str | Path,
    input_names: Sequence[str] | None = None,
    output_name: str = "y",
) -> Path:
    """Path-writing form of :func:`plot_model` (kept for existing callers): writes the PNG, returns its path."""
    return save_figure(plot_model(model, X, input_names, output_name), path)


# --------------------------------------------------------------------------- results
@overload
def plot_pareto(result: ParetoResult, path: None = None) -> Figure: ...


@overload
def plot_pareto(result: ParetoResult, path: str | Path) -> Path: ...


def plot_pareto(result: ParetoResult, path: str | Path | None = None) -> Figure | Path:
    """Validation loss against complexity for every candidate, the front and the pick marked.

    Returns the figure; with ``path`` (the first version's form) writes it there and returns the path.
    """
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    cands = [c for c in result.candidates if np.isfinite(c.loss)]
    ax.scatter([c.complexity for c in cands], [max(c.loss, 1e-300) for c in cands], s=12, color="lightgrey", label="candidates")
    front = result.pareto
    front_losses = [max(c.loss, 1e-300) for c in front]
    ax.step([c.complexity for c in front], front_losses, where="post", color="tab:blue", label="Pareto front")
    chosen = front[result.chosen]
    ax.scatter([chosen.complexity], [max(chosen.loss, 1e-300)], s=80, color="tab:red", zorder=3, label="chosen")
    ax.set_yscale("log")
    ax.set_xlabel("complexity (expression tree nodes)")
    ax.set_ylabel(f"validation loss ({result.config.get('loss', 'RMSE')})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig if path is None else save_figure(fig, path)


@overload
def plot_predictions(y_true: Any, y_pred: Any, title: str | os.PathLike[str] = "", path: None = None) -> Figure: ...


@overload
def plot_predictions(y_true: Any, y_pred: Any, title: str | os.PathLike[str], path: str | Path) -> Path: ...


def plot_predictions(
    y_true: Any, y_pred: Any, title: str | os.PathLike[str] = "", path: str | Path | None = None
) -> Figure | Path:
    """Predicted against true values with the identity line.

    Returns the figure; with ``path`` writes it there and returns the path. The first version's
    form ``plot_predictions(y_true, y_pred, path, title)`` (a path object third) still writes the file.
    """
    if isinstance(title, os.PathLike):  # the first version's argument order: (y_true, y_pred, path, title)
        title, path = str(path or ""), Path(title)
    truth, pred = np.ravel(np.asarray(y_true, dtype=float)), np.ravel(np.asarray(y_pred, dtype=float))
    fig = Figure(figsize=(4.5, 4.5))
    ax = fig.add_subplot()
    ax.scatter(truth, pred, s=10)
    lo, hi = float(np.min(truth)), float(np.max(truth))
    ax.plot([lo, hi], [lo, hi], color="black", lw=1)
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    if title:
        ax.set_title(str(title), fontsize=9)
    fig.tight_layout()
    return fig if path is None else save_figure(fig, path)
