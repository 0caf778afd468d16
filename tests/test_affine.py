"""Tests for kandisco.symbolic.affine: batched fits of y ~ c*f(a*x+b)+d."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import sympy
import torch

from kandisco.symbolic import default_library, fit_affine, get_library
from kandisco.symbolic.affine import _zoom_search


pytestmark = pytest.mark.usefixtures("one_torch_thread")

# name -> (canonical truth (a, b, c, d), x range inside the domain).  The truths
# are written directly in the canonical form documented in affine.py, so they
# are an independent oracle for both the search and the canonicalisation.
TRUTH = {
    "0": ((1.0, 0.0, 0.0, 2.5), (-1, 1)),
    "x": ((1.0, 0.0, 2.5, -0.7), (-1, 1)),
    "x^2": ((1.0, 0.4, 1.3, -0.5), (-1, 1)),
    "x^3": ((1.0, -0.3, 0.8, 0.2), (-1, 1)),
    "x^4": ((1.0, 0.25, -0.6, 1.1), (-1, 1)),
    "x^5": ((1.0, 0.15, 0.5, -0.3), (-1, 1)),
    "1/x": ((1.0, 0.5, 1.2, -0.4), (0.2, 3)),
    "1/x^2": ((1.0, -0.1, 0.7, 0.3), (0.5, 3)),
    "1/x^3": ((1.0, 0.3, -0.9, 0.5), (0.5, 3)),
    "sqrt": ((1.0, 0.5, 1.5, -0.2), (0, 4)),
    "x^1.5": ((1.0, 0.2, 0.6, 0.1), (0, 3)),
    "1/sqrt": ((1.0, 0.3, 1.1, -0.5), (0, 3)),
    "exp": ((1.3, 0.0, 0.7, -0.4), (-1, 1)),
    "log": ((1.0, 0.5, 0.9, 0.3), (0, 4)),
    "sin": ((2.2, 0.5, 1.3, 0.2), (-2, 2)),
    "cos": ((1.7, -0.8, 0.9, -0.3), (-2, 2)),
    "tan": ((0.9, 0.3, 0.8, 0.1), (-1, 1)),
    "tanh": ((2.0, -0.5, 1.1, 0.3), (-2, 2)),
    "arcsin": ((0.6, 0.2, 1.2, -0.1), (-1.3, 1.3)),
    "arccos": ((0.7, -0.1, 0.9, 0.4), (-1.2, 1.2)),
    "arctan": ((1.5, 0.4, 0.8, -0.2), (-2, 2)),
    "arctanh": ((0.7, 0.1, 0.6, 0.2), (-1.2, 1.2)),
    "abs": ((1.0, -0.3, 1.4, -0.2), (-1, 1)),
    "gaussian": ((1.5, -0.5, 2.0, 0.1), (-2, 2)),
    "sigmoid": ((2.5, 0.5, 1.5, -0.5), (-2, 2)),
}


def make_batch(truth: dict, n: int = 1000, seed: int = 1, noise: float = 0.0):
    """(E, n) x and y for every entry of ``truth``, uniform x in its range."""
    lib = default_library()
    gen = torch.Generator().manual_seed(seed)
    xs, ys = [], []
    for name, ((a, b, c, d), (lo, hi)) in truth.items():
        x = lo + (hi - lo) * torch.rand(n, generator=gen, dtype=torch.float64)
        y = c * lib[name].torch_fn(a * x + b) + d
        if noise:
            y = y + noise * y.std() * torch.randn(n, generator=gen, dtype=torch.float64)
        xs.append(x)
        ys.append(y)
    return torch.stack(xs), torch.stack(ys)


def _rel_err(got, want) -> float:
    got, want = torch.as_tensor(got, dtype=torch.float64), torch.as_tensor(want, dtype=torch.float64)
    return float(((got - want).abs() / want.abs().clamp(min=1.0)).max())


@pytest.fixture(scope="module")
def noiseless_fits():
    X, Y = make_batch(TRUTH)
    return fit_affine(X, Y, default_library())


@pytest.mark.parametrize("name", list(TRUTH))
def test_every_default_function_recovers_its_parameters(noiseless_fits, name):
    fits = noiseless_fits
    e = list(TRUTH).index(name)
    k = fits.names.index(name)
    want = TRUTH[name][0]
    assert _rel_err(fits.params[e, k], want) < 1e-4, (name, fits.params[e, k].tolist(), want)
    # constant data (the "0" case) is fitted exactly: R^2 = 1 by the SST = 0 convention
    assert fits.r2[e, k] > 1 - 1e-9


def test_zero_function_fits_the_mean_with_r2_near_zero():
    gen = torch.Generator().manual_seed(0)
    x = torch.linspace(-1, 1, 400, dtype=torch.float64)
    y = torch.sin(3 * x) + 5.0
    fits = fit_affine(x, y, ["0", "sin"])
    a, b, c, d = fits.params[0, 0].tolist()
    assert (a, b, c) == (1.0, 0.0, 0.0)
    assert d == pytest.approx(float(y.mean()), abs=0.05)
    assert abs(float(fits.r2[0, 0])) < 0.05
    assert fits.r2[0, 1] > 1 - 1e-9
    del gen


def test_negative_sign_fractional_powers_and_log():
    truth = {"sqrt": ((-1.0, 3.0, 0.9, 0.1), (-2, 2)), "log": ((-1.0, 2.5, 1.3, -0.2), (-2, 2)),
             "1/sqrt": ((-1.0, 2.5, 0.8, 0.0), (-2, 2))}
    X, Y = make_batch(truth, n=600)
    fits = fit_affine(X, Y, list(truth))
    for e, name in enumerate(truth):
        assert _rel_err(fits.params[e, e], truth[name][0]) < 1e-4, name


def test_non_canonical_truth_maps_to_canonical_form():
    x = torch.linspace(-1, 1, 500, dtype=torch.float64)
    cases = {
        "x^2": (x * -8.3) ** 2,  # a = -8.3 -> a = 1, c = 68.89
        "sin": -2.0 * torch.sin(-3.0 * x + 7.0) + 1.0,  # -> a=3, b=wrap(-7+pi), c=2
        "exp": 0.5 * torch.exp(1.1 * x + 0.7),  # -> b = 0, c = 0.5 e^0.7
        "log": torch.log(4.0 * x + 5.0),  # -> a = 1, b = 1.25, d = log 4
        "sigmoid": 2 * torch.sigmoid(-1.5 * x + 0.3),  # -> a=1.5, b=-0.3, c=-2, d=2
    }
    want = {
        "x^2": (1.0, 0.0, 68.89, 0.0),
        "sin": (3.0, -7.0 + 2 * math.pi, 2.0, 1.0),  # = 2 sin(3x - 7) + 1
        "exp": (1.1, 0.0, 0.5 * math.exp(0.7), 0.0),
        "log": (1.0, 1.25, 1.0, math.log(4.0)),
        "sigmoid": (1.5, -0.3, -2.0, 2.0),
    }
    X = x.expand(len(cases), -1)
    Y = torch.stack(list(cases.values()))
    fits = fit_affine(X, Y, list(cases))
    for e, name in enumerate(cases):
        got = fits.params[e, e]
        w = torch.tensor(want[name], dtype=torch.float64)
        assert (got - w).abs().max() < 1e-6 * max(1.0, float(w.abs().max())), (name, got.tolist(), want[name])


def test_identical_inputs_give_identical_params():
    x = torch.linspace(-1, 1, 300, dtype=torch.float64)
    y = 0.8 * torch.tanh(1.7 * x - 0.2) + 0.3 * x**2
    lib = get_library("pykan")
    batch = fit_affine(torch.stack([x, x]), torch.stack([y, y]), lib)
    # rows of one batch may differ in the last bit (vectorised reductions), nothing more
    assert torch.allclose(batch.params[0], batch.params[1], rtol=1e-12, atol=1e-12)
    assert torch.allclose(batch.r2[0], batch.r2[1], rtol=0, atol=1e-12)
    single = fit_affine(x, y, lib)
    assert torch.allclose(single.params[0], batch.params[0], rtol=1e-9, atol=1e-12)
    again = fit_affine(x, y, lib)
    assert torch.equal(single.params, again.params)  # deterministic


def test_partial_domain_is_penalised_not_zeroed():
    """sqrt / log of a negative shift: part of the data is outside the domain of the true law."""
    x = torch.linspace(0, 2, 801, dtype=torch.float64)
    y_sqrt = torch.sqrt(torch.clamp(x - 0.5, min=0.0))  # 0 for x < 0.5
    y_log = torch.log(torch.clamp(x - 0.5, min=0.05))  # constant for x < 0.55
    fits = fit_affine(torch.stack([x, x]), torch.stack([y_sqrt, y_log]), ["sqrt", "log", "0"])
    r2_sqrt, r2_log = float(fits.r2[0, 0]), float(fits.r2[1, 1])
    assert 0.5 < r2_sqrt < 1.0 and 0.5 < r2_log < 1.0  # partial credit, neither 0 nor perfect
    assert fits.r2[0, 0] > fits.r2[0, 2] + 0.5 and fits.r2[1, 1] > fits.r2[1, 2] + 0.5  # far above "0"


def test_optimum_at_the_domain_edge_is_found():
    """Laws whose shift puts the data right at the domain boundary: candidates just past the
    optimum are partly invalid and must still be scored (not discarded) for the zoom to converge."""
    x = torch.linspace(1, 3, 801, dtype=torch.float64)
    truth = {"log": (1.0, -0.999, 1.0, 0.0), "sqrt": (1.0, -0.9999, 2.0, 0.0), "1/sqrt": (1.0, -0.99, 1.0, 0.0)}
    lib = default_library()
    Y = torch.stack([c * lib[n].torch_fn(a * x + b) + d for n, (a, b, c, d) in truth.items()])
    fits = fit_affine(x.expand(3, -1), Y, list(truth))
    for e, name in enumerate(truth):
        assert _rel_err(fits.params[e, e], truth[name]) < 1e-4, name


def test_out_of_domain_points_count_as_unexplained():
    """The scoring kernel's documented rule, against an independent numpy least squares."""
    from kandisco.symbolic.affine import _closed_form

    rng = np.random.default_rng(0)
    v = rng.normal(size=200)
    f = rng.normal(size=200) + 0.8 * v
    valid = rng.random(200) > 0.3
    fz = np.where(valid, f, 0.0)
    c, d, r2 = _closed_form(torch.tensor(fz)[None], torch.tensor(valid)[None], torch.tensor(v)[None])
    A = np.stack([f[valid], np.ones(valid.sum())], axis=1)
    (c_ref, d_ref), *_ = np.linalg.lstsq(A, v[valid], rcond=None)
    sse = np.sum((A @ [c_ref, d_ref] - v[valid]) ** 2) + np.sum((v[~valid] - v.mean()) ** 2)
    r2_ref = 1 - sse / np.sum((v - v.mean()) ** 2)
    assert float(c) == pytest.approx(c_ref, rel=1e-10) and float(d) == pytest.approx(d_ref, abs=1e-10)
    assert float(r2) == pytest.approx(r2_ref, rel=1e-10)
    assert 0 < float(r2) < 1


