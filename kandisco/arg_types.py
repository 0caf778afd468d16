"""argparse value types shared by the ``kandisco`` command and its subcommands' modules (``kandisco ode``)."""

from __future__ import annotations

import argparse
import math

__all__ = ["positive_int", "positive_seconds"]


def positive_seconds(text: str) -> float:
    """A positive, finite number of seconds (``--budget``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1 (``--jobs``, ``--steps``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value
