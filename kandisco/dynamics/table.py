"""Reading the tables of :mod:`kandisco.dynamics` (trajectories, positions and forces): a CSV path or a
DataFrame, numeric columns, and errors that name the file, the column and the line (or the frame's row)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import DataError

__all__ = ["numeric_column", "read_frame", "row_name"]


def read_frame(data: Any) -> tuple[pd.DataFrame, str, bool]:
    """(frame, source name, whether its rows are file lines): a CSV path or a DataFrame, with errors that name the file."""
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True), "<frame>", False
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.exists():
            raise DataError(f"{path}: no such file")
        try:
            frame = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: cannot be read as CSV ({exc})") from None
        return frame, str(path), True
    raise DataError(f"data must be a CSV path or a pandas DataFrame, got {type(data).__name__}")


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