def test_wide_parameters_are_reachable():
    x = torch.linspace(-1, 1, 1000, dtype=torch.float64)
    truth = {
        "sin": (25.0, 13.0 - 4 * math.pi, 1.0, 0.0),  # sin(25x + 13)
        "tanh": (20.0, 15.0, 1.0, 0.0),
        "arctan": (150.0, 20.0, 0.5, 0.1),  # a beyond the initial window: needs widening
    }
    lib = default_library()
    Y = torch.stack([c * lib[n].torch_fn(a * x + b) + d for n, (a, b, c, d) in truth.items()])
    fits = fit_affine(x.expand(3, -1), Y, list(truth))
    for e, name in enumerate(truth):
        assert _rel_err(fits.params[e, e], truth[name]) < 1e-4, (name, fits.params[e, e].tolist())


def test_zoom_search_widens_beyond_the_initial_window():
    """A 1-D score peaked at 40 is found from an initial window [-1, 1]."""
    def score(coords):
        c = coords[..., 0]
        return -(c - 40.0) ** 2, c, torch.zeros_like(c)

    a, _, _ = _zoom_search(score, [-1.0], [1.0], [9], E=2, rounds=12)
    assert torch.allclose(a, torch.full((2,), 40.0, dtype=torch.float64), atol=1e-3)
    a, _, _ = _zoom_search(score, [-1.0], [1.0], [9], E=1, rounds=1)
    assert a.item() == 1.0  # without extra rounds it stays on the boundary


