"""Formula text from other tools (Operon, PySR, user task tables) to sympy, without running it.

``sympy.parse_expr`` evaluates Python, so a formula string is untrusted input. :func:`parse_formula`
tokenizes the whole text first and accepts only numbers, the caller's variable names, ``pi``, ``E``,
arithmetic (``+ - * / ** ^``), parentheses, commas and a whitelist of function names; anything else
is a ``ValueError`` naming the offending token (so ``__import__('os')`` or ``x.__class__`` is refused
before anything runs). Every string ``sympy.sstr`` writes for a formula kandisco produces parses back
to an equal expression (``tests/test_parse.py`` checks each function of the symbolic library). The
checked text is rebuilt from those tokens with placeholder names and parsed with a
``local_dict``/``global_dict`` holding nothing but them.
"""

from __future__ import annotations

import math
import re
from typing import Callable, Sequence

import sympy
from sympy.parsing.sympy_parser import auto_number, parse_expr

__all__ = ["FUNCTIONS", "parse_formula", "tokenize"]

MAX_CHARS = 100_000
MAX_DIGITS = 400  # of one integer (10**MAX_DIGITS is a number nobody's law needs)


def _binary(op: Callable[[sympy.Expr, sympy.Expr], sympy.Expr]) -> Callable[..., sympy.Expr]:
    return lambda a, b: op(a, b)


# name -> sympy callable. Prefix forms (add, mul, ...) are what GP tools print; the sympy names
# (cot, asinh, Abs, sign, erf, Max, ...) are what ``sympy.sstr`` prints, so every formula kandisco writes
# into a result file reads back; numpy spellings (arcsin, arctanh, ...) are what numpy-minded tools print.
FUNCTIONS: dict[str, Callable[..., sympy.Expr]] = {
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "cot": sympy.cot, "sec": sympy.sec, "csc": sympy.csc,
    "asin": sympy.asin, "acos": sympy.acos, "atan": sympy.atan, "acot": sympy.acot, "asec": sympy.asec,
    "acsc": sympy.acsc, "atan2": sympy.atan2,
    "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan,
    "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh, "coth": sympy.coth, "sech": sympy.sech,
    "csch": sympy.csch, "asinh": sympy.asinh, "acosh": sympy.acosh, "atanh": sympy.atanh, "acoth": sympy.acoth,
    "asech": sympy.asech, "acsch": sympy.acsch,
    "arcsinh": sympy.asinh, "arccosh": sympy.acosh, "arctanh": sympy.atanh,
    "exp": sympy.exp, "log": sympy.log, "ln": sympy.log, "sqrt": sympy.sqrt, "cbrt": sympy.cbrt,
    "abs": sympy.Abs, "Abs": sympy.Abs, "sign": sympy.sign, "erf": sympy.erf, "erfc": sympy.erfc,
    "Max": sympy.Max, "Min": sympy.Min, "max": sympy.Max, "min": sympy.Min,
    "pow": _binary(lambda a, b: a**b), "square": lambda a: a**2, "cube": lambda a: a**3,
    "neg": lambda a: -a, "inv": lambda a: 1 / a,
    "add": _binary(lambda a, b: a + b), "sub": _binary(lambda a, b: a - b),
    "mul": _binary(lambda a, b: a * b), "div": _binary(lambda a, b: a / b),
}
# ``E`` is how sympy prints exp(1). A variable of the same name (Feynman's electric field) wins, as for functions.
CONSTANTS: dict[str, sympy.Expr] = {"pi": sympy.pi, "E": sympy.E}

_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z_0-9]*)"
    r"|(?P<op>\*\*|[-+*/^(),])"
)


def tokenize(text: str) -> list[tuple[str, str]]:
    """``[(kind, text), ...]`` with kind number, name or op; ValueError at the first other character."""
    tokens, error = _scan(text)
    if error:
        raise ValueError(error)
    return tokens


