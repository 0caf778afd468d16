"""Exports of a law: the torch module (values, trainable constants, read-back), numpy and JAX functions.

Oracles: sympy's own arbitrary-precision evaluation (``evalf``) and ``sympy.lambdify``."""

import math
import sys

import numpy as np
import pandas as pd
import pytest
import sympy
import torch

from kandisco.discovery import Candidate, DiscoveryResult, discover
from kandisco.export import SUPPORTED_FUNCTIONS, LawModule, UnsupportedNodeError, to_jax, to_numpy, to_torch

a, b = sympy.symbols("a b", real=True)
RNG = np.random.default_rng(0)
X = RNG.uniform(0.2, 0.9, size=(64, 2))  # inside every function's real domain below

# every function kandisco's formulas use, each in a form that is real on X
FORMULAS = [
    2.5 * a**2 * b - 1, a / b + sympy.Rational(3, 7) * b**-2, a**1.7 * b**sympy.Rational(3, 2), sympy.sqrt(a * b) + 1 / sympy.sqrt(b),
    sympy.cbrt(a) * sympy.pi + sympy.E, sympy.exp(-1.3 * a) * sympy.log(b), sympy.sin(2 * a) + sympy.cos(b) * sympy.tan(a),
    sympy.tanh(a) + sympy.sinh(b) - sympy.cosh(a * b), sympy.asin(a) + sympy.acos(b) + sympy.atan(a / b),
    sympy.Abs(a - b) * sympy.sign(a - b), sympy.cot(a) + sympy.sec(b) + sympy.csc(a),
    sympy.asinh(a) + sympy.acosh(1 + b) + sympy.atanh(a), sympy.coth(a) + sympy.sech(b) + sympy.csch(a),
    sympy.acot(a) + sympy.asec(1 / b) + sympy.acsc(1 / a), sympy.acoth(1 / a) + sympy.asech(b) + sympy.acsch(a),
    sympy.erf(a) + sympy.erfc(b), sympy.atan2(a, b) + sympy.Max(a, b) - sympy.Min(a, 0.5 * b), 2**a + b**b,
]


def _evalf(expr, x_row):
    return float(expr.evalf(30, subs={a: sympy.Float(x_row[0], 30), b: sympy.Float(x_row[1], 30)}))


@pytest.mark.parametrize("expr", FORMULAS, ids=str)
def test_torch_module_reproduces_numpy_and_sympy(expr):
    module = to_torch(expr, [a, b])
    torch_values = module(torch.tensor(X)).detach().numpy()
    numpy_values = to_numpy(expr, ["a", "b"])(X)
    assert torch_values.dtype == np.float64 and torch_values.shape == (len(X),)
    np.testing.assert_allclose(torch_values, numpy_values, rtol=1e-12, atol=1e-14)
    exact = [_evalf(expr, row) for row in X[:5]]  # an independent oracle at a few points
    np.testing.assert_allclose(numpy_values[:5], exact, rtol=1e-12, atol=1e-14)
    assert module.sympy() == expr  # nothing trained: the same expression back


def test_supported_functions_cover_the_formula_whitelist():
    from kandisco.symbolic.parse import FUNCTIONS

    sympy_names = {f.__name__ for f in FUNCTIONS.values() if isinstance(f, type)}
    assert sympy_names <= set(SUPPORTED_FUNCTIONS), sympy_names - set(SUPPORTED_FUNCTIONS)


def test_float_constants_are_parameters_integers_and_rationals_fixed():
    module = to_torch(2.5 * a**2 * b**sympy.Rational(3, 2) + sympy.pi - 3 * a**1.5, [a, b])
    values = sorted(float(p.detach()) for p in module.parameters())
    assert values == [1.5, 2.5]  # the coefficient 2.5 and the float exponent 1.5; not 3, 3/2, 2 or pi
    kepler = to_torch(a ** sympy.Rational(3, 2), [a])
    assert list(kepler.parameters()) == [] and kepler.sympy() == a ** sympy.Rational(3, 2)
    everything = to_torch(5 * a**2 * b / 2, [a, b], trainable="all")
    assert sorted(float(p.detach()) for p in everything.parameters()) == [2.5]  # 5/2 freed; the integer exponent stays
    assert list(to_torch(2.5 * a, [a], trainable="none").parameters()) == []


