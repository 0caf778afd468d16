"""Progress and messages for a discovery: a tqdm.auto bar over the time budget, verbosity levels.

:class:`ProgressBar` is a value for ``discover(..., progress=...)``: the pipeline calls it in this
process after each strategy is judged (``progress(strategy_name, seconds_elapsed)``; worker
processes never see it, so it need not pickle). ``tqdm.auto`` draws a widget in notebooks and a
text bar in terminals::

    with ProgressBar(60) as bar:
        result = discover("planets.csv", budget_seconds=60, progress=bar)

:func:`verbosity` sets how much of the ``kandisco`` logger (and its children) is shown: 0 warnings,
1 info, 2 debug. Messages go to stderr through ``tqdm.write``, so they do not tear a bar. The CLI's
``-v``/``-vv`` and the estimator's ``verbose`` use both.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

__all__ = ["ProgressBar", "verbosity", "level_for", "LOGGER"]

LOGGER = "kandisco"  # every module's logger is this one or a child of it (kandisco.kan.train, ...)


class ProgressBar:
    """A tqdm.auto bar of ``budget_seconds``: each call moves it to the seconds elapsed (capped at
    the budget) and shows the strategy just judged. A context manager; :meth:`close` is idempotent.

    ``file`` (default stderr), ``disable`` and ``leave`` are tqdm's (``disable=None``: off where
    ``file`` is not a terminal).
    """

    def __init__(
        self, budget_seconds: float, *, desc: str = "discover", file: IO[str] | None = None, disable: bool | None = False, leave: bool = True
    ) -> None:
        from tqdm.auto import tqdm

        self.budget_seconds = float(budget_seconds)
        self.last: str | None = None  # the strategy the bar last showed
        self._bar: Any = tqdm(
            total=self.budget_seconds, desc=desc, unit="s", file=file if file is not None else sys.stderr, disable=disable, leave=leave,
            bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s{postfix}",
        )
        self._closed = False

    def __call__(self, strategy: str, elapsed: float) -> None:
        if self._closed:
            return
        self.last = strategy
        self._bar.n = min(max(float(elapsed), 0.0), self.budget_seconds)
        self._bar.set_postfix_str(strategy, refresh=False)
        self._bar.refresh()

    @property
    def n(self) -> float:
        """Seconds the bar shows."""
        return float(self._bar.n)

    @property
    def total(self) -> float:
        return float(self._bar.total)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def level_for(verbose: int) -> int:
    """The logging level of a verbosity: 0 (or less) WARNING, 1 INFO, 2 or more DEBUG."""
    return logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG


class _TqdmHandler(logging.StreamHandler):
    """Writes through ``tqdm.write``, which clears and redraws any bar on the same stream."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm.auto import tqdm

        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # noqa: BLE001 - logging's own contract: a failing handler reports, never raises
            self.handleError(record)


@contextmanager
def verbosity(verbose: int, stream: IO[str] | None = None) -> Iterator[logging.Logger]:
    """Show the ``kandisco`` logger at :func:`level_for` ``(verbose)`` while the block runs, then put
    its level and handlers back.

    A stderr handler (``LEVEL: message``) is added only where no handler would receive the records
    already (nothing configured on the logger, its ancestors or the root), so an application's own
    logging setup - or pytest's ``caplog`` - gets them instead of a second copy.
    """
    logger = logging.getLogger(LOGGER)
    before = logger.level
    handler = None
    if not logger.hasHandlers():
        handler = _TqdmHandler(stream if stream is not None else sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level_for(verbose))
    try:
        yield logger
    finally:
        logger.setLevel(before)
        if handler is not None:
            logger.removeHandler(handler)
