"""What every strategy receives: the data it searches on, in the pipeline's symbols, with the
settings and the callback for sub-searches.

A :class:`Problem` is plain data (picklable), so a strategy runs the same in this process, in a
worker process or on a Dask worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import sympy

from ..errors import KandiscoError
from ..units import Dimension, PiGroups
from .config import SearchConfig
from .views import View

__all__ = ["NothingToPropose", "Problem", "ProblemUnits", "SubSearch", "Proposal"]


class NothingToPropose(KandiscoError):
    """A strategy found that it does not apply to this problem (no structure, say): a note, no failure."""


class SubSearch(Protocol):
    """A small flat discovery on ``(Z, out)`` with columns named ``names``, within ``budget`` seconds:
    ``[(validation loss, formula in real symbols named as the columns), ...]``.

    The structured strategy asks it for the formula of a module with several inputs; the pipeline
    supplies it, so the strategy never imports the pipeline.
    """

    def __call__(self, Z: np.ndarray, out: np.ndarray, names: Sequence[str], budget: float, seed: int) -> list[tuple[float, sympy.Expr]]: ...


@dataclass(frozen=True)
class ProblemUnits:
    """What dimensional analysis knows: each input's and the target's dimension, and the pi groups
    (None when no monomial of the inputs has the target's units; ``message`` says why)."""

    inputs: tuple[Dimension, ...]
    target: Dimension
    pi: PiGroups | None
    message: str = ""


@dataclass
class Problem:
    """The search's view of the data: ``train``/``val`` are the rows strategies fit and judge on
    (a seeded subsample of large tables), in ``symbols`` ``x0, x1, ...`` (positive where the data are)."""

    symbols: list[sympy.Symbol]
    names: list[str]
    target: str
    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    relative: bool
    seed: int
    config: SearchConfig = field(default_factory=SearchConfig)
    library: Any = None  # the user's symbolic library: None (default), a subset name, names, or a SymbolicLibrary
    search: SubSearch | None = None
    units: ProblemUnits | None = None  # known when every input and the target have units
    noise: float = 0.0  # the target's one-sigma noise in the loss's units (0: none seen); see discovery/noise.py
    # where none was seen: the estimate that could not tell noise from the law's curvature (0 otherwise). A
    # strategy whose fit leaves residuals without trend near it may treat it as noise (residual_tests.shows_noise)
    unseen_noise: float = 0.0
    correlated_rows: float = 1.0  # rows per independent error of the target (a smoothed derivative's errors run along a trajectory)
    # a small table: the pipeline picks the law by cross-validation (discovery/cross_validation.py), so
    # strategies offer their plausible laws even when the noise is unknown, rather than gate them on it
    small_table: bool = False

    @property
    def n_inputs(self) -> int:
        return int(self.train[0].shape[1])

    @property
    def x_positive(self) -> bool:
        return bool(np.all(self.train[0] > 0) and np.all(self.val[0] > 0))

    @property
    def y_positive(self) -> bool:
        return bool(np.all(self.train[1] > 0) and np.all(self.val[1] > 0))

    def admits(self, view: View) -> bool:
        """Whether ``view`` is defined on the rows strategies search and judge on (logs need positives)."""
        return view.applies(*self.train) and view.applies(*self.val)

    @property
    def y_spread(self) -> float:
        """The scale that stopping thresholds are relative to (1 under relative error)."""
        return 1.0 if self.relative else (float(np.std(self.val[1])) or 1.0)


@dataclass
class Proposal:
    """What one strategy run yields: candidate formulas (in the problem's symbols) and the model behind them."""

    formulas: list[sympy.Expr]
    model: Any = None  # a kandisco.kan.LawModel (KAN or GraphModule), or None
    notes: list[str] = field(default_factory=list)
