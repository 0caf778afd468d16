"""Formula -> KAN compiler: a sympy expression becomes a :class:`KANGraph` of symbolic edges.

Why: to start training from prior knowledge (KAN 2.0's "compiler"). Compile a known law, free the
edges you doubt (:func:`free_edge` turns a symbolic edge back into a spline that starts as the same
curve), ``fit`` learns what the data add, and ``graph.compile().formula()`` reads the law back.

How an expression maps onto the graph (every active edge is a library function
``c * f(a*x + b) + d``; every unused edge is pruned):

* numbers are folded into edge parameters: a product's coefficient into ``c``, a sum's constant
  into ``d``, an affine inner argument ``a*x + b`` into ``a, b``;
* a sum is several edges into one KAN node; a product is one KAN layer ending in a multiplication
  node whose arity is the number of factors, each factor a sum of edges;
* powers (``x**2``, ``x**-1``, ``sqrt``, ``x**(3/2)`` ...) and unary functions (``sin``, ``exp``,
  ``asin`` ...) are edges; a power the library lacks is a chain of library powers
  (``x**-5 = 1/(x**5)``), else ``exp(p*log(x))`` (exact where the base is positive); a function the
  library lacks is tried rewritten in exp or log form (``cosh``, ``asinh``); a function of a sum is
  a two-layer module (the sum's edges, then the function);
* modules are named after what they compute (``mul_0``, ``sqrt_1``, ``inv5_2``), inputs after the
  variables, the output ``"f"``; a common sub-expression is compiled once and its signal fans out;
* a variable the expression does not use feeds the output through a zero edge (ready to be freed),
  so a constant expression compiles to a graph with a constant output.

Anything else (a function the library lacks, ``Piecewise``, a complex constant) raises
:class:`UnsupportedExpressionError` naming the sub-expression.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import sympy
import torch

from ..errors import KandiscoError
from ..kan import spline
from ..kan.graph import GraphModule, KANGraph
from ..kan.layer import EDGE_PRUNED, EDGE_SYMBOLIC
from ..kan.network import KAN
from ..symbolic.library import SymbolicLibrary, get_library
from ..symbolic.parse import parse_formula

__all__ = [
    "CompiledEdge",
    "UnsupportedExpressionError",
    "compile_formula",
    "compiled_edges",
    "free_edge",
    "roundtrip_error",
]

_MAX_CHAIN = 3  # longest chain of library powers tried for a power the library lacks


class UnsupportedExpressionError(KandiscoError, ValueError):
    """A sub-expression has no KAN form with the given library; ``subexpression`` names it."""

    def __init__(self, subexpression: Any, reason: str, expression: Any = None) -> None:
        self.subexpression = subexpression
        self.reason = reason
        where = f" (in {expression})" if expression is not None and expression != subexpression else ""
        super().__init__(f"cannot compile {subexpression}{where}: {reason}")


@dataclass(frozen=True)
class CompiledEdge:
    """One active edge of a compiled graph: ``c * function(a*x + b) + d`` in ``module``'s layer ``l``."""

    module: str
    l: int
    i: int
    j: int
    function: str
    params: tuple[float, float, float, float]


# ----------------------------------------------------------------------------- intermediate form
@dataclass(frozen=True)
class _Edge:
    """``c * fn(a * signal + b) + d``, not yet placed in a module."""

    signal: str
    fn: str
    a: float = 1.0
    b: float = 0.0
    c: float = 1.0
    d: float = 0.0

    def scaled(self, k: float) -> _Edge:
        return replace(self, c=self.c * k, d=self.d * k)


@dataclass(frozen=True)
class _Sum:
    """A sum of edges plus a constant: the value of a sub-expression before it becomes a node."""

    edges: tuple[_Edge, ...] = ()
    const: float = 0.0

    def scaled(self, k: float) -> _Sum:
        return _Sum(tuple(e.scaled(k) for e in self.edges), self.const * k)

    def plus(self, other: _Sum) -> _Sum:
        return _Sum(self.edges + other.edges, self.const + other.const)

    def affine(self) -> tuple[str, float, float] | None:
        """``(signal, slope, offset)`` when the sum is ``slope * signal + offset``, else None."""
        if len(self.edges) != 1 or self.edges[0].fn != "x":
            return None
        e = self.edges[0]
        return e.signal, e.c * e.a, e.c * e.b + e.d + self.const


