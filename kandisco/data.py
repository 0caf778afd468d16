"""Measurements in: load and validate a table, pick target and features, name symbols, split.

Every problem with the user's table is a :class:`DataError` whose one-line message names the file,
the column and the row (1-based line numbers of the file, the header being line 1), so the CLI can
print it as ``error: ...`` and exit with code 2. Nothing is dropped silently: non-numeric columns are
reported in ``Dataset.notes``, and rows with NaN/inf are an error unless ``dropna=True``, which drops
them and says how many.

Units: a CSV header cell ``v [m/s]`` names the column ``v`` with the unit ``m/s`` (``theta [1]`` or
``theta []``: dimensionless); ``units=`` (a ``{column: unit}`` mapping, or a ``name,unit`` CSV file)
adds or overrides units. Units are read by pint (:mod:`kandisco.units`); an unknown unit is a
DataError naming the column. The units of the target and features are kept in ``Dataset.units``.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import sympy

from .errors import KandiscoError
from .units import UnitError, get_constants, parse_unit, split_header

__all__ = ["DataError", "Dataset", "Split", "load_dataset", "read_units_file", "row_word", "with_units", "with_constants", "with_sigma", "MIN_ROWS"]

MIN_ROWS = 5


class DataError(KandiscoError, ValueError):
    """The user's data cannot be used as given; the message says where and why."""


@dataclass
class Split:
    """Row indices of a train / validation / test split."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


@dataclass
class Dataset:
    """A numeric table with a chosen target and features.

    ``X`` is (n, d) float64, ``y`` is (n,) float64; ``symbols`` are sympy symbols named exactly as
    the columns (any text, including ``T [s]``, ``lambda`` or ``I``), so formulas print in the
    user's names.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    target_name: str
    source: str = "<arrays>"
    notes: list[str] = field(default_factory=list)
    row_labels: np.ndarray | None = None  # original line numbers, for messages after dropping rows
    units: dict[str, str] = field(default_factory=dict)  # unit text of the target and features that have one
    constants: dict[str, float] = field(default_factory=dict)  # feature columns that are named physical constants

    @property
    def symbols(self) -> list[sympy.Symbol]:
        return [sympy.Symbol(n, real=True) for n in self.feature_names]

    @property
    def target_symbol(self) -> sympy.Symbol:
        return sympy.Symbol(self.target_name, real=True)

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    def split(self, test: float = 0.2, val: float = 0.2, seed: int = 0) -> Split:
        """Shuffle rows with ``seed`` and cut them into train / validation / test fractions.

        Small tables keep at least one row in each non-empty part and at least 2 for training.
        """
        if not (0 <= test < 1 and 0 <= val < 1 and test + val < 1):
            raise ValueError(f"test={test} and val={val} must be fractions with test + val < 1")
        n = self.n_rows
        order = np.random.default_rng(seed).permutation(n)
        n_test = max(1, int(round(test * n))) if test > 0 else 0
        n_val = max(1, int(round(val * n))) if val > 0 else 0
        if n - n_test - n_val < 2:
            raise DataError(f"{self.source}: {n} rows are too few to split into train/validation/test")
        return Split(order[n_test + n_val :], order[n_test : n_test + n_val], order[:n_test])


