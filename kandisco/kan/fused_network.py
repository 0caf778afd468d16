"""A whole KAN as one autograd node: the compiled ``network_forward`` / ``network_backward``.

Layer by layer, a forward pass costs a Function node, about 15 small tensor operations and their
autograd nodes; for the small networks symbolic discovery trains, that bookkeeping outweighs the
arithmetic. When every layer can use the compiled kernel and no edge is symbolic, the network
runs in two C++ calls instead (pruned edges are fine: their weights are masked before the call).
A backward under ``create_graph`` (PDE losses) differentiates the per-layer torch path instead,
so higher derivatives stay exact. Everything else (activations, grid updates, symbolic edges)
uses the per-layer path in :mod:`kandisco.kan.layer`, which computes the same values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

import torch

from . import spline
from .spline_linear import _BASE_CODES, reference

if TYPE_CHECKING:  # network.py imports this module
    from .network import KAN

__all__ = ["NetworkPlan", "plan", "run"]

_PER_LAYER = 5  # coef, w_sp, w_base, node_scale, node_bias (the order network.cpp expects)


@dataclass(frozen=True)
class NetworkPlan:
    """What the compiled network needs besides the parameters, for one call."""

    kernel: ModuleType
    tables: list[spline.KnotTables]
    k: int
    base_name: str
    n_sum: list[int]  # sum nodes of each layer's output level
    arity: list[list[int]]  # arity of each multiplication node of each layer's output level
    combine: Callable[[int, torch.Tensor], torch.Tensor]  # the model's subnodes -> nodes (torch path)


def plan(model: KAN, x: torch.Tensor) -> NetworkPlan | None:
    """A plan for ``model`` on input ``x``, or None where the per-layer path must run.

    That is: no compiled kernel (or ``spline.USE_FUSED`` off), an unsupported base function, dtype
    or device, a symbolic edge, or a layer whose edges are all pruned.
    """
    if model.base_fun not in _BASE_CODES or x.dtype != model.dtype:
        return None
    tables = []
    for layer in model.layers:
        layout = layer._edge_layout()
        if layout.any_symbolic or not layout.any_spline:
            return None
        tables.append(layer._knot_tables())
    kernel = spline._fused_kernel(x, tables[0])
    if kernel is None:
        return None
    # a layer's outputs are the next level's nodes: levels 1..depth
    return NetworkPlan(kernel, tables, model.k, model.base_fun, model.n_sum[1:], model.mult_arity[1:], model._combine)


def run(model: KAN, x: torch.Tensor, network: NetworkPlan) -> torch.Tensor:
    """``model(x)`` through the compiled network (``x`` already checked and cast)."""
    params: list[torch.Tensor] = []
    for l, layer in enumerate(model.layers):
        w_sp, w_base = layer.spline_weights()
        params += [layer.coef, w_sp, w_base, model.node_scale[l], model.node_bias[l]]
    return _FusedNetwork.apply(x, network, *params)


def _reference(x: torch.Tensor, network: NetworkPlan, params: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The same network with torch operations (differentiable to any order)."""
    for l, tables in enumerate(network.tables):
        coef, w_sp, w_base, scale, bias = params[l * _PER_LAYER : (l + 1) * _PER_LAYER]
        sub = reference(x, coef, w_sp, w_base, tables, network.base_name)
        x = network.combine(l + 1, sub) * scale + bias
    return x


class _FusedNetwork(torch.autograd.Function):
    """Forward and backward of the whole network in the compiled kernel (one autograd node)."""

    @staticmethod
    def forward(ctx, x, network, *params):
        need_x = ctx.needs_input_grad[0]
        padded = [t.padded for t in network.tables]
        closing = [t.padded_closing for t in network.tables]
        outs = network.kernel.network_forward(
            x, list(params), padded, closing, network.k, _BASE_CODES[network.base_name],
            network.n_sum, network.arity, need_x,
        )
        ctx.network, ctx.need_x, ctx.n_params = network, need_x, len(params)
        ctx.save_for_backward(x, *params, *outs[1:])  # then per layer: bases, weight, slopes, subnodes, nodes
        return outs[0]

    @staticmethod
    def backward(ctx, grad):
        x, *saved = ctx.saved_tensors
        params, intermediates = saved[: ctx.n_params], saved[ctx.n_params :]
        network = ctx.network
        needs = ctx.needs_input_grad
        if torch.is_grad_enabled():  # create_graph: differentiate the torch path instead
            inputs = [t for t, n in zip([x, *params], needs[:1] + needs[2:]) if n]
            with torch.enable_grad():
                out = _reference(x, network, tuple(params))
            grads = iter(torch.autograd.grad(out, inputs, grad, create_graph=True, allow_unused=True))
            g_x = next(grads) if needs[0] else None
            return (g_x, None, *[next(grads) if n else None for n in needs[2:]])
        grads = network.kernel.network_backward(
            grad, params, intermediates, network.k, _BASE_CODES[network.base_name],
            network.n_sum, network.arity, ctx.need_x,
        )
        g_params = [g if n else None for g, n in zip(grads[1:], needs[2:])]
        return (grads[0] if needs[0] else None, None, *g_params)
