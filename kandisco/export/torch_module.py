"""A sympy formula as a torch module whose fitted constants are trainable (sympytorch's idea).

:func:`to_torch` turns an expression into a :class:`LawModule`: a tree of small modules, one per
node of the expression. By default every float constant (a fitted number such as ``2.5``) becomes
an ``nn.Parameter`` and integers, rationals and ``pi``/``E`` stay fixed, so the law's structure
(``x**2``, ``a**(3/2)``) survives fine-tuning inside a larger model. :meth:`LawModule.sympy`
rebuilds the expression with the current (trained) constants.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import sympy
import torch
from torch import Tensor, nn

from ..errors import KandiscoError

__all__ = ["LawModule", "UnsupportedNodeError", "to_torch", "TRAINABLE", "SUPPORTED_FUNCTIONS"]

#: which numbers become trainable parameters: ``floats`` (fitted constants; integers, rationals and
#: pi/E fixed), ``all`` (every number but integer exponents and pi/E, e.g. to refit a law whose
#: constants were snapped to 5/2), ``none`` (a frozen module)
TRAINABLE = ("floats", "all", "none")


class UnsupportedNodeError(KandiscoError, ValueError):
    """The expression holds a node (function or number) that has no torch form here; the message names it."""


def _inv(fn: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    return lambda z: 1 / fn(z)


def _of_inverse(fn: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    return lambda z: fn(1 / z)


#: sympy function -> torch function of one tensor (the functions kandisco's formulas and result files use)
_UNARY: dict[type, Callable[[Tensor], Tensor]] = {
    sympy.exp: torch.exp, sympy.log: torch.log,
    sympy.sin: torch.sin, sympy.cos: torch.cos, sympy.tan: torch.tan,
    sympy.cot: _inv(torch.tan), sympy.sec: _inv(torch.cos), sympy.csc: _inv(torch.sin),
    sympy.asin: torch.asin, sympy.acos: torch.acos, sympy.atan: torch.atan,
    sympy.acot: _of_inverse(torch.atan), sympy.asec: _of_inverse(torch.acos), sympy.acsc: _of_inverse(torch.asin),
    sympy.sinh: torch.sinh, sympy.cosh: torch.cosh, sympy.tanh: torch.tanh,
    sympy.coth: _inv(torch.tanh), sympy.sech: _inv(torch.cosh), sympy.csch: _inv(torch.sinh),
    sympy.asinh: torch.asinh, sympy.acosh: torch.acosh, sympy.atanh: torch.atanh,
    sympy.acoth: _of_inverse(torch.atanh), sympy.asech: _of_inverse(torch.acosh), sympy.acsch: _of_inverse(torch.asinh),
    sympy.Abs: torch.abs, sympy.sign: torch.sign, sympy.erf: torch.erf, sympy.erfc: torch.erfc,
}


def _maximum(args: list[Tensor]) -> Tensor:
    out = args[0]
    for a in args[1:]:
        out = torch.maximum(out, a)
    return out


def _minimum(args: list[Tensor]) -> Tensor:
    out = args[0]
    for a in args[1:]:
        out = torch.minimum(out, a)
    return out


#: sympy function of several arguments -> torch function of the list of argument tensors
_NARY: dict[type, Callable[[list[Tensor]], Tensor]] = {
    sympy.atan2: lambda a: torch.atan2(a[0], a[1]),
    sympy.Max: _maximum,
    sympy.Min: _minimum,
}

SUPPORTED_FUNCTIONS = tuple(sorted(f.__name__ for f in [*_UNARY, *_NARY]))


# ----------------------------------------------------------------------------- nodes
class _Node(nn.Module):
    """One node of the expression: ``forward(columns)`` evaluates it on the input columns."""

    def forward(self, columns: list[Tensor]) -> Tensor:  # pragma: no cover - every node overrides it
        raise NotImplementedError

    def sympy(self, symbols: Sequence[sympy.Symbol]) -> sympy.Expr:  # pragma: no cover
        raise NotImplementedError


def _nodes(modules: nn.ModuleList) -> list[_Node]:
    """A ModuleList's children as the nodes they are (ModuleList items are typed as plain Modules)."""
    return [cast(_Node, m) for m in modules]


