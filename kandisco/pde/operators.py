"""Autograd differential operators for PDE residuals.

Every helper takes the network output ``u`` (shape ``(n,)`` or ``(n, 1)``, or ``(n, m)`` for a
vector field where said) and the points ``x`` it was computed from (``(n, d)``, ``requires_grad``),
and returns a tensor that is itself differentiable (``create_graph=True``), so a residual built
from them can be trained on.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .errors import PDEError

__all__ = ["gradient", "partial", "laplacian", "divergence", "time_derivative"]


def _column(u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    if not x.requires_grad:
        raise PDEError("x must require gradients: differentiate the points the residual received, not a copy")
    if u.dim() == 2 and u.shape[1] == 1:
        u = u[:, 0]
    if u.dim() != 1 or u.shape[0] != x.shape[0]:
        raise PDEError(f"u must have one value per point ({x.shape[0]}), got shape {tuple(u.shape)}")
    return u


def gradient(u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``(n, d)``: du/dx_i for every column i of ``x``."""
    u = _column(u, x)
    (g,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    return g


def partial(u: torch.Tensor, x: torch.Tensor, i: int, order: int = 1) -> torch.Tensor:
    """``(n,)``: the ``order``-th derivative of ``u`` in column ``i`` of ``x``."""
    if order < 1:
        raise PDEError(f"order must be >= 1, got {order}")
    if not -x.shape[1] <= i < x.shape[1]:
        raise PDEError(f"column {i} does not exist: the points have {x.shape[1]} columns")
    out = _column(u, x)
    for _ in range(order):
        out = gradient(out, x)[:, i]
    return out


def laplacian(u: torch.Tensor, x: torch.Tensor, dims: Sequence[int] | None = None) -> torch.Tensor:
    """``(n,)``: sum of d2u/dx_i2 over ``dims`` (default every column; leave out time with ``dims``)."""
    g = gradient(u, x)
    dims = range(x.shape[1]) if dims is None else dims
    total = torch.zeros_like(g[:, 0])
    for i in dims:
        total = total + gradient(g[:, i], x)[:, i]
    return total


def divergence(v: torch.Tensor, x: torch.Tensor, dims: Sequence[int] | None = None) -> torch.Tensor:
    """``(n,)``: sum of dv_k/dx_{dims[k]} for a vector field ``v`` of shape ``(n, len(dims))``."""
    dims = list(range(x.shape[1])) if dims is None else list(dims)
    if v.dim() != 2 or v.shape != (x.shape[0], len(dims)):
        raise PDEError(f"v must have shape ({x.shape[0]}, {len(dims)}), got {tuple(v.shape)}")
    total = torch.zeros_like(v[:, 0])
    for k, i in enumerate(dims):
        total = total + gradient(v[:, k], x)[:, i]
    return total


def time_derivative(u: torch.Tensor, x: torch.Tensor, t: int = -1) -> torch.Tensor:
    """``(n,)``: du/dt, with time in column ``t`` of ``x`` (default the last, as :class:`Problem` puts it)."""
    return partial(u, x, t)
