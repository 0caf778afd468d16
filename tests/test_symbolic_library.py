"""Tests for kandisco.symbolic.library: the typed registry, probing registration, specs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sympy
import torch

from kandisco.symbolic import (
    SUBSETS,
    Domain,
    InvalidFunctionError,
    SymbolicLibrary,
    UnknownFunctionError,
    default_library,
    get_library,
)

REQUIRED = {
    "0": 0, "x": 1, "x^2": 2, "x^3": 3, "x^4": 3, "x^5": 3, "1/x": 2, "1/x^2": 2, "1/x^3": 3,
    "sqrt": 2, "x^1.5": 4, "1/sqrt": 2, "exp": 2, "log": 2, "sin": 2, "cos": 2, "tan": 3,
    "tanh": 3, "arcsin": 4, "arccos": 4, "arctan": 4, "arctanh": 4, "abs": 3, "gaussian": 3,
    "sigmoid": 4,
}


def test_default_library_has_required_names_and_complexities():
    lib = default_library()
    for name, cx in REQUIRED.items():
        assert lib[name].complexity == cx, name
        assert lib[name].builtin


def test_default_library_is_a_fresh_copy():
    lib1, lib2 = default_library(), default_library()
    lib1.register("J0", torch.special.bessel_j0, lambda x: sympy.besselj(0, x), complexity=3)
    assert "J0" in lib1 and "J0" not in lib2


def test_unknown_name_suggests_close_names():
    lib = default_library()
    with pytest.raises(UnknownFunctionError, match="sqrt") as info:
        lib["sqrtt"]
    assert isinstance(info.value, KeyError)
    assert "Did you mean" in str(info.value)


def test_subsets_and_get_library():
    assert get_library(None).names == default_library().names
    phys = get_library("physics")
    assert phys.names == SUBSETS["physics"]
    assert len(get_library("pykan")) >= 24
    assert get_library(["sin", "x"]).names == ["sin", "x"]
    lib = default_library()
    assert get_library(lib) is lib
    with pytest.raises(UnknownFunctionError, match="physics"):
        get_library("physic")
    with pytest.raises(UnknownFunctionError):
        get_library(["sin", "sine"])
    with pytest.raises(TypeError):
        get_library(3)
    for names in SUBSETS.values():  # every subset name resolves
        default_library().subset(names)


@pytest.mark.parametrize("name", list(REQUIRED))
def test_every_default_function_passes_the_registration_probe(name):
    """Independent consistency check: torch, safe torch and sympy forms of every built-in agree."""
    fn = default_library()[name]
    lib = SymbolicLibrary()
    lib.register(name, fn.torch_fn, fn.sympy_fn, complexity=fn.complexity, domain=fn.domain,
                 safe_torch_fn=fn.safe_torch_fn)


@pytest.mark.parametrize("name", list(REQUIRED))
def test_safe_fn_is_finite_with_finite_gradient_everywhere(name):
    fn = default_library()[name]
    z = torch.cat([torch.linspace(-30, 30, 2001, dtype=torch.float64),
                   torch.tensor([0.0, 1.0, -1.0, math.pi / 2, -math.pi / 2], dtype=torch.float64)])
    z.requires_grad_(True)
    out = fn.safe_torch_fn(z)
    assert torch.isfinite(out).all()
    if out.requires_grad:
        (g,) = torch.autograd.grad(out.sum(), z)
        assert torch.isfinite(g).all()
    zd = z.detach()
    well_inside = fn.domain.valid(zd) & fn.domain.valid(zd + 1e-6) & fn.domain.valid(zd - 1e-6)
    inside = well_inside & (zd.abs() < 20)
    ref = fn.torch_fn(zd[inside])
    small = ref.abs() < 1e6
    assert torch.allclose(out.detach()[inside][small], ref[small], rtol=1e-9, atol=1e-12)


def test_domain_validity():
    lib = default_library()
    z = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
    assert lib["log"].domain.valid(z).tolist() == [False, False, True]
    assert lib["sqrt"].domain.valid(z).tolist() == [False, True, True]
    assert lib["1/x"].domain.valid(z).tolist() == [True, False, True]
    assert lib["arcsin"].domain.valid(z).tolist() == [True, True, True]
    assert lib["arctanh"].domain.valid(z).tolist() == [False, True, False]
    zt = torch.tensor([math.pi / 2, 3 * math.pi / 2, 1.0], dtype=torch.float64)
    assert lib["tan"].domain.valid(zt).tolist() == [False, False, True]
    assert Domain(poles=(2.0,)).valid(torch.tensor([2.0, 2.5])).tolist() == [False, True]


def _fresh() -> SymbolicLibrary:
    return default_library()


def test_register_rejects_nan_on_domain():
    with pytest.raises(InvalidFunctionError, match="mylog.*not finite"):
        _fresh().register("mylog", torch.log, sympy.log)  # default domain is all reals


def test_register_accepts_nan_outside_stated_domain():
    fn = _fresh().register("mylog", torch.log, sympy.log, domain=Domain(low=0.0))
    assert torch.isfinite(fn.safe_torch_fn(torch.tensor([-2.0], dtype=torch.float64))).all()


def test_register_rejects_wrong_shape():
    with pytest.raises(InvalidFunctionError, match="shape"):
        _fresh().register("summed", lambda z: z.sum(), lambda x: x)


def test_register_rejects_wrong_dtype():
    with pytest.raises(InvalidFunctionError, match="float32"):
        _fresh().register("lowprec", lambda z: torch.sin(z).float(), sympy.sin)


def test_register_rejects_mismatching_sympy():
    with pytest.raises(InvalidFunctionError, match="disagrees"):
        _fresh().register("badsin", torch.sin, sympy.cos)


def test_register_rejects_non_sympy_output():
    with pytest.raises(InvalidFunctionError, match="sympy expression"):
        _fresh().register("notsym", torch.sin, lambda x: 1.5)


def test_register_rejects_raising_function():
    def broken(z):
        raise RuntimeError("boom")

    with pytest.raises(InvalidFunctionError, match="boom"):
        _fresh().register("broken", broken, sympy.sin)


def test_register_rejects_duplicates_unless_replace():
    lib = _fresh()
    with pytest.raises(InvalidFunctionError, match="already"):
        lib.register("sin", torch.sin, sympy.sin)
    fn = lib.register("sin", torch.sin, sympy.sin, complexity=5, replace=True)
    assert lib["sin"] is fn and fn.complexity == 5 and not fn.builtin


def test_register_bessel_j0():
    lib = _fresh()
    fn = lib.register("J0", torch.special.bessel_j0, lambda x: sympy.besselj(0, x), complexity=3)
    assert fn.complexity == 3 and "J0" in lib.names
    z = torch.linspace(-5, 5, 11, dtype=torch.float64)
    from scipy.special import j0

    assert np.allclose(fn.torch_fn(z).numpy(), j0(z.numpy()))


def test_spec_round_trip_with_custom_function():
    user = SymbolicLibrary()
    user.register("J0", torch.special.bessel_j0, lambda x: sympy.besselj(0, x), complexity=3)
    lib = get_library(["x", "sin", "0"])
    lib.add(user["J0"])
    spec = json.loads(json.dumps(lib.to_spec()))  # JSON-able
    assert [s["custom"] for s in spec] == [False, False, False, True]
    back = SymbolicLibrary.from_spec(spec, extra=user)
    assert back.names == lib.names
    assert back["J0"] is user["J0"]
    assert back["sin"].builtin


def test_from_spec_missing_custom_function_is_named():
    spec = [{"name": "x", "custom": False}, {"name": "J0", "custom": True}, {"name": "K1", "custom": True}]
    with pytest.raises(UnknownFunctionError, match=r"J0.*K1.*register it and pass library="):
        SymbolicLibrary.from_spec(spec)


# ------------------------------------------------------------------ canonical forms


def _in_domain_x(fn, a, b, n=4000):
    """x points where a*x + b is well inside the domain of fn (for checking equivalences)."""
    x = torch.linspace(-10, 10, n, dtype=torch.float64)
    z = a * x + b
    ok = fn.domain.valid(z)
    if fn.name == "tan":
        ok &= torch.cos(z).abs() > 0.05
    if fn.name.startswith("1/"):
        ok &= z.abs() > 0.05
    return x[ok]


@pytest.mark.parametrize("name", [n for n in REQUIRED if n != "0"])
def test_canonicalize_preserves_the_function_and_is_idempotent(name):
    fn = default_library()[name]
    gen = np.random.default_rng(abs(hash(name)) % 2**32)
    for _ in range(5):
        a = float(gen.uniform(0.3, 2.0) * gen.choice([-1, 1]))
        b = float(gen.uniform(-1.5, 1.5))
        c = float(gen.uniform(0.3, 2.0) * gen.choice([-1, 1]))
        d = float(gen.uniform(-1, 1))
        if name in ("arcsin", "arccos", "arctanh"):
            a, b = a / 4, b / 4
        p = tuple(torch.tensor([v], dtype=torch.float64) for v in (a, b, c, d))
        q = fn.canonicalize(*p)
        x = _in_domain_x(fn, a, b)
        assert x.numel() > 20
        y0 = c * fn.torch_fn(a * x + b) + d
        y1 = q[2] * fn.torch_fn(q[0] * x + q[1]) + q[3]
        assert torch.allclose(y0, y1, rtol=1e-9, atol=1e-9), name
        q2 = fn.canonicalize(*q)
        assert all(torch.allclose(s, t, rtol=1e-12, atol=1e-12) for s, t in zip(q, q2))
        if name in ("sin", "cos", "tan", "tanh", "arcsin", "arccos", "arctan", "arctanh", "gaussian", "sigmoid"):
            assert q[0].item() > 0
        if name in ("sin", "cos"):
            assert q[2].item() > 0 and -math.pi <= q[1].item() < math.pi
        if name in ("x", "x^2", "x^3", "x^4", "x^5", "1/x", "1/x^2", "1/x^3", "abs"):
            assert q[0].item() == 1.0
        if name in ("sqrt", "x^1.5", "1/sqrt", "log"):
            assert abs(q[0].item()) == 1.0
        if name == "exp":
            assert q[1].item() == 0.0
