"""Input importance: how much of the output's variation each input accounts for.

``score_i = mean |df/dx_i| * std(x_i)`` over the data, normalised to sum to 1. It works the same for
a formula, a flat KAN or a KAN graph (whose inputs pass through several modules, so the per-edge
KAN 2.0 scores of one module do not say what an input does to the output): derivatives come from
autograd for torch modules and from central differences for anything else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import torch

if TYPE_CHECKING:  # network.py and graph.py import this module
    from .protocol import Trainable

__all__ = ["input_importance", "module_input_importance", "importance_table"]


def _normalise(raw: np.ndarray) -> np.ndarray:
    raw = np.where(np.isfinite(raw), raw, 0.0)
    total = raw.sum()
    return raw / total if total > 0 else raw


def input_importance(fn: Callable[[np.ndarray], np.ndarray], X: np.ndarray) -> np.ndarray:
    """Importance of each column of ``X`` for a vectorised numpy callable (central differences)."""
    X = np.asarray(X, dtype=float)
    std = X.std(axis=0)
    raw = np.zeros(X.shape[1])
    for i in range(X.shape[1]):
        h = 1e-4 * (np.abs(X[:, i]).mean() + std[i]) or 1e-6
        up, down = X.copy(), X.copy()
        up[:, i] += h
        down[:, i] -= h
        with np.errstate(all="ignore"):
            grad = (np.asarray(fn(up), dtype=float) - np.asarray(fn(down), dtype=float)) / (2 * h)
        raw[i] = np.nanmean(np.abs(grad)) * std[i]
    return _normalise(raw)


def module_input_importance(model: Trainable, X: Any, output: int = 0) -> np.ndarray:
    """Importance of each input of a torch module (a KAN or a compiled KAN graph), by autograd."""
    if not 0 <= output < model.n_outputs:
        raise ValueError(f"output {output} does not exist (the model has {model.n_outputs} outputs)")
    x = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
    x = x.detach().to(model.dtype).clone().requires_grad_(True)
    out = model(x)[:, output]
    (grad,) = torch.autograd.grad(out.sum(), x)
    raw = grad.abs().mean(0).detach().numpy() * x.detach().std(0).numpy()
    return _normalise(raw)


def importance_table(names: Sequence[str], scores: np.ndarray) -> dict[str, float]:
    """``{name: score}`` in decreasing order of importance."""
    order = np.argsort(-scores, kind="stable")
    return {names[i]: float(scores[i]) for i in order}
