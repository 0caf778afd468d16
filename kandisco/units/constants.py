"""Named physical constants with their units, from scipy.constants (CODATA), for ``--constants``.

Each constant joins the inputs as a column of one value with its unit, so dimensional analysis can
use it (``v/c``, ``h*omega/(kB*T)``) and a law comes out with the constant by name. Values and unit
strings are scipy's ``physical_constants`` entries; the unit strings are parsed by pint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .parse import Dimension, UnitError, parse_unit

__all__ = ["CONSTANTS", "Constant", "get_constants"]

# short name -> scipy.constants.physical_constants key
CONSTANTS: dict[str, str] = {
    "c": "speed of light in vacuum",
    "G": "Newtonian constant of gravitation",
    "h": "Planck constant",
    "hbar": "reduced Planck constant",
    "kB": "Boltzmann constant",
    "e": "elementary charge",
    "eps0": "vacuum electric permittivity",
    "mu0": "vacuum mag. permeability",
    "NA": "Avogadro constant",
    "me": "electron mass",
    "mp": "proton mass",
    "R": "molar gas constant",
    "sigma_SB": "Stefan-Boltzmann constant",
}


@dataclass(frozen=True)
class Constant:
    """A physical constant: short name, SI value, unit text (scipy's) and its dimension."""

    name: str
    value: float
    unit: str
    description: str

    @property
    def dimension(self) -> Dimension:
        return parse_unit(self.unit)


def get_constants(names: str | Sequence[str]) -> list[Constant]:
    """The constants named (``"c,G,hbar"`` or a list), in the order given; UnitError for an unknown name."""
    from scipy.constants import physical_constants

    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    out = []
    for name in dict.fromkeys(names):
        if name not in CONSTANTS:
            raise UnitError(f"unknown constant {name!r}; known constants: {', '.join(CONSTANTS)}")
        value, unit, _ = physical_constants[CONSTANTS[name]]
        out.append(Constant(name, float(value), unit, CONSTANTS[name]))
    return out
