"""Views: each transform and its undo agree with the closed form, and registry lookups round-trip."""

import numpy as np
import pytest
import sympy
import torch

from kandisco.discovery.stages import extract_formula
from kandisco.discovery.views import LogLogView, LogYView, PowerYView, RawView, get_view, register_view
from kandisco.kan import KAN
from kandisco.kan.formula import network_formula


@pytest.mark.parametrize("view", [RawView(), LogLogView(), LogYView(), PowerYView(-2.0), PowerYView(0.5)])
def test_undo_inverts_transform(view):
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, size=(50, 2))
    y = X[:, 0] ** 1.5 * X[:, 1]
    Xv, yv = view.transform(X, y)
    symbols = sympy.symbols("x0 x1", positive=True)
    g = sympy.Symbol("g")
    # the network's output g as a function of its inputs: take g equal to the transformed target exactly
    inputs = view.inputs(symbols)
    back = sympy.lambdify([g], view.undo(g))(yv)
    np.testing.assert_allclose(back, y, rtol=1e-12)
    np.testing.assert_allclose(sympy.lambdify(symbols, inputs)(*X.T), Xv.T, rtol=1e-12)
    assert get_view(view.params()) == view


def test_views_apply_only_where_their_logs_are_defined():
    X, y = np.array([[1.0], [-2.0]]), np.array([1.0, 2.0])
    assert not LogLogView().applies(X, y) and LogYView().applies(X, y) and not LogYView().applies(X, -y)


def test_a_log_space_formula_carries_no_scaling_constants():
    """A power law read from log-log space is exp(sum p_i log x_i + c): no 1.0*g + 0.0 left over."""
    model = KAN([2, 1], grid=3, base_fun="identity", seed=0)
    X = torch.rand(64, 2, dtype=torch.float64) + 0.5
    model.auto_symbolic(X, library=["x"])
    x0, x1 = sympy.symbols("x0 x1", positive=True)
    g = network_formula(model, [sympy.log(x0), sympy.log(x1)])[0]
    assert extract_formula(model, [x0, x1], LogLogView()) == sympy.exp(g)
    assert extract_formula(model, [x0, x1], LogYView()) == sympy.exp(network_formula(model, [x0, x1])[0])
    raw = extract_formula(model, [x0, x1], RawView(), y_mean=2.0, y_std=3.0)
    assert raw == 3.0 * network_formula(model, [x0, x1])[0] + 2.0


def test_unknown_and_duplicate_views_are_errors():
    with pytest.raises(ValueError, match="unknown view 'cubic'"):
        get_view("cubic")
    with pytest.raises(ValueError, match="already registered"):
        register_view("raw", RawView)