class _Input(_Node):
    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def forward(self, columns: list[Tensor]) -> Tensor:
        return columns[self.index]

    def sympy(self, symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
        return symbols[self.index]

    def extra_repr(self) -> str:
        return f"column {self.index}"


class _Constant(_Node):
    """A number: an ``nn.Parameter`` when trainable, else a buffer (moves with ``.to()``, never trained)."""

    def __init__(self, value: sympy.Expr, trainable: bool, dtype: torch.dtype) -> None:
        super().__init__()
        self.original = value
        self.trainable = trainable
        tensor = torch.tensor(float(value), dtype=dtype)
        if trainable:
            self.value = nn.Parameter(tensor)
        else:
            self.register_buffer("value", tensor)

    def forward(self, columns: list[Tensor]) -> Tensor:
        return self.value

    def sympy(self, symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
        if not self.trainable:
            return self.original  # exactly as given: 3/2 stays 3/2, pi stays pi
        return sympy.Float(float(self.value.detach()))

    def extra_repr(self) -> str:
        kind = "trainable" if self.trainable else "fixed"
        return f"{self.original} ({kind}, now {float(self.value.detach()):.6g})"


class _Add(_Node):
    def __init__(self, terms: list[_Node]) -> None:
        super().__init__()
        self.terms = nn.ModuleList(terms)

    def forward(self, columns: list[Tensor]) -> Tensor:
        out = self.terms[0](columns)
        for term in self.terms[1:]:
            out = out + term(columns)
        return out

    def sympy(self, symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
        return sympy.Add(*[t.sympy(symbols) for t in _nodes(self.terms)])


class _Mul(_Node):
    def __init__(self, factors: list[_Node]) -> None:
        super().__init__()
        self.factors = nn.ModuleList(factors)

    def forward(self, columns: list[Tensor]) -> Tensor:
        out = self.factors[0](columns)
        for factor in self.factors[1:]:
            out = out * factor(columns)
        return out

    def sympy(self, symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
        return sympy.Mul(*[f.sympy(symbols) for f in _nodes(self.factors)])


class _IntegerPow(_Node):
    """``base**n`` for a fixed integer ``n``: exact for negative bases, as sympy's real semantics."""

    def __init__(self, base: _Node, exponent: int) -> None:
        super().__init__()
        self.base = base
        self.exponent = exponent

    def forward(self, columns: list[Tensor]) -> Tensor:
        return torch.pow(self.base(columns), self.exponent)

    def sympy(self, symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
        return sympy.Pow(self.base.sympy(symbols), self.exponent)

    def extra_repr(self) -> str:
        return f"exponent {self.exponent}"


class _Sqrt(_Node):
    """``base**(1/2)`` (and ``-1/2``) through ``sqrt``, the way numpy evaluates it, so both agree to the last bits."""

    def __init__(self, base: _Node, inverse: bool) -> None:
        super().__init__()
        self.base = base
        self.inverse = inverse

    def forward(self, columns: list[Tensor]) -> Tensor:
        root = torch.sqrt(self.base(columns))
        return 1 / root if self.inverse else root

    def sympy(self, symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
        return sympy.Pow(self.base.sympy(symbols), sympy.Rational(-1 if self.inverse else 1, 2))


class _Pow(_Node):
    """``base**exponent`` with any exponent node (rational, float parameter, or an expression)."""

    def __init__(self, base: _Node, exponent: _Node) -> None:
        super().__init__()
        self.base = base
        self.exponent = exponent

    def forward(self, columns: list[Tensor]) -> Tensor:
        return torch.pow(self.base(columns), self.exponent(columns))

    def sympy(self, symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
        return sympy.Pow(self.base.sympy(symbols), self.exponent.sympy(symbols))


class _Function(_Node):
    def __init__(self, func: type, args: list[_Node]) -> None:
        super().__init__()
        self.func = func
        self.args = nn.ModuleList(args)

    def forward(self, columns: list[Tensor]) -> Tensor:
        values = [a(columns) for a in self.args]
        if self.func in _UNARY:
            return _UNARY[self.func](values[0])
        return _NARY[self.func](values)

    def sympy(self, symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
        return self.func(*[a.sympy(symbols) for a in _nodes(self.args)])

    def extra_repr(self) -> str:
        return self.func.__name__


# ----------------------------------------------------------------------------- building
def _build(node: sympy.Basic, index: Mapping[sympy.Symbol, int], trainable: str, dtype: torch.dtype) -> _Node:
    """The module tree for ``node`` (integer exponents stay plain ints whatever ``trainable`` says)."""
    if isinstance(node, sympy.Symbol):
        if node not in index:
            raise UnsupportedNodeError(f"symbol {node} is not one of the inputs ({', '.join(map(str, index))})")
        return _Input(index[node])
    if node.is_Number or isinstance(node, sympy.NumberSymbol):
        if node.has(sympy.zoo, sympy.oo, -sympy.oo, sympy.nan):
            raise UnsupportedNodeError(f"cannot export the number {node} to torch: it is not finite")
        float_const = isinstance(node, sympy.Float)
        learn = (trainable == "floats" and float_const) or (trainable == "all" and not isinstance(node, sympy.NumberSymbol))
        return _Constant(node, learn, dtype)
    if isinstance(node, sympy.Add):
        return _Add([_build(a, index, trainable, dtype) for a in node.args])
    if isinstance(node, sympy.Mul):
        return _Mul([_build(a, index, trainable, dtype) for a in node.args])
    if isinstance(node, sympy.Pow):
        base, exp = node.args
        base_node = _build(base, index, trainable, dtype)
        if isinstance(exp, sympy.Integer):
            return _IntegerPow(base_node, int(exp))
        if exp in (sympy.S.Half, -sympy.S.Half) and trainable != "all":
            return _Sqrt(base_node, inverse=exp.is_negative)
        return _Pow(base_node, _build(exp, index, trainable, dtype))
    if node.func in _UNARY or node.func in _NARY:
        if node.func in _UNARY and len(node.args) != 1:
            raise UnsupportedNodeError(f"cannot export {node}: {node.func.__name__} with {len(node.args)} arguments")
        return _Function(node.func, [_build(a, index, trainable, dtype) for a in node.args])
    if node == sympy.I or (node.is_number and node.is_real is False):
        raise UnsupportedNodeError(f"cannot export {node} to torch: it is not a real number")
    name = getattr(node.func, "__name__", type(node).__name__)
    raise UnsupportedNodeError(
        f"cannot export {name} (in {str(node)[:60]}) to torch; supported: Add, Mul, Pow, numbers, pi, E and "
        + ", ".join(SUPPORTED_FUNCTIONS)
    )


class LawModule(nn.Module):
    """A formula as an ``nn.Module``: ``forward(X)`` with X (batch, n_inputs) in ``names`` order,
    or ``forward(**{name: tensor})``; returns (batch,). Trainable constants are its parameters."""

    def __init__(
        self, expr: sympy.Expr, symbols: Sequence[sympy.Symbol], trainable: str = "floats", dtype: torch.dtype = torch.float64
    ) -> None:
        super().__init__()
        if trainable not in TRAINABLE:
            raise ValueError(f"trainable must be one of {', '.join(TRAINABLE)}, got {trainable!r}")
        self.symbols = list(symbols)
        self.names = [str(s) for s in self.symbols]
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"input names must be distinct, got {self.names}")
        self.root = _build(sympy.sympify(expr), {s: i for i, s in enumerate(self.symbols)}, trainable, dtype)

    def forward(self, X: Tensor | None = None, /, **columns: Tensor) -> Tensor:
        cols = self._columns(X, columns)
        out = self.root(cols)
        if out.dim() == 0:  # a law that uses no input (or none that varies): one value per row
            shape = torch.broadcast_shapes(*[c.shape for c in cols]) if cols else torch.Size([X.shape[0] if X is not None else 1])
            out = out.expand(shape)
        return out

    def _columns(self, X: Tensor | None, named: dict[str, Tensor]) -> list[Tensor]:
        if X is not None and named:
            raise TypeError("pass either X (batch, n_inputs) or one keyword tensor per input, not both")
        if X is not None:
            if X.dim() != 2 or X.shape[1] != len(self.names):
                raise ValueError(f"X must be (batch, {len(self.names)}) with columns {', '.join(self.names)}; got shape {tuple(X.shape)}")
            return [X[:, i] for i in range(len(self.names))]
        missing = [n for n in self.names if n not in named]
        extra = [n for n in named if n not in self.names]
        if missing or extra:
            raise TypeError(f"inputs are {', '.join(self.names)}; missing {missing}, unknown {extra}")
        return [torch.as_tensor(named[n]) for n in self.names]

    def sympy(self) -> sympy.Expr:
        """The formula with the current (possibly trained) constants."""
        return self.root.sympy(self.symbols)

    def extra_repr(self) -> str:
        n = sum(p.numel() for p in self.parameters())
        return f"inputs=({', '.join(self.names)}), trainable constants={n}"


def to_torch(
    expr: sympy.Expr, symbols: Sequence[sympy.Symbol | str], trainable: str = "floats", dtype: torch.dtype = torch.float64
) -> LawModule:
    """``expr`` as a :class:`LawModule` over ``symbols`` (inputs in that order; names are matched as real symbols)."""
    syms = [_symbol_in(expr, s) if isinstance(s, str) else s for s in symbols]
    return LawModule(expr, syms, trainable=trainable, dtype=dtype)


def _symbol_in(expr: Any, name: str) -> sympy.Symbol:
    """The symbol called ``name`` in ``expr`` (whatever its assumptions), else a real one."""
    for s in sympy.sympify(expr).free_symbols:
        if str(s) == name:
            return s
    return sympy.Symbol(name, real=True)