def load_dataset(
    data: Any,
    target: str | None = None,
    features: Sequence[str] | str | None = None,
    *,
    dropna: bool = False,
    feature_names: Sequence[str] | None = None,
    target_name: str | None = None,
    min_rows: int = MIN_ROWS,
    units: Mapping[str, str] | str | Path | None = None,
) -> Dataset:
    """Build a :class:`Dataset` from a CSV path, a pandas DataFrame or ``(X, y)`` arrays.

    ``target`` defaults to the last numeric column and ``features`` to every other numeric column.
    For arrays, ``feature_names`` / ``target_name`` name the columns (default ``x0, x1, ...``, ``y``).
    ``units``: ``{column: unit}`` or a ``name,unit`` CSV file, on top of units in a CSV header.
    """
    if isinstance(features, str):
        features = [f.strip() for f in features.split(",") if f.strip()]
    in_header: dict[str, str] = {}
    given = read_units_file(units) if isinstance(units, (str, Path)) else dict(units or {})
    if isinstance(data, (str, Path)):
        header, columns, lines, source = _read_csv(Path(data))
        header, in_header = header_units(header, source)
    elif _is_dataframe(data):
        header, columns, lines, source = _from_frame(data)
    elif isinstance(data, tuple) and len(data) == 2:
        dataset = _from_arrays(data[0], data[1], feature_names, target_name, dropna, min_rows)
        return with_units(dataset, given)
    else:
        raise DataError(f"cannot read data of type {type(data).__name__}: pass a CSV path, a DataFrame or (X, y)")
    dataset = _select(header, columns, lines, source, target, features, dropna, min_rows)
    known = {n: u for n, u in in_header.items() if n in (dataset.target_name, *dataset.feature_names)}
    unknown = [n for n in given if n not in header]
    if unknown:
        raise DataError(f"{source}: units given for {', '.join(map(repr, unknown))}, which the table does not have "
                        f"(columns are {', '.join(header)})")
    known.update({n: u for n, u in given.items() if n in (dataset.target_name, *dataset.feature_names)})
    return with_units(dataset, known)


# ----------------------------------------------------------------------------- units
def header_units(header: Sequence[str], source: str) -> tuple[list[str], dict[str, str]]:
    """Column names without their ``[unit]`` (``v [m/s]`` -> ``v``) and the units, each checked (a DataError names the column)."""
    names, units = [], {}
    for cell in header:
        name, unit = split_header(cell)
        names.append(name)
        if unit is not None:
            _check_unit(unit, name, source)
            units[name] = unit
    _check_header(names, source)
    return names, units


def _check_unit(unit: str, column: str, source: str) -> None:
    try:
        parse_unit(unit)
    except UnitError as exc:
        raise DataError(f"{source}: column {column!r}: {exc}") from None


def with_units(dataset: Dataset, units: Mapping[str, str]) -> Dataset:
    """``dataset`` with ``units`` ({column: unit}) checked and added to its own; DataError for an
    unknown unit or a column the dataset does not use."""
    columns = (dataset.target_name, *dataset.feature_names)
    for name, unit in units.items():
        if name not in columns:
            raise DataError(f"{dataset.source}: units given for {name!r}, which is neither the target nor a feature "
                            f"({', '.join(columns)})")
        if not isinstance(unit, str):
            raise DataError(f"{dataset.source}: column {name!r}: the unit must be text such as 'm/s', got {unit!r}")
        _check_unit(unit, name, dataset.source)
    return replace(dataset, units={**dataset.units, **dict(units)})


