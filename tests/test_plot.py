"""Figures as objects: one panel per active edge of a KAN, one node per graph node, PNGs written."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch

from graphs import product_graph

from kandisco import plot
from kandisco.kan import KAN, KANGraph

PNG = b"\x89PNG\r\n\x1a\n"


def _graph() -> KANGraph:
    return product_graph(seed=0, hidden=2)


def _node_patches(fig: Figure) -> dict[str, object]:
    return {p.get_gid()[5:]: p for p in fig.axes[0].patches if (p.get_gid() or "").startswith("node:")}


def test_kan_figure_has_one_panel_per_active_edge_and_saves_a_png(tmp_path):
    model = KAN([2, [1, 1], 1], seed=0)
    X = torch.rand(50, 2, dtype=torch.float64) + 0.5
    model.layers[0].prune_edge(0, 1)
    model.fix_symbolic(1, 0, 0, "x", X=X)
    fig = plot.plot_model(model, X, ["a", "b"], "y")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    active = sum(int((layer.state != 2).sum()) for layer in model.layers)  # 2*3 + 2*1 edges, one pruned
    assert active == 7
    panels = fig.axes[0].child_axes
    assert len(panels) == active
    assert sorted(p.get_title() for p in panels).count("x") == 1  # the symbolic edge is titled
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"a", "b", "y"} <= texts
    path = plot.save_figure(fig, tmp_path / "sub" / "kan.png")
    assert path == tmp_path / "sub" / "kan.png" and path.read_bytes()[:8] == PNG


def test_kan_figure_without_data_sweeps_the_grid():
    fig = plot.plot_model(KAN([3, 2, 1], seed=0))
    assert len(fig.axes[0].child_axes) == 3 * 2 + 2 * 1


def test_graph_module_figure_draws_every_node_and_module_panels(tmp_path):
    module = _graph().compile()
    X = torch.rand(40, 3, dtype=torch.float64) + 0.5
    module.kans["h"].fix_symbolic(0, 0, 0, "exp", X=X[:, 2:])
    fig = plot.plot_model(module, X, ["x", "y", "z"], "F")
    nodes = _node_patches(fig)
    assert sorted(nodes) == sorted(module.spec.node_names)  # one drawn node per graph node
    assert all(isinstance(nodes[n], FancyBboxPatch) for n in ("g", "h"))
    assert all(isinstance(nodes[n], Circle) for n in ("x", "y", "z", "times", "f"))
    # g has 2*2 + 2*1 = 6 edges (all drawn: the cap is 6), h one
    assert plot.MAX_MODULE_PANELS == 6
    assert len(fig.axes[0].child_axes) == 6 + 1
    texts = " | ".join(t.get_text() for t in fig.axes[0].texts)
    assert "h: " in texts and "exp" in texts  # the symbolic module shows its formula
    assert "g: KAN [2, 2, 1]" in texts and "F" in texts and "×" in texts
    assert plot.save_figure(fig, tmp_path / "graph.png").read_bytes()[:8] == PNG


def test_uncompiled_graph_and_module_cap():
    g = KANGraph()
    g.add_input("x")
    g.add_input("y")
    g.add_module("big", KAN([2, 4, 1], seed=0))
    g.add_output("out")
    g.connect("x", "big.in0")
    g.connect("y", "big.in1")
    g.connect("big", "out")
    fig = plot.plot_model(g)  # no data: each input swept over the grid of the module it feeds
    assert len(_node_patches(fig)) == 4
    assert len(fig.axes[0].child_axes) == plot.MAX_MODULE_PANELS
    assert any("(+6 edges)" in t.get_text() for t in fig.axes[0].texts)


def test_plot_model_refuses_other_objects():
    with pytest.raises(TypeError, match="cannot draw a str"):
        plot.plot_model("not a model")


def _result():
    point = lambda c, loss: SimpleNamespace(complexity=c, loss=loss)
    front = [point(3, 1.0), point(7, 1e-3), point(12, 1e-9)]
    return SimpleNamespace(candidates=front + [point(9, 0.5), point(4, float("nan"))], pareto=front, chosen=1,
                           config={"loss": "RMSE"})


def test_pareto_and_predictions_return_figures_and_the_path_forms_still_write(tmp_path):
    fig = plot.plot_pareto(_result())
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and len(ax.collections) == 2 and len(ax.lines) == 1  # candidates, chosen; front
    assert plot.plot_pareto(_result(), tmp_path / "pareto.png").read_bytes()[:8] == PNG

    y = np.linspace(0, 1, 30)
    fig = plot.plot_predictions(y, y + 0.01, "y = x")
    assert isinstance(fig, Figure) and fig.axes[0].get_title() == "y = x"
    assert len(fig.axes[0].collections) == 1 and len(fig.axes[0].lines) == 1
    written = plot.plot_predictions(y[:, None], y, tmp_path / "p.png", "old order")  # (y, yhat, path, title)
    assert written == tmp_path / "p.png" and written.read_bytes()[:8] == PNG
    assert plot.plot_predictions(y, y, "t", tmp_path / "q.png").read_bytes()[:8] == PNG

    model = KAN([2, 1], seed=0)
    out = plot.plot_network(model, torch.rand(10, 2, dtype=torch.float64), tmp_path / "net.png", ["u", "v"])
    assert isinstance(out, Path) and out.read_bytes()[:8] == PNG


def test_plotting_leaves_pyplot_alone(run_snippet):
    code = (
        "import sys, torch; from kandisco import plot; from kandisco.kan import KAN\n"
        "import kandisco.kan.network\n"
        "fig = plot.plot_model(KAN([2, 1]))\n"
        "print('matplotlib.pyplot' in sys.modules)\n"
    )
    assert run_snippet(code) == "False"


def test_the_engine_does_not_import_matplotlib(run_snippet):
    code = "import sys, kandisco.kan, kandisco.symbolic\nprint(any(m.startswith('matplotlib') for m in sys.modules))"
    assert run_snippet(code) == "False"


# --------------------------------------------------------------------------- model.plot()
def test_kan_plot_method_is_plot_model_one_panel_per_active_edge():
    model = KAN([2, 3, 1], seed=0)
    X = torch.rand(40, 2, dtype=torch.float64) + 0.5
    model.fit(X, X[:, :1] * X[:, 1:], steps=2, verbose=False)  # no X given: drawn on the training inputs
    model.layers[1].prune_edge(0, 2)
    fig = model.plot(input_names=["a", "b"], output_name="F")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    panels = fig.axes[0].child_axes
    assert len(panels) == 2 * 3 + 3 * 1 - 1  # one axes per edge function, the pruned one left out
    assert {"a", "b", "F"} <= {t.get_text() for t in fig.axes[0].texts}
    drawn = [p.lines[0].get_xdata() for p in panels]
    same = [p.lines[0].get_xdata() for p in plot.plot_model(model, model.train_inputs, ["a", "b"], "F").axes[0].child_axes]
    assert all(np.array_equal(u, v) for u, v in zip(drawn, same))


def test_graph_and_graph_module_plot_methods_draw_every_node():
    graph = _graph()
    X = torch.rand(30, 3, dtype=torch.float64) + 0.5
    for model in (graph, graph.compile()):
        fig = model.plot(X, ["x", "y", "z"], "F")
        assert isinstance(fig, Figure)
        assert sorted(_node_patches(fig)) == sorted(graph.node_names)  # one drawn node per graph node
        assert len(fig.axes[0].child_axes) == 2 * 2 + 2 * 1 + 1  # module g's six edge functions, h's one


def test_plot_method_loads_the_plot_layer_only_when_called(run_snippet):
    code = (
        "import sys\n"
        "from kandisco.kan import KAN\n"
        "model = KAN([2, 1])\n"
        "print('kandisco.plot' in sys.modules, any(m.startswith('matplotlib') for m in sys.modules))\n"
        "fig = model.plot()\n"
        "print(type(fig).__module__, len(fig.axes[0].child_axes), 'matplotlib.pyplot' in sys.modules)\n"
    )
    assert run_snippet(code).splitlines() == ["False False", "matplotlib.figure 2 False"]