def test_bessel_j0_registers_and_fits():
    lib = get_library(["0", "x", "x^2", "sin", "cos", "gaussian"])
    lib.register("J0", torch.special.bessel_j0, lambda x: sympy.besselj(0, x), complexity=3)
    x = torch.linspace(-3, 3, 800, dtype=torch.float64)
    y = 0.7 * torch.special.bessel_j0(2.5 * x + 0.3) - 0.2
    fits = fit_affine(x, y, lib)
    k = fits.names.index("J0")
    assert int(fits.r2[0].argmax()) == k
    assert fits.r2[0, k] > 1 - 1e-9
    a, b, c, d = fits.params[0, k].tolist()
    s = math.copysign(1.0, a)  # J0 is even and registered without a canonicaliser
    assert _rel_err([s * a, s * b, c, d], [2.5, 0.3, 0.7, -0.2]) < 1e-4


def test_affine_fits_round_trip_through_json():
    import json

    from kandisco.symbolic import AffineFits

    X, Y = make_batch({k: TRUTH[k] for k in ("tanh", "sin")}, n=200)
    fits = fit_affine(X, Y, ["tanh", "sin", "x"])
    back = AffineFits.from_dict(json.loads(json.dumps(fits.to_dict())))
    assert back.names == fits.names
    assert torch.equal(back.params, fits.params) and torch.equal(back.r2, fits.r2)


