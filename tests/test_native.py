"""The compiled B-spline kernel: same network as the torch path, and a clean fallback without it."""

import subprocess
import sys

import pytest
import torch

from kandisco.kan import KAN, native, spline

needs_kernel = pytest.mark.skipif(
    native.kernel() is None, reason=f"compiled B-spline kernel unavailable: {native.unavailable_reason()}"
)


@needs_kernel
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("width", [[3, 4, 1], [2, [3, 2], 2]])
def test_network_outputs_and_gradients_match_the_torch_path(monkeypatch, dtype, width):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, width[0], generator=g, dtype=dtype) * 2
    model = KAN(width, grid=7, k=3, seed=1, dtype=dtype)
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


def test_disabled_kernel_falls_back_and_says_why():
    code = (
        "from kandisco.kan import KAN, native\n"
        "import torch\n"
        "m = KAN([2, 3, 1], seed=0)\n"
        "y = m(torch.rand(5, 2, dtype=torch.float64))\n"
        "print(native.kernel() is None, native.unavailable_reason(), tuple(y.shape))\n"
    )
    env = {"KANDISCO_NATIVE": "0", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True disabled by KANDISCO_NATIVE=0 (5, 1)"
