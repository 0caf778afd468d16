"""Symbolic side of kandisco: the function library, affine fits and selection."""

from .affine import AffineFits, evaluate_affine, fit_affine
from .library import (
    SUBSETS,
    Domain,
    InvalidFunctionError,
    SymbolicFunction,
    SymbolicLibrary,
    UnknownFunctionError,
    default_library,
    get_library,
)
from .select import SymbolicFit, rank_edge, rank_order, score_fits, select_best, suggest

__all__ = [
    "AffineFits",
    "Domain",
    "InvalidFunctionError",
    "SUBSETS",
    "SymbolicFit",
    "SymbolicFunction",
    "SymbolicLibrary",
    "UnknownFunctionError",
    "default_library",
    "evaluate_affine",
    "fit_affine",
    "get_library",
    "rank_edge",
    "rank_order",
    "score_fits",
    "select_best",
    "suggest",
]
