"""Training: physics-informed custom losses, NaN guards, validation and early stopping, Adam, errors."""

import math

import pytest
import torch

from kandisco.kan import KAN
from kandisco.kan.train import regularization


def _uniform(n, d, low, high, seed):
    g = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(n, d, generator=g, dtype=torch.float64)


def _poisson_loss(model, xb, fb):
    """Residual of u'' = f (autograd, twice) plus the boundary conditions u(-1) = u(1) = 0."""
    x = xb.clone().requires_grad_(True)
    u = model(x)
    du = torch.autograd.grad(u.sum(), x, create_graph=True)[0]
    d2u = torch.autograd.grad(du.sum(), x, create_graph=True)[0]
    boundary = model(torch.tensor([[-1.0], [1.0]], dtype=xb.dtype))
    return torch.mean((d2u - fb) ** 2) + 100 * torch.mean(boundary**2)


def test_physics_informed_fit_solves_poisson_equation():
    x = torch.linspace(-1, 1, 201, dtype=torch.float64)[:, None]
    f = -(math.pi**2) * torch.sin(math.pi * x)  # so u = sin(pi x), zero at +-1
    model = KAN([1, 1], grid=10, grid_range=(-1, 1), seed=0)
    model.fit(x, f, loss_fn=_poisson_loss, steps=100, update_grid=False, verbose=False)
    xt = torch.linspace(-1, 1, 1001, dtype=torch.float64)[:, None]
    assert float((model(xt).detach() - torch.sin(math.pi * xt)).abs().max()) < 1e-3


def test_nan_injected_into_training_is_recovered():
    X = _uniform(300, 2, -1, 1, 0)
    y = X[:, :1] * X[:, 1:]
    calls = {"n": 0}

    def flaky_loss(model, xb, yb):
        calls["n"] += 1
        loss = torch.mean((model(xb) - yb) ** 2)
        return loss * float("nan") if calls["n"] in (3, 40) else loss

    for opt in ("LBFGS", "Adam"):
        calls["n"] = 0
        model = KAN([2, [0, 1], 1], seed=0)
        hist = model.fit(X, y, opt=opt, steps=30, loss_fn=flaky_loss, verbose=False)
        assert hist.nonfinite_losses >= 1
        assert all(bool(torch.isfinite(p).all()) for p in model.parameters())
        assert math.isfinite(hist.train_loss[-1]) and hist.train_loss[-1] < hist.train_loss[0]


def test_nan_in_the_data_is_a_clear_error_naming_the_rows():
    X = _uniform(200, 1, -1, 1, 0)
    y = X**2
    y[5] = float("inf")
    y[17] = float("nan")
    with pytest.raises(ValueError, match="y has NaN or infinite values in rows 5, 17"):
        KAN([1, 2, 1], seed=0).fit(X, y, steps=5, verbose=False)


def test_parameters_blowing_up_are_undone():
    X = _uniform(200, 1, -1, 1, 0)
    y = X**2
    model = KAN([1, 2, 1], seed=0)
    model.fit(X, y, steps=3, verbose=False)
    good = {k: v.clone() for k, v in model.state_dict().items()}

    def poison(model, xb, yb):  # a loss whose gradient sends the parameters to inf
        return torch.mean((model(xb) - yb) ** 2) + 1e308 * model.node_bias[0].sum() ** 2

    hist = model.fit(X, y, opt="Adam", lr=1e300, steps=3, loss_fn=poison, update_grid=False, verbose=False)
    assert hist.nan_recoveries == 3
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())
    for k, v in model.state_dict().items():
        assert torch.equal(v, good[k]), k


def test_validation_restores_best_state_and_stops_early():
    X = _uniform(60, 1, -1, 1, 0)
    y = torch.sin(3 * X) + 0.3 * torch.randn(60, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    Xv = _uniform(200, 1, -1, 1, 2)
    yv = torch.sin(3 * Xv)
    model = KAN([1, 5, 1], grid=20, seed=0)  # far too flexible for 60 noisy points: it will overfit
    hist = model.fit(X, y, X_val=Xv, y_val=yv, steps=200, patience=10, verbose=False)
    assert hist.stopped_early and len(hist.val_loss) < 200
    restored = float(torch.mean((model(Xv).detach() - yv) ** 2))
    assert restored == pytest.approx(min(hist.val_loss), rel=1e-9)
    assert hist.best_step == hist.val_loss.index(min(hist.val_loss))


def test_adam_with_minibatches_learns():
    X = _uniform(2000, 1, -2, 2, 0)
    y = torch.tanh(2 * X)
    model = KAN([1, 1], grid=8, seed=0)
    hist = model.fit(X, y, opt="Adam", lr=0.05, steps=300, batch=128, verbose=False)
    assert hist.train_loss[-1] < 0.01 * hist.train_loss[0]


def test_regularisation_is_scale_free_and_favours_sparsity():
    X = _uniform(500, 2, -1, 1, 0)
    model = KAN([2, 3, 1], seed=0)
    model.initialize_grids(X)
    acts = model.activations(X)
    reg = regularization(model, acts)
    with torch.no_grad():  # scale the output layer by 1000: the penalty must not change
        model.layers[1].coef.mul_(1000)
        model.layers[1].scale_base.mul_(1000)
    assert float(regularization(model, model.activations(X)).detach()) == pytest.approx(float(reg.detach()), rel=1e-9)
    hist_dense = KAN([2, 3, 1], seed=0).fit(X, X[:, :1] ** 2, steps=20, verbose=False)
    sparse = KAN([2, 3, 1], seed=0)
    sparse.fit(X, X[:, :1] ** 2, steps=20, lamb=0.01, verbose=False)
    assert sparse.attribute(X).input_scores[1] < 0.05  # x1 is unused and the penalty silences it
    assert hist_dense.reg == [0.0] * len(hist_dense.reg)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"opt": "SGD"}, "optimiser"),
        ({"X": torch.zeros(10, 3)}, "3 columns"),
        ({"y": torch.zeros(9, 1)}, "y has 9"),
        ({"y": torch.zeros(10, 3)}, "y has 3 columns but the model has 1 output"),
        ({"X_val": torch.zeros(4, 2), "y_val": torch.zeros(5, 1)}, "validation data"),
        ({"X_val": torch.zeros(4, 2), "y_val": torch.zeros(4, 2)}, "validation data"),
    ],
)
def test_bad_arguments_are_clear_errors(kwargs, match):
    args = {"X": torch.zeros(10, 2), "y": torch.zeros(10, 1)}
    args.update({k: v for k, v in kwargs.items() if k in args})
    rest = {k: v for k, v in kwargs.items() if k not in args}
    with pytest.raises(ValueError, match=match):
        KAN([2, 1]).fit(args["X"], args["y"], steps=1, verbose=False, **rest)