def _power_label(p: sympy.Rational) -> str:
    """Module name stem for ``x**p``: pow2, inv, inv5, sqrt, invsqrt, pow3_2, inv3_2."""
    named = {sympy.Integer(-1): "inv", sympy.Rational(1, 2): "sqrt", sympy.Rational(-1, 2): "invsqrt"}
    if p in named:
        return named[p]
    stem = "pow" if p > 0 else "inv"
    q = abs(p)
    return f"{stem}{q}" if q.q == 1 else f"{stem}{q.p}_{q.q}"


def _exact_exponent(p: sympy.Expr) -> sympy.Expr:
    """A float exponent that is a simple fraction (2.0, 0.5, -1.5) as that Rational."""
    if isinstance(p, sympy.Float):
        r = sympy.Rational(float(p)).limit_denominator(64)
        if float(r) == float(p):
            return r
    return p


# ----------------------------------------------------------------------------- the compiler
class _Compiler:
    """Walks a sympy tree once, adding modules to ``graph``; see :func:`compile_formula`."""

    def __init__(self, root: sympy.Expr, names: list[str], library: SymbolicLibrary, dtype: torch.dtype) -> None:
        if "x" not in library:
            raise ValueError("the library needs the identity function 'x' to compile formulas")
        self.root, self.library, self.dtype = root, library, dtype
        self.graph = KANGraph()
        self.inputs = {n: self.graph.add_input(n) for n in names}
        self.memo: dict[sympy.Expr, _Sum] = {}
        self.uses: dict[str, int] = {}  # how many module ports each module output feeds
        self.counter = 0
        self.powers, self.templates = self._read_library()
        self.power_names = {name: p for p, name in self.powers.items()}

    def _read_library(self) -> tuple[dict[sympy.Rational, str], list[tuple[str, sympy.Expr]]]:
        """Library powers ``{p: name}`` and function templates ``[(name, f(z))]`` from the sympy forms."""
        z = sympy.Dummy("z", real=True)
        powers: dict[sympy.Rational, str] = {}
        templates: list[tuple[str, sympy.Expr]] = []
        for name, fn in self.library.items():
            form = fn.sympy_fn(z)
            if isinstance(form, sympy.Pow) and form.base == z and form.exp.is_Rational:
                powers.setdefault(form.exp, name)
            elif isinstance(form, sympy.Function) and z in form.args:
                templates.append((name, form))
        return powers, templates

    def fail(self, sub: Any, reason: str) -> UnsupportedExpressionError:
        return UnsupportedExpressionError(sub, reason, self.root)

    # ------------------------------------------------------------------ dispatch
    def compile(self, expr: sympy.Expr) -> _Sum:
        if expr not in self.memo:
            self.memo[expr] = self._dispatch(expr)
        return self.memo[expr]

    def _dispatch(self, expr: sympy.Expr) -> _Sum:
        if expr.is_number:
            return _Sum((), self.number(expr))
        if isinstance(expr, sympy.Symbol):
            return _Sum((_Edge(self.inputs[expr.name], "x"),))
        if isinstance(expr, sympy.Add):
            out = _Sum()
            for term in expr.args:
                out = out.plus(self.compile(term))
            return out
        if isinstance(expr, sympy.Mul):
            return self._mul(expr)
        if isinstance(expr, sympy.Pow):
            return self._pow(expr)
        if isinstance(expr, sympy.Piecewise):
            raise self.fail(expr, "a piecewise definition has no library edge")
        if isinstance(expr, sympy.Function):
            return self._function(expr)
        raise self.fail(expr, f"{type(expr).__name__} has no KAN form")

    def number(self, expr: sympy.Expr) -> float:
        try:
            value = complex(sympy.N(expr, 30))
        except (TypeError, ValueError):
            raise self.fail(expr, "not a finite real number") from None
        if not math.isfinite(value.real) or abs(value.imag) > 1e-15 * max(1.0, abs(value.real)):
            raise self.fail(expr, "not a finite real number")
        return value.real

    def _mul(self, expr: sympy.Mul) -> _Sum:
        numeric = [a for a in expr.args if a.is_number]
        factors = [a for a in expr.args if not a.is_number]
        if numeric:  # the coefficient stays in the sum: its consumer folds it into a, b, c or d
            rest = sympy.Mul(*factors, evaluate=False)  # unevaluated: no coefficient can come back
            return self.compile(rest).scaled(self.number(sympy.Mul(*numeric)))
        return self.product([self.compile(f) for f in factors])

    def _pow(self, expr: sympy.Pow) -> _Sum:
        base, p = expr.base, _exact_exponent(expr.exp)
        if not p.is_number:  # b**e = exp(e * log(b))
            if base.is_number:
                b = self.number(base)
                if b <= 0:
                    raise self.fail(expr, "a non-positive base with a symbolic exponent is not real")
                return self.apply(self.need("exp", expr), self.compile(p).scaled(math.log(b)))
            log_b = self.apply(self.need("log", expr), self.compile(base))
            return self.apply(self.need("exp", expr), self.product([self.compile(p), log_b]))
        return self.power(self.compile(base), p, expr)

    def _function(self, expr: sympy.Expr) -> _Sum:
        for name, form in self.templates:
            arg = _match(form, expr)
            if arg is not None:
                return self.apply(name, self.compile(arg))
        for target in (sympy.exp, sympy.log):  # cosh, sinh, asinh, ... in a form the library has
            alt = expr.rewrite(target)
            if alt != expr and not alt.has(sympy.I, sympy.Piecewise) and self._compiles(alt):
                return self.compile(alt)
        raise self.fail(expr, f"the library has no function for {expr.func.__name__}")

    def _compiles(self, expr: sympy.Expr) -> bool:
        """Whether ``expr`` compiles, tried on a scratch graph (a failed try leaves no modules here)."""
        try:
            _Compiler(self.root, list(self.inputs), self.library, self.dtype).compile(expr)
        except UnsupportedExpressionError:
            return False
        return True

    def need(self, name: str, expr: sympy.Expr) -> str:
        if name not in self.library:
            raise self.fail(expr, f"needs the library function {name!r}")
        return name

    # ------------------------------------------------------------------ powers
    def power(self, base: _Sum, p: sympy.Expr, expr: sympy.Expr) -> _Sum:
        """``base**p`` by a library power, a chain of them, or exp(p*log(base))."""
        label = _power_label(p) if p.is_Rational else "pow"
        chain = self._power_chain(p) if p.is_Rational else None
        if chain is None:
            log_b = self.apply(self.need("log", expr), base)
            return self.apply(self.need("exp", expr), log_b.scaled(self.number(p)), label)
        for k, name in enumerate(chain):
            base = self.apply(name, base, label if k == len(chain) - 1 else None)
        return base

    def _power_chain(self, p: sympy.Rational) -> list[str] | None:
        """Shortest list of library powers whose exponents multiply to ``p`` (fractional ones first).

        An integer ``p`` uses integer powers only, so the chain is exact for negative bases too.
        """
        exps = [q for q in self.powers if q != 1 and (q.is_integer or not p.is_integer)]
        for n in range(1, _MAX_CHAIN + 1):
            for combo in itertools.combinations_with_replacement(exps, n):
                if sympy.Mul(*combo) == p:
                    ordered = sorted(combo, key=lambda q: bool(q.is_integer))
                    return [self.powers[q] for q in ordered]
        return None

    # ------------------------------------------------------------------ building modules
    def label(self, fn: str) -> str:
        if fn in self.power_names:
            return _power_label(self.power_names[fn])
        return {"x": "linear", "0": "const"}.get(fn, re.sub(r"\W", "_", fn))

    def new_name(self, stem: str) -> str:
        while True:
            name = f"{stem}_{self.counter}"
            self.counter += 1
            if name not in self.graph.graph:
                return name

    def apply(self, fn: str, arg: _Sum, label: str | None = None) -> _Sum:
        """``fn(arg)``: an edge when ``arg`` is affine in one signal, else a two-layer module."""
        lin = arg.affine()
        if lin is not None:
            signal, slope, offset = lin
            return _Sum((_Edge(signal, fn, slope, offset),))
        if not arg.edges:
            value = self.library[fn].torch_fn(torch.tensor(arg.const, dtype=torch.float64))
            return _Sum((), float(value))
        name = self.add_module(self.new_name(label or self.label(fn)), [arg], outer=fn)
        return _Sum((_Edge(name, "x"),))

    def product(self, factors: list[_Sum]) -> _Sum:
        """One module multiplying ``factors`` (each a sum of edges into one subnode)."""
        name = self.add_module(self.new_name("mul"), factors)
        return _Sum((_Edge(name, "x"),))

    def add_module(self, name: str, factors: list[_Sum], outer: str | None = None) -> str:
        """A KAN module: every factor's edges into one subnode (multiplied when there are several),
        then, with ``outer``, one edge ``outer`` from that node. Every other edge is pruned."""
        ports, placed = _place_edges(factors)
        m = len(factors)
        width: list[Any] = [len(ports), [0, 1] if m > 1 else 1] + ([1] if outer else [])
        kan = KAN(width, mult_arity=max(m, 2), dtype=self.dtype)
        for layer in kan.layers:
            layer.prune_edge(slice(None), slice(None))
        used = set()
        for j, entries in enumerate(placed):
            for i, e in entries:
                self._set_edge(kan, 0, i, j, e)
                used.add(e.fn)
        if outer is not None:
            self._set_edge(kan, 1, 0, 0, _Edge("", outer))
            used.add(outer)
        kan.library = self.library.subset(sorted(used))
        port_names = _port_names(ports)
        self.graph.add_module(name, kan, inputs=port_names)
        for signal, port in zip(ports, port_names):
            self.graph.connect(signal, f"{name}.{port}")
            if signal not in self.inputs:
                self.uses[signal] = self.uses.get(signal, 0) + 1
        return name

    def _set_edge(self, kan: KAN, l: int, i: int, j: int, e: _Edge) -> None:
        kan.layers[l].set_symbolic(j, i, self.library[e.fn], (e.a, e.b, e.c, e.d))

    def finish(self, top: _Sum, output: str) -> KANGraph:
        """Connect the whole expression to ``output``, folding its affine into the last module if free."""
        zero = "0" if "0" in self.library else "x"
        unused = [n for n in self.inputs if self.graph.graph.out_degree(n) == 0 and not _feeds(top, n)]
        top = top.plus(_Sum(tuple(_Edge(n, zero, c=0.0) for n in unused)))
        lin = top.affine()
        self.graph.add_output(output)
        if lin is not None and lin[0] not in self.inputs and self.uses.get(lin[0], 0) == 0:
            _fold_affine(self.graph.modules[lin[0]], lin[1], lin[2])
            self.graph.connect(lin[0], output)
            return self.graph
        stem = self.label(top.edges[0].fn) if len(top.edges) == 1 else "add"
        self.graph.connect(self.add_module(self.new_name(stem), [top]), output)
        return self.graph


