"""Loading user tables: every malformed file gets one clear line naming what is wrong, exit code 2."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sympy

from kandisco.data import DataError, load_dataset

BAD = Path(__file__).parent / "data" / "bad_csv"
ROOT = Path(__file__).resolve().parents[1]

# file -> a fragment the message must contain (the file name is checked for every case)
EXPECTED = {
    "empty.csv": "the file is empty",
    "blank_lines_only.csv": "the file is empty",
    "header_only.csv": "header but no data rows",
    "duplicate_columns.csv": "duplicate column name 'x' (columns 1 and 3)",
    "row_too_long.csv": "line 3 has 3 fields but the header has 2",
    "row_too_short.csv": "line 3 has 1 field but the header has 2",
    "nan_value.csv": "line 3 (y)",
    "inf_value.csv": "line 4 (x)",
    "missing_value.csv": "line 3 (y)",
    "too_few_rows.csv": "3 usable rows (n_samples = 3), at least 5",
    "constant_feature.csv": "feature column 'c' is constant",
    "constant_target.csv": "target column 'y' is constant",
    "text_in_target.csv": "column 'y' is not numeric (line 4 has 'abc')",
    "no_numeric_columns.csv": "no numeric column",
    "utf16.csv": "not UTF-8",
    "latin1_bytes.csv": "not UTF-8",
    "empty_column_name.csv": "column 2 has an empty name",
    "unclosed_quote.csv": "unclosed quote",
}


def test_corpus_is_complete():
    assert sorted(p.name for p in BAD.glob("*.csv")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 15


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bad_file_gives_its_clear_error(name):
    with pytest.raises(DataError) as info:
        load_dataset(BAD / name)
    message = str(info.value)
    assert name in message and EXPECTED[name] in message
    assert "\n" not in message


@pytest.mark.parametrize("name", ["empty.csv", "nan_value.csv", "text_in_target.csv", "utf16.csv"])
def test_cli_exit_code_2_and_one_line_on_stderr(name):
    proc = subprocess.run(
        [sys.executable, "-m", "kandisco.cli", "discover", str(BAD / name), "--quiet", "--budget", "5"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and EXPECTED[name] in lines[0]
    assert "Traceback" not in proc.stderr


def test_missing_target_and_feature_are_named(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("a,b,c\n" + "\n".join(f"{i},{i * i},{i + 3}" for i in range(10)))
    with pytest.raises(DataError, match="target column 'z' not found"):
        load_dataset(path, target="z")
    with pytest.raises(DataError, match="feature column 'q' not found"):
        load_dataset(path, features=["a", "q"])
    with pytest.raises(DataError, match="both the target and a feature"):
        load_dataset(path, target="a", features="a,b")
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tmp_path / "nope.csv")


def test_defaults_notes_and_dropna(tmp_path):
    path = tmp_path / "t.csv"
    rows = ["planet,a,e,T"] + [f"p{i},{i + 1},{0.1 * i},{(i + 1) ** 1.5}" for i in range(8)] + ["p9,,0.2,3.0"]
    path.write_text("\n".join(rows))
    with pytest.raises(DataError, match="line 10"):
        load_dataset(path)
    data = load_dataset(path, dropna=True)
    assert data.target_name == "T" and data.feature_names == ["a", "e"]
    assert data.n_rows == 8
    assert any("non-numeric columns left out: planet" in n for n in data.notes)
    assert any("dropped 1 row" in n for n in data.notes)
    np.testing.assert_allclose(data.y, np.arange(1, 9) ** 1.5)


def test_awkward_column_names_become_symbols_that_print_as_written():
    names = ["T [s]", "2x", "lambda", "I", "gamma", "beta", "E"]
    frame = pd.DataFrame({n: np.arange(10.0) * (k + 1) + k * k for k, n in enumerate(names)})
    data = load_dataset(frame, target="E")
    syms = data.symbols
    assert [str(s) for s in syms] == names[:-1]
    assert all(isinstance(s, sympy.Symbol) for s in syms)  # not the imaginary unit, gamma or beta functions
    expr = syms[0] * syms[2] + syms[3] ** 2
    assert expr.free_symbols == {syms[0], syms[2], syms[3]}


def test_arrays_and_split_are_deterministic():
    X = np.random.default_rng(0).uniform(size=(50, 2))
    data = load_dataset((X, X[:, 0] + X[:, 1]), feature_names=["p", "q"], target_name="r")
    s1, s2 = data.split(seed=3), data.split(seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((s1.train, s1.val, s1.test), (s2.train, s2.val, s2.test)))
    assert sorted(np.concatenate([s1.train, s1.val, s1.test]).tolist()) == list(range(50))
    assert len(s1.test) == 10 and len(s1.val) == 10
    assert not np.array_equal(data.split(seed=4).test, s1.test)
    with pytest.raises(DataError, match="3 rows but y has 2"):
        load_dataset((np.zeros((3, 1)), np.zeros(2)))
