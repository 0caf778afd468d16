"""The PDE front end's error for problems a user can fix (a bad domain, a residual of the wrong shape)."""

from __future__ import annotations

from ..errors import KandiscoError

__all__ = ["PDEError"]


class PDEError(KandiscoError, ValueError):
    """A PDE problem or solve request that cannot work; the message names the argument."""