def _scan(text: str) -> tuple[list[tuple[str, str]], str | None]:
    """The tokens up to the first character no token starts with, and the error naming it (or None)."""
    if len(text) > MAX_CHARS:
        raise ValueError(f"formula is {len(text)} characters long; at most {MAX_CHARS} are accepted")
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            return tokens, f"unexpected character {text[pos]!r} at position {pos} in formula {_clip(text)!r}"
        if m.lastgroup and m.lastgroup != "space":
            tokens.append((m.lastgroup, m.group()))
        pos = m.end()
    return tokens, None


def parse_formula(text: str, variables: Sequence[str]) -> sympy.Expr:
    """Parse ``text`` into sympy with each name in ``variables`` a real symbol of that name.

    Raises ValueError for any token outside the whitelist (naming it), for a malformed expression,
    and for integer powers too large to compute.
    """
    variables = list(variables)
    symbols = {v: sympy.Symbol(v, real=True) for v in variables}
    local: dict[str, object] = {}
    pieces = []
    tokens, error = _scan(text)
    if error:  # name an unknown name before the bad character (``__import__`` rather than its quote)
        for kind, tok in tokens:
            if kind == "name" and tok not in symbols and tok not in FUNCTIONS and tok not in CONSTANTS:
                raise ValueError(f"unknown name {tok!r} in formula {_clip(text)!r} "
                                 f"(and {error.split(' in formula')[0]})")
        raise ValueError(error)
    for kind, tok in tokens:
        if kind == "name":
            if tok in symbols:  # a variable wins over a function or constant of the same name
                placeholder = f"_v{variables.index(tok)}"
                local[placeholder] = symbols[tok]
            elif tok in FUNCTIONS:
                placeholder = f"_f_{tok}"
                local[placeholder] = FUNCTIONS[tok]
            elif tok in CONSTANTS:
                placeholder = f"_c_{tok}"
                local[placeholder] = CONSTANTS[tok]
            else:
                known = ", ".join(variables) or "none"
                raise ValueError(f"unknown name {tok!r} in formula {_clip(text)!r} (variables: {known}; "
                                 f"functions: {', '.join(sorted(FUNCTIONS))})")
            pieces.append(placeholder)
        elif kind == "number":
            if len(tok) - len(tok.lstrip("0123456789")) > MAX_DIGITS:
                raise ValueError(f"number {_clip(tok, 20)!r} has more than {MAX_DIGITS} digits")
            pieces.append(tok)
        else:
            pieces.append("**" if tok == "^" else tok)
    if not pieces:
        raise ValueError("empty formula")
    depth = 0
    for piece in pieces:
        depth += {"(": 1, ")": -1}.get(piece, 0)
        if depth < 0:
            break
    if depth != 0:
        raise ValueError(f"unbalanced parentheses in formula {_clip(text)!r}")
    source = " ".join(pieces)
    # Only the sympy constructors that auto_number and evaluate=False emit; no builtins.
    global_dict: dict[str, object] = {"__builtins__": {}, "Integer": sympy.Integer, "Float": sympy.Float,
                                      "Rational": sympy.Rational, "Add": sympy.Add, "Mul": sympy.Mul,
                                      "Pow": sympy.Pow}
    try:
        unevaluated = parse_expr(source, local_dict=dict(local), global_dict=dict(global_dict),
                                 transformations=(auto_number,), evaluate=False)
        _check_powers(unevaluated)
        expr = parse_expr(source, local_dict=dict(local), global_dict=dict(global_dict),
                          transformations=(auto_number,))
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - tokens are checked; any failure left is malformed input
        raise ValueError(f"cannot parse formula {_clip(text)!r}: {type(exc).__name__}: {exc}") from None
    if not isinstance(expr, sympy.Expr):
        raise ValueError(f"formula {_clip(text)!r} is not an expression (got {type(expr).__name__})")
    return expr


def _check_powers(expr: sympy.Basic, max_digits: float = 1000.0) -> None:
    """Refuse exact powers like ``9**9**9`` before sympy tries to compute them."""
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow) and not node.free_symbols:
            base, exp = node.args
            try:
                b = abs(complex(sympy.N(base, 15)))
                e = abs(complex(sympy.N(exp, 15)))
            except (TypeError, ValueError):
                continue
            if b > 1 and e * math.log10(b) > max_digits:
                raise ValueError(f"power {_clip(str(node), 40)!r} is too large to compute")


def _clip(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."
