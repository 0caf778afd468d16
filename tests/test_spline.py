"""B-spline bases against scipy's BSpline, and grid moves that must keep edge functions."""

import numpy as np
import pytest
import torch
from scipy.interpolate import BSpline

from kandisco.kan import native, spline


def _scipy_bases(x: np.ndarray, t: np.ndarray, k: int) -> np.ndarray:
    """Each basis from its own local knots (zero outside its support), via scipy."""
    n = len(t) - k - 1
    out = np.zeros((len(x), n))
    for i in range(n):
        out[:, i] = np.nan_to_num(BSpline.basis_element(t[i : i + k + 2], extrapolate=False)(x))
    return out


@pytest.fixture(params=["fused", "dense", "local"])
def basis_path(request, monkeypatch):
    """Run a test with the compiled kernel, whole-tensor Cox-de Boor and local de Boor evaluation."""
    if request.param == "fused" and native.kernel() is None:
        pytest.skip(f"the compiled B-spline kernel is unavailable: {native.unavailable_reason()}")
    monkeypatch.setattr(spline, "USE_FUSED", request.param == "fused")
    monkeypatch.setattr(spline, "DENSE_MAX_KNOTS", 10**6 if request.param == "dense" else 0)
    monkeypatch.setattr(spline, "DENSE_MAX_BYTES", 10**12 if request.param == "dense" else 0)
    return request.param


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_bases_match_scipy_on_random_nonuniform_knots(k, basis_path):
    rng = np.random.default_rng(k)
    G, n_in = 9, 3
    knots = np.sort(rng.uniform(-3, 4, size=(n_in, G + 2 * k + 1)), axis=1)
    xs = []
    for i in range(n_in):  # random points, every knot, and the two ends of the support
        xs.append(np.concatenate([rng.uniform(knots[i, 0], knots[i, -1], 300), knots[i]]))
    x = np.stack(xs, axis=1)  # (batch, n_in)
    got = spline.bspline_basis(torch.tensor(x), torch.tensor(knots), k).numpy()
    for i in range(n_in):
        ref = _scipy_bases(x[:, i], knots[i], k)
        np.testing.assert_allclose(got[:, i, :], ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_derivatives_match_scipy(k, basis_path):
    """d/dx and d2/dx2 of a spline through autograd (the PDE-loss path) equal scipy's derivatives."""
    rng = np.random.default_rng(10 + k)
    G = 12
    t = np.sort(rng.uniform(-2, 3, G + 2 * k + 1))
    c = rng.normal(size=G + k)
    x = rng.uniform(t[k], t[G + k], 400)  # scipy's base interval (the data range)
    x = x[np.min(np.abs(x[:, None] - t[None, :]), axis=1) > 1e-6]  # derivatives jump at knots for small k
    xt = torch.tensor(x)[:, None].requires_grad_(True)
    y = spline.bspline_basis(xt, torch.tensor(t)[None], k)[:, 0, :] @ torch.tensor(c)  # (batch,)
    d1 = torch.autograd.grad(y.sum(), xt, create_graph=True)[0]
    d2 = torch.autograd.grad(d1.sum(), xt)[0]
    ref = BSpline(t, c, k, extrapolate=False)
    np.testing.assert_allclose(y.detach().numpy(), ref(x), atol=1e-11)
    np.testing.assert_allclose(d1[:, 0].detach().numpy(), ref.derivative(1)(x), atol=1e-9)
    np.testing.assert_allclose(d2[:, 0].numpy(), ref.derivative(2)(x), atol=1e-7)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_all_basis_paths_give_the_same_gradients(monkeypatch, dtype):
    """Every evaluation path agrees on values and first-order gradients (the training path),
    including points outside the knots and on them."""
    g = torch.Generator().manual_seed(5)
    grid = spline.grid_from_samples(torch.randn(300, 3, generator=g, dtype=dtype), 20, 3)
    x = torch.randn(500, 3, generator=g, dtype=dtype) * 1.5
    x[:23, 0] = grid[0, :23]  # on every knot of input 0
    x = x.requires_grad_(True)
    w = torch.randn(500, 3, 23, generator=g, dtype=dtype)
    paths = [(False, 10**6, 10**12), (False, 0, 0)] + ([(True, 0, 0)] if native.kernel() is not None else [])
    results = []
    for fused, knots, size in paths:
        monkeypatch.setattr(spline, "USE_FUSED", fused)
        monkeypatch.setattr(spline, "DENSE_MAX_KNOTS", knots)
        monkeypatch.setattr(spline, "DENSE_MAX_BYTES", size)
        basis = spline.bspline_basis(x, grid, 3)
        results.append((basis.detach(), torch.autograd.grad((basis * w).sum(), x)[0]))
    tol = 1e-12 if dtype == torch.float64 else 2e-5
    for basis, grad in results[1:]:
        torch.testing.assert_close(basis, results[0][0], atol=tol, rtol=0)
        torch.testing.assert_close(grad, results[0][1], atol=tol * 100, rtol=tol * 100)


def test_bases_match_scipy_design_matrix_float32():
    rng = np.random.default_rng(7)
    k, G = 3, 6
    t = np.sort(rng.uniform(0, 1, G + 2 * k + 1))
    x = rng.uniform(t[k], t[G + k], 500)
    ref = BSpline.design_matrix(x, t, k).toarray()
    got = spline.bspline_basis(torch.tensor(x, dtype=torch.float32)[:, None], torch.tensor(t, dtype=torch.float32)[None], k)
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got[:, 0].numpy(), ref, atol=2e-5)