def read_units_file(path: str | Path) -> dict[str, str]:
    """A ``name,unit`` CSV (header optional) as ``{name: unit}``; DataError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such units file")
    units: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for line, row in enumerate(csv.reader(fh), start=1):
            if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
                continue
            if line == 1 and [c.strip().lower() for c in row[:2]] == ["name", "unit"]:
                continue
            if len(row) != 2 or not row[0].strip():
                raise DataError(f"{path}: line {line}: expected 'name,unit', got {','.join(row)!r}")
            name, unit = row[0].strip(), row[1].strip()
            if name in units:
                raise DataError(f"{path}: line {line}: {name!r} is listed twice")
            _check_unit(unit, name, f"{path}: line {line}")
            units[name] = unit
    return units


def with_constants(dataset: Dataset, names: str | Sequence[str]) -> Dataset:
    """``dataset`` with named physical constants (``"c,G"``, see :mod:`kandisco.units.constants`) as
    extra feature columns of one value each, with their units, so that dimensional analysis can use them."""
    try:
        constants = get_constants(names)
    except UnitError as exc:
        raise DataError(str(exc)) from None
    clash = [c.name for c in constants if c.name in (dataset.target_name, *dataset.feature_names)]
    if clash:
        raise DataError(f"{dataset.source}: constant {clash[0]!r} has the name of a column; rename the column")
    if not constants:
        return dataset
    X = np.column_stack([dataset.X, np.tile([c.value for c in constants], (dataset.n_rows, 1))])
    return Dataset(X, dataset.y, [*dataset.feature_names, *(c.name for c in constants)], dataset.target_name, dataset.source,
                   list(dataset.notes), dataset.row_labels, {**dataset.units, **{c.name: c.unit for c in constants}},
                   {**dataset.constants, **{c.name: c.value for c in constants}})


def with_sigma(dataset: Dataset, sigma: str | Sequence[float] | np.ndarray) -> tuple[Dataset, np.ndarray]:
    """Split off the target's per-row one-sigma uncertainties: a feature column named ``sigma`` (then
    no longer a feature) or one value per row. DataError for a missing column, a wrong length, or a
    value that is not positive and finite (naming the row)."""
    if isinstance(sigma, str):
        if sigma not in dataset.feature_names:
            raise DataError(f"{dataset.source}: no column {sigma!r} for the uncertainties (--sigma); columns: "
                            f"{', '.join(dataset.feature_names)}")
        j = dataset.feature_names.index(sigma)
        values = dataset.X[:, j].copy()
        keep = [k for k in range(len(dataset.feature_names)) if k != j]
        if not keep:
            raise DataError(f"{dataset.source}: the uncertainties column {sigma!r} is the only input; there is nothing to fit on")
        dataset = replace(dataset, X=dataset.X[:, keep], feature_names=[dataset.feature_names[k] for k in keep],
                          units={k: v for k, v in dataset.units.items() if k != sigma})
        what = f"column {sigma!r}"
    else:
        values = np.asarray(sigma, dtype=np.float64).reshape(-1)
        if values.shape[0] != dataset.n_rows:
            raise DataError(f"{dataset.source}: {values.shape[0]} uncertainties (sigma) for {dataset.n_rows} rows")
        what = "sigma"
    bad = np.flatnonzero(~(np.isfinite(values) & (values > 0)))
    if bad.size:
        row = int(bad[0])
        where = f"line {int(dataset.row_labels[row])}" if dataset.row_labels is not None else f"row {row}"
        raise DataError(f"{dataset.source}: {what}: uncertainties must be positive and finite ({where} has {values[row]!r})")
    return dataset, values


# ----------------------------------------------------------------------------- readers
def _read_csv(path: Path) -> tuple[list[str], list[list[str]], list[int], str]:
    """Parse a CSV strictly: every row must have the header's number of fields."""
    src = str(path)
    if not path.exists():
        raise DataError(f"{src}: no such file")
    if not path.is_file():
        raise DataError(f"{src}: not a file")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{src}: the file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{src}: not UTF-8 text (undecodable byte at offset {exc.start}); save it as UTF-8 CSV"
        ) from None
    if "\x00" in text:
        raise DataError(f"{src}: contains NUL bytes; is it a binary file rather than CSV?")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[list[str]] = []
    lines: list[int] = []
    header: list[str] | None = None
    try:
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue  # blank lines carry no data
            if header is None:
                header = [c.strip() for c in row]
                continue
            if any("\n" in c or "\r" in c for c in row):
                start = lines[-1] + 1 if lines else 2
                raise DataError(f"{src}: line {start}: a quoted field runs over several lines (unclosed quote?)")
            if len(row) != len(header):
                fields = f"{len(row)} field{'s' if len(row) != 1 else ''}"
                raise DataError(f"{src}: line {reader.line_num} has {fields} but the header has {len(header)}")
            rows.append([c.strip() for c in row])
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise DataError(f"{src}: line {reader.line_num}: malformed CSV ({exc})") from None
    if header is None:
        raise DataError(f"{src}: the file is empty")
    _check_header(header, src)
    if not rows:
        raise DataError(f"{src}: has a header but no data rows")
    columns = [list(col) for col in zip(*rows)]
    return header, columns, lines, src


