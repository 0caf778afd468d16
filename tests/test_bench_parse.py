"""The safe formula parser: whitelisted tokens only, clear errors, sympy out."""

import pytest
import sympy

from kandisco.datasets import feynman_equations
from kandisco.symbolic.parse import parse_formula, tokenize

x0, x1 = sympy.symbols("x0 x1", real=True)


@pytest.mark.parametrize("text, expected", [
    ("x0*x1", x0 * x1),
    ("(0.5 + (sin(x0) ^ 2)) * x1", (sympy.Rational(1, 2) + sympy.sin(x0) ** 2) * x1),
    ("mul(add(x0, 1), div(x1, 2))", (x0 + 1) * x1 / 2),
    ("sqrt(square(x0)) + neg(inv(x1))", sympy.sqrt(x0**2) - 1 / x1),
    ("pow(x0, 3) - cube(x0)", sympy.Integer(0)),
    ("arcsin(x0) + atan(x1) + abs(x0) + pi", sympy.asin(x0) + sympy.atan(x1) + sympy.Abs(x0) + sympy.pi),
    ("1.5e-3*exp(-x0**2)", sympy.Float("1.5e-3") * sympy.exp(-x0**2)),
])
def test_accepts_arithmetic_and_whitelisted_functions(text, expected):
    got = parse_formula(text, ["x0", "x1"])
    assert sympy.simplify(got - expected) == 0
    assert all(s.is_real for s in got.free_symbols)


def test_variables_may_shadow_sympy_and_python_names():
    expr = parse_formula("gamma*I*beta/lambda + sin", ["gamma", "I", "beta", "lambda", "sin"])
    assert {s.name for s in expr.free_symbols} == {"gamma", "I", "beta", "lambda", "sin"}


@pytest.mark.parametrize("text, fragment", [
    ("__import__('os').system('true')", "'"),
    ("x.__class__", "'.'"),
    ("lambda: 1", "':'"),
    ("lambda", "unknown name 'lambda'"),
    ("open(x0)", "unknown name 'open'"),
    ("x0 + y", "unknown name 'y'"),
    ("x0; x1", "';'"),
    ("x0[0]", "'['"),
    ("9**9**9**9", "too large"),
    ("((x0)", "unbalanced"),
    ("x0 x1", "cannot parse"),
    ("", "empty"),
])
def test_rejects_everything_else_naming_the_token(text, fragment):
    with pytest.raises(ValueError, match=None) as info:
        parse_formula(text, ["x0", "x1"])
    assert fragment in str(info.value)


def test_tokenizer_splits_numbers_names_and_operators():
    assert tokenize("2.5e3*x0^2") == [("number", "2.5e3"), ("op", "*"), ("name", "x0"), ("op", "^"), ("number", "2")]


def test_every_feynman_formula_parses_to_the_table_expression():
    for eq in feynman_equations().values():
        got = parse_formula(eq.formula, eq.variables)
        assert got == eq.expr, eq.id