def _fine_tune(module: LawModule, Xt: torch.Tensor, yt: torch.Tensor) -> None:
    opt = torch.optim.LBFGS(module.parameters(), lr=1, max_iter=200, tolerance_grad=1e-14, tolerance_change=1e-16,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.mean((module(Xt) - yt) ** 2)
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)


def test_fine_tuning_moves_the_constant_to_the_shifted_data():
    module = to_torch(2.5 * a**2 * b, [a, b])
    Xt = torch.tensor(X)
    _fine_tune(module, Xt, 3.1 * Xt[:, 0] ** 2 * Xt[:, 1])
    (param,) = list(module.parameters())
    assert abs(float(param.detach()) - 3.1) < 1e-4
    back = module.sympy()
    assert back.free_symbols == {a, b} and back.as_coeff_Mul()[1] == a**2 * b  # structure kept, integers exact
    assert abs(float(back.as_coeff_Mul()[0]) - 3.1) < 1e-4


def test_found_law_exports_agree_and_fine_tune(one_torch_thread):
    """Acceptance: a law found by discover() on 2.5*x0**2*x1; its torch module equals its numpy function
    to 1e-12 in float64 and fine-tuning on 3.1*x0**2*x1 data moves the constant there."""
    rng = np.random.default_rng(1)
    Xd = rng.uniform(0.5, 2.0, size=(300, 2))
    result = discover((Xd, 2.5 * Xd[:, 0] ** 2 * Xd[:, 1]), max_strategies=1, n_jobs=1, budget_seconds=10, seed=0)
    assert result.r2_test > 0.999999, result
    law = result.to_torch(trainable="all")  # the pipeline snaps 2.5 to 5/2 (a rational, fixed by default)
    np.testing.assert_allclose(law(torch.tensor(Xd)).detach().numpy(), result.to_numpy()(Xd), rtol=1e-12, atol=0)
    np.testing.assert_allclose(result.to_numpy()(Xd), sympy.lambdify(result.symbols, result.expr)(*Xd.T), rtol=1e-12)
    Xt = torch.tensor(Xd)
    _fine_tune(law, Xt, 3.1 * Xt[:, 0] ** 2 * Xt[:, 1])
    tuned = law.sympy()
    assert abs(float(tuned.subs({s: 1.0 for s in result.symbols})) - 3.1) < 1e-4
    np.testing.assert_allclose(to_numpy(tuned, result.features)(Xd), 3.1 * Xd[:, 0] ** 2 * Xd[:, 1], rtol=1e-6)


def test_forward_by_name_shapes_and_errors():
    module = to_torch(a**3 - b, [a, b])
    x = torch.tensor([-2.0, 1.0])
    assert module(a=x, b=torch.tensor([1.0, 1.0])).tolist() == [-9.0, 0.0]  # integer power exact for a negative base
    assert to_torch(sympy.sqrt(a), [a])(torch.tensor([[-1.0]])).isnan().all()  # not real: NaN, as numpy gives
    assert to_torch(sympy.Float(2.0), [])(torch.zeros(3, 0)).tolist() == [2.0, 2.0, 2.0]  # a constant law per row
    with pytest.raises(ValueError, match=r"\(batch, 2\) with columns a, b"):
        module(torch.zeros(4, 3))
    with pytest.raises(TypeError, match=r"missing \['b'\]"):
        module(a=x)
    named_x = to_torch(sympy.Symbol("X", real=True) * a, ["X", "a"])  # an input called X is still an input by name
    assert named_x(X=torch.tensor([2.0]), a=torch.tensor([3.0])).tolist() == [6.0]
    module32 = module.to(torch.float32)
    assert module32(torch.ones(2, 2, dtype=torch.float32)).dtype == torch.float32


@pytest.mark.parametrize(
    "expr, name",
    [(sympy.Heaviside(a), "Heaviside"), (sympy.Function("f")(a), "f"), (sympy.gamma(a), "gamma"), (sympy.I * a, "I"),
     (sympy.zoo * a, "zoo")],
)
def test_unsupported_node_is_named(expr, name):
    with pytest.raises(UnsupportedNodeError, match=name):
        to_torch(expr, [a])


