"""LawModel: a flat KAN and a compiled KAN graph offer the same forward, formulas, input scores and persistence."""

import numpy as np
import pytest
import sympy
import torch

from kandisco.kan import KAN, GraphModule, KANFileError, KANGraph, LawModel, load_model


def _data(n=300, seed=0):
    """x, y in [0.5, 2], z irrelevant; target x * exp(y / 2)."""
    rng = np.random.default_rng(seed)
    X = torch.tensor(rng.uniform(0.5, 2.0, size=(n, 3)))
    y = (X[:, 0] * torch.exp(0.5 * X[:, 1]))[:, None]
    return X, y


def _graph(seed=0) -> GraphModule:
    """f(x, y, z) = (gx(x) * gy(y)) + gz(z): two input modules multiplied, one more added."""
    g = KANGraph()
    for name in ("x", "y", "z"):
        g.add_input(name)
    g.add_module("gx", KAN([1, 1], seed=seed))
    g.add_module("gy", KAN([1, 1], seed=seed + 1))
    g.add_module("gz", KAN([1, 1], seed=seed + 2))
    g.add_mult("times")
    g.add_sum("plus")
    g.add_output("f")
    g.connect("x", "gx")
    g.connect("y", "gy")
    g.connect("z", "gz")
    g.connect("gx", "times")
    g.connect("gy", "times")
    g.connect("times", "plus")
    g.connect("gz", "plus")
    g.connect("plus", "f")
    return g.compile()


@pytest.fixture(scope="module")
def trained(one_torch_thread):
    """A KAN and a graph fitted to the same data, every edge then made symbolic."""
    X, y = _data()
    kan = KAN([3, 2, 1], seed=0)
    kan.fit(X, y, steps=30, verbose=False)
    graph = _graph()
    graph.fit(X, y, steps=30, verbose=False)
    return X, y, kan, graph


def test_both_kinds_are_law_models():
    kan, graph = KAN([3, 1]), _graph()
    for model in (kan, graph):
        assert isinstance(model, LawModel)
        assert (model.n_inputs, model.n_outputs, model.dtype) == (3, 1, torch.float64)
        assert model(torch.zeros(4, 3, dtype=torch.float64)).shape == (4, 1)
    assert not isinstance(object(), LawModel)


def test_input_scores_sum_to_one_and_name_the_unused_input(trained):
    X, y, kan, graph = trained
    for model in (kan, graph):
        scores = model.input_scores(X)
        assert scores.shape == (3,)
        assert float(scores.sum()) == pytest.approx(1.0, abs=1e-12)
        assert float(scores[2]) < 0.03, (type(model).__name__, scores)  # z does not enter the target
        assert float(scores[0]) > 0.2 and float(scores[1]) > 0.2
    with pytest.raises(ValueError, match="output 1"):
        kan.input_scores(X, output=1)


def test_save_and_load_model_round_trip_after_training_and_auto_symbolic(tmp_path, trained):
    X, _, kan, graph = trained
    for model, name in ((kan, "law.kan"), (graph, "law.kgraph")):
        path = model.save(tmp_path / name)
        again = load_model(path)
        assert type(again) is type(model)
        torch.testing.assert_close(again(X), model(X), rtol=0, atol=1e-12)

    # symbolic edges survive too, and both kinds then read the same way
    kan.auto_symbolic(X)
    reach = graph.module_inputs(X)  # every module is fed by the inputs directly: fixing one changes no other's
    for name, module in graph.kans.items():
        module.auto_symbolic(reach[name])
    symbols = sympy.symbols("x y z", real=True)
    for model, name in ((kan, "sym.kan"), (graph, "sym.kgraph")):
        formulas = model.output_formulas(symbols)
        assert len(formulas) == 1 and formulas[0].free_symbols <= set(symbols)
        again = load_model(model.save(tmp_path / name))
        assert again.output_formulas(symbols) == formulas
        torch.testing.assert_close(again(X), model(X), rtol=0, atol=1e-12)
        f = sympy.lambdify(symbols, formulas[0], "numpy")
        np.testing.assert_allclose(f(*X.numpy().T), model(X).detach().numpy()[:, 0], rtol=1e-8, atol=1e-10)


def test_graph_module_saves_its_trained_modules_not_the_initial_ones(tmp_path, one_torch_thread):
    X, y = _data(100)
    graph = _graph(seed=4)
    before = graph(X).detach().clone()
    graph.fit(X, y, steps=3, verbose=False)
    graph.kans["gz"].fix_symbolic(0, 0, 0, "x", X=X[:, 2:])
    again = load_model(graph.save(tmp_path / "g.kgraph"))
    assert isinstance(again, GraphModule)
    assert not torch.allclose(again(X), before)
    torch.testing.assert_close(again(X), graph(X), rtol=0, atol=1e-12)
    assert again.kans["gz"].layers[0].sym_names == ["x"]
    # the graph's own file format, written by KANGraph.save, reads the same way
    again = load_model(graph.spec.save(tmp_path / "spec.kgraph"))
    torch.testing.assert_close(again(X), graph(X), rtol=0, atol=1e-12)


def test_load_model_refuses_other_files_naming_them(tmp_path):
    (tmp_path / "junk.bin").write_bytes(b"not a model")
    with pytest.raises(KANFileError, match="junk.bin"):
        load_model(tmp_path / "junk.bin")
    torch.save({"format": "someone-else", "version": 1}, tmp_path / "other.pt")
    with pytest.raises(KANFileError, match=r"other\.pt: not a kandisco model file"):
        load_model(tmp_path / "other.pt")
    with pytest.raises(KANFileError, match="no such model file"):
        load_model(tmp_path / "missing.kan")
    torch.save({"format": "kandisco-graph", "version": 99}, tmp_path / "future.kgraph")
    with pytest.raises(KANFileError, match="future.kgraph: graph format version 99"):
        load_model(tmp_path / "future.kgraph")
