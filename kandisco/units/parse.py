"""Unit text to dimension vectors, with pint doing the parsing (``m/s``, ``kg/m^3``, ``J s``, ``eV``).

A :class:`Dimension` is the vector of exponents of the seven SI base dimensions; only dimensions
matter for dimensional analysis, so ``km`` and ``m`` are the same here (scale factors are the
data's business). ``""``, ``"1"`` and ``"-"`` are dimensionless, as are pint's ``rad`` and ``%``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..errors import KandiscoError

__all__ = ["BASE_UNITS", "Dimension", "UnitError", "parse_unit", "split_header", "feynman_dimension"]

# pint's base dimensions and the SI unit each is written with
_PINT_BASE = ("[length]", "[mass]", "[time]", "[current]", "[temperature]", "[substance]", "[luminosity]")
BASE_UNITS = ("m", "kg", "s", "A", "K", "mol", "cd")
_DIMENSIONLESS_TEXT = ("", "1", "-", "dimensionless")
_HEADER = re.compile(r"^(?P<name>.*?)\s*\[(?P<unit>[^\[\]]*)\]\s*$")


class UnitError(KandiscoError, ValueError):
    """A unit that cannot be read (unknown name, bad syntax); the message names the unit and where it came from."""


@dataclass(frozen=True)
class Dimension:
    """Exponents of (length, mass, time, current, temperature, substance, luminosity), as fractions."""

    exponents: tuple[Fraction, ...] = (Fraction(0),) * len(BASE_UNITS)

    @classmethod
    def of(cls, **powers: Any) -> Dimension:
        """``Dimension.of(m=1, s=-1)``: a dimension from base-unit exponents (names of BASE_UNITS)."""
        unknown = set(powers) - set(BASE_UNITS)
        if unknown:
            raise UnitError(f"unknown base unit(s) {', '.join(sorted(unknown))}; base units are {', '.join(BASE_UNITS)}")
        return cls(tuple(Fraction(powers.get(b, 0)) for b in BASE_UNITS))

    @property
    def dimensionless(self) -> bool:
        return not any(self.exponents)

    def __mul__(self, other: Dimension) -> Dimension:
        return Dimension(tuple(a + b for a, b in zip(self.exponents, other.exponents)))

    def __truediv__(self, other: Dimension) -> Dimension:
        return Dimension(tuple(a - b for a, b in zip(self.exponents, other.exponents)))

    def __pow__(self, power: Any) -> Dimension:
        p = Fraction(power)
        return Dimension(tuple(a * p for a in self.exponents))

    def __str__(self) -> str:
        parts = [u if e == 1 else f"{u}^{e}" for u, e in zip(BASE_UNITS, self.exponents) if e]
        return " ".join(parts) if parts else "1"


@functools.lru_cache(maxsize=1)
def _registry() -> Any:
    import pint

    return pint.UnitRegistry()


@functools.lru_cache(maxsize=512)
def parse_unit(text: str) -> Dimension:
    """The dimension of a unit written as pint reads it (``m/s``, ``kg/m^3``, ``J K^-1``, ``1``).

    Raises :class:`UnitError` for a unit pint does not know or cannot parse.
    """
    import pint

    clean = text.strip()
    if clean.lower() in _DIMENSIONLESS_TEXT:
        return Dimension()
    try:
        unit = _registry().parse_units(clean)
    except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError) as exc:
        raise UnitError(f"unknown unit {clean!r} ({exc})") from None
    except Exception as exc:  # pint's parser raises many kinds (even AssertionError) on bad syntax
        raise UnitError(f"cannot read the unit {clean!r} ({type(exc).__name__}: {exc})") from None
    dims = dict(unit.dimensionality)
    other = set(dims) - set(_PINT_BASE)
    if other:
        raise UnitError(f"unit {clean!r} has dimensions outside SI ({', '.join(sorted(other))})")
    return Dimension(tuple(Fraction(dims.get(b, 0)).limit_denominator(1000) for b in _PINT_BASE))


def split_header(cell: str) -> tuple[str, str | None]:
    """``"v [m/s]"`` -> ``("v", "m/s")``; ``"theta []"`` -> ``("theta", "")``; ``"v"`` -> ``("v", None)``."""
    match = _HEADER.match(cell)
    if match is None or not match.group("name").strip():
        return cell, None
    return match.group("name").strip(), match.group("unit").strip()


def feynman_dimension(m: Any, s: Any, kg: Any, T: Any, V: Any) -> Dimension:
    """A dimension from AI Feynman's units table: exponents of metre, second, kilogram, kelvin and volt
    (the table has no ampere: V = kg m^2 s^-3 A^-1, so charge is J/V)."""
    volt = parse_unit("V")
    return Dimension.of(m=m, s=s, kg=kg, K=T) * volt ** Fraction(V)
