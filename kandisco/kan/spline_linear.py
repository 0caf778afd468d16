"""The spline part of a KAN layer, ``sum_i w_b[j,i] b(x_i) + w_s[j,i] spline_ji(x_i)``, as one matmul.

Two implementations with the same values and gradients:

* :func:`reference` - torch operations under autograd (any degree, dtype, device, base function,
  and higher derivatives);
* :class:`_Fused` - when the compiled kernel serves the call and the base function is one of
  silu / identity / zero: one autograd node per layer with a hand-written backward. The kernel
  returns b(x) as one more row of the bases, so spline and base terms are a single matmul, and
  the input gradient needs only the k + 1 live rows (plus b') the kernel recorded. A backward
  under ``create_graph`` (PDE losses) recomputes through :func:`reference`, so it stays exact.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from . import spline

__all__ = ["BASE_FUNCTIONS", "reference", "spline_linear"]


def _zero(x: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(x)


BASE_FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "silu": torch.nn.functional.silu,
    "identity": lambda x: x,
    "zero": _zero,
}


def _spline_weight(coef: torch.Tensor, w_sp: torch.Tensor) -> torch.Tensor:
    """Scaled coefficients (out, in, G+k) as the (out, (G+k)*in) matrix the knot-major bases meet."""
    return (coef * w_sp[..., None]).transpose(1, 2).reshape(coef.shape[0], -1)


def reference(
    x: torch.Tensor,
    coef: torch.Tensor,
    w_sp: torch.Tensor,
    w_base: torch.Tensor,
    tables: spline.KnotTables,
    base_name: str,
) -> torch.Tensor:
    """(batch, n_in) -> (batch, n_out) with torch operations (differentiable to any order)."""
    basis = spline.basis_knot_major(x.t(), tables)  # (G+k, in, batch)
    # computed as (out, batch) so that autograd hands the bases' gradient back knot-major (a
    # contiguous (G+k, in, batch) block); transposed operands reach BLAS as flags, not copies
    out_t = torch.mm(_spline_weight(coef, w_sp), basis.flatten(0, 1))  # not reshape(-1, batch): batch may be 0
    if base_name != "zero":
        out_t = torch.addmm(out_t, w_base, BASE_FUNCTIONS[base_name](x).t())
    return out_t.t()


_BASE_CODES = {"zero": 0, "identity": 1, "silu": 2}  # the kernel's base_kind argument


class _Fused(torch.autograd.Function):
    """The layer as one matmul of ``[spline weights | base weights]`` against the kernel's bases,
    whose last row is the base function b(x) (no row for ``zero``); hand-written backward."""

    @staticmethod
    def forward(ctx, x, coef, w_sp, w_base, tables, base_name, kernel):
        need_x = ctx.needs_input_grad[0]
        has_base = base_name != "zero"
        outs = kernel.basis_forward(x.t(), tables.padded, tables.padded_closing, tables.k, need_x, _BASE_CODES[base_name])
        basis = outs[0].flatten(0, 1)  # ((G+k+has_base) * in, batch); not view(-1, batch): batch may be 0
        weight = _spline_weight(coef, w_sp)  # (out, (G+k)*in)
        if has_base:
            weight = torch.cat([weight, w_base], dim=1)
        out_t = torch.mm(weight, basis)
        ctx.tables, ctx.base_name, ctx.has_base, ctx.kernel = tables, base_name, has_base, kernel
        saved = [x, coef, w_sp, w_base, basis, weight]
        saved += [outs[1], outs[2]] if need_x else [None, None]
        ctx.save_for_backward(*saved)
        return out_t.t()

    @staticmethod
    def backward(ctx, grad):
        x, coef, w_sp, w_base, basis, weight, slope, first = ctx.saved_tensors
        needs = ctx.needs_input_grad
        if torch.is_grad_enabled():  # create_graph: differentiate the reference path instead
            inputs = [t for t, n in zip((x, coef, w_sp, w_base), needs[:4]) if n]
            with torch.enable_grad():
                out = reference(x, coef, w_sp, w_base, ctx.tables, ctx.base_name)
            grads = iter(torch.autograd.grad(out, inputs, grad, create_graph=True, allow_unused=True))
            return tuple(next(grads) if n else None for n in needs[:4]) + (None, None, None)
        n_out, n_in, n_basis = coef.shape
        g_x = g_coef = g_sp = g_base_w = None
        if needs[1] or needs[2] or (needs[3] and ctx.has_base):
            g_weight = torch.mm(grad.t(), basis.t())  # (out, (G+k+has_base) * in)
            g_spline = g_weight[:, : n_basis * n_in].view(n_out, n_basis, n_in).transpose(1, 2)
            if needs[1]:
                g_coef = g_spline * w_sp[..., None]
            if needs[2]:
                g_sp = (g_spline * coef).sum(-1)
            if needs[3] and ctx.has_base:
                g_base_w = g_weight[:, n_basis * n_in :]
        if needs[0]:
            g_x = ctx.kernel.input_grad(grad, weight, slope, first, ctx.tables.k, n_basis, ctx.has_base).t()
        return g_x, g_coef, g_sp, g_base_w, None, None, None


def spline_linear(
    x: torch.Tensor,
    coef: torch.Tensor,
    w_sp: torch.Tensor,
    w_base: torch.Tensor,
    tables: spline.KnotTables,
    base_name: str,
) -> torch.Tensor:
    """(batch, n_in) -> (batch, n_out): the fused path where it applies, else :func:`reference`."""
    kernel = spline._fused_kernel(x, tables) if base_name in _BASE_CODES and x.dtype == coef.dtype else None
    if kernel is not None:
        return _Fused.apply(x, coef, w_sp, w_base, tables, base_name, kernel)
    return reference(x, coef, w_sp, w_base, tables, base_name)