def test_numpy_function_call_forms():
    T = sympy.Symbol("T [s]", real=True)
    fn = to_numpy(2 * T + sympy.sqrt(b), ["T [s]", "b"])
    t, bb = np.array([1.0, 2.0]), np.array([4.0, -1.0])
    expect = np.array([4.0, np.nan])  # sqrt(-1) is not real: NaN, not 0
    np.testing.assert_array_equal(fn(np.c_[t, bb]), expect)
    np.testing.assert_array_equal(fn(t, bb), expect)
    np.testing.assert_array_equal(fn(**{"T [s]": t, "b": bb}), expect)
    frame = pd.DataFrame({"b": bb, "other": ["x", "y"], "T [s]": t})  # any column order, extra columns ignored
    np.testing.assert_array_equal(fn(frame), expect)
    assert fn(**{"T [s]": 1.0, "b": 4.0}) == 4.0
    with pytest.raises(KeyError, match="T \\[s\\]"):
        fn(frame[["b"]])
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        fn(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="not among the inputs"):
        to_numpy(a + b, ["a"])


def test_to_jax_without_jax_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)  # as if it were not installed
    with pytest.raises(ImportError, match="'jax' package"):
        to_jax(a + b, ["a", "b"])


@pytest.mark.parametrize("expr", FORMULAS, ids=str)
def test_to_jax_matches_numpy_where_installed(expr):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    fn = to_jax(expr, ["a", "b"])
    np.testing.assert_allclose(np.asarray(fn(X)), to_numpy(expr, ["a", "b"])(X), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(jax.jit(lambda m: fn(m))(X)), to_numpy(expr, ["a", "b"])(X), rtol=1e-12, atol=1e-14)


def test_to_jax_call_forms_where_installed():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    assert np.asarray(to_jax(sympy.Float(2.0), ["a"])(X[:, :1])).tolist() == [2.0] * len(X)
    fn = to_jax(a**2 * b, ["a", "b"])
    assert float(fn(a=3.0, b=2.0)) == 18.0
    assert float(jax.grad(lambda v: fn(a=v, b=2.0))(3.0)) == 12.0


def _result(expr, features, target="y"):
    plain = expr.xreplace({sympy.Symbol(n, real=True): sympy.Symbol(f"x{i}", real=True) for i, n in enumerate(features)})
    cand = Candidate(formula=str(expr), formula_x=sympy.sstr(plain), complexity=5, loss=1e-9, strategy="test", seconds=0.0)
    return DiscoveryResult(formula=cand.formula, formula_x=cand.formula_x, latex=sympy.latex(expr), target=target, features=features,
                           r2_test=1.0, rmse_test=1e-9, complexity=5, pareto=[cand], chosen=0, seconds=0.1, timings={}, config={})


def test_result_exports():
    expr = 2.5 * a**2 * b + sympy.cos(b)
    result = _result(expr, ["a", "b"])
    assert result.sympy() == expr and result.latex() == sympy.latex(expr) == result.latex
    np.testing.assert_allclose(result.to_numpy()(X), sympy.lambdify([a, b], expr)(*X.T), rtol=1e-14)
    module = result.to_torch()
    assert module.names == ["a", "b"] and math.isclose(float(next(module.parameters()).detach()), 2.5)
    np.testing.assert_allclose(module(torch.tensor(X)).detach().numpy(), result.predict(X), rtol=1e-12)
    again = DiscoveryResult.from_json(result.to_json())
    assert again.latex() == result.latex and again.to_json() == result.to_json()


def test_a_numpy_law_function_pickles_as_its_formula():
    import pickle

    import sympy

    from kandisco.export import to_numpy

    x = sympy.Symbol("x", real=True)
    fn = pickle.loads(pickle.dumps(to_numpy(2 * x + 1, ["x"])))
    assert fn.expr == 2 * x + 1
    assert list(fn(x=[0.0, 1.0])) == [1.0, 3.0]
