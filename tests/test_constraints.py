"""Constraints on a learned law (kandisco.kan.constraints, fit(constraints=...)): symmetry exact to the bit,
positivity on any grid, monotonicity as a penalty, and a known-law prior compiled from its formula."""

import itertools

import pytest
import sympy
import torch

from kandisco.discovery.priors import known_law
from kandisco.kan import KAN, fit
from kandisco.kan.constraints import ConstrainedModel, ConstraintError, Monotone, Positive, Symmetric, constrain
from kandisco.symbolic.equivalence import snap_floats


def _uniform(n, d, seed=0, low=-1.0, high=1.0):
    g = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(n, d, generator=g, dtype=torch.float64)


def _grid(d, n, low=-3.0, high=3.0):
    axis = torch.linspace(low, high, n, dtype=torch.float64)
    return torch.cartesian_prod(*([axis] * d)).reshape(-1, d)


def test_symmetric_law_is_symmetric_to_the_bit_and_so_is_its_formula():
    X = _uniform(200, 2)
    y = X[:, :1] * X[:, 1:] + X[:, :1] ** 2 + X[:, 1:] ** 2
    base = KAN([2, 3, 1], seed=0)
    hist = fit(base, X, y, steps=15, verbose=False, constraints=[Symmetric(0, 1)])
    model = hist.model
    assert isinstance(model, ConstrainedModel) and model.base is base
    grid = _grid(2, 61)  # well beyond the training range too
    with torch.no_grad():
        assert torch.equal(model(grid), model(grid[:, [1, 0]]))
        assert float(((model(X) - y) ** 2).mean()) < 1e-3
    model.auto_symbolic(library=["0", "x", "x^2"])
    a, b = sympy.symbols("a b", real=True)
    (law,) = model.output_formulas([a, b])
    assert sympy.expand(law - law.xreplace({a: b, b: a})) == 0


def test_symmetry_in_three_variables_holds_to_rounding():
    X = _uniform(100, 3, seed=1)
    y = (X[:, 0] * X[:, 1] * X[:, 2] + X.sum(1))[:, None]
    model = constrain(KAN([3, 2, 1], seed=0), Symmetric(0, 1, 2))
    fit(model, X, y, steps=3, verbose=False)
    grid = _grid(3, 11)
    with torch.no_grad():
        ref = model(grid)
        for perm in itertools.permutations(range(3)):
            assert float((model(grid[:, list(perm)]) - ref).abs().max()) <= 1e-13 * float(ref.abs().max())


def test_positive_fit_is_never_negative_on_a_grid():
    X = _uniform(200, 2, seed=2)
    noise = 0.05 * torch.randn(200, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y = torch.exp(-10 * X[:, :1] ** 2) * X[:, 1:] ** 2 + noise  # near zero almost everywhere, noise below it
    grid = _grid(2, 201)
    free = KAN([2, 3, 1], grid=10, seed=0)
    fit(free, X, y, steps=15, verbose=False)
    hist = fit(KAN([2, 3, 1], grid=10, seed=0), X, y, steps=15, verbose=False, constraints=[Positive()])
    squared = fit(KAN([2, 3, 1], grid=10, seed=0), X, y, steps=15, verbose=False, constraints=[Positive("square")])
    with torch.no_grad():
        assert float(free(grid).min()) < 0  # the test means something: without the constraint the fit dips below zero
        assert float(hist.model(grid).min()) >= 0 and float(squared.model(grid).min()) >= 0
    x0, x1 = sympy.symbols("x0 x1", real=True)
    hist.model.auto_symbolic(library=["0", "x", "x^2"])
    (law,) = hist.model.output_formulas([x0, x1])
    assert law.func == sympy.log  # softplus: log(1 + exp(inside)), positive for every real input


def test_monotone_penalty_removes_wrong_signed_slopes():
    X = _uniform(200, 1, seed=3)
    noise = 0.1 * torch.randn(200, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y = torch.tanh(3 * X) + noise
    grid = torch.linspace(-1, 1, 401, dtype=torch.float64)[:, None]

    def violation(model):
        x = grid.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(model(x).sum(), x)
        return float(torch.relu(-g).pow(2).mean())

    free = KAN([1, 1], grid=20, seed=0)
    fit(free, X, y, steps=20, verbose=False)
    hist = fit(KAN([1, 1], grid=20, seed=0), X, y, steps=20, verbose=False, constraints=[Monotone(0, weight=100.0, points=grid)])
    assert violation(free) > 1e-2  # noise fitted: the free spline wiggles down somewhere
    assert violation(hist.model) < 1e-2 * violation(free)
    assert len(hist.penalty) == len(hist.train_loss) and hist.penalty[-1] < hist.penalty[0] + 1e-12
    assert "model" not in hist.to_dict()


def test_known_law_prior_learns_only_the_remainder():
    X = _uniform(300, 2, seed=4)
    y = torch.sin(3 * X[:, :1]) + 0.3 * X[:, 1:] ** 2
    law = known_law("sin(3*a)", ["a", "b"])
    assert not any(p.requires_grad for p in law.module.parameters())  # fixed: only the remainder trains
    base = KAN([2, 1], seed=0)
    hist = fit(base, X, y, steps=30, verbose=False, constraints=[law])
    with torch.no_grad():
        assert float(((hist.model(X) - y) ** 2).mean()) < 1e-8
    hist.model.auto_symbolic(library=["0", "x", "x^2", "sin"])
    a, b = sympy.symbols("a b", real=True)
    (found,) = hist.model.output_formulas([a, b])
    found = snap_floats(found.xreplace({f: 0 for f in found.atoms(sympy.Float) if abs(f) < 1e-4}), rtol=1e-4)
    assert sympy.simplify(found - (sympy.sin(3 * a) + sympy.Rational(3, 10) * b**2)) == 0, found


def test_constraint_errors_name_the_problem():
    kan = KAN([2, 1], seed=0)
    with pytest.raises(ConstraintError, match="two to four"):
        Symmetric(0)
    with pytest.raises(ConstraintError, match="input 5 does not exist"):
        constrain(kan, Symmetric(0, 5))
    with pytest.raises(ConstraintError, match="no input names"):
        constrain(kan, Monotone("z"))
    with pytest.raises(ConstraintError, match="overlaps"):
        constrain(KAN([3, 1]), Symmetric(0, 1), Symmetric(1, 2))
    with pytest.raises(ConstraintError, match="softplus"):
        Positive("abs")
    with pytest.raises(ConstraintError, match="unknown constraint"):
        constrain(kan, "positive")
    named = constrain(kan, Monotone("b"), input_names=["a", "b"])
    assert named.monotone[0][0] == 1
    assert isinstance(constrain(named, Positive()), ConstrainedModel)  # constraints add up on the same base
