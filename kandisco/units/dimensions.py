"""Dimensional analysis: the dimension matrix, Buckingham pi groups and the consistency of a formula.

Groups are chosen small and readable. A *circuit* is a smallest set of variables with a
dimensionless product of powers (its exponents are unique up to scale, made small integers, the
first one positive); circuits are taken fewest physical constants first (``constants=``), then
fewest variables, then integer and smallest exponents, then in column order, as long as each adds
a new direction of the dimension matrix's null space. Circuits span the null space, so this gives a
basis. The target's own group is the target divided by a monomial of the inputs with its units,
chosen by the same preferences (the pendulum: ``T*sqrt(g/L)``; drag: ``F*rho/mu**2``, two variables,
rather than ``F/(rho v^2 L^2)``, which is the same group times ``Re**2``). When no monomial of the
inputs has the target's units, :func:`buckingham` raises :class:`DimensionError` saying what is missing.

Consistency rule (:func:`check_consistency`): numbers are dimensionless (a float that stands for a
constant with units, such as G folded into a coefficient, makes the law inconsistent: pass the
constant by name); every term of a sum has the same units; arguments of exp, log, sin and the other
functions are dimensionless (``log a - log b`` is read as ``log(a/b)``); a power of a quantity
with units needs a numeric exponent; the result has the target's units.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import sympy

from ..errors import KandiscoError
from .parse import BASE_UNITS, Dimension

__all__ = ["Consistency", "DimensionError", "PiGroups", "buckingham", "check_consistency", "dimension_matrix",
           "expression_dimension"]

Exponents = tuple[Fraction, ...]


class DimensionError(KandiscoError, ValueError):
    """Units that do not fit: the inputs cannot make the target's units, or a formula mixes units."""


def dimension_matrix(dims: Sequence[Dimension]) -> sympy.Matrix:
    """Rows: the base dimensions (m, kg, s, A, K, mol, cd); columns: the variables; entries: rational exponents."""
    return sympy.Matrix(len(BASE_UNITS), len(dims), lambda i, j: sympy.Rational(dims[j].exponents[i]))


