"""B-spline machinery for KAN edges: knot vectors, local basis evaluation, curve <-> coefficients.

Conventions (shared by every function here):

* A grid of ``G`` intervals on ``[lo, hi]`` has ``G + 1`` points per input; it is *extended* by ``k``
  knots on each side, so a knot vector ``t`` has ``G + 2k + 1`` entries and carries ``G + k`` basis
  functions ``B_0 .. B_{G+k-1}`` of degree ``k`` (``B_i`` is supported on ``[t_i, t_{i+k+1}]``).
* Knots are per input: ``grid`` has shape ``(n_in, G + 2k + 1)`` and need not be uniform.
* Outside ``[t_0, t_last]`` every basis is zero (no extrapolation, as scipy's ``extrapolate=False``);
  inside ``[t_k, t_{G+k}]`` (the data range) the bases sum to one.

Only ``k + 1`` bases are non-zero at a point, so :func:`bspline_basis` evaluates just those with de
Boor's triangular recursion (Piegl & Tiller, algorithm A2.2) and scatters them into the dense
``(batch, n_in, G + k)`` tensor the layer's matmul wants. A dense Cox–de Boor over all bases does
``(G + 2k) * k`` work per point instead of ``k**2``.
"""

from __future__ import annotations

import torch

__all__ = [
    "pad_knots",
    "uniform_grid",
    "extend_grid",
    "bspline_basis",
    "curve_to_coef",
    "coef_to_curve",
    "grid_from_samples",
    "refit_coef",
]


def uniform_grid(low: torch.Tensor, high: torch.Tensor, num: int, k: int) -> torch.Tensor:
    """Extended uniform knot vectors: ``num`` intervals on ``[low_i, high_i]`` plus ``k`` knots per side.

    ``low`` and ``high`` have shape ``(n_in,)``; the result has shape ``(n_in, num + 2k + 1)``.
    """
    steps = torch.arange(-k, num + k + 1, dtype=low.dtype, device=low.device)  # (num+2k+1,)
    h = (high - low) / num  # (n_in,)
    return low[:, None] + steps[None, :] * h[:, None]  # (n_in, num+2k+1)


def extend_grid(points: torch.Tensor, k: int) -> torch.Tensor:
    """Add ``k`` knots on each side of grid ``points`` (n_in, G+1), spaced like the end intervals' mean.

    Uses the average spacing ``(hi - lo) / G`` (pykan's rule) so that adaptive grids with a tiny end
    interval do not get a degenerate extension.
    """
    G = points.shape[1] - 1
    h = (points[:, -1] - points[:, 0]) / G  # (n_in,)
    ks = torch.arange(1, k + 1, dtype=points.dtype, device=points.device)  # (k,)
    left = points[:, :1] - h[:, None] * ks.flip(0)[None, :]  # (n_in, k)
    right = points[:, -1:] + h[:, None] * ks[None, :]  # (n_in, k)
    return torch.cat([left, points, right], dim=1)  # (n_in, G+2k+1)


def _pad_knots(grid: torch.Tensor, k: int) -> torch.Tensor:
    """Pad ``k`` more knots per side so every point in ``[t_0, t_last]`` has a full local stencil."""
    if k == 0:
        return grid
    h_left = grid[:, 1:2] - grid[:, 0:1]  # (n_in, 1)
    h_right = grid[:, -1:] - grid[:, -2:-1]  # (n_in, 1)
    ks = torch.arange(1, k + 1, dtype=grid.dtype, device=grid.device)  # (k,)
    left = grid[:, :1] - h_left * ks.flip(0)[None, :]  # (n_in, k)
    right = grid[:, -1:] + h_right * ks[None, :]  # (n_in, k)
    return torch.cat([left, grid, right], dim=1)  # (n_in, G+4k+1)


