"""Vector laws: one law per output from the same inputs, in Python and on the command line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import sympy

from kandisco.cli import main
from kandisco.data import DataError
from kandisco.discovery import discover
from kandisco.discovery.vector import VectorResult, shared_factor, split_targets


def test_split_targets_reads_lists_and_commas():
    assert split_targets("Fx, Fy,Fz") == ["Fx", "Fy", "Fz"]
    assert split_targets(["a", "b"]) == ["a", "b"]
    assert split_targets("T") is None and split_targets(["T"]) is None and split_targets(None) is None
    with pytest.raises(DataError, match="more than once"):
        split_targets("a,a")


def test_shared_factor_is_what_every_law_has():
    q, a, b, c = sympy.symbols("q a b c", real=True)
    assert shared_factor([q * (a + b * c), q * (b - a * c), 2 * q * a]) == q
    assert shared_factor([q * a * (b + 1), q * a * c]) == q * a
    assert shared_factor([q * a, b + c]) is None


def _table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-2, 2, n), rng.uniform(0.5, 2, n)
    return pd.DataFrame({"a": a, "b": b, "u": 2 * a * b, "w": a * b**2 - a})


def test_discover_with_a_list_of_targets_gives_one_law_per_output():
    result = discover(_table(), target=["u", "w"], budget_seconds=20, n_jobs=1, seed=0)
    assert isinstance(result, VectorResult) and result.targets == ["u", "w"]
    a, b = sympy.symbols("a b", real=True)
    by_name = {s.name: s for s in (a, b)}
    laws = {t: r.expr.xreplace({s: by_name[s.name] for s in r.expr.free_symbols}) for t, r in result.laws.items()}
    assert sympy.simplify(laws["u"] - 2 * a * b) == 0 and sympy.simplify(laws["w"] - (a * b**2 - a)) == 0, result
    assert all(r.features == ["a", "b"] for r in result.laws.values())  # the other output is never an input
    assert result.shared_factor == "a"
    np.testing.assert_allclose(result.predict(_table()[["a", "b"]].to_numpy()), _table()[["u", "w"]].to_numpy(), atol=1e-9)
    assert json.loads(result.to_json())["laws"] == result.formulas


def test_arrays_with_one_column_per_output():
    t = _table()
    result = discover((t[["a", "b"]].to_numpy(), t[["u", "w"]].to_numpy()), target="u,w", budget_seconds=20, n_jobs=1)
    assert result["u"].r2_test > 1 - 1e-9 and result["w"].r2_test > 1 - 1e-9
    with pytest.raises(Exception, match="one column per output"):
        discover((t[["a", "b"]].to_numpy(), t[["u"]].to_numpy()), target="u,w", budget_seconds=5)


def test_an_output_cannot_be_an_input():
    with pytest.raises(DataError, match="both an output and an input"):
        discover(_table(), target="u,w", features="a,b,w", budget_seconds=5)


def test_cli_vector_target_prints_a_laws_mapping(tmp_path, capsys):
    path = tmp_path / "vec.csv"
    _table().to_csv(path, index=False)
    assert main(["discover", str(path), "--target", "u,w", "--budget", "20", "--jobs", "1", "--json", "--quiet",
                 "--out", str(tmp_path / "out")]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload["laws"]) == {"u", "w"} and payload["results"]["u"]["r2_test"] > 1 - 1e-9
    assert payload["shared_factor"] == "a"
    a, b = sympy.symbols("a b")
    assert sympy.simplify(sympy.sympify(payload["laws"]["u"]) - 2 * a * b) == 0
    assert (tmp_path / "out" / "u" / "result.json").exists() and (tmp_path / "out" / "laws.json").exists()


@pytest.mark.slow
def test_lorentz_force_all_three_components():
    rng = np.random.default_rng(0)
    n = 1000
    q = rng.uniform(-2, 2, n)
    E, v, B = (rng.uniform(-1, 1, (n, 3)) for _ in range(3))
    F = q[:, None] * (E + np.cross(v, B))
    names = ["q", "Ex", "Ey", "Ez", "vx", "vy", "vz", "Bx", "By", "Bz"]
    frame = pd.DataFrame(np.column_stack([q, E, v, B, F]), columns=[*names, "Fx", "Fy", "Fz"])
    result = discover(frame, target=["Fx", "Fy", "Fz"], budget_seconds=60, seed=0)
    s = {n: sympy.Symbol(n, real=True) for n in names}
    truth = {"Fx": s["q"] * (s["Ex"] + s["vy"] * s["Bz"] - s["vz"] * s["By"]),
             "Fy": s["q"] * (s["Ey"] + s["vz"] * s["Bx"] - s["vx"] * s["Bz"]),
             "Fz": s["q"] * (s["Ez"] + s["vx"] * s["By"] - s["vy"] * s["Bx"])}
    for name, r in result.laws.items():
        law = r.expr.xreplace({x: s[x.name] for x in r.expr.free_symbols})
        assert sympy.simplify(law - truth[name]) == 0, (name, r.formula)
    assert result.shared_factor == "q"