def _match(form: sympy.Expr, expr: sympy.Expr) -> sympy.Expr | None:
    """The argument ``u`` when ``expr`` is the library template ``form`` with ``z -> u``, else None."""
    if form.func != expr.func or len(form.args) != len(expr.args):
        return None
    z = [k for k, a in enumerate(form.args) if isinstance(a, sympy.Dummy)]
    if len(z) != 1 or any(fa != ea for k, (fa, ea) in enumerate(zip(form.args, expr.args)) if k != z[0]):
        return None
    return expr.args[z[0]]


def _feeds(top: _Sum, signal: str) -> bool:
    return any(e.signal == signal for e in top.edges)


def _place_edges(factors: list[_Sum]) -> tuple[list[str], list[list[tuple[int, _Edge]]]]:
    """Ports (one signal each) and, per subnode, its ``(port, edge)`` list.

    A signal gets one port, shared by the subnodes it feeds; a second edge from the same signal into
    the same subnode (``x + sin(x)``) gets a second port. A factor's constant goes into its first
    edge's ``d``.
    """
    ports: list[str] = []
    placed: list[list[tuple[int, _Edge]]] = []
    for factor in factors:
        taken: set[int] = set()
        entries = []
        for k, e in enumerate(factor.edges):
            if k == 0:
                e = replace(e, d=e.d + factor.const)
            free = [i for i, s in enumerate(ports) if s == e.signal and i not in taken]
            i = free[0] if free else len(ports)
            if not free:
                ports.append(e.signal)
            taken.add(i)
            entries.append((i, e))
        placed.append(entries)
    return ports, placed


