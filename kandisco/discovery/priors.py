"""A known part of a law as a training prior: compile it into a KAN graph, learn only the remainder.

``known_law("-omega**2*x", ["x", "v", "omega"])`` compiles the formula with
:func:`~kandisco.discovery.compiler.compile_formula` into a graph of symbolic edges and wraps it as a
:class:`~kandisco.kan.constraints.KnownLaw`; ``fit(kan, X, y, constraints=[law])`` then trains
``kan`` on ``y - known(X)`` in effect, and the law read back is ``known + remainder``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sympy
import torch

from ..kan.constraints import KnownLaw
from ..symbolic.parse import parse_formula
from .compiler import compile_formula

__all__ = ["known_law"]


def known_law(expr: sympy.Expr | str, variables: Sequence[str | sympy.Symbol], library: Any = None, *, trainable: bool = False,
              dtype: torch.dtype = torch.float64) -> KnownLaw:
    """``expr`` (in ``variables``, the model's input columns in order) as a :class:`KnownLaw`.

    The compiled graph's constants stay fixed unless ``trainable`` (then ``fit`` refines them with the
    remainder, and the formula read back is the compiled expression as given, not the refined one).
    Raises :class:`~kandisco.discovery.compiler.UnsupportedExpressionError` for a formula the library cannot express.
    """
    names = tuple(v.name if isinstance(v, sympy.Symbol) else str(v) for v in variables)
    formula = parse_formula(expr, names) if isinstance(expr, str) else sympy.sympify(expr)
    module = compile_formula(formula, list(names), library, dtype).compile()
    for p in module.parameters():
        p.requires_grad_(trainable)
    return KnownLaw(module, formula, names)
