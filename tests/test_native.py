"""The compiled B-spline kernel: same network as the torch path, and a clean fallback without it."""

import pytest
import torch

from kandisco.kan import KAN, native, spline

needs_kernel = pytest.mark.skipif(
    native.kernel() is None, reason=f"compiled B-spline kernel unavailable: {native.unavailable_reason()}"
)


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("width", "base_fun"), [([3, 4, 1], "silu"), ([2, [3, 2], 2], "silu"),
                                                 ([3, 2, 1], "identity"), ([3, 2, 1], "zero")])
def test_network_outputs_and_gradients_match_the_torch_path(monkeypatch, dtype, width, base_fun):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, width[0], generator=g, dtype=dtype) * 2
    model = KAN(width, grid=7, k=3, seed=1, dtype=dtype, base_fun=base_fun)
    model.initialize_grids(x[:200])  # the last 100 rows reach beyond the grids: zero bases there
    results = []
    for fused in (True, False):
        monkeypatch.setattr(spline, "USE_FUSED", fused)
        model.zero_grad(set_to_none=True)
        xg = x.clone().requires_grad_(True)
        out = model(xg)
        out.square().mean().backward()
        results.append((out.detach(), xg.grad, [p.grad.clone() for p in model.parameters() if p.grad is not None]))
    tol = {"atol": 1e-5, "rtol": 1e-4} if dtype == torch.float32 else {"atol": 1e-11, "rtol": 1e-10}
    torch.testing.assert_close(results[0][0], results[1][0], **tol)
    torch.testing.assert_close(results[0][1], results[1][1], **tol)
    for a, b in zip(results[0][2], results[1][2]):
        torch.testing.assert_close(a, b, **tol)


@needs_kernel
def test_strided_inputs_read_the_same_points_as_contiguous_ones():
    """The kernel reads the points through their strides: a column-sliced view needs no copy."""
    g = torch.Generator().manual_seed(3)
    wide = torch.randn(64, 6, generator=g, dtype=torch.float64)
    model = KAN([3, 2, 1], grid=5, seed=0)
    model.initialize_grids(wide[:, ::2].contiguous())
    column_major = wide.t().contiguous().t()
    grads = []
    for x in (wide[:, ::2].contiguous(), wide[:, ::2], column_major[:, ::2], column_major[:, :3]):
        xg = x.detach().requires_grad_(True)  # a leaf with x's strides
        out = model(xg)
        out.sum().backward()
        grads.append((out.detach(), xg.grad))
    for out, grad in grads[1:3]:
        torch.testing.assert_close(out, grads[0][0], atol=1e-13, rtol=0)
        torch.testing.assert_close(grad, grads[0][1], atol=1e-13, rtol=0)
    reference = model(column_major[:, :3].contiguous())  # a different slice: its own points
    torch.testing.assert_close(grads[3][0], reference.detach(), atol=1e-13, rtol=0)