def _port_names(signals: list[str]) -> list[str]:
    """Port names after their signals, ``x``, ``x_2`` ... when a signal has several ports."""
    names: list[str] = []
    for s in signals:
        name, k = s, 1
        while name in names:
            k += 1
            name = f"{s}_{k}"
        names.append(name)
    return names


@torch.no_grad()
def _fold_affine(kan: KAN, slope: float, offset: float) -> None:
    """Make the module's output ``slope * out + offset`` through its last layer's edges (c, d)."""
    layer = kan.layers[-1]
    first = (layer.state[0] == EDGE_SYMBOLIC).nonzero().flatten().tolist()  # edges into subnode 0
    layer.sym_params[0, first, 2:] *= slope  # scaling subnode 0 scales a sum node or one factor
    if kan.mult_arity[-1]:
        kan.node_bias[-1][0] += offset
    else:
        layer.sym_params[0, first[0], 3] += offset


# ----------------------------------------------------------------------------- public API
def _variable_names(variables: Sequence[str | sympy.Symbol]) -> list[str]:
    names = [v.name if isinstance(v, sympy.Symbol) else v for v in variables]
    for n in names:
        if not isinstance(n, str) or not n or "." in n:
            raise ValueError(f"variable name {n!r} must be a non-empty string without '.'")
    if not names:
        raise ValueError("compile_formula needs at least one variable (the graph's inputs)")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"duplicate variable names: {dup}")
    return names


