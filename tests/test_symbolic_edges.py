"""Symbolic edges inside a KAN: suggest, fix, auto-fix, train, formula, save/load with the library."""

import math

import numpy as np
import pytest
import sympy
import torch

from kandisco.kan import EDGE_SPLINE, EDGE_SYMBOLIC, KAN, KANFileError
from kandisco.symbolic import default_library
from kandisco.kan.formula import network_formula
from kandisco.symbolic.formula import to_callable


def _uniform(n, d, low, high, seed):
    g = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(n, d, generator=g, dtype=torch.float64)


def test_auto_symbolic_finds_each_edge_function_and_formula_matches_the_model():
    X = _uniform(1000, 2, -2, 2, 0)
    y = 1.5 * torch.sin(2 * X[:, :1] + 0.5) + 0.7 * X[:, 1:] ** 2
    model = KAN([2, 1], grid=10, seed=0)
    model.fit(X, y, steps=30, verbose=False)
    top = model.suggest_symbolic(0, 0, 0, topk=3)
    assert top[0].name in ("sin", "cos") and top[0].r2 > 0.9999
    fixed = model.auto_symbolic()
    names = {(f.i, f.j): f.fit.name for f in fixed}
    assert names[(0, 0)] in ("sin", "cos") and names[(1, 0)] == "x^2"
    assert bool((model.layers[0].state == EDGE_SYMBOLIC).all())
    model.fit(X, y, steps=20, update_grid=False, verbose=False)  # retrain the affine parameters
    u, v = sympy.symbols("u v", real=True)
    expr = network_formula(model, [u, v])[0]
    pred = to_callable(expr, [u, v])(X.numpy())
    np.testing.assert_allclose(pred, model(X).detach().numpy()[:, 0], rtol=1e-9, atol=1e-9)
    assert float(((model(X) - y) ** 2).mean().detach()) < 1e-8


def test_fix_with_given_parameters_and_unfix_restores_the_spline():
    X = _uniform(200, 2, -1, 1, 0)
    model = KAN([2, 3, 1], seed=0)
    model.initialize_grids(X)
    before = model(X).detach()
    model.fix_symbolic(0, 1, 2, "exp", fit_params=False, params=(2.0, 0.0, 3.0, 1.0))
    edge = model.activations(X).edges[0][:, 2, 1]
    torch.testing.assert_close(edge, 3 * torch.exp(2 * X[:, 1]) + 1)
    model.unfix_symbolic(0, 1, 2)
    assert int(model.layers[0].state[2, 1]) == EDGE_SPLINE
    torch.testing.assert_close(model(X).detach(), before)
    with pytest.raises(ValueError, match="not symbolic"):
        model.unfix_symbolic(0, 1, 2)
    with pytest.raises(IndexError, match="layer 0 has 2 inputs"):
        model.fix_symbolic(0, 5, 0, "sin", fit_params=False)
    with pytest.raises(KeyError, match="sinh"):
        model.fix_symbolic(0, 0, 0, "sinh", fit_params=False)


def test_custom_function_registers_fits_trains_and_survives_save_load(tmp_path):
    lib = default_library()
    lib.register("J0", torch.special.bessel_j0, lambda x: sympy.besselj(0, x), complexity=3)
    X = _uniform(600, 1, 0, 8, 0)
    y = 2.0 * torch.special.bessel_j0(1.3 * X) - 0.5
    model = KAN([1, 1], grid=10, seed=0)
    model.fit(X, y, steps=20, verbose=False)
    fit = model.fix_symbolic(0, 0, 0, "J0", library=lib)
    assert fit.r2 > 0.999
    model.fit(X, y, steps=20, update_grid=False, verbose=False)
    a, b, c, d = model.layers[0].sym_params[0, 0].tolist()
    scale, bias = float(model.node_scale[0][0].detach()), float(model.node_bias[0][0].detach())
    # (c, d) and the node's affine are degenerate together: check the effective constants
    assert (abs(a), b, scale * c, scale * d + bias) == pytest.approx((1.3, 0.0, 2.0, -0.5), abs=1e-4)
    path = model.save(tmp_path / "j0.kan")
    with pytest.raises(KANFileError, match="J0"):
        KAN.load(path)
    loaded = KAN.load(path, library=lib)
    assert torch.equal(loaded(X), model(X))
    x = sympy.Symbol("x")
    assert network_formula(loaded, [x])[0].has(sympy.besselj)


@pytest.mark.parametrize("name,low,high", [("1/x", -1, 1), ("log", -1, 1), ("sqrt", -1, 1), ("tan", -3, 3), ("arctanh", -2, 2), ("1/x^2", -1, 1), ("arcsin", -2, 2)])
def test_singular_functions_never_produce_nan_in_training(name, low, high):
    X = torch.linspace(low, high, 401, dtype=torch.float64)[:, None]  # crosses the pole / leaves the domain
    y = torch.sin(X)
    model = KAN([1, 1], seed=0)
    model.fix_symbolic(0, 0, 0, name, fit_params=False)
    for opt in ("Adam", "LBFGS"):
        hist = model.fit(X, y, opt=opt, steps=15, update_grid=False, verbose=False)
        assert all(math.isfinite(v) for v in hist.train_loss)
        assert bool(torch.isfinite(model(X)).all())
        assert all(bool(torch.isfinite(p).all()) for p in model.parameters())
        assert all(bool(torch.isfinite(p.grad).all()) for p in model.parameters() if p.grad is not None)


def test_auto_symbolic_agrees_with_suggest_and_leaves_pruned_edges_alone():
    X = _uniform(800, 3, -1, 1, 0)
    y = torch.exp(X[:, :1]) + torch.tanh(2 * X[:, 1:2])  # x2 unused
    model = KAN([3, 1], grid=8, seed=0)
    model.fit(X, y, steps=20, lamb=1e-3, verbose=False)
    model.prune(X, edge_threshold=0.05)
    assert int(model.layers[0].state[0, 2]) == 2  # the unused input's edge is pruned
    expected = {i: model.suggest_symbolic(0, i, 0, X)[0].name for i in (0, 1)}
    fixed = model.auto_symbolic(X)
    assert {f.i: f.fit.name for f in fixed} == expected == {0: "exp", 1: "tanh"}
    assert int(model.layers[0].state[0, 2]) == 2
    assert model.auto_symbolic(X) == []  # nothing left to fix
