"""The ``kandisco discover`` options that constrain the law: ``--symmetric``, ``--positive``,
``--increasing``, ``--decreasing`` and ``--known``, turned into the constraint objects that
``discover(..., constraints=...)`` takes.

A ``--known`` formula is read by the whitelisting parser (:func:`kandisco.symbolic.parse.parse_formula`):
text from a command line is never evaluated as Python.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .errors import KandiscoError

if TYPE_CHECKING:
    from .kan.constraints import Constraint, KnownLaw

__all__ = ["add_constraint_arguments", "constraints_from_args"]


class ConstraintArgumentError(KandiscoError, ValueError):
    """A constraint option names no input of the table or holds a formula that cannot be read."""


def add_constraint_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the constraint options to the ``discover`` sub-command's ``parser``."""
    group = parser.add_argument_group("constraints on the law (every strategy's formulas are checked against them)")
    group.add_argument("--symmetric", action="append", metavar="A,B[,C,D]",
                       help="the law is unchanged when these inputs are swapped (two to four; repeatable)")
    group.add_argument("--positive", action="store_true", help="the law is never negative")
    group.add_argument("--increasing", action="append", metavar="X[,Y]", help="the law increases with these inputs (repeatable)")
    group.add_argument("--decreasing", action="append", metavar="X[,Y]", help="the law decreases with these inputs (repeatable)")
    group.add_argument("--known", metavar="FORMULA",
                       help="a known part of the law in the inputs' names, e.g. --known='-k*x' (with '=' when it starts "
                       "with '-'): the search looks for the rest")


def constraints_from_args(args: argparse.Namespace, inputs: Sequence[str] | None) -> list[Constraint]:
    """The constraints the options ask for; ``inputs`` are the table's input columns, in order (None for
    a vector target, which takes no ``--known``). Raises :class:`ConstraintArgumentError` naming the option."""
    from .kan.constraints import Monotone, Positive, Symmetric

    constraints: list[Constraint] = []
    for text in args.symmetric or ():
        names = _names(text, "--symmetric", inputs)
        if len(names) < 2:
            raise ConstraintArgumentError(f"--symmetric {text!r}: name two to four inputs, comma-separated (a,b)")
        constraints.append(Symmetric(*names))
    if args.positive:
        constraints.append(Positive())
    for option, increasing in (("--increasing", True), ("--decreasing", False)):
        for text in getattr(args, option[2:]) or ():
            constraints.extend(Monotone(name, increasing=increasing) for name in _names(text, option, inputs))
    if args.known:
        if inputs is None:
            raise ConstraintArgumentError("--known takes one target: a known part differs between a vector law's components")
        constraints.append(_known(args.known, inputs))
    return constraints


def _names(text: str, option: str, inputs: Sequence[str] | None) -> list[str]:
    """The comma-separated names of ``text``, each an input of the table (when the inputs are known)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConstraintArgumentError(f"{option}: name at least one input")
    if inputs is not None:
        unknown = [n for n in names if n not in inputs]
        if unknown:
            raise ConstraintArgumentError(f"{option} {text!r}: {', '.join(unknown)} is not an input "
                                          f"(the inputs: {', '.join(inputs)})")
    return names


def _known(text: str, inputs: Sequence[str]) -> KnownLaw:
    """The known part ``text`` as a KnownLaw on ``inputs``."""
    from .discovery.priors import known_law
    from .symbolic.parse import parse_formula

    try:
        expr = parse_formula(text, list(inputs))
    except ValueError as exc:
        raise ConstraintArgumentError(f"--known {text!r}: {exc} (the inputs: {', '.join(inputs)})") from None
    return known_law(expr, list(inputs))