def pad_knots(grid: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Knots padded by ``k`` per side (n_in, G+4k+1) and their contiguous transpose.

    This is what :func:`bspline_basis` reads; layers cache it since it changes only with the grid.
    """
    tp = _pad_knots(grid, k).contiguous()
    return tp, tp.t().contiguous()


def bspline_basis(x: torch.Tensor, grid: torch.Tensor, k: int, padded: torch.Tensor | None = None) -> torch.Tensor:
    """All ``G + k`` B-spline bases of degree ``k`` at ``x``, evaluated locally.

    Args:
        x: (batch, n_in) points.
        grid: (n_in, G + 2k + 1) extended knot vectors, non-decreasing, with distinct end knots.
        k: spline degree (0 = piecewise constant, 3 = cubic).
        padded: ``pad_knots(grid, k)``, when the caller keeps it cached (it changes only with the grid).

    Returns:
        (batch, n_in, G + k) basis values; differentiable in ``x`` (for PDE losses).
    """
    n_basis = grid.shape[1] - k - 1
    tp, tpt = pad_knots(grid, k) if padded is None else padded  # (n_in, G+4k+1), its transpose
    # interval m with tp[m] <= x < tp[m+1]; the closing end knot belongs to the last real interval
    m = torch.searchsorted(tp, x.detach().t().contiguous(), right=True).t() - 1  # (batch, n_in)
    last_real = k + grid.shape[1] - 2  # index in tp of the interval ending at t_last
    m = m.clamp(k, last_real)

    # de Boor's triangle: N[r] holds B_{m-j+r, j} after stage j
    left = [x - tpt.gather(0, m + 1 - j) for j in range(1, k + 1)]  # each (batch, n_in)
    right = [tpt.gather(0, m + j) - x for j in range(1, k + 1)]
    N = [torch.ones_like(x)]
    for j in range(1, k + 1):
        saved = torch.zeros_like(x)
        new = []
        for r in range(j):
            temp = N[r] / (right[r] + left[j - r - 1])
            new.append(saved + right[r] * temp)
            saved = left[j - r - 1] * temp
        new.append(saved)
        N = new
    local = torch.stack(N, dim=-1)  # (batch, n_in, k+1)

    # padded index m - k + r is real basis index m - 2k + r; bases beyond the real ones and points
    # outside [t_0, t_last] contribute 0. scatter_add (not scatter) so clamped duplicates add zeros.
    idx = (m - 2 * k)[..., None] + torch.arange(k + 1, device=x.device)  # (batch, n_in, k+1)
    inside = (x >= grid[:, 0]) & (x <= grid[:, -1])  # (batch, n_in)
    valid = (idx >= 0) & (idx < n_basis) & inside[..., None]
    local = local * valid
    dense = torch.zeros(*x.shape, n_basis, dtype=x.dtype, device=x.device)
    return dense.scatter_add_(2, idx.clamp(0, n_basis - 1), local)  # (batch, n_in, G+k)


def coef_to_curve(x: torch.Tensor, grid: torch.Tensor, coef: torch.Tensor, k: int) -> torch.Tensor:
    """Evaluate splines: ``coef`` (n_out, n_in, G+k) at ``x`` (batch, n_in) -> (batch, n_out, n_in)."""
    basis = bspline_basis(x, grid, k)  # (batch, n_in, G+k)
    return torch.einsum("bik,oik->boi", basis, coef)  # (batch, n_out, n_in)


def curve_to_coef(
    x: torch.Tensor, y: torch.Tensor, grid: torch.Tensor, k: int, ridge: float = 1e-10
) -> torch.Tensor:
    """Least-squares spline coefficients reproducing samples ``y`` of every edge at ``x``.

    One solve per input, shared across that input's outgoing edges (they see the same design matrix).
    Solved in float64 on the normal equations with a tiny relative ridge, so that bases the data
    never touches get coefficient ~0 instead of making the system singular.

    Args:
        x: (batch, n_in) sample points.
        y: (batch, n_out, n_in) edge values at those points.
        grid: (n_in, G+2k+1) knots of the new splines.

    Returns:
        (n_out, n_in, G+k) coefficients, in ``y``'s dtype.
    """
    basis = bspline_basis(x.double(), grid.double(), k).permute(1, 0, 2)  # (n_in, batch, G+k)
    target = y.double().permute(2, 0, 1)  # (n_in, batch, n_out)
    gram = basis.transpose(1, 2) @ basis  # (n_in, G+k, G+k)
    rhs = basis.transpose(1, 2) @ target  # (n_in, G+k, n_out)
    scale = gram.diagonal(dim1=1, dim2=2).mean(-1).clamp_min(1e-300)  # (n_in,)
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    gram = gram + (ridge * scale)[:, None, None] * eye
    coef = torch.linalg.solve(gram, rhs)  # (n_in, G+k, n_out)
    return coef.permute(2, 0, 1).contiguous().to(y.dtype)  # (n_out, n_in, G+k)


def grid_from_samples(x: torch.Tensor, num: int, k: int, grid_eps: float = 0.02) -> torch.Tensor:
    """Extended knots for ``num`` intervals fitted to samples ``x`` (batch, n_in).

    Mixes a quantile grid (dense where the data are) with a uniform grid on the data range:
    ``grid_eps * uniform + (1 - grid_eps) * adaptive`` (the KAN paper's rule). A constant input gets a
    unit-wide grid around its value so that knots stay distinct.
    """
    xs = x.detach()
    lo = xs.min(dim=0).values  # (n_in,)
    hi = xs.max(dim=0).values  # (n_in,)
    width = hi - lo
    degenerate = width <= 1e-12 * torch.maximum(lo.abs(), hi.abs()).clamp_min(1.0)
    lo = torch.where(degenerate, lo - 0.5, lo)
    hi = torch.where(degenerate, hi + 0.5, hi)
    qs = torch.linspace(0, 1, num + 1, dtype=xs.dtype, device=xs.device)  # (num+1,)
    adaptive = torch.quantile(xs.t(), qs, dim=1).t()  # (n_in, num+1)
    uniform = lo[:, None] + qs[None, :] * (hi - lo)[:, None]  # (n_in, num+1)
    adaptive = torch.where(degenerate[:, None], uniform, adaptive)
    points = grid_eps * uniform + (1 - grid_eps) * adaptive  # (n_in, num+1)
    # quantiles of discrete data can repeat: keep the knots strictly increasing
    min_gap = 1e-6 * (hi - lo)[:, None] / num
    points = torch.maximum(points, torch.cummax(points, dim=1).values)
    gaps = torch.diff(points, dim=1).clamp_min(0) + min_gap
    points = torch.cat([points[:, :1], points[:, :1] + torch.cumsum(gaps, dim=1)], dim=1)
    points = lo[:, None] + (points - points[:, :1]) * ((hi - lo) / (points[:, -1] - points[:, 0]))[:, None]
    return extend_grid(points, k)


def refit_coef(
    x: torch.Tensor, old_grid: torch.Tensor, old_coef: torch.Tensor, new_grid: torch.Tensor, k: int
) -> torch.Tensor:
    """Re-express splines ``old_coef`` on ``new_grid`` by least squares on samples ``x`` (batch, n_in)."""
    with torch.no_grad():
        y = coef_to_curve(x.double(), old_grid.double(), old_coef.double(), k)  # (batch, n_out, n_in)
        return curve_to_coef(x, y, new_grid, k).to(old_coef.dtype)
