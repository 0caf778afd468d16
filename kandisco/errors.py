"""The exceptions kandisco raises for problems a user can fix, under one base class.

Catch :class:`KandiscoError` to handle any of them; each also derives from the builtin it
specialises (``ValueError``, ``KeyError``), so code written against those keeps working. This
module imports nothing of kandisco's: every layer can use it.
"""

from __future__ import annotations

__all__ = ["KandiscoError"]


class KandiscoError(Exception):
    """Base class of every error kandisco raises for bad input, files or settings."""
