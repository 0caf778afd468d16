"""A KAN whose active edges are all symbolic, read as sympy: one expression per output.

Sum nodes add, multiplication nodes multiply, node affines and edge constants become floats.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import sympy

from ..errors import KandiscoError
from .layer import EDGE_SPLINE, EDGE_SYMBOLIC

if TYPE_CHECKING:  # network.py imports this module
    from .network import KAN

__all__ = ["SplineEdgeError", "network_formula"]


class SplineEdgeError(KandiscoError, ValueError):
    """The network still has spline edges, so it has no closed form yet."""


def network_formula(model: KAN, symbols: Sequence[sympy.Symbol] | None = None, digits: int | None = None) -> list[sympy.Expr]:
    """Sympy expression of every output of ``model`` (all active edges must be symbolic)."""
    if symbols is None:
        symbols = [sympy.Symbol(f"x{i}", real=True) for i in range(model.n_inputs)]
    if len(symbols) != model.n_inputs:
        raise ValueError(f"{len(symbols)} symbols for a model with {model.n_inputs} inputs")
    spline_edges = [
        (l, i, j)
        for l, layer in enumerate(model.layers)
        for j, i in (layer.state == EDGE_SPLINE).nonzero().tolist()
    ]
    if spline_edges:
        shown = ", ".join(map(str, spline_edges[:5]))
        more = " ..." if len(spline_edges) > 5 else ""
        raise SplineEdgeError(f"edges {shown}{more} are still splines; run auto_symbolic first")

    def num(v: float) -> sympy.Expr:
        return sympy.Float(v, digits) if digits else sympy.Float(v)

    values: list[sympy.Expr] = list(symbols)
    for l, layer in enumerate(model.layers):
        params = layer.sym_params.detach().double()
        subs: list[sympy.Expr] = []
        for j in range(layer.n_out):
            total: sympy.Expr = sympy.Integer(0)
            for i in range(layer.n_in):
                if int(layer.state[j, i]) != EDGE_SYMBOLIC:
                    continue
                fn = layer.sym_functions[layer.sym_names[int(layer.sym_index[j, i])]]
                a, b, c, d = (float(v) for v in params[j, i])
                inner = num(a) * values[i] + num(b) if b != 0 else num(a) * values[i]
                total = total + num(c) * fn.sympy_fn(inner) + num(d)
            subs.append(total)
        level = l + 1
        n_sum, arity = model.n_sum[level], model.mult_arity[level]
        nodes = subs[:n_sum]
        start = n_sum
        for a_ in arity:
            nodes.append(sympy.Mul(*subs[start : start + a_]))
            start += a_
        scale = model.node_scale[l].detach().double()
        bias = model.node_bias[l].detach().double()
        values = [num(float(scale[n])) * v + num(float(bias[n])) for n, v in enumerate(nodes)]
    return values