def _check_header(header: list[str], src: str) -> None:
    for pos, name in enumerate(header):
        if not name:
            raise DataError(f"{src}: column {pos + 1} has an empty name in the header")
    seen: dict[str, int] = {}
    for pos, name in enumerate(header):
        if name in seen:
            raise DataError(f"{src}: duplicate column name {name!r} (columns {seen[name] + 1} and {pos + 1})")
        seen[name] = pos


def _is_dataframe(obj: Any) -> bool:
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "columns")


def _from_frame(frame: Any) -> tuple[list[str], list[list[str]], list[int], str]:
    header = [str(c) for c in frame.columns]
    _check_header(header, "DataFrame")
    if len(frame) == 0:
        raise DataError("DataFrame: has columns but no rows")
    columns = [[_cell(v) for v in frame.iloc[:, j].tolist()] for j in range(frame.shape[1])]
    return header, columns, list(range(len(frame))), "DataFrame"


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "nan"
    return str(v)


def _parse_number(text: str) -> float | None:
    """A float for numeric text (NaN/inf allowed: they are reported later), None otherwise."""
    t = text.strip()
    if t == "" or t.lower() in ("na", "n/a", "null", "none", "nan", "-nan"):
        return math.nan
    try:
        return float(t)
    except ValueError:
        return None


# ----------------------------------------------------------------------------- selection
def _numeric_column(values: list[str]) -> tuple[np.ndarray | None, int | None]:
    """(floats, None) if every cell parses as a number; (None, first bad index) otherwise."""
    out = np.empty(len(values))
    for idx, v in enumerate(values):
        x = _parse_number(v)
        if x is None:
            return None, idx
        out[idx] = x
    return out, None


