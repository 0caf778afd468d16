"""Reading the tables of :mod:`kandisco.dynamics` (trajectories, positions and forces): a CSV path or a
DataFrame, numeric columns, and errors that name the file, the column and the line (or the frame's row)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from ..data import DataError, header_units

__all__ = ["Table", "numeric_column", "read_frame", "row_name"]


class Table(NamedTuple):
    """A table as read: the frame (column names without their units), where it came from, and the units."""

    frame: pd.DataFrame
    source: str  # the file's path, or "<frame>"
    lines: bool  # whether the frame's rows are a file's lines (errors then name line numbers)
    units: dict[str, str]  # from headers such as ``x [m]``, checked by pint; {} when none


def read_frame(data: Any) -> Table:
    """A CSV path or a DataFrame as a :class:`Table`; errors name the file, and a header's ``[unit]``
    (``x [m]``, ``t [s]``) becomes the column's unit."""
    if isinstance(data, pd.DataFrame):
        frame, source, lines = data.reset_index(drop=True), "<frame>", False
    elif isinstance(data, (str, Path)):
        path = Path(data)
        if not path.exists():
            raise DataError(f"{path}: no such file")
        try:
            frame = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: cannot be read as CSV ({exc})") from None
        source, lines = str(path), True
    else:
        raise DataError(f"data must be a CSV path or a pandas DataFrame, got {type(data).__name__}")
    names, units = header_units([str(c) for c in frame.columns], source)
    if units:
        frame = frame.set_axis(names, axis=1)
    return Table(frame, source, lines, units)


def row_name(source: str, lines: bool, row: int) -> str:
    """A row of the table as its user knows it: the file's line (header = line 1), or the frame's row."""
    return f"{source} line {row + 2}" if lines else f"{source} row {row}"


def numeric_column(frame: pd.DataFrame, column: str, source: str, lines: bool) -> np.ndarray:
    """A column as floats; the first cell that is no finite number is an error naming its line and the count."""
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = np.nonzero(~np.isfinite(values))[0]
    if len(bad):
        raw = frame[column].iloc[bad[0]]
        raise DataError(f"{row_name(source, lines, int(bad[0]))}: column {column!r} is {raw!r}, not a finite number "
                        f"({len(bad)} such cells in the column)")
    return values
