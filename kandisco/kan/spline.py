"""B-spline machinery for KAN edges: knot vectors, local basis evaluation, curve <-> coefficients.

Conventions (shared by every function here):

* A grid of ``G`` intervals on ``[lo, hi]`` has ``G + 1`` points per input; it is *extended* by ``k``
  knots on each side, so a knot vector ``t`` has ``G + 2k + 1`` entries and carries ``G + k`` basis
  functions ``B_0 .. B_{G+k-1}`` of degree ``k`` (``B_i`` is supported on ``[t_i, t_{i+k+1}]``).
* Knots are per input: ``grid`` has shape ``(n_in, G + 2k + 1)`` and need not be uniform.
* Outside ``[t_0, t_last]`` every basis is zero (no extrapolation, as scipy's ``extrapolate=False``);
  inside ``[t_k, t_{G+k}]`` (the data range) the bases sum to one.

Bases come from the compiled kernel (:mod:`kandisco.kan.native`: one pass per point) where it is
available, otherwise from torch operations chosen by size (:func:`_use_dense`): for small tensors a
whole-tensor Cox-de Boor over every basis, for large ones or fine grids de Boor's triangle on the
``k + 1`` live bases only (Piegl & Tiller, algorithm A2.2), scattered into the dense tensor the
layer's matmul wants. All paths give the same values (tested against scipy). The x-derivative is
analytic (a custom autograd function), so backward costs one multiply-sum instead of replaying the
recursion, and higher derivatives (PDE losses) stay exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from . import native

__all__ = [
    "KnotTables",
    "basis_knot_major",
    "bspline_basis",
    "coef_to_curve",
    "curve_to_coef",
    "extend_grid",
    "grid_from_samples",
    "knot_tables",
    "refit_coef",
    "uniform_grid",
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


def _safe_reciprocal(d: torch.Tensor) -> torch.Tensor:
    """``1/d`` with ``0`` where ``d == 0`` (repeated knots: Cox-de Boor's ``0/0 = 0`` convention)."""
    nonzero = d > 0
    return torch.where(nonzero, 1.0 / torch.where(nonzero, d, torch.ones_like(d)), torch.zeros_like(d))


@dataclass(frozen=True)
class KnotTables:
    """Everything basis evaluation derives from one knot vector; layers cache it per grid.

    Evaluation works knot-major, on (knots, n_in, batch) tensors: slices along the knot axis are
    then contiguous blocks and the batch is the long, vectorisable inner axis. So ``knots`` is the
    grid as (n, n_in, 1), ``recip[p]`` (n - p, n_in, 1) holds ``1 / (t_{i+p} - t_i)`` (Cox-de Boor
    weights of degree ``p``), ``closing`` is ``knots`` with the last knot nudged up one ulp so that
    ``x == t_last`` falls in the last interval, and ``padded`` (n_in, n + 2k) serves local evaluation
    (``padded_closing``: the same with that nudge, for finding intervals).
    """

    grid: torch.Tensor
    k: int
    knots: torch.Tensor
    recip: tuple[torch.Tensor, ...]
    closing: torch.Tensor
    padded: torch.Tensor
    padded_closing: torch.Tensor

    @property
    def n_basis(self) -> int:
        return self.grid.shape[1] - self.k - 1


def knot_tables(grid: torch.Tensor, k: int) -> KnotTables:
    """Precompute the knot-only parts of basis evaluation for ``grid`` (n_in, G + 2k + 1)."""
    grid = grid.detach()
    knots = grid.t().contiguous()[..., None]  # (n, n_in, 1)
    recip = tuple([knots.new_zeros(0)] + [_safe_reciprocal(knots[p:] - knots[:-p]) for p in range(1, k + 1)])
    closing = knots.clone()
    closing[-1] = torch.nextafter(knots[-1], torch.full_like(knots[-1], math.inf))
    padded = _pad_knots(grid, k).contiguous()
    padded_closing = padded.clone()
    padded_closing[:, k + grid.shape[1] - 1] = closing[-1, :, 0]
    return KnotTables(grid, k, knots, recip, closing, padded, padded_closing)


def _dense_derivative(xt: torch.Tensor, tables: KnotTables, order: int) -> torch.Tensor:
    """``order``-th derivative of all bases at ``xt`` (n_in, batch) by Cox-de Boor -> (G+k, n_in, batch).

    A handful of whole-tensor operations over every knot: cheap for coarse grids, where
    per-operation overhead, not arithmetic, sets the cost.
    """
    k = tables.k
    if order > k:
        return xt.new_zeros(tables.n_basis, *xt.shape)
    # in-place steps where possible: at large batches fresh memory, not arithmetic, is the cost
    step = (xt >= tables.closing).to(xt.dtype)  # (n, n_in, batch): 1 where x >= t_i
    basis = step[:-1] - step[1:]  # degree 0: indicator of [t_i, t_{i+1})
    dist = xt - tables.knots  # (n, n_in, batch)
    for p in range(1, k - order + 1):  # B_{i,p} = w_i B_{i,p-1} + (1 - w_{i+1}) B_{i+1,p-1}
        a = torch.mul(dist[: basis.shape[0]], tables.recip[p]).mul_(basis)
        basis = torch.sub(basis[1:], a[1:]).add_(a[:-1])
    for p in range(k - order + 1, k + 1):  # d/dx B_{i,p} = p (B_{i,p-1} r_i - B_{i+1,p-1} r_{i+1})
        c = basis * (p * tables.recip[p])
        basis = c[:-1] - c[1:]
    return basis


def _local_basis(xt: torch.Tensor, tables: KnotTables, with_derivative: bool):
    """Bases at ``xt`` (n_in, batch) by de Boor's triangle on the k + 1 live bases only.

    Returns ``(dense, slope, index)``: dense (G + k, n_in, batch) values and, when asked, the
    (k + 1, n_in, batch) first derivatives of the live bases with their rows ``index`` in
    ``dense`` (clamped; the slope is 0 where a row was clamped), where the backward pass gathers
    the incoming gradient. Work per point is ``k**2`` whatever the grid size: the choice for fine
    grids. The triangle is vectorised over its rows, so each stage is a few whole-tensor steps.
    """
    k, tp = tables.k, tables.padded
    n_in, n_pad = tp.shape
    n_basis = tables.n_basis
    last = k + tables.grid.shape[1] - 2  # padded index of the last real interval
    # interval m with tp[m] <= x < tp[m+1]; x == t_last belongs to the last real interval
    m = torch.searchsorted(tables.padded_closing, xt, right=True) - 1  # (n_in, batch)
    clamped = m.clamp(k, last)
    inside = (m == clamped).to(xt.dtype)  # 0 outside [t_0, t_last]
    # knots tp[m-k+1 .. m+k] of every point, and D[q] = x - tp[m-k+1+q]
    row = clamped + torch.arange(0, n_in * n_pad, n_pad, device=xt.device)[:, None]
    offsets = torch.arange(1 - k, k + 1, device=xt.device)[:, None, None]  # (2k, 1, 1)
    dist = xt - tp.reshape(-1).take(row + offsets)  # (2k, n_in, batch)

    # stage j: N (j, ...) holds B_{m-j+1+r, j-1}; B_{., j} = right * N / den  +  left * N / den (shifted)
    local = torch.ones_like(xt)[None]
    temp = local
    for j in range(1, k + 1):
        right, left = dist[k : k + j], dist[k - j : k]  # -(t_{m+1+r} - x), x - t_{m+1-j+r}
        temp = local / (left - right)  # B_{i,j-1} / (t_{i+j} - t_i)
        new = xt.new_zeros(j + 1, *xt.shape)
        new[:j].addcmul_(right, temp, value=-1)
        new[1:].addcmul_(left, temp)
        local = new  # (j+1, n_in, batch)
    local.mul_(inside)

    # live basis r sits at padded row m - k + r; a buffer with k spare rows per side takes the
    # padded bases, and the real ones are its contiguous middle block (no mask, no copy)
    rows = (clamped - k)[None] + torch.arange(k + 1, device=xt.device)[:, None, None]  # (k+1, n_in, batch)
    wide = xt.new_zeros(n_basis + 2 * k, *xt.shape).scatter_(0, rows, local)
    dense = wide[k : k + n_basis]
    if not with_derivative:
        return dense, None, None
    # B'_{s} = k (temp_{s-1} - temp_s) with temp from the last stage (zero beyond its ends)
    slope = xt.new_zeros(k + 1, *xt.shape)
    if k > 0:
        slope[1:].add_(temp)
        slope[:-1].sub_(temp)
        slope.mul_(k * inside)
    real = rows - k
    slope.mul_((real >= 0) & (real < n_basis))
    return dense, slope, real.clamp_(0, n_basis - 1)


# Which evaluation is faster (fwd + bwd, 2 threads, measured for k = 3, G = 5..20, batch 1e3..1e4):
# the dense one does a dozen whole-tensor operations over every knot, which wins while those
# (knots, n_in, batch) tensors stay in cache; past a few MB it turns memory-bound and 2-6x slower
# than the local one, whose cost does not grow with the grid.
DENSE_MAX_KNOTS = 18
DENSE_MAX_BYTES = 4 * 2**20


def _use_dense(xt: torch.Tensor, tables: KnotTables) -> bool:
    """Torch path choice: whole-tensor Cox-de Boor for coarse grids and cache-sized tensors."""
    n_knots = tables.grid.shape[1]
    return n_knots <= DENSE_MAX_KNOTS and n_knots * xt.numel() * xt.element_size() <= DENSE_MAX_BYTES


USE_FUSED = True  # False: always evaluate with torch operations (tests compare the two)


def _fused_kernel(xt: torch.Tensor, tables: KnotTables):
    """The compiled kernel when it can serve this call (CPU, float32/64, degree <= 15), else None."""
    if not USE_FUSED or xt.device.type != "cpu" or xt.dtype not in (torch.float32, torch.float64) or tables.k > 15:
        return None
    if xt.dtype != tables.padded.dtype:
        return None
    return native.kernel()


class _KnotMajorBasis(torch.autograd.Function):
    """Bases (``order`` 0) or their ``order``-th derivative at ``xt`` (n_in, batch), analytic backward.

    Autograd through the recursion would record dozens of small operations per layer; here the
    forward runs without a graph and the backward is one multiply-sum with the saved next
    derivative. Under ``create_graph`` (PDE losses need u'') the backward calls this function one
    order up instead, so derivatives of any order stay exact.
    """

    @staticmethod
    def forward(ctx, xt: torch.Tensor, tables: KnotTables, order: int) -> torch.Tensor:
        ctx.tables, ctx.order, ctx.mode = tables, order, None
        need = ctx.needs_input_grad[0]
        fused = _fused_kernel(xt, tables) if order == 0 else None
        if fused is not None:
            outs = fused.basis_forward(xt, tables.padded, tables.padded_closing, tables.k, need, 0)  # 0: no base row
            if need:
                ctx.mode, ctx.kernel = "fused", fused
                ctx.save_for_backward(xt, outs[1], outs[2])
            return outs[0]
        if order == 0 and not _use_dense(xt, tables):
            dense, slope, idx = _local_basis(xt, tables, need)
            if need:
                ctx.mode = "local"
                ctx.save_for_backward(xt, slope, idx)
            return dense
        value = _dense_derivative(xt, tables, order)
        if need:
            ctx.mode = "dense"
            ctx.save_for_backward(xt, _dense_derivative(xt, tables, order + 1))
        return value

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        if ctx.mode is None:
            return None, None, None
        saved = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph: keep the backward itself differentiable
            slope = _KnotMajorBasis.apply(saved[0], ctx.tables, ctx.order + 1)
            return (grad * slope).sum(0), None, None
        if ctx.mode == "fused":
            return ctx.kernel.basis_backward(grad, saved[1], saved[2], ctx.tables.k), None, None
        if ctx.mode == "local":
            return (grad.gather(0, saved[2]) * saved[1]).sum(0), None, None
        return (grad * saved[1]).sum(0), None, None


def basis_knot_major(xt: torch.Tensor, tables: KnotTables, order: int = 0) -> torch.Tensor:
    """Bases (or their ``order``-th derivative) at ``xt`` (n_in, batch) as (G + k, n_in, batch).

    The layout the layer's matmul reads without a copy: ``coef`` permuted to (n_out, G+k, n_in)
    times this, flattened, gives (n_out, batch).
    """
    return _KnotMajorBasis.apply(xt.contiguous(), tables, int(order))


def bspline_basis(
    x: torch.Tensor, grid: torch.Tensor, k: int, tables: KnotTables | None = None, order: int = 0
) -> torch.Tensor:
    """All ``G + k`` B-spline bases of degree ``k`` at ``x`` (or their ``order``-th derivative).

    Args:
        x: (batch, n_in) points.
        grid: (n_in, G + 2k + 1) extended knot vectors, non-decreasing, with distinct end knots.
        k: spline degree (0 = piecewise constant, 3 = cubic).
        tables: ``knot_tables(grid, k)``, when the caller keeps it cached (it changes only with the grid).
        order: derivative order in ``x`` (0 = the bases themselves).

    Returns:
        (batch, n_in, G + k) values (a permuted view of the knot-major result); differentiable in
        ``x`` to any order (for PDE losses).
    """
    if tables is None or tables.k != k:
        tables = knot_tables(grid, k)
    return basis_knot_major(x.t(), tables, order).permute(2, 1, 0)


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
    # a hair beyond the extreme samples: a point on the end knot that later arrives an ulp outside (a
    # hidden layer's input, recomputed with different rounding) would otherwise drop to zero bases
    pad = 1e-6 * (hi - lo) + 16 * torch.finfo(xs.dtype).eps * torch.maximum(lo.abs(), hi.abs())
    lo, hi = lo - pad, hi + pad
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
