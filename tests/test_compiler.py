"""Formula -> KAN compiler: round trips, structure, errors naming the sub-expression, prior-knowledge fits."""

import math

import numpy as np
import pytest
import sympy
import torch

from kandisco.datasets import feynman_equations
from kandisco.discovery.compiler import (
    UnsupportedExpressionError,
    compile_formula,
    compiled_edges,
    free_edge,
    roundtrip_error,
)
from kandisco.kan import EDGE_PRUNED, EDGE_SPLINE, EDGE_SYMBOLIC, KANGraph
from kandisco.symbolic.library import default_library

x, y, z = sympy.symbols("x y z", real=True)
R = sympy.Rational
POS = [(0.5, 2.0)] * 3  # ranges where every case below is real and finite

CASES = {
    "single variable": x,
    "affine": 2 * x - R(7, 3),
    "add with constant": x + y**2 - 3,
    "mul with coefficient": -3 * x * y * z,
    "product plus constant": 2 * x * y * z + 5,
    "integer powers": x**3 * y**-2 + z**4,
    "rational powers": sympy.sqrt(x) + x ** R(3, 2) - 1 / sympy.sqrt(y),
    "negative power chain": x**-5 * y**6,
    "power of a sum": (x + 2 * y) ** -2,
    "power without a library form": x ** R(1, 3) * y,
    "float exponent": x**2.0 + y**0.5,
    "symbolic exponent": x**y,
    "nested functions": sympy.sin(sympy.exp(-(x**2) / 2) * y) + sympy.log(1 + x * z),
    "constants pi, rational, float": sympy.pi * x / 4 + 0.125 * sympy.cos(2 * sympy.pi * y) + R(1, 7),
    "division by a sum": (x - y) / (x + y + z),
    "same signal twice in a sum": x + sympy.sin(x) + sympy.exp(x / 3),
    "shared sub-expression": sympy.exp(x * y) + sympy.exp(-x * y) + x * y,
    "inverse functions": sympy.asin(x / 3) + sympy.atan(y) * sympy.tanh(z),
    "missing function by rewrite": sympy.cosh(x) - sympy.asinh(y),
}


def _states(graph: KANGraph) -> set[int]:
    return {int(s) for kan in graph.modules.values() for layer in kan.layers for s in layer.state.flatten()}


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip(name):
    expr = CASES[name]
    variables = sorted(expr.free_symbols, key=str)
    graph = compile_formula(expr, variables)
    assert _states(graph) <= {EDGE_SYMBOLIC, EDGE_PRUNED}  # never a spline
    ranges = POS[: len(variables)]
    assert roundtrip_error(graph, expr, ranges, n=300) < 1e-9
    assert roundtrip_error(graph, expr, ranges, n=300, formula=True) < 1e-9


def test_formula_is_the_expression_exactly():
    expr = x**2 / 3 + y * sympy.sin(2 * x + 1) - R(5, 2) + sympy.sqrt(x) / y**3
    (formula,), _ = compile_formula(expr, [x, y]).compile().formula()
    assert sympy.simplify(sympy.nsimplify(formula, tolerance=1e-12, rational=True) - expr) == 0


def test_constants_fold_into_edges_and_modules_are_named():
    # 1/sqrt(2 pi) exp(-x^2/2): one module, x^2 edge with c = -1/2, exp edge with c = 1/sqrt(2 pi)
    graph = compile_formula(sympy.exp(-(x**2) / 2) / sympy.sqrt(2 * sympy.pi), [x])
    assert list(graph.modules) == ["exp_0"]
    (sq, ex) = compiled_edges(graph)
    assert sq.function == "x^2" and sq.params == pytest.approx((1, 0, -0.5, 0))
    assert ex.function == "exp" and ex.params == pytest.approx((1, 0, 1 / math.sqrt(2 * math.pi), 0))
    # an affine inner argument goes into (a, b); a product's coefficient into c
    graph = compile_formula(5 * x * sympy.sin(3 * y - 1), [x, y])
    assert list(graph.modules) == ["mul_0"]
    params = {e.function: e.params for e in compiled_edges(graph)}
    assert params["sin"][:2] == pytest.approx((3, -1)) and params["x"][2] == pytest.approx(5)
    assert graph.inputs == ["x", "y"] and graph.outputs == ["f"]


def test_gravitation_graph_shape():
    eq = feynman_equations()["I.9.18"]
    graph = compile_formula(eq.expr, eq.variables)
    # three squared differences, 1/(sum), then one product of arity 4 (G, m1, m2, 1/r^2)
    assert list(graph.modules) == ["pow2_0", "pow2_1", "pow2_2", "inv_3", "mul_4"]
    assert graph.modules["mul_4"].mult_arity[-1] == [4]


def test_common_sub_expression_is_compiled_once():
    graph = compile_formula(sympy.exp(x * y) + sympy.exp(-x * y) + x * y, [x, y])
    products = [n for n in graph.modules if n.startswith("mul")]
    assert len(products) == 1 and graph.graph.out_degree(products[0]) == 3


def test_constant_expression_gives_a_constant_output():
    graph = compile_formula(3 * sympy.pi / 2, ["x", "y"])
    X = torch.rand(5, 2, dtype=torch.float64)
    assert torch.allclose(graph.compile()(X), torch.full((5, 1), 3 * math.pi / 2, dtype=torch.float64))
    (formula,), _ = graph.compile().formula()
    assert float(formula) == pytest.approx(3 * math.pi / 2)