@needs_kernel
def test_second_derivatives_through_the_kernel_stay_exact():
    """create_graph (PDE losses) goes through the differentiable torch path one order up."""
    grid = spline.uniform_grid(torch.tensor([-1.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64), 8, 3)
    coef = torch.randn(11, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    x = torch.linspace(-0.95, 0.95, 50, dtype=torch.float64)[:, None].requires_grad_(True)
    y = spline.bspline_basis(x, grid, 3)[:, 0] @ coef
    d1 = torch.autograd.grad(y.sum(), x, create_graph=True)[0]
    d2 = torch.autograd.grad(d1.sum(), x)[0]
    direct = spline.bspline_basis(x.detach(), grid, 3, order=2)[:, 0] @ coef
    torch.testing.assert_close(d2[:, 0], direct)


def test_disabled_kernel_falls_back_and_says_why(run_snippet):
    code = (
        "from kandisco.kan import KAN, native\n"
        "import torch\n"
        "m = KAN([2, 3, 1], seed=0)\n"
        "y = m(torch.rand(5, 2, dtype=torch.float64))\n"
        "print(native.kernel() is None, native.unavailable_reason(), tuple(y.shape))\n"
    )
    env = {"KANDISCO_NATIVE": "0", "PATH": "/usr/bin:/bin"}
    assert run_snippet(code, env=env) == "True disabled by KANDISCO_NATIVE=0 (5, 1)"


@needs_kernel
def test_input_hessian_of_a_network_matches_the_torch_path(monkeypatch):
    """d2 out / dx2 (what a PDE residual needs) through the fused layers equals the reference."""
    model = KAN([2, 3, 1], grid=6, k=3, seed=3, dtype=torch.float64)
    x0 = torch.rand(40, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 2 - 1
    model.initialize_grids(x0)
    second = []
    for fused in (True, False):
        monkeypatch.setattr(spline, "USE_FUSED", fused)
        x = x0.clone().requires_grad_(True)
        d1 = torch.autograd.grad(model(x).sum(), x, create_graph=True)[0]
        d2 = torch.autograd.grad(d1[:, 0].sum(), x, create_graph=True)[0]
        (g_coef,) = torch.autograd.grad(d2.square().sum(), model.layers[0].coef)
        second.append((d2.detach(), g_coef))
    torch.testing.assert_close(second[0][0], second[1][0], atol=1e-10, rtol=1e-9)
    torch.testing.assert_close(second[0][1], second[1][1], atol=1e-9, rtol=1e-8)


@needs_kernel
def test_a_build_killed_midway_does_not_hang_later_runs(run_snippet):
    """torch's lock file, left by a killed build, is cleared by the next run instead of waited on."""
    code = (
        "from kandisco.kan import native\n"
        "d = native._build_directory(native._build_name())\n"
        "(d / 'lock').write_text('')  # what a build killed midway leaves behind\n"
        "print(native.kernel() is not None, (d / 'lock').exists())\n"
    )
    assert run_snippet(code, timeout=120) == "True False"


def _outputs_and_grads(model, x, monkeypatch, fused, retain=False):
    """Output, input gradient and parameter gradients of ``sum(out^2)``, fused or on the torch path."""
    monkeypatch.setattr(spline, "USE_FUSED", fused)
    model.zero_grad(set_to_none=True)
    xg = x.clone().requires_grad_(True)
    out = model(xg)
    loss = out.square().sum()
    loss.backward(retain_graph=retain)
    if retain:  # a second backward through the same graph accumulates the same gradients again
        loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return out, xg.grad, grads


def test_each_python_environment_gets_its_own_build(monkeypatch, tmp_path):
    """Two virtual environments sharing one build directory used to rebuild it back and forth."""
    here = native._build_name()
    assert native._build_name() == here  # stable within an environment
    monkeypatch.setattr(native.sys, "prefix", str(tmp_path))
    assert native._build_name() != here


@needs_kernel
@pytest.mark.parametrize("mult_arity", [2, [[], [2, 3], []]])
def test_the_compiled_network_matches_the_torch_path_with_pruned_edges(monkeypatch, mult_arity):
    """One autograd node for the whole network, also with pruned edges and mixed arities."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(200, 3, generator=g, dtype=torch.float64)
    model = KAN([3, [2, 2], 2], grid=6, k=3, seed=2, mult_arity=mult_arity)
    model.initialize_grids(x)
    model.layers[0].prune_edge(1, 2)
    model.layers[1].prune_edge(0, slice(None))  # output 0's first subnode gets no edge at all
    fused = _outputs_and_grads(model, x, monkeypatch, True, retain=True)
    plain = _outputs_and_grads(model, x, monkeypatch, False, retain=True)
    assert type(fused[0].grad_fn).__name__ == "_FusedNetworkBackward"
    assert type(plain[0].grad_fn).__name__ != "_FusedNetworkBackward"
    torch.testing.assert_close(fused[0], plain[0], atol=1e-12, rtol=1e-11)
    torch.testing.assert_close(fused[1], plain[1], atol=1e-12, rtol=1e-11)
    assert fused[2].keys() == plain[2].keys()
    for name in plain[2]:
        torch.testing.assert_close(fused[2][name], plain[2][name], atol=1e-12, rtol=1e-11, msg=name)
    assert float(fused[2]["layers.0.scale_sp"][1, 2]) == 0.0  # a pruned edge learns nothing


class _Sin:
    """A library entry as the layer sees it: a name and a safe torch function."""

    name = "sin"
    safe_torch_fn = staticmethod(torch.sin)


@needs_kernel
def test_a_symbolic_edge_sends_the_network_down_the_per_layer_path(monkeypatch):
    model = KAN([2, 2, 1], grid=5, seed=0)
    x = torch.rand(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    model.initialize_grids(x)
    assert type(model(x).grad_fn).__name__ == "_FusedNetworkBackward"
    model.layers[0].set_symbolic(0, 1, _Sin(), (2.0, 0.5, 3.0, -1.0))
    fused = _outputs_and_grads(model, x, monkeypatch, True)
    plain = _outputs_and_grads(model, x, monkeypatch, False)
    assert type(fused[0].grad_fn).__name__ != "_FusedNetworkBackward"
    torch.testing.assert_close(fused[0], plain[0], atol=1e-12, rtol=1e-11)
    for name in plain[2]:
        torch.testing.assert_close(fused[2][name], plain[2][name], atol=1e-12, rtol=1e-11, msg=name)
    model.layers[0].set_spline(0, 1)
    monkeypatch.setattr(spline, "USE_FUSED", True)
    assert type(model(x).grad_fn).__name__ == "_FusedNetworkBackward"


@needs_kernel
def test_the_compiled_network_splits_large_batches_across_threads_with_the_same_result(monkeypatch):
    """At 17,000 points the node loops run in parallel chunks (one node per chunk)."""
    x = torch.rand(17_000, 2, generator=torch.Generator().manual_seed(7), dtype=torch.float64) * 4 - 2
    model = KAN([2, [2, 2], 3], grid=5, k=3, seed=4, mult_arity=3)
    model.initialize_grids(x)
    fused = _outputs_and_grads(model, x, monkeypatch, True)
    plain = _outputs_and_grads(model, x, monkeypatch, False)
    torch.testing.assert_close(fused[0], plain[0], atol=1e-12, rtol=1e-11)
    torch.testing.assert_close(fused[1], plain[1], atol=1e-12, rtol=1e-11)
    for name in plain[2]:
        torch.testing.assert_close(fused[2][name], plain[2][name], atol=1e-10, rtol=1e-10, msg=name)


@pytest.mark.parametrize("fused", [True, False])
def test_an_empty_batch_gives_empty_outputs_and_zero_gradients(monkeypatch, fused):
    if fused and native.kernel() is None:
        pytest.skip(f"compiled B-spline kernel unavailable: {native.unavailable_reason()}")
    model = KAN([2, [2, 1], 1], grid=5, seed=0)
    model.initialize_grids(torch.rand(30, 2, generator=torch.Generator().manual_seed(8), dtype=torch.float64))
    out, x_grad, grads = _outputs_and_grads(model, torch.empty(0, 2, dtype=torch.float64), monkeypatch, fused)
    assert out.shape == (0, 1) and x_grad.shape == (0, 2)
    assert grads and all(float(g.abs().max()) == 0.0 for g in grads.values())
