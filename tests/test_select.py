"""Tests for kandisco.symbolic.select: the scoring rule, SymbolicFit, suggest, select_best."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
import torch

from kandisco.symbolic import SymbolicFit, default_library, fit_affine, score_fits, select_best, suggest


pytestmark = pytest.mark.usefixtures("one_torch_thread")

# A second, independent parameter table (different from test_affine's) for the noise test.
NOISY_TRUTH = {
    "0": ((1.0, 0.0, 0.0, 1.0), (-1, 1)),
    "x": ((1.0, 0.0, -1.5, 0.4), (-1, 1)),
    "x^2": ((1.0, -0.2, 0.9, 0.3), (-1, 1)),
    "x^3": ((1.0, 0.1, 1.2, -0.2), (-1, 1)),
    "x^4": ((1.0, -0.1, 0.7, 0.2), (-1, 1)),
    "x^5": ((1.0, 0.2, -0.8, 0.1), (-1, 1)),
    "1/x": ((1.0, 0.2, 0.6, 0.3), (0.1, 2)),
    "1/x^2": ((1.0, 0.3, 0.5, -0.2), (0.1, 2)),
    "1/x^3": ((1.0, 0.4, 0.3, 0.1), (0.1, 2)),
    "sqrt": ((1.0, 0.05, 1.1, 0.2), (0, 3)),
    "x^1.5": ((1.0, 0.1, 0.9, -0.1), (0, 3)),
    "1/sqrt": ((1.0, 0.1, 0.8, 0.1), (0, 3)),
    "exp": ((2.0, 0.0, 0.6, 0.2), (-1, 1.5)),
    "log": ((1.0, 0.1, 1.2, -0.3), (0, 3)),
    "sin": ((3.0, -0.4, 1.1, 0.1), (-2, 2)),
    "cos": ((2.5, 0.6, 0.8, 0.2), (-2, 2)),
    "tan": ((1.2, -0.2, 0.7, 0.1), (-1, 1.3)),
    "tanh": ((2.5, 0.3, 0.9, -0.1), (-2, 2)),
    "arcsin": ((0.7, -0.1, 1.0, 0.2), (-1.2, 1.4)),
    "arccos": ((0.65, 0.1, 1.1, -0.3), (-1.5, 1.3)),
    "arctan": ((2.5, -0.5, 1.0, 0.2), (-2, 2)),
    "arctanh": ((0.75, -0.05, 0.8, 0.1), (-1.25, 1.25)),
    "abs": ((1.0, 0.2, 1.1, -0.3), (-1, 1)),
    "gaussian": ((1.2, 0.4, 1.5, -0.2), (-2.5, 2.5)),
    "sigmoid": ((3.0, -0.5, 1.2, 0.3), (-2, 2)),
}

# Exact identities inside the library: sigmoid(z) = (1 + tanh(z/2)) / 2,
# arccos(z) = pi/2 - arcsin(z), cos(z) = sin(z + pi/2).  Picking the simpler /
# earlier twin is the right answer (ties go to lower complexity, then library order).
IDENTICAL_TWIN = {"sigmoid": "tanh", "arccos": "arcsin", "cos": "sin"}


# ------------------------------------------------------------------ scoring rule


def test_clear_sine_is_never_replaced_by_zero():
    cx = torch.tensor([2.0, 0.0], dtype=torch.float64)  # sin, 0
    for r2_sin in (0.999, 0.99, 0.95):
        s = score_fits(torch.tensor([r2_sin, 0.0], dtype=torch.float64), cx)
        assert s[0] > s[1], r2_sin
    # oracle: pykan 0.2.8's rule (0.8 c + 0.2 log2(1 + 1e-5 - R^2), lower is better) picks 0
    # for a sine at R^2 = 0.99, so this test tells the two rules apart
    r2 = torch.tensor([0.99, 0.0], dtype=torch.float64)
    pykan = 0.8 * cx + 0.2 * torch.log2(1 + 1e-5 - r2)
    assert pykan[1] < pykan[0]


def test_clearly_better_fit_beats_simpler_one():
    s = score_fits(torch.tensor([0.99, 0.99999]), torch.tensor([1.0, 4.0]))
    assert s[1] > s[0]
    s = score_fits(torch.tensor([0.99, 0.99999]), torch.tensor([0.0, 4.0]))
    assert s[1] > s[0]


def test_equally_good_fits_prefer_the_simpler():
    s = score_fits(torch.tensor([0.99990, 0.99991]), torch.tensor([1.0, 3.0]))
    assert s[0] > s[1]
    s = score_fits(torch.tensor([1.0, 1 - 1e-12]), torch.tensor([3.0, 1.0]))  # both "perfect"
    assert s[1] > s[0]


def test_nan_r2_scores_minus_infinity():
    assert score_fits(float("nan"), 1.0).item() == -math.inf


def test_narrow_range_identity_prefers_x_over_cubic():
    x = np.linspace(0.9, 1.1, 200)
    best = suggest(x, x, topk=3)
    assert best[0].name == "x"
    assert best[0].c == pytest.approx(1.0, abs=1e-9) and best[0].d == pytest.approx(0.0, abs=1e-9)
    r2 = {f.name: f.r2 for f in suggest(x, x, topk=30)}
    assert r2["x^3"] > 1 - 1e-6  # the cubic fits near-perfectly too: complexity decides
    rng = np.random.default_rng(0)
    y = x + 0.001 * rng.normal(size=x.size)
    assert suggest(x, y, topk=1)[0].name == "x"


def test_noisy_sine_at_r2_0999_is_not_replaced_by_zero():
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, 400)
    y = np.sin(2 * x + 0.3) + 0.022 * rng.normal(size=x.size)
    best = suggest(x, y, topk=3)
    assert best[0].name == "sin"
    assert 0.998 < best[0].r2 < 0.9995


# ------------------------------------------------------------------ noise robustness


def _noisy_batch(noise: float, n: int = 1000, seed: int = 3):
    lib = default_library()
    gen = torch.Generator().manual_seed(seed)
    xs, ys = [], []
    for name, ((a, b, c, d), (lo, hi)) in NOISY_TRUTH.items():
        x = lo + (hi - lo) * torch.rand(n, generator=gen, dtype=torch.float64)
        y = c * lib[name].torch_fn(a * x + b) + d
        scale = y.std() if y.std() > 0 else torch.tensor(1.0, dtype=torch.float64)
        xs.append(x)
        ys.append(y + noise * scale * torch.randn(n, generator=gen, dtype=torch.float64))
    return torch.stack(xs), torch.stack(ys)


def test_one_percent_noise_picks_the_right_function():
    lib = default_library()
    X, Y = _noisy_batch(0.01)
    chosen = select_best(fit_affine(X, Y, lib), lib)
    names = list(NOISY_TRUTH)
    confusions = [(true, fit.name) for true, fit in zip(names, chosen) if fit.name != true]
    strict = 1 - len(confusions) / len(names)
    up_to_twins = 1 - sum(IDENTICAL_TWIN.get(t) != g for t, g in confusions) / len(names)
    print(f"\n1% noise: right function first for {strict:.0%} of {len(names)} "
          f"({up_to_twins:.0%} counting exact identities); confusions (true -> chosen): {confusions}")
    assert up_to_twins >= 0.9


# ------------------------------------------------------------------ SymbolicFit / suggest / select_best


def test_symbolic_fit_str_and_sympy():
    x = np.linspace(-2, 2, 300)
    y = 1.2 * np.sin(2.0 * x + 0.5) + 0.1
    best = suggest(x, y, topk=1)[0]
    assert str(best) == "1.2*sin(2*x+0.5)+0.1"
    xs = sympy.Symbol("x")
    expr = best.to_sympy(xs)
    f = sympy.lambdify(xs, expr, "numpy")
    assert np.allclose(f(x), y, atol=1e-9)
    assert best.to_dict()["name"] == "sin"
    zero = SymbolicFit("0", 1.0, 0.0, 0.0, 2.5, 0.0, 0.0, 0.0)
    assert str(zero) == "2.5"


def test_symbolic_fit_with_custom_library_function():
    lib = default_library().subset(["0", "x", "sin"])
    lib.register("J0", torch.special.bessel_j0, lambda x: sympy.besselj(0, x), complexity=3)
    x = np.linspace(-3, 3, 400)
    y = 0.5 * torch.special.bessel_j0(torch.tensor(1.5 * x)).numpy()
    best = suggest(x, y, topk=1, library=lib)[0]
    assert best.name == "J0"
    assert "besselj" in str(best.to_sympy(sympy.Symbol("x"), lib))


def test_suggest_accepts_lists_arrays_tensors_and_orders_best_first():
    x = [0.1 * i for i in range(1, 60)]
    y = [2.0 * math.log(v + 0.3) for v in x]
    for xx, yy in ((x, y), (np.array(x), np.array(y)), (torch.tensor(x), torch.tensor(y))):
        fits = suggest(xx, yy, topk=4)
        assert len(fits) == 4 and fits[0].name == "log"
        assert [f.score for f in fits] == sorted((f.score for f in fits), reverse=True)


def test_suggest_input_errors():
    with pytest.raises(ValueError, match="same length"):
        suggest([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="at least 5"):
        suggest([1, 2, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="index 3"):
        suggest([1, 2, 3, float("nan"), 5, 6], [1, 2, 3, 4, 5, 6])
    with pytest.raises(ValueError, match="y has a non-finite value at index 1"):
        suggest([1, 2, 3, 4, 5, 6], [1, float("inf"), 3, 4, 5, 6])
    with pytest.raises(ValueError, match="constant"):
        suggest([1, 1, 1, 1, 1, 1], [1, 2, 3, 4, 5, 6])


def test_select_best_one_per_edge():
    lib = default_library()
    x = torch.linspace(-1, 1, 300, dtype=torch.float64)
    Y = torch.stack([torch.sin(2 * x), x**2, 3 * x + 1, torch.zeros_like(x)])
    best = select_best(fit_affine(x.expand(4, -1), Y, lib), lib)
    assert [f.name for f in best] == ["sin", "x^2", "x", "0"]