def test_partition_of_unity_inside_and_zero_outside(basis_path):
    low, high = torch.tensor([-2.0, 100.0], dtype=torch.float64), torch.tensor([5.0, 1000.0], dtype=torch.float64)
    grid = spline.uniform_grid(low, high, 7, 3)
    x = low + (high - low) * torch.rand(1000, 2, dtype=torch.float64)
    x[0], x[1] = low, high  # the ends belong to the domain
    sums = spline.bspline_basis(x, grid, 3).sum(-1)
    torch.testing.assert_close(sums, torch.ones_like(sums), atol=1e-12, rtol=0)
    outside = torch.stack([grid[:, 0] - 1.0, grid[:, -1] + 1.0])  # beyond the extended knots
    assert spline.bspline_basis(outside, grid, 3).abs().max() == 0


def test_curve_to_coef_recovers_coefficients():
    g = torch.Generator().manual_seed(0)
    grid = spline.uniform_grid(torch.tensor([-1.0, 0.0], dtype=torch.float64), torch.tensor([1.0, 3.0], dtype=torch.float64), 8, 3)
    coef = torch.randn(4, 2, 11, generator=g, dtype=torch.float64)
    x = torch.stack([torch.linspace(-1.3, 1.3, 400), torch.linspace(-0.4, 3.4, 400)], 1).double()
    y = spline.coef_to_curve(x, grid, coef, 3)
    torch.testing.assert_close(spline.curve_to_coef(x, y, grid, 3), coef, atol=1e-7, rtol=1e-7)


def test_grid_from_samples_is_increasing_even_for_discrete_data():
    x = torch.tensor([[0.0, 5.0]] * 50 + [[1.0, 5.0]] * 50 + [[2.0, 5.0]], dtype=torch.float64)
    grid = spline.grid_from_samples(x, 10, 3)
    assert grid.shape == (2, 17)
    assert bool((torch.diff(grid, dim=1) > 0).all())
    assert grid[0, 3] == pytest.approx(0.0, abs=1e-5) and grid[0, -4] == pytest.approx(2.0, abs=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_grid_from_samples_keeps_the_extreme_samples_strictly_inside(dtype):
    """The end knots sit a hair beyond the data: a sample recomputed an ulp larger (a hidden layer's
    input under different rounding) must not fall off the grid, where every basis is zero."""
    x = (torch.rand(200, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 40 + 1e3).to(dtype)
    k = 3
    grid = spline.grid_from_samples(x, 5, k)
    lo, hi = grid[:, k], grid[:, -k - 1]
    nudged = torch.stack([x.min(0).values, x.max(0).values])
    nudged = torch.nextafter(nudged, torch.stack([lo, hi]))  # one ulp further out
    assert bool((lo < nudged[0]).all() and (nudged[1] < hi).all())
    assert bool(((hi - lo) < 1.001 * (x.max(0).values - x.min(0).values)).all())  # only a hair
    assert bool((spline.bspline_basis(nudged, grid, k).sum(-1) > 0.99).all())  # partition of unity there


def _rel_rms(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b) ** 2).mean().sqrt() / (b**2).mean().sqrt())


@pytest.mark.parametrize("fn", [torch.sin, lambda t: 0.5 * t**2 - t, torch.exp])
def test_grid_update_and_refine_preserve_smooth_edge_functions(fn):
    """Edges set to smooth functions survive a move to a data grid and extension 10 -> 20 -> 40."""
    from kandisco.kan import KANLayer

    g = torch.Generator().manual_seed(3)
    layer = KANLayer(2, 3, grid=10, k=3, grid_range=(-2.0, 2.0))
    x = torch.rand(2000, 2, generator=g, dtype=torch.float64) * 4 - 2
    # put smooth, distinct functions on every edge through the spline coefficients
    target = torch.stack([fn((j + 1) * 0.3 * x) for j in range(3)], dim=1)  # (batch, out, in)
    layer.coef.data = spline.curve_to_coef(x, target, layer.grid, 3)
    xd = x[:1000] * 0.9 + 0.1  # data that covers most, not all, of the old range
    for step in (lambda: layer.update_grid(xd), lambda: layer.refine(20, xd), lambda: layer.refine(40)):
        ref = layer.edge_values(xd).detach()
        step()
        after = layer.edge_values(xd).detach()
        for j in range(3):
            for i in range(2):
                assert _rel_rms(after[:, j, i], ref[:, j, i]) < 1e-4
    assert layer.grid.shape == (2, 40 + 7) and layer.coef.shape == (3, 2, 43)
