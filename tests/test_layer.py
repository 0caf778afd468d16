"""KAN layer: the fast forward equals the explicit edge sum, states, masks, purity."""

import pytest
import torch

from kandisco.kan import EDGE_PRUNED, EDGE_SYMBOLIC, KANLayer, spline
from kandisco.kan import layer as layer_module


class _Sin:
    """Minimal stand-in for a library entry (the layer only needs a name and a safe function)."""

    name = "sin"
    safe_torch_fn = staticmethod(torch.sin)


def _layer(**kw) -> KANLayer:
    return KANLayer(3, 4, grid=6, k=3, generator=torch.Generator().manual_seed(0), **kw)


def _x(n=64):
    return torch.rand(n, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2 - 1


@pytest.mark.parametrize("base_fun", ["silu", "identity", "zero"])
def test_forward_equals_sum_of_explicit_edge_functions(base_fun):
    layer = _layer(base_fun=base_fun)
    with torch.no_grad():
        layer.coef.normal_()
        layer.scale_sp.uniform_(0.5, 1.5)
    x = _x()
    # independent evaluation: w_b * b(x) + w_s * sum_i c_i B_i(x), per edge
    b = {"silu": torch.nn.functional.silu, "identity": lambda t: t, "zero": torch.zeros_like}[base_fun]
    basis = spline.bspline_basis(x, layer.grid, 3)  # (batch, in, G+k)
    expected = torch.zeros(64, 4, dtype=torch.float64)
    for j in range(4):
        for i in range(3):
            expected[:, j] += layer.scale_base[j, i] * b(x[:, i]) + layer.scale_sp[j, i] * basis[:, i] @ layer.coef[j, i]
    torch.testing.assert_close(layer(x), expected)
    torch.testing.assert_close(layer.edge_values(x).sum(-1), expected)


def test_initialisation_follows_the_paper():
    layer = KANLayer(16, 8, grid=5, generator=torch.Generator().manual_seed(0))
    assert layer.scale_base.abs().max() <= 1 / 16**0.5  # w_b ~ U(-1, 1) / sqrt(fan_in)
    torch.testing.assert_close(layer.scale_sp, torch.ones(8, 16, dtype=torch.float64))
    x = torch.linspace(-1, 1, 101, dtype=torch.float64)[:, None].repeat(1, 16)
    assert layer.spline_values(x).abs().max() < 0.3  # spline starts near zero (small noise)
    assert layer.spline_values(x).abs().max() > 0


def test_forward_has_no_side_effects():
    layer = _layer()
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    attrs = set(layer.__dict__)
    layer(_x())
    layer.edge_values(_x())
    after = layer.state_dict()
    assert attrs == set(layer.__dict__)
    for k, v in before.items():
        assert torch.equal(v, after[k])


def test_pruned_and_symbolic_edges():
    layer = _layer()
    x = _x()
    full = layer.edge_values(x).detach()
    layer.prune_edge(1, 2)
    layer.set_symbolic(0, 1, _Sin(), (2.0, 0.5, 3.0, -1.0))
    assert layer.state[1, 2] == EDGE_PRUNED and layer.state[0, 1] == EDGE_SYMBOLIC
    vals = layer.edge_values(x).detach()
    assert vals[:, 1, 2].abs().max() == 0
    torch.testing.assert_close(vals[:, 0, 1], 3.0 * torch.sin(2.0 * x[:, 1] + 0.5) - 1.0)
    untouched = torch.ones(4, 3, dtype=torch.bool)
    untouched[1, 2] = untouched[0, 1] = False
    torch.testing.assert_close(vals[:, untouched], full[:, untouched])
    torch.testing.assert_close(layer(x), vals.sum(-1))
    layer.set_spline(0, 1)  # the spline comes back unchanged
    torch.testing.assert_close(layer.edge_values(x)[:, 0, 1], full[:, 0, 1])


def test_all_symbolic_layer_skips_the_spline_path(monkeypatch):
    layer = _layer()
    for j in range(4):
        for i in range(3):
            layer.set_symbolic(j, i, _Sin(), (1.0, 0.0, 1.0, 0.0))

    def boom(*a, **k):
        raise AssertionError("spline bases evaluated for a layer without spline edges")

    monkeypatch.setattr(layer_module.spline, "bspline_basis", boom)
    x = _x()
    torch.testing.assert_close(layer(x), 4 * 0 + torch.sin(x).sum(-1, keepdim=True).repeat(1, 4))


def test_symbolic_parameters_train():
    layer = _layer()
    layer.set_symbolic(0, 0, _Sin(), (1.0, 0.0, 1.0, 0.0))
    out = layer(_x())[:, 0].sum()
    out.backward()
    assert layer.sym_params.grad[0, 0].abs().sum() > 0
    assert layer.sym_params.grad[1:, :].abs().sum() == 0  # only symbolic edges use these


def test_unknown_base_function_is_a_clear_error():
    with pytest.raises(ValueError, match="base_fun"):
        KANLayer(2, 2, base_fun="relu6")


def test_knot_memo_follows_in_place_loads_and_grid_updates():
    a, b = _layer(), _layer()
    x = _x()
    b.update_grid(x * 0.5)  # b now has different knots and coefficients
    a(x)  # memoise a's knots
    a.load_state_dict(b.state_dict())  # copies in place: same tensor, new version
    torch.testing.assert_close(a(x), b(x))
    a.update_grid(x)  # replaces the grid tensor
    b.update_grid(x)
    torch.testing.assert_close(a(x), b(x))
