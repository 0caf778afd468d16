"""Exports of a found law: a torch module with trainable constants, numpy and JAX functions.

This package sits beside :mod:`kandisco.symbolic` (it needs only sympy, numpy and torch), so the
engine, the pipeline and the display layer can all use it.
"""

from .numpy_fn import LawFunction, to_jax, to_numpy
from .torch_module import SUPPORTED_FUNCTIONS, TRAINABLE, LawModule, UnsupportedNodeError, to_torch

__all__ = ["LawFunction", "LawModule", "UnsupportedNodeError", "SUPPORTED_FUNCTIONS", "TRAINABLE", "to_jax", "to_numpy", "to_torch"]
