"""KANGraph: validation errors name the node, training through the compiled module, formulas, save/load."""

import numpy as np
import pytest
import sympy
import torch

from graphs import product_graph

from kandisco.kan import KAN, GraphError, KANFileError, KANGraph


def _product_graph(seed: int = 0) -> KANGraph:
    return product_graph(seed)


def _data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.5, 2.0, size=(n, 3))
    y = (X[:, 0] + X[:, 1] ** 2) * np.exp(0.5 * X[:, 2])
    return torch.tensor(X), torch.tensor(y)[:, None]


def test_compiled_graph_trains_to_a_separable_function(one_torch_thread):
    X, y = _data()
    model = _product_graph().compile()
    model.fit(X[:400], y[:400], steps=40, verbose=False)
    pred = model(X[400:])
    r2 = 1 - torch.mean((pred - y[400:]) ** 2) / torch.var(y[400:])
    assert r2 > 0.9999
    # what reaches each module is what the structure says
    seen = model.module_inputs(X[:5])
    assert torch.equal(seen["g"], X[:5, :2]) and torch.equal(seen["h"], X[:5, 2:])


def test_sparsity_regulariser_runs_through_the_graph(one_torch_thread):
    X, y = _data(200)
    model = _product_graph().compile()
    hist = model.fit(X, y, steps=3, lamb=1e-3, verbose=False)
    assert np.isfinite(hist.train_loss[-1])
    assert len(model.activations(X).edges) == len(model.layers) == 3


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda g: g.connect("x", "nowhere"), "no node named 'nowhere'"),
        (lambda g: g.connect("x", "g.zz"), "module 'g' has no input port 'zz'"),
        (lambda g: g.connect("f", "times"), "output 'f' cannot feed"),
        (lambda g: g.connect("times", "x"), "input 'x' cannot receive"),
        (lambda g: g.add_input("x"), "node 'x' already exists"),
        (lambda g: g.add_module("k", "not a kan"), "expected a KAN"),
    ],
)
def test_building_errors_name_the_node(build, message):
    g = _product_graph()
    with pytest.raises(GraphError, match=message):
        build(g)


def test_validation_names_what_is_wrong():
    g = KANGraph()
    g.add_input("x")
    g.add_module("m", KAN([2, 1]), inputs=["p", "q"])
    g.add_output("y")
    g.connect("x", "m.p")
    g.connect("m", "y")
    with pytest.raises(GraphError, match="input port 'q' has 0 incoming"):
        g.compile()
    g.add_input("unused")
    g.connect("x", "m.q")
    with pytest.raises(GraphError, match="input 'unused' is not connected"):
        g.compile()

    lonely = KANGraph()
    lonely.add_input("x")
    lonely.add_mult("m")
    lonely.add_output("y")
    lonely.connect("x", "m")
    lonely.connect("m", "y")
    with pytest.raises(GraphError, match="mult node 'm' needs at least 2"):
        lonely.compile()

    cyc = KANGraph()
    cyc.add_input("x")
    cyc.add_sum("s")
    cyc.add_module("m", KAN([1, 1]))
    cyc.add_output("y")
    cyc.connect("x", "s")
    cyc.connect("s", "m")
    cyc.connect("m", "s")
    cyc.connect("s", "y")
    with pytest.raises(GraphError, match="cycle"):
        cyc.compile()


def test_formula_substitutes_module_outputs():
    g = KANGraph()
    g.add_input("u")
    g.add_input("v")
    g.add_module("sq", KAN([1, 1]), inputs=["t"])
    g.add_module("ex", KAN([1, 1]), inputs=["t"])
    g.add_mult("prod")
    g.add_output("out")
    g.connect("u", "sq")
    g.connect("v", "ex")
    g.connect("sq", "prod")
    g.connect("ex", "prod")
    g.connect("prod", "out")
    model = g.compile()
    t = sympy.Symbol("t", real=True)
    u, v = sympy.symbols("u v", real=True)
    overrides = {"sq": [t**2], "ex": [sympy.exp(t)]}
    (expr,), _ = model.formula(overrides=overrides)
    assert sympy.simplify(expr - u**2 * sympy.exp(v)) == 0
    (inter,), defs = model.formula(overrides=overrides, substitute=False)
    a, b = sympy.Symbol("sq_out", real=True), sympy.Symbol("ex_out", real=True)
    assert inter == a * b and defs[a] == u**2 and defs[b] == sympy.exp(v)


def test_formula_from_symbolic_edges(one_torch_thread):
    X, y = _data(300)
    model = _product_graph().compile()
    model.kans["h"].fix_symbolic(0, 0, 0, "exp", X=X[:, 2:])
    with pytest.raises(ValueError, match="still splines"):
        model.formula()
    model.kans["g"].auto_symbolic(X=X[:, :2])
    (expr,), _ = model.formula()
    assert expr.free_symbols == set(sympy.symbols("x y z", real=True))
    f = sympy.lambdify(sympy.symbols("x y z", real=True), expr, "numpy")
    np.testing.assert_allclose(f(*X[:20].numpy().T), model(X[:20]).detach().numpy()[:, 0], rtol=1e-8)


def test_save_load_round_trip_and_bad_files(tmp_path, one_torch_thread):
    X, y = _data(200)
    model = _product_graph(seed=3).compile()
    model.fit(X, y, steps=3, verbose=False)
    model.kans["h"].fix_symbolic(0, 0, 0, "exp", X=X[:, 2:])
    path = model.spec.save(tmp_path / "g.kgraph")
    again = KANGraph.load(path).compile()
    assert torch.allclose(again(X), model(X), rtol=0, atol=1e-12)
    assert again.spec.structure() == model.spec.structure()
    (tmp_path / "junk").write_text("not a graph")
    with pytest.raises(KANFileError, match="junk"):
        KANGraph.load(tmp_path / "junk")
    with pytest.raises(KANFileError, match="no such graph file"):
        KANGraph.load(tmp_path / "missing")
    flat = KAN([1, 1])
    flat.save(tmp_path / "flat.kan")
    with pytest.raises(KANFileError, match="not a kandisco graph file"):
        KANGraph.load(tmp_path / "flat.kan")