@dataclass(frozen=True)
class PiGroups:
    """The dimensionless form of a law ``target = monomial * f(groups)``.

    ``target_exponents[i]``: the power of input i in the monomial that has the target's units;
    ``groups[k][i]``: the power of input i in the k-th dimensionless group; ``alternatives``: the
    next most readable monomials with the target's units (each is the first times a product of
    groups, but ``f`` may be far simpler for one of them: ``E/(m c^2)`` against ``E/(m v^2)``).
    """

    inputs: tuple[str, ...]
    target: str
    target_exponents: Exponents
    groups: tuple[Exponents, ...]
    alternatives: tuple[Exponents, ...] = ()

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    def monomial(self, symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
        """The monomial with the target's units, in ``symbols`` (one per input)."""
        return _product(symbols, self.target_exponents)

    def with_target(self, exponents: Exponents) -> PiGroups:
        """The same groups with another monomial for the target (one of ``alternatives``)."""
        return PiGroups(self.inputs, self.target, tuple(exponents), self.groups, ())

    def group_exprs(self, symbols: Sequence[sympy.Symbol]) -> list[sympy.Expr]:
        """Each dimensionless group as a product of powers of ``symbols``."""
        return [_product(symbols, g) for g in self.groups]

    def monomial_values(self, X: np.ndarray) -> np.ndarray:
        return _values(X, self.target_exponents)

    def group_values(self, X: np.ndarray) -> np.ndarray:
        """(n, n_groups): the groups evaluated on rows of X (columns as ``inputs``)."""
        return np.column_stack([_values(X, g) for g in self.groups]) if self.groups else np.empty((len(X), 0))

    def used(self) -> list[int]:
        """Indices of the inputs that appear in the monomial or in a group."""
        return [i for i in range(len(self.inputs)) if self.target_exponents[i] or any(g[i] for g in self.groups)]

    def describe(self) -> dict[str, Any]:
        """JSON-ready text: the target's group, the other groups and the law's form ``pi0 = f(pi1, ...)``."""
        syms = [sympy.Symbol(n, positive=True) for n in self.inputs]
        target_group = sympy.Symbol(self.target, positive=True) / self.monomial(syms)
        groups = [sympy.sstr(g) for g in self.group_exprs(syms)]
        return {"target_group": sympy.sstr(target_group), "groups": groups,
                "law": f"{sympy.sstr(target_group)} = f({', '.join(groups)})"}

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": list(self.inputs), "target": self.target,
                "target_exponents": [str(e) for e in self.target_exponents],
                "groups": [[str(e) for e in g] for g in self.groups],
                "alternatives": [[str(e) for e in a] for a in self.alternatives]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PiGroups:
        return cls(tuple(data["inputs"]), str(data["target"]), tuple(Fraction(e) for e in data["target_exponents"]),
                   tuple(tuple(Fraction(e) for e in g) for g in data["groups"]),
                   tuple(tuple(Fraction(e) for e in a) for a in data.get("alternatives", ())))


def _product(symbols: Sequence[sympy.Symbol], exponents: Exponents) -> sympy.Expr:
    return sympy.Mul(*[s ** sympy.Rational(e.numerator, e.denominator) for s, e in zip(symbols, exponents) if e])


def _values(X: np.ndarray, exponents: Exponents) -> np.ndarray:
    out = np.ones(len(X))
    for i, e in enumerate(exponents):
        if e:
            out = out * X[:, i] ** float(e)
    return out


def buckingham(inputs: Sequence[tuple[str, Dimension]], target: tuple[str, Dimension], constants: Sequence[str] = ()) -> PiGroups:
    """Pi groups of ``inputs`` [(name, dimension)] and the target's monomial (module docstring);
    the inputs named in ``constants`` are used only where the others do not suffice.

    Raises :class:`DimensionError` when no product of powers of the inputs has the target's units.
    """
    names = [n for n, _ in inputs]
    dims = [d for _, d in inputs]
    fixed = frozenset(i for i, n in enumerate(names) if n in set(constants))
    matrix = np.array([[float(e) for e in d.exponents] for d in dims]).T.reshape(len(BASE_UNITS), len(dims))
    rank = int(np.linalg.matrix_rank(matrix)) if dims else 0
    monomials = _target_monomials(names, dims, matrix, rank, target, fixed)
    groups = _circuits(dims, matrix, rank, fixed)
    return PiGroups(tuple(names), target[0], monomials[0], tuple(groups), tuple(monomials[1:]))


def _score(vector: Sequence[Fraction], constants: frozenset[int]) -> tuple[int, int, int, Fraction, Fraction, list[int]]:
    """Readability: fewer constants, fewer variables, integer exponents, smaller exponents, earlier columns."""
    used = [abs(v) for v in vector if v]
    where = [i for i, v in enumerate(vector) if v]
    return (len(constants.intersection(where)), len(used), sum(v.denominator != 1 for v in used), sum(used, Fraction(0)),
            max(used, default=Fraction(0)), where)


def _as_fractions(column: sympy.Matrix, subset: Sequence[int], d: int) -> list[Fraction]:
    vector = [Fraction(0)] * d
    for k, i in enumerate(subset):
        num, den = sympy.fraction(column[k])
        vector[i] = Fraction(int(num), int(den))
    return vector


ALTERNATIVES = 2  # monomials kept besides the most readable one


def _target_monomials(names: list[str], dims: list[Dimension], matrix: np.ndarray, rank: int,
                      target: tuple[str, Dimension], constants: frozenset[int]) -> list[Exponents]:
    """Monomials of the inputs with the target's units, most readable first: the best and up to
    ALTERNATIVES more with at most one variable more than it."""
    name, dim = target
    d = len(dims)
    if dim.dimensionless:
        return [(Fraction(0),) * d]
    want = [float(e) for e in dim.exponents]
    found: list[list[Fraction]] = []
    for size in range(1, rank + 1):
        for subset in itertools.combinations(range(d), size):
            sub = matrix[:, subset]
            if np.linalg.matrix_rank(sub) < size or np.linalg.matrix_rank(np.column_stack([sub, want])) > size:
                continue  # dependent columns, or the target's units are not in their span
            solution, _ = dimension_matrix([dims[i] for i in subset]).gauss_jordan_solve(
                sympy.Matrix([sympy.Rational(e) for e in dim.exponents]))
            vector = _as_fractions(solution, subset, d)
            if all(vector[i] for i in subset):  # else a smaller subset does it
                found.append(vector)
    if found:
        ranked = sorted(found, key=lambda v: _score(v, constants))
        size = _score(ranked[0], frozenset())[1]
        return [tuple(v) for v in ranked[: ALTERNATIVES + 1] if _score(v, frozenset())[1] <= size + 1]
    missing = [u for u, e in zip(BASE_UNITS, dim.exponents) if e and not any(x.exponents[BASE_UNITS.index(u)] for x in dims)]
    why = (f"no input carries {', '.join(missing)}" if missing else "their exponents cannot be combined to match")
    raise DimensionError(
        f"the inputs ({', '.join(f'{n} [{x}]' for n, x in zip(names, dims)) or 'none'}) cannot make the units of "
        f"{name} [{dim}]: {why}; a variable or a physical constant (--constants) is missing"
    )


def _circuits(dims: list[Dimension], matrix: np.ndarray, rank: int, constants: frozenset[int]) -> list[Exponents]:
    """A basis of the null space made of circuits, most readable first (module docstring)."""
    d = len(dims)
    nullity = d - rank
    found: list[Exponents] = []
    for size in range(1, min(d, rank + 1) + 1):  # a circuit has at most rank + 1 variables
        for subset in itertools.combinations(range(d), size):
            if size - np.linalg.matrix_rank(matrix[:, subset]) != 1:
                continue
            entries = _as_fractions(dimension_matrix([dims[i] for i in subset]).nullspace()[0], subset, d)
            if all(entries[i] for i in subset):  # a circuit: no smaller subset is dimensionless
                found.append(_integers(entries))
    chosen: list[Exponents] = []
    for vector in sorted(found, key=lambda v: _score(v, constants)):
        trial = np.array([[float(e) for e in v] for v in [*chosen, vector]])
        if len(chosen) < nullity and np.linalg.matrix_rank(trial) == len(chosen) + 1:
            chosen.append(vector)
    return chosen


def _integers(vector: list[Fraction]) -> Exponents:
    """The smallest integer multiple, its first non-zero exponent positive."""
    scale = math.lcm(*[v.denominator for v in vector])
    ints = [int(v * scale) for v in vector]
    g = math.gcd(*ints) or 1
    sign = 1 if next(v for v in ints if v) > 0 else -1
    return tuple(Fraction(sign * v // g) for v in ints)


# ------------------------------------------------------------------ consistency
@dataclass(frozen=True)
class Consistency:
    """Whether a formula is dimensionally consistent, and if not, why (one line)."""

    consistent: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.consistent


def check_consistency(expr: sympy.Expr, dims: Mapping[Any, Dimension], target: Dimension) -> Consistency:
    """Whether ``expr`` (symbols with ``dims``, keyed by symbol or name) is dimensionally consistent
    and in the ``target``'s units."""
    try:
        got = expression_dimension(expr, dims)
    except DimensionError as exc:
        return Consistency(False, str(exc))
    except (ValueError, TypeError, OverflowError, ZeroDivisionError) as exc:  # e.g. an infinite exponent
        return Consistency(False, f"cannot check the units ({type(exc).__name__}: {exc})")
    if got != target:
        return Consistency(False, f"the formula has units {got}, the target {target}")
    return Consistency(True)


def expression_dimension(expr: sympy.Expr, dims: Mapping[Any, Dimension]) -> Dimension:
    """The units of ``expr`` (``dims`` keyed by symbol or by name: symbols are matched by name, whatever
    their assumptions); DimensionError naming the first place where units do not fit."""
    return _dimension(expr, {str(k): v for k, v in dims.items()})


def _dimension(expr: sympy.Expr, dims: Mapping[str, Dimension]) -> Dimension:
    if expr.is_Symbol:
        if expr.name not in dims:
            raise DimensionError(f"no unit for {expr}")
        return dims[expr.name]
    if expr.is_number:
        return Dimension()
    if expr.is_Add:
        return _sum_dimension(expr, dims)
    if expr.is_Mul:
        out = Dimension()
        for factor in expr.args:
            out = out * _dimension(factor, dims)
        return out
    if expr.is_Pow:
        base, power = expr.args
        unit = _dimension(base, dims)
        if power.is_number:
            if unit.dimensionless:
                return unit
            return unit ** Fraction(float(power)).limit_denominator(1000) if not power.is_Rational else unit ** Fraction(str(power))
        if not unit.dimensionless:
            raise DimensionError(f"{sympy.sstr(base)} has units {unit} but is raised to the power {sympy.sstr(power)}")
        _dimensionless(power, dims, "exponent")
        return unit
    if isinstance(expr, (sympy.Abs, sympy.re, sympy.im)):
        return _dimension(expr.args[0], dims)
    if isinstance(expr, (sympy.Min, sympy.Max)):
        return _same(expr.args, dims, expr)
    if isinstance(expr, sympy.sign):
        _dimension(expr.args[0], dims)
        return Dimension()
    if isinstance(expr, sympy.Function):
        for arg in expr.args:
            _dimensionless(arg, dims, f"argument of {expr.func.__name__}")
        return Dimension()
    raise DimensionError(f"cannot check the units of {type(expr).__name__} {sympy.sstr(expr)[:60]}")


def _dimensionless(expr: sympy.Expr, dims: Mapping[str, Dimension], what: str) -> None:
    unit = _dimension(expr, dims)
    if not unit.dimensionless:
        raise DimensionError(f"the {what} {sympy.sstr(expr)[:60]} has units {unit}")


def _same(terms: Sequence[sympy.Expr], dims: Mapping[str, Dimension], whole: sympy.Expr) -> Dimension:
    units = [_dimension(t, dims) for t in terms]
    for term, unit in zip(terms[1:], units[1:]):
        if unit != units[0]:
            raise DimensionError(f"{sympy.sstr(whole)[:60]} adds {sympy.sstr(terms[0])[:30]} [{units[0]}] "
                                 f"and {sympy.sstr(term)[:30]} [{unit}]")
    return units[0]


def _sum_dimension(expr: sympy.Expr, dims: Mapping[str, Dimension]) -> Dimension:
    """A sum: like units throughout; its logs are summed first (``log a - log b`` is ``log(a/b)``)."""
    logs: list[tuple[sympy.Expr, sympy.Expr]] = []
    others = []
    for term in expr.args:
        coeff, rest = term.as_coeff_Mul()
        if isinstance(rest, sympy.log) and coeff.is_number:
            logs.append((coeff, rest.args[0]))
        else:
            others.append(term)
    if logs:
        total = Dimension()
        for coeff, arg in logs:
            total = total * _dimension(arg, dims) ** Fraction(float(coeff)).limit_denominator(1000)
        if not total.dimensionless:
            raise DimensionError(f"the logarithms in {sympy.sstr(expr)[:60]} add up to the log of a quantity with units {total}")
        for term in others:
            _dimensionless(term, dims, "term added to a logarithm,")
        return Dimension()
    return _same(others, dims, expr)
