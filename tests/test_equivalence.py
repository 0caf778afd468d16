"""The recovery rule (SRBench's): equal up to an additive or multiplicative constant."""

import sympy

from kandisco.datasets import feynman_equation, feynman_equations
from kandisco.symbolic.equivalence import check_equivalence, snap_floats

a, b, c = sympy.symbols("a b c", positive=True)


def test_exact_additive_multiplicative_and_different():
    truth = a**sympy.Rational(3, 2)
    assert check_equivalence(sympy.sqrt(a) * a, truth).verdict == "exact"
    assert check_equivalence(a**1.5, truth).verdict == "exact"  # the float exponent snaps to 3/2
    assert check_equivalence(3 * a**1.5, truth).verdict == "multiplicative"
    assert check_equivalence(a**1.5 + 2, truth).verdict == "additive"
    res = check_equivalence(a**1.4, truth)
    assert res.verdict == "different" and not res.recovered and res.method == "numeric-screen"
    assert not check_equivalence(0.99999997 * a**1.5 + 4.7e-3 * a, truth).recovered


def test_symbols_match_by_name_whatever_their_assumptions():
    x_plain, x_real = sympy.Symbol("x"), sympy.Symbol("x", real=True)
    assert check_equivalence(sympy.sin(x_plain) ** 2, 1 - sympy.cos(x_real) ** 2).verdict == "exact"


def test_feynman_forms_that_differ_only_in_writing():
    eq = feynman_equation("I.12.11")  # q*(Ef + B*v*sin(theta))
    s = {n: sympy.Symbol(n) for n in eq.variables}
    rewritten = s["q"] * s["Ef"] + s["q"] * s["B"] * s["v"] * sympy.cos(sympy.pi / 2 - s["theta"])
    ranges = dict(zip(eq.variables, eq.ranges))
    assert check_equivalence(rewritten, eq.expr, ranges).verdict == "exact"
    assert not check_equivalence(s["q"] * s["Ef"], eq.expr, ranges).recovered


def test_every_feynman_formula_is_equivalent_to_itself_and_not_to_its_neighbour():
    table = list(feynman_equations().values())
    for eq, other in zip(table[:20], table[1:21]):
        ranges = dict(zip(eq.variables, eq.ranges))
        assert check_equivalence(2.5 * eq.expr, eq.expr, ranges).verdict == "multiplicative", eq.id
        assert not check_equivalence(other.expr, eq.expr, ranges).recovered, (eq.id, other.id)


def test_snap_floats():
    e = snap_floats(0.5000000001 * a + 3.14159265358979 * b + 0.1234 * c)
    assert e == a / 2 + sympy.pi * b + sympy.Float(0.1234) * c


def test_simplify_time_cap_falls_back_to_a_tight_numeric_verdict():
    truth = sympy.sin(a) ** 2 + sympy.cos(a) ** 2 + b
    res = check_equivalence(1 + b, truth, timeout=1e-3)
    assert res.recovered and res.method == "numeric"
