"""KAN network: widths, multiplication nodes, learning known laws, raw inputs, attribution, pruning."""

import math

import pytest
import torch

from kandisco.kan import EDGE_PRUNED, KAN
from kandisco.kan.network import parse_width


def _uniform(n, d, low, high, seed):
    g = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(n, d, generator=g, dtype=torch.float64)


def _r2(pred, y):
    return float(1 - ((pred - y) ** 2).mean() / y.var())


def test_parse_width_and_errors():
    assert parse_width([2, [3, 2], 1]) == ([2, 3, 1], [[], [2, 2], []])
    assert parse_width([2, [0, 2], 1], [[], [2, 3], []]) == ([2, 0, 1], [[], [2, 3], []])
    with pytest.raises(ValueError, match="inputs"):
        parse_width([[1, 1], 1])
    with pytest.raises(ValueError, match="arity"):
        parse_width([2, [0, 1], 1], 1)
    with pytest.raises(ValueError, match="at least one node"):
        parse_width([2, 0, 1])
    with pytest.raises(ValueError, match="mult_arity\\[1\\]"):
        parse_width([2, [0, 2], 1], [[], [2], []])


def test_multiplication_nodes_multiply_their_subnodes():
    model = KAN([3, [1, 2], 2], mult_arity=[[], [2, 3], []], seed=1)
    assert [layer.n_out for layer in model.layers] == [1 + 2 + 3, 2]
    x = _uniform(20, 3, -1, 1, 0)
    acts = model.activations(x)
    sub = acts.subnodes[0]
    nodes = torch.stack([sub[:, 0], sub[:, 1] * sub[:, 2], sub[:, 3] * sub[:, 4] * sub[:, 5]], 1)
    torch.testing.assert_close(acts.inputs[1], nodes)
    torch.testing.assert_close(model(x), acts.output)
    out, acts2 = model(x, return_activations=True)
    torch.testing.assert_close(out, acts.output)


def test_bad_input_shape_names_the_expected_shape():
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        KAN([2, 1])(torch.zeros(5, 3))


def test_product_node_learns_xy():
    X = _uniform(1500, 2, -1, 1, 0)
    y = (X[:, 0] * X[:, 1])[:, None]
    model = KAN([2, [0, 1], 1], seed=0)
    model.fit(X[:1000], y[:1000], steps=60, verbose=False)
    assert _r2(model(X[1000:]).detach(), y[1000:]) > 0.9999


def test_paper_toy_example_with_grid_refinement():
    """exp(sin(pi x) + y^2) with [2,5,1] and grids 5 -> 10 -> 20 reaches test RMSE < 1e-3."""
    X = _uniform(5000, 2, -1, 1, 0)
    y = torch.exp(torch.sin(math.pi * X[:, :1]) + X[:, 1:] ** 2)
    Xtr, ytr, Xte, yte = X[:3000], y[:3000], X[3000:], y[3000:]
    model = KAN([2, 5, 1], grid=5, seed=0)
    for g in (5, 10, 20):
        if g > 5:
            model.refine(g, Xtr)
        model.fit(Xtr, ytr, steps=50, verbose=False)
    rmse = float(((model(Xte).detach() - yte) ** 2).mean().sqrt())
    assert model.grid_size == 20 and all(layer.grid_size == 20 for layer in model.layers)
    assert rmse < 1e-3


def test_raw_physical_inputs_train_without_normalisation():
    X = _uniform(1500, 2, 100, 1000, 0)
    y = (torch.sqrt(X[:, 0]) * torch.log(X[:, 1]))[:, None]
    model = KAN([2, 3, 1], seed=0)
    hist = model.fit(X[:1000], y[:1000], steps=100, verbose=False)
    assert hist.nan_recoveries == 0
    lo, hi = model.layers[0].grid[:, 3], model.layers[0].grid[:, -4]  # grids moved onto the data
    assert bool((lo >= 100).all() and (lo < 110).all() and (hi > 990).all() and (hi <= 1000).all())
    assert _r2(model(X[1000:]).detach(), y[1000:]) > 0.999


def test_attribution_and_pruning_find_the_unused_input():
    X = _uniform(1200, 3, -1, 1, 0)
    y = (torch.sin(2 * X[:, 0]) + X[:, 1] ** 2)[:, None]  # x2 is noise
    model = KAN([3, 4, 1], seed=0)
    model.fit(X, y, steps=40, lamb=1e-3, verbose=False)
    att = model.attribute(X)
    assert att.input_scores.shape == (3,)
    assert att.input_scores[2] < 0.1 * min(att.input_scores[0], att.input_scores[1])
    # output scores are 1 and a node's score is the sum of its outgoing edges' scores
    torch.testing.assert_close(att.node_scores[-1], torch.ones(1, dtype=torch.float64))
    torch.testing.assert_close(att.node_scores[1], att.edge_scores[1].sum(0))
    before = model(X).detach()
    model.prune(X, edge_threshold=0.03)
    assert bool((model.layers[0].state[:, 2] == EDGE_PRUNED).all())
    after = model(X).detach()
    assert _r2(after, before) > 0.99  # pruning weak edges barely changes the function


def test_same_seed_same_parameters_after_fit():
    X = _uniform(300, 2, -1, 1, 0)
    y = (X[:, :1] ** 2 - X[:, 1:])
    states = []
    for _ in range(2):
        m = KAN([2, 3, 1], seed=5)
        m.fit(X, y, steps=5, lamb=1e-3, batch=100, verbose=False)
        states.append(m.state_dict())
    for k in states[0]:
        assert torch.equal(states[0][k], states[1][k]), k
    other = KAN([2, 3, 1], seed=6)
    assert not torch.equal(other.layers[0].coef, KAN([2, 3, 1], seed=5).layers[0].coef)


def test_float32_models_stay_float32():
    m = KAN([2, [1, 1], 1], dtype=torch.float32)
    X = _uniform(200, 2, -1, 1, 0).float()
    m.fit(X, X[:, :1] * X[:, 1:], steps=3, verbose=False)
    assert m(X).dtype == torch.float32
    assert all(p.dtype == torch.float32 for p in m.parameters())