@pytest.mark.parametrize(
    "dtype, line_search, steps, atol",
    [(torch.float64, "strong_wolfe", 3, 1e-10), (torch.float64, None, 3, 1e-10), (torch.float32, "strong_wolfe", 1, 1e-4)],
)
def test_flat_lbfgs_takes_torch_lbfgs_iterates(dtype, line_search, steps, atol):
    """FlatLBFGS is torch's algorithm with other bookkeeping: from the same start it visits the same
    parameters, to rounding. In float32 its scalars are Python floats where torch's are float32
    tensors, and those roundings grow chaotically over many iterations: compare one step."""
    from kandisco.kan.flat_lbfgs import FlatLBFGS

    g = torch.Generator().manual_seed(0)
    X = torch.rand(200, 2, generator=g, dtype=dtype) * 2 - 1
    y = torch.sin(3 * X[:, :1]) * X[:, 1:]
    finals, losses = [], []
    for cls in (FlatLBFGS, torch.optim.LBFGS):
        model = KAN([2, 3, 1], grid=5, seed=1, dtype=dtype)
        model.initialize_grids(X)
        idle = {id(layer.sym_params) for layer in model.layers}  # no symbolic edges: no gradient
        params = [p for p in model.parameters() if id(p) not in idle]
        start = torch.cat([p.detach().reshape(-1) for p in params])
        lr = 1 if line_search else 0.05
        opt = cls(params, lr=lr, max_iter=20, history_size=10, line_search_fn=line_search)

        def closure(opt=opt, model=model):
            opt.zero_grad()
            loss = torch.mean((model(X) - y) ** 2)
            loss.backward()
            return loss

        for _ in range(steps):
            opt.step(closure)
        finals.append(torch.cat([p.detach().reshape(-1) for p in params]))
        losses.append(float(closure().detach()))
    torch.testing.assert_close(finals[0], finals[1], atol=atol, rtol=0)
    assert float((finals[0] - start).abs().max()) > 1e-3  # the steps did move the parameters
    assert losses[0] < 0.5 * float(torch.mean(y**2))


def test_flat_lbfgs_minimises_rosenbrock_to_its_closed_form_minimum():
    from kandisco.kan.flat_lbfgs import FlatLBFGS

    xy = torch.nn.Parameter(torch.tensor([-1.2, 1.0], dtype=torch.float64))
    opt = FlatLBFGS([xy], lr=1, max_iter=200, history_size=10, line_search_fn="strong_wolfe",
                    tolerance_grad=1e-12, tolerance_change=1e-15)

    def closure():
        opt.zero_grad()
        loss = (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    torch.testing.assert_close(xy.detach(), torch.tensor([1.0, 1.0], dtype=torch.float64), atol=1e-7, rtol=0)


def test_flat_lbfgs_line_search_survives_non_finite_losses():
    """A loss that is NaN beyond a wall: the line search backs off instead of raising."""
    from kandisco.kan.flat_lbfgs import FlatLBFGS

    w = torch.nn.Parameter(torch.tensor([0.0], dtype=torch.float64))
    opt = FlatLBFGS([w], lr=1, max_iter=20, history_size=10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (w - 0.9) ** 2 + torch.where(w > 0.95, torch.nan, 0.0)  # NaN past the wall
        loss = loss.sum()
        if torch.isfinite(loss):
            loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    assert abs(float(w.detach()) - 0.9) < 1e-6


def test_flat_lbfgs_refuses_mixed_dtypes():
    from kandisco.kan.flat_lbfgs import FlatLBFGS

    a = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    b = torch.nn.Parameter(torch.zeros(3, dtype=torch.float32))
    with pytest.raises(ValueError, match="one dtype"):
        FlatLBFGS([a, b])


def test_a_first_fit_does_not_import_torch_dynamo(run_snippet):
    """torch.optim.Optimizer's constructor imports torch._dynamo (about 1 s); FlatLBFGS is not one,
    so a process's first fit (every CLI run) does not pay for it."""
    code = (
        "import sys, torch\n"
        "from kandisco.kan import KAN\n"
        "x = torch.rand(40, 2, dtype=torch.float64)\n"
        "KAN([2, 3, 1], seed=0).fit(x, x[:, :1] * x[:, 1:], steps=2, verbose=False)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    assert run_snippet(code) == "False"
