"""Figures: the network with each edge's function drawn on it, the Pareto front, predicted vs true.

Every function writes a PNG and returns its path; matplotlib runs headless (Agg).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

__all__ = ["plot_network", "plot_pareto", "plot_predictions"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_network(model: Any, X: Any, path: str | Path, input_names: Sequence[str] | None = None, output_name: str = "y") -> Path:
    """Draw every active edge as a small plot of its function between its nodes.

    Edge opacity follows the KAN 2.0 importance score; symbolic edges are labelled with their
    function name; pruned edges are not drawn.
    """
    from .kan.layer import EDGE_PRUNED, EDGE_SYMBOLIC

    plt = _pyplot()
    X = torch.as_tensor(np.asarray(X), dtype=model.dtype)
    with torch.no_grad():
        acts = model.activations(X)
        att = model.attribute(X)
    depth = model.depth
    widths = [layer.n_in for layer in model.layers] + [model.n_outputs]
    fig_w = max(6.0, 1.6 * max(widths))
    fig, ax = plt.subplots(figsize=(fig_w, 2.6 * (depth + 1)))
    ax.set_axis_off()

    def node_xy(level: int, idx: int) -> tuple[float, float]:
        n = widths[level]
        return (idx + 0.5) / n, level / depth

    for level, n in enumerate(widths):
        for idx in range(n):
            x, y = node_xy(level, idx)
            ax.scatter([x], [y], s=120, color="black", zorder=3)
            if level == 0 and input_names:
                ax.text(x, y - 0.06, str(input_names[idx]), ha="center", va="top", fontsize=10)
            if level == depth:
                ax.text(x, y + 0.05, output_name, ha="center", va="bottom", fontsize=10)
    for l, layer in enumerate(model.layers):
        top = max(float(att.edge_scores[l].max()), 1e-12)
        for j in range(layer.n_out):
            target_node = _node_of_subnode(model, l + 1, j)
            for i in range(layer.n_in):
                if int(layer.state[j, i]) == EDGE_PRUNED:
                    continue
                (x0, y0), (x1, y1) = node_xy(l, i), node_xy(l + 1, target_node)
                alpha = float(np.clip(float(att.edge_scores[l][j, i]) / top, 0.08, 1.0))
                ax.plot([x0, x1], [y0, y1], color="grey", alpha=alpha, lw=1)
                xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
                inset = ax.inset_axes([xm - 0.05, ym - 0.05, 0.1, 0.1], transform=ax.transData)
                xs = acts.inputs[l][:, i].numpy()
                ys = acts.edges[l][:, j, i].numpy()
                order = np.argsort(xs)
                symbolic = int(layer.state[j, i]) == EDGE_SYMBOLIC
                inset.plot(xs[order], ys[order], color="tab:red" if symbolic else "tab:blue", alpha=alpha)
                inset.set_xticks([])
                inset.set_yticks([])
                if symbolic:
                    inset.set_title(layer.sym_names[int(layer.sym_index[j, i])], fontsize=7, pad=1)
    return _save(fig, path, plt)


def _node_of_subnode(model: Any, level: int, sub: int) -> int:
    n_sum = model.n_sum[level]
    if sub < n_sum:
        return sub
    start = n_sum
    for m, a in enumerate(model.mult_arity[level]):
        if sub < start + a:
            return n_sum + m
        start += a
    raise IndexError(sub)


def plot_pareto(result: Any, path: str | Path) -> Path:
    """Validation loss against complexity for every candidate; the front and the pick marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    cands = [c for c in result.candidates if np.isfinite(c.loss)]
    ax.scatter([c.complexity for c in cands], [max(c.loss, 1e-300) for c in cands], s=12, color="lightgrey", label="candidates")
    front = result.pareto
    ax.step([c.complexity for c in front], [max(c.loss, 1e-300) for c in front], where="post", color="tab:blue", label="Pareto front")
    chosen = front[result.chosen]
    ax.scatter([chosen.complexity], [max(chosen.loss, 1e-300)], s=80, color="tab:red", zorder=3, label="chosen")
    ax.set_yscale("log")
    ax.set_xlabel("complexity (expression tree nodes)")
    ax.set_ylabel(f"validation loss ({result.config.get('loss', 'RMSE')})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path, plt)


def plot_predictions(y_true: np.ndarray, y_pred: np.ndarray, path: str | Path, title: str = "") -> Path:
    """Predicted against true values with the identity line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(y_true, y_pred, s=10)
    lo, hi = float(np.min(y_true)), float(np.max(y_true))
    ax.plot([lo, hi], [lo, hi], color="black", lw=1)
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path, plt)


def _save(fig: Any, path: str | Path, plt: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