def test_chunking_does_not_change_results():
    X, Y = make_batch({k: TRUTH[k] for k in ("tanh", "sin", "1/x")}, n=300)
    lib = get_library(["tanh", "sin", "1/x", "x^2"])
    big = fit_affine(X, Y, lib)
    small = fit_affine(X, Y, lib, chunk_bytes=20_000)
    assert torch.allclose(big.params, small.params, rtol=1e-9, atol=1e-12)


def test_input_validation():
    x = torch.linspace(0, 1, 50, dtype=torch.float64)
    with pytest.raises(ValueError, match="same shape"):
        fit_affine(x, x[:-1])
    bad = x.clone()
    bad[7] = float("nan")
    with pytest.raises(ValueError, match="sample 7"):
        fit_affine(x, bad)
    with pytest.raises(ValueError, match="shape"):
        fit_affine(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4))


def test_scale_free_large_offsets():
    """y from 1e6-scale data with x far from zero: standardisation keeps the fit exact."""
    x = torch.linspace(1000.0, 1010.0, 500, dtype=torch.float64)
    y = 3e6 * torch.sqrt(x - 990.0) + 1e7
    fits = fit_affine(x, y, ["sqrt", "x", "log"])
    assert _rel_err(fits.params[0, 0], (1.0, -990.0, 3e6, 1e7)) < 1e-4


@pytest.mark.slow
def test_speed_pykan_library_20_edges():
    """Whole pykan library on 20 edges x 1000 points (prints the time; loose bound for busy CI)."""
    gen = torch.Generator().manual_seed(0)
    X = torch.rand(20, 1000, generator=gen, dtype=torch.float64) * 2 - 1
    Y = torch.sin(3 * X + 0.5) + 0.1 * X**2 + 0.01 * torch.randn(20, 1000, generator=gen, dtype=torch.float64)
    lib = get_library("pykan")
    fit_affine(X[:2], Y[:2], lib)  # warm-up
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        fit_affine(X, Y, lib)
        times.append(time.perf_counter() - t0)
    print(f"\nfit_affine pykan library ({len(lib)} fns), 20 edges x 1000 points: best {min(times):.3f} s "
          f"({torch.get_num_threads()} threads)")
    assert min(times) < 5.0
