"""Method adapters on a tiny task (y = x0*x1, 100 rows): each returns sympy in the task's names."""

import sys

import numpy as np
import pytest
import sympy

from kandisco.bench import BenchError, get_method
from kandisco.bench.methods import METHODS
from kandisco.bench.tasks import TaskData
from kandisco.symbolic.equivalence import check_equivalence

a, b = sympy.symbols("a b", real=True)


@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, (100, 2))
    Xt = rng.uniform(1, 3, (100, 2))
    return TaskData("ab", ("a", "b"), "y", X, X[:, 0] * X[:, 1], Xt, Xt[:, 0] * Xt[:, 1], a * b,
                    {"a": (1.0, 3.0), "b": (1.0, 3.0)}, 0.0, 0)


def _fit(name, data, budget):
    method = get_method(name)
    reason = method.unavailable()
    if reason:
        pytest.skip(f"{name}: {reason}")
    expr = method.fit(data.X_train, data.y_train, list(data.features), data.target, budget, 0)
    assert isinstance(expr, sympy.Expr) and expr.free_symbols <= {a, b}, expr
    return expr


@pytest.mark.parametrize("name, budget", [("kandisco", 5), ("operon", 2), ("gplearn", 3)])
def test_adapter_recovers_a_product(name, budget, tiny, one_torch_thread):
    expr = _fit(name, tiny, budget)
    assert check_equivalence(expr, a * b, tiny.ranges).recovered, expr


def test_linear_baseline_is_least_squares(tiny):
    expr = _fit("linear", tiny, 1)
    pred = sympy.lambdify([a, b], expr)(tiny.X_train[:, 0], tiny.X_train[:, 1])
    coef, *_ = np.linalg.lstsq(np.column_stack([np.ones(100), tiny.X_train]), tiny.y_train, rcond=None)
    np.testing.assert_allclose(pred, coef[0] + tiny.X_train @ coef[1:], rtol=1e-10)


def test_pykan_workflow_maps_back_to_the_task_units(tiny, one_torch_thread):
    import torch

    from kandisco.bench.methods.pykan import PyKAN
    from kandisco.bench.score import r2_score

    pytest.importorskip("kan", reason="pykan is not installed (pip install 'kandisco[bench]')")
    method = PyKAN()
    method.steps = 10  # pykan's README uses 50 per phase; 10 keeps the test short
    dtype = torch.get_default_dtype()
    expr = method.fit(tiny.X_train, tiny.y_train, ["a", "b"], "y", 60, 0)
    assert torch.get_default_dtype() == dtype  # pykan's float64 default does not leak
    assert expr.free_symbols <= {a, b}
    assert r2_score(expr, ("a", "b"), tiny.X_test, tiny.y_test) > 0.99, expr  # inputs un-standardised correctly


def test_pysr_without_julia_is_unavailable_and_never_imported(monkeypatch, tmp_path):
    from kandisco.bench.methods import pysr as adapter

    if adapter.julia_executable() is not None:
        pytest.skip("Julia is installed here; the PySR fit itself is exercised instead")
    monkeypatch.delitem(sys.modules, "pysr", raising=False)
    method = get_method("pysr")
    assert method.unavailable() == "Julia is not installed"
    with pytest.raises(RuntimeError, match="Julia is not installed"):
        method.fit(np.ones((5, 1)), np.ones(5), ["a"], "y", 1, 0)
    assert "pysr" not in sys.modules and "juliacall" not in sys.modules


def test_pysr_with_julia(tiny):
    from kandisco.bench.methods import pysr as adapter

    if adapter.julia_executable() is None:
        pytest.skip("PySR needs Julia, which is not installed on this machine")
    expr = _fit("pysr", tiny, 20)
    assert check_equivalence(expr, a * b, tiny.ranges).recovered, expr


def test_gplearn_program_becomes_exact_sympy():
    gplearn = pytest.importorskip("gplearn.functions")
    from kandisco.bench.methods.gplearn import program_to_sympy

    f = {name: gplearn._function_map[name] for name in ("add", "mul", "div", "sqrt", "log", "sin")}
    X = np.array([[1.0, 2.0], [2.0, 3.0], [3.0, -0.5]])
    # div(x0, x1) with |x1| > 0.001 everywhere -> plain division; sqrt(x1) with a negative -> sqrt(|x1|)
    expr = program_to_sympy([f["add"], f["div"], 0, 1, f["sqrt"], 1], X, ["a", "b"])
    assert expr == a / b + sympy.sqrt(sympy.Abs(b))
    # log(x0 - 2): hits gplearn's guard (|x| <= 0.001 at x0 = 2) -> the exact piecewise form
    sub = gplearn._function_map["sub"]
    expr = program_to_sympy([f["log"], sub, 0, 2.0], X, ["a", "b"])
    values = sympy.lambdify([a, b], expr)(X[:, 0], X[:, 1])
    np.testing.assert_allclose(values, f["log"](X[:, 0] - 2.0))
    assert program_to_sympy([f["mul"], 0.5, f["sin"], 0], X, ["a", "b"]) == 0.5 * sympy.sin(a)


def test_unknown_method_suggests_the_close_name():
    with pytest.raises(BenchError, match="did you mean operon"):
        get_method("opereon")
    with pytest.raises(BenchError, match="cannot load method"):
        get_method("no_such_module_xyz:Thing")
    assert set(METHODS) >= {"kandisco", "operon", "gplearn", "pykan", "pysr"}