def _as_expr(expr: sympy.Expr | str, names: list[str]) -> sympy.Expr:
    """A sympy expression (a string is parsed by the whitelisting parser, never evaluated as Python,
    with every variable a real symbol: gamma, I, beta ...)."""
    if isinstance(expr, str):
        expr = parse_formula(expr, names)
    expr = sympy.sympify(expr)
    if not isinstance(expr, sympy.Expr):
        raise UnsupportedExpressionError(expr, f"a {type(expr).__name__} is not an expression")
    unknown = sorted(s.name for s in expr.free_symbols if s.name not in names)
    if unknown:
        raise ValueError(f"the expression uses {unknown}, which are not among the variables {names}")
    return expr


def compile_formula(
    expr: sympy.Expr | str,
    variables: Sequence[str | sympy.Symbol],
    library: Any = None,
    dtype: torch.dtype = torch.float64,
    *,
    output: str = "f",
) -> KANGraph:
    """A :class:`KANGraph` computing ``expr`` with library-function edges only (see the module doc).

    ``variables`` name the inputs in column order (symbols are matched by name); ``library`` is any
    spec :func:`~kandisco.symbolic.library.get_library` takes. Raises
    :class:`UnsupportedExpressionError` naming a sub-expression the library cannot express.
    """
    names = _variable_names(variables)
    if output in names:
        raise ValueError(f"output name {output!r} is also a variable; pass another output=...")
    expr = _as_expr(expr, names)
    comp = _Compiler(expr, names, get_library(library), dtype)
    return comp.finish(comp.compile(expr), output)


def compiled_edges(graph: KANGraph) -> list[CompiledEdge]:
    """Every active edge of every module, in module order (to find the edge to free)."""
    out = []
    for name, kan in graph.modules.items():
        for l, layer in enumerate(kan.layers):
            for j, i in (layer.state != EDGE_PRUNED).nonzero().tolist():
                fn = layer.sym_names[int(layer.sym_index[j, i])] if int(layer.state[j, i]) == EDGE_SYMBOLIC else "spline"
                params = tuple(float(v) for v in layer.sym_params[j, i].detach())
                out.append(CompiledEdge(name, l, i, j, fn, params))  # type: ignore[arg-type]
    return out


