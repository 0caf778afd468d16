"""kandisco.symbolic.parse reads back every formula kandisco writes (sympy.sstr) and runs no code.

Result files store formulas as ``sympy.sstr`` text; reading them must go through the whitelist, so
the whitelist has to cover everything sstr prints for kandisco's symbolic library.
"""

import ast
from pathlib import Path

import pytest
import sympy

from kandisco.symbolic import parse as parse_module
from kandisco.symbolic.library import SUBSETS, get_library
from kandisco.symbolic.parse import FUNCTIONS, parse_formula

x, y = sympy.symbols("x y", real=True)


def _roundtrip(expr: sympy.Expr, variables=("x", "y"), **sstr_options) -> sympy.Expr:
    return parse_formula(sympy.sstr(expr, **sstr_options), list(variables))


def _same(got: sympy.Expr, expr: sympy.Expr) -> bool:
    """Equal, up to the digits sstr keeps of a float (15): same text, same tree with floats masked."""
    if got == expr:
        return True
    if not expr.atoms(sympy.Float) or sympy.sstr(got) != sympy.sstr(expr):
        return False
    mask = sympy.Symbol("_float")
    return got.xreplace({f: mask for f in got.atoms(sympy.Float)}) == expr.xreplace(
        {f: mask for f in expr.atoms(sympy.Float)})


ALL_LIBRARY_NAMES = sorted({name for names in SUBSETS.values() for name in names} | set(get_library()))


@pytest.mark.parametrize("name", ALL_LIBRARY_NAMES)
def test_every_library_function_round_trips_through_sstr(name):
    fn = get_library()[name]
    bare = fn.sympy_fn(x)
    assert _roundtrip(bare) == bare, sympy.sstr(bare)
    # as kandisco writes an edge: c * f(a * x + b) + d with float parameters
    edge = sympy.Float(1.25) * fn.sympy_fn(sympy.Float(0.7) * x - sympy.Float(0.3)) + sympy.Float(2.5)
    assert _same(_roundtrip(edge), edge), sympy.sstr(edge)
    assert _roundtrip(edge, full_prec=False) is not None  # the shorter form kandisco.symbolic.select prints


@pytest.mark.parametrize("expr", [
    sympy.cos(x) * sympy.cot(y), sympy.sec(x), sympy.csc(y), sympy.acot(x), sympy.asec(x), sympy.acsc(x),
    sympy.asinh(x), sympy.acosh(x), sympy.atanh(x), sympy.sinh(x) + sympy.cosh(y), sympy.coth(x),
    sympy.sign(x), sympy.erf(x), sympy.erfc(y), sympy.Abs(x - y), sympy.Max(x, y), sympy.Min(x, 1),
    sympy.E, sympy.E * sympy.exp(x), sympy.exp(1 + x), sympy.pi * x,
    sympy.Rational(3, 2) * x, sympy.Rational(-7, 3), x ** sympy.Rational(3, 2), 1 / sympy.sqrt(x),
    sympy.Float(1.5e-30) * x, sympy.Float(-2.75e12) + y, sympy.Float(0.1) * x - sympy.Float(1e-300),
    sympy.log(x) / sympy.log(2), x ** (-2) + y ** 5, sympy.exp(-(x**2)), 1 / (1 + sympy.exp(-x)),
])
def test_sympy_printed_forms_round_trip(expr):
    assert _same(_roundtrip(expr), expr), sympy.sstr(expr)


def test_e_is_a_variable_when_a_variable_is_named_e():
    field = sympy.Symbol("E", real=True)
    assert parse_formula("q*E", ["q", "E"]) == sympy.Symbol("q", real=True) * field
    assert parse_formula("E", ["x"]) == sympy.E


@pytest.mark.parametrize("text, token", [
    ("__import__('os').system('echo hi')", "'__import__'"),
    ("x.__class__", "'.'"),
    ("x.__class__.__bases__[0].__subclasses__()", "'.'"),
    ("getattr(x, 'y')", "'getattr'"),
    ("eval('1')", "'eval'"),
    ("exec", "'exec'"),
    ("x if y else 1", "'if'"),
    ("[x for x in ()]", "'['"),
    ("oo", "'oo'"),
    ("zoo*x", "'zoo'"),
    ("Symbol('z')", "'Symbol'"),
])
def test_code_is_refused_naming_the_token_without_running(text, token, tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr("os.system", lambda *a: ran.append(a))  # would catch a call that slipped through
    with pytest.raises(ValueError) as info:
        parse_formula(text, ["x", "y"])
    assert token in str(info.value)
    assert not ran


def test_every_function_name_is_callable_from_text():
    for name, fn in FUNCTIONS.items():
        arity = 2 if name in {"pow", "add", "sub", "mul", "div", "atan2", "Max", "Min", "max", "min"} else 1
        args = ", ".join(["x", "y"][:arity])
        got = parse_formula(f"{name}({args})", ["x", "y"])
        assert got == fn(*[x, y][:arity]), name


def test_the_parser_imports_no_other_kandisco_layer():
    tree = ast.parse(Path(parse_module.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    assert not [m for m in imported if m.startswith(".") or m.startswith("kandisco")], imported