def _select(header, columns, lines, source, target, features, dropna, min_rows) -> Dataset:
    parsed = {}
    bad_cell = {}
    for name, col in zip(header, columns):
        arr, bad = _numeric_column(col)
        if arr is None:
            bad_cell[name] = bad
        else:
            parsed[name] = arr
    # a column with no number at all (every cell missing) is not numeric either
    for name in list(parsed):
        if np.isnan(parsed[name]).all():
            bad_cell[name] = 0
            del parsed[name]
    # a column that is mostly numbers with a few text cells is a typo, not a text column
    for name, row in bad_cell.items():
        col = columns[header.index(name)]
        parses = sum(_parse_number(v) is not None for v in col)
        if parses >= max(1, len(col) // 2) and parses < len(col):
            raise DataError(
                f"{source}: column {name!r} is not numeric ({row_word(source)} {lines[row]} has {col[row]!r})"
            )
    numeric = [n for n in header if n in parsed]
    notes = []
    if target is None:
        if not numeric:
            raise DataError(f"{source}: no numeric column to use as the target")
        target = numeric[-1]
    if target not in header:
        raise DataError(f"{source}: target column {target!r} not found; columns are {', '.join(header)}")
    if features is None:
        features = [n for n in numeric if n != target]
    else:
        features = list(features)
        for name in features:
            if name not in header:
                raise DataError(f"{source}: feature column {name!r} not found; columns are {', '.join(header)}")
        dup = {f for f in features if features.count(f) > 1}
        if dup:
            raise DataError(f"{source}: feature {sorted(dup)[0]!r} is listed twice")
    if target in features:
        raise DataError(f"{source}: column {target!r} cannot be both the target and a feature")
    for name in [target, *features]:
        if name in bad_cell:
            row = bad_cell[name]
            raise DataError(
                f"{source}: column {name!r} is not numeric ({row_word(source)} {lines[row]} has "
                f"{columns[header.index(name)][row]!r})"
            )
    left_out = [n for n in header if n not in parsed]
    if left_out:
        notes.append(f"non-numeric columns left out: {', '.join(left_out)}")
    unused = [n for n in numeric if n != target and n not in features]
    if unused:
        notes.append(f"numeric columns not used as features: {', '.join(unused)}")
    if not features:
        raise DataError(f"{source}: no feature columns (the only numeric column is the target {target!r})")

    X = np.column_stack([parsed[n] for n in features])
    y = parsed[target].copy()
    labels = np.asarray(lines)
    X, y, labels = _handle_nonfinite(X, y, labels, [*features, target], source, dropna, notes)
    return _finish(X, y, features, target, source, notes, labels, min_rows)


def _handle_nonfinite(X, y, labels, names, source, dropna, notes):
    table = np.column_stack([X, y])
    bad_rows = ~np.isfinite(table).all(axis=1)
    if not bad_rows.any():
        return X, y, labels
    if dropna:
        count = int(bad_rows.sum())
        notes.append(f"dropped {count} row{'s' if count != 1 else ''} with NaN/inf values (--dropna)")
        keep = ~bad_rows
        return X[keep], y[keep], labels[keep]
    where = np.flatnonzero(bad_rows)
    shown = []
    for r in where[:5]:
        cols = [names[c] for c in np.flatnonzero(~np.isfinite(table[r]))]
        shown.append(f"{row_word(source)} {labels[r]} ({', '.join(cols)})")
    more = f" and {len(where) - 5} more" if len(where) > 5 else ""
    raise DataError(
        f"{source}: missing, NaN or infinite values at {'; '.join(shown)}{more}; fix them or pass --dropna"
    )


def row_word(source: str) -> str:
    """``line`` for a file's rows (1-based line numbers, the header being line 1), ``row`` for a frame's or arrays' (0-based positions)."""
    return "row" if source in ("arrays", "DataFrame") else "line"


def name_rows(labels: Sequence[int], word: str, shown: int = 12) -> str:
    """``lines 4, 17, 30`` (``word`` is ``line`` or ``row``, the labels as the user knows them); at most ``shown`` named."""
    labels = [int(r) for r in labels]
    text = ", ".join(str(r) for r in labels[:shown]) + (f" and {len(labels) - shown} more" if len(labels) > shown else "")
    return f"{word}{'s' if len(labels) != 1 else ''} {text}"


def _finish(X, y, features, target, source, notes, labels, min_rows) -> Dataset:
    n = X.shape[0]
    if n < min_rows:
        raise DataError(f"{source}: {n} usable rows (n_samples = {n}), at least {min_rows} are needed")
    for j, name in enumerate(features):
        if np.ptp(X[:, j]) == 0:
            raise DataError(f"{source}: feature column {name!r} is constant ({X[0, j]:g}); drop it")
    if np.ptp(y) == 0:
        raise DataError(f"{source}: target column {target!r} is constant ({y[0]:g}): there is no law to find")
    return Dataset(X.astype(np.float64), y.astype(np.float64), list(features), target, source, notes, labels)


def _from_arrays(X, y, feature_names, target_name, dropna, min_rows) -> Dataset:
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if X.ndim != 2 or y.ndim != 1:
        raise DataError(f"arrays: X must be (n, d) and y (n,), got {X.shape} and {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise DataError(f"arrays: X has {X.shape[0]} rows but y has {y.shape[0]}")
    names = list(feature_names) if feature_names is not None else [f"x{j}" for j in range(X.shape[1])]
    if len(names) != X.shape[1]:
        raise DataError(f"arrays: {len(names)} feature names for {X.shape[1]} columns")
    target = target_name or "y"
    _check_header([*names, target], "arrays")
    notes: list[str] = []
    labels = np.arange(X.shape[0])
    X, y, labels = _handle_nonfinite(X, y, labels, [*names, target], "arrays", dropna, notes)
    return _finish(X, y, names, target, "arrays", notes, labels, min_rows)
