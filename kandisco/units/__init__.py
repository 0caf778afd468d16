"""Units and dimensional analysis: pint-parsed units as dimension vectors, Buckingham pi groups,
the dimensional-consistency check of a formula, and named physical constants.

Layer 1 (beside :mod:`kandisco.symbolic`): it knows nothing of KANs or of the discovery pipeline,
which uses it to search on dimensionless groups and to judge candidate laws.
"""

from .constants import CONSTANTS, Constant, get_constants
from .dimensions import Consistency, DimensionError, PiGroups, buckingham, check_consistency, dimension_matrix, expression_dimension
from .parse import BASE_UNITS, Dimension, UnitError, feynman_dimension, parse_unit, split_header

__all__ = [
    "BASE_UNITS", "CONSTANTS", "Consistency", "Constant", "Dimension", "DimensionError", "PiGroups", "UnitError",
    "buckingham", "check_consistency", "dimension_matrix", "expression_dimension", "feynman_dimension", "get_constants", "parse_unit",
    "split_header",
]