@torch.no_grad()
def free_edge(model: GraphModule, module: str, l: int, i: int, j: int, X: Any, grid: int | None = None) -> None:
    """Turn symbolic edge ``(l, i, j)`` of ``module`` into a spline that starts as the same curve.

    The layer's knots move to the values that reach it on data ``X`` (graph inputs), the spline is
    least-squares fitted to the symbolic curve there, and its base branch is zeroed, so the model's
    output barely changes until it is trained.
    """
    if module not in model.kans:
        raise ValueError(f"no module {module!r}; modules: {', '.join(model.kans)}")
    kan = model.kans[module]
    if not 0 <= l < kan.depth or not (0 <= i < kan.layers[l].n_in and 0 <= j < kan.layers[l].n_out):
        raise IndexError(f"edge ({l}, {i}, {j}) does not exist in module {module!r} (width {kan.width})")
    layer = kan.layers[l]
    if int(layer.state[j, i]) != EDGE_SYMBOLIC:
        raise ValueError(f"edge ({l}, {i}, {j}) of module {module!r} is not symbolic")
    xs = kan.layer_inputs(model.module_inputs(X)[module])[l]  # (batch, n_in of layer l)
    curve = layer.edge_values(xs)[:, j, i]  # (batch,)
    layer.update_grid(xs, grid_eps=1.0, num=grid)
    coef = spline.curve_to_coef(xs[:, i : i + 1], curve[:, None, None], layer.grid[i : i + 1], layer.k)
    layer.coef[j, i] = coef[0, 0]
    layer.scale_sp[j, i] = 1.0
    layer.scale_base[j, i] = 0.0
    layer.set_spline(j, i)
    kan.grids_initialized.fill_(True)


def roundtrip_error(
    graph: KANGraph | GraphModule,
    expr: sympy.Expr | str,
    ranges: Sequence[tuple[float, float]],
    n: int = 1000,
    seed: int = 0,
    formula: bool = False,
) -> float:
    """Largest relative error of the graph (or of its ``formula()``) against ``expr`` on uniform samples.

    Relative to ``max(|y|, 1e-9 * max|y|)``, so a zero crossing is judged on the law's scale; points
    where ``expr`` is not finite and real are skipped.
    """
    model = graph.compile() if isinstance(graph, KANGraph) else graph
    names = model.input_names
    if len(ranges) != len(names):
        raise ValueError(f"{len(ranges)} ranges for the {len(names)} inputs {names}")
    X = np.random.default_rng(seed).uniform([r[0] for r in ranges], [r[1] for r in ranges], size=(n, len(names)))
    ref = _evaluate(_as_expr(expr, names), names, X)
    if formula:
        (out,), _ = model.formula()
        got = _evaluate(out, names, X)
    else:
        with torch.no_grad():
            got = model(torch.as_tensor(X, dtype=model.dtype))[:, 0].double().numpy()
    ok = np.isfinite(ref)
    if not ok.any():
        raise ValueError("the expression is not finite and real anywhere on the sampled ranges")
    ref, got = ref[ok], got[ok]
    scale = np.maximum(np.abs(ref), 1e-9 * np.abs(ref).max() + 1e-300)
    err = np.abs(got - ref) / scale
    return float(np.max(np.where(np.isfinite(err), err, np.inf)))


def _evaluate(expr: sympy.Expr, names: list[str], X: np.ndarray) -> np.ndarray:
    """``expr`` on the columns of ``X`` (symbols matched by name); complex values become NaN."""
    by_name = {s.name: s for s in expr.free_symbols}
    symbols = [by_name.get(n, sympy.Symbol(n)) for n in names]
    fn = sympy.lambdify(symbols, expr, modules=["scipy", "numpy"])
    with np.errstate(all="ignore"):
        out = np.asarray(fn(*X.T), dtype=complex) * np.ones(X.shape[0])
    real = np.abs(out.imag) <= 1e-12 * np.maximum(np.abs(out.real), 1e-300)
    return np.where(real, out.real, np.nan)