def test_unused_variable_feeds_the_output_through_a_zero_edge():
    graph = compile_formula("x**2 + 1", ["x", "y"])
    (formula,), _ = graph.compile().formula()
    assert sympy.simplify(formula - (x**2 + 1)) == 0
    assert [e.function for e in compiled_edges(graph) if e.i == 1] == ["0"]


@pytest.mark.parametrize(
    "expr, named",
    [
        (x + y * sympy.besselj(0, x), "besselj(0, x)"),
        (sympy.Piecewise((x, x > 0), (0, True)) + y, "Piecewise"),
        (sympy.sqrt(-1) * x, "I"),
        (sympy.Function("g")(x) * y, "g(x)"),
        (sympy.sec(x), "sec(x)"),
    ],
)
def test_unsupported_sub_expression_is_named(expr, named):
    with pytest.raises(UnsupportedExpressionError, match=named.replace("(", r"\(").replace(")", r"\)")) as info:
        compile_formula(expr, [x, y])
    assert named in str(info.value.subexpression)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"uses \['z'\]"):
        compile_formula(x + z, [x, y])
    with pytest.raises(ValueError, match="duplicate variable"):
        compile_formula(x, ["x", "x"])
    with pytest.raises(ValueError, match="also a variable"):
        compile_formula(x, ["x"], output="x")
    with pytest.raises(ValueError, match="at least one variable"):
        compile_formula(sympy.Integer(1), [])


def test_library_decides_what_compiles():
    # a registered Bessel function makes besselj compile
    lib = default_library()
    lib.register("j0", torch.special.bessel_j0, lambda u: sympy.besselj(0, u))
    expr = y * sympy.besselj(0, 2 * x)
    assert roundtrip_error(compile_formula(expr, [x, y], library=lib), expr, POS[:2], n=200) < 1e-6
    # x**5 without x^5 is a chain of library powers; tanh without tanh is its exp form
    graph = compile_formula(x**5 + sympy.tanh(y), [x, y], library="physics")
    assert roundtrip_error(graph, x**5 + sympy.tanh(y), POS[:2], n=200) < 1e-9
    # no inverse, no log: 1/x cannot be built; no exp: cosh cannot be rewritten either
    with pytest.raises(UnsupportedExpressionError, match="needs the library function 'log'"):
        compile_formula(1 / x, [x], library="polynomial")
    with pytest.raises(UnsupportedExpressionError, match="no function for cosh"):
        compile_formula(sympy.cosh(x), [x], library="polynomial")


def test_save_load_keeps_the_compiled_law(tmp_path):
    expr = sympy.sqrt(x**2 + y**2) * sympy.cos(z) / x
    graph = compile_formula(expr, [x, y, z])
    again = KANGraph.load(graph.save(tmp_path / "law.kgraph"))
    assert roundtrip_error(again, expr, POS, n=200) < 1e-12


def test_every_feynman_formula_round_trips():
    bad = []
    for eq in feynman_equations().values():
        graph = compile_formula(eq.expr, eq.variables)
        err = roundtrip_error(graph, eq.expr, eq.ranges, n=100)
        if not err <= 1e-6:
            bad.append((eq.id, err))
    assert not bad


def test_prior_knowledge_fit(one_torch_thread):
    """Compile a known law, free its sin edge, and fit data from a slightly different law."""
    graph = compile_formula(x**2 + sympy.sin(z), [x, z])
    model = graph.compile()
    rng = np.random.default_rng(0)
    X = torch.tensor(rng.uniform([-1, 0], [1, 3], size=(300, 2)))
    y_new = X[:, :1] ** 2 + 1.2 * torch.sin(X[:, 1:]) + 0.3 * X[:, 1:]  # the data add 0.2 sin z + 0.3 z
    sin_edge = next(e for e in compiled_edges(graph) if e.function == "sin")
    before = model(X).detach()
    free_edge(model, sin_edge.module, sin_edge.l, sin_edge.i, sin_edge.j, X)
    assert int(graph.modules[sin_edge.module].layers[sin_edge.l].state[sin_edge.j, sin_edge.i]) == EDGE_SPLINE
    assert torch.allclose(model(X).detach(), before, atol=1e-3)  # the spline starts as the sin curve
    loss0 = float(torch.mean((model(X).detach() - y_new) ** 2))
    model.fit(X, y_new, steps=15, verbose=False)
    loss1 = float(torch.mean((model(X).detach() - y_new) ** 2))
    assert loss1 < 1e-3 * loss0
    with pytest.raises(ValueError, match="still splines"):
        model.formula()


def test_free_edge_errors():
    graph = compile_formula(x * y, [x, y])
    model = graph.compile()
    X = torch.rand(10, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="no module 'nope'"):
        free_edge(model, "nope", 0, 0, 0, X)
    with pytest.raises(IndexError, match="does not exist"):
        free_edge(model, "mul_0", 3, 0, 0, X)
    with pytest.raises(ValueError, match="not symbolic"):
        free_edge(model, "mul_0", 0, 0, 1, X)  # x feeds factor 0 only: edge (0, 0 -> 1) is pruned
