"""``kandisco discover`` with --symmetric, --positive, --increasing/--decreasing and --known."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import sympy

from kandisco.cli import main


@pytest.fixture
def oscillator_csv(tmp_path):
    """a = -omega^2 x - 0.3 v|v|: a known linear spring plus a quadratic drag to find."""
    rng = np.random.default_rng(2)
    x, v, w = rng.uniform(-1, 1, 400), rng.uniform(-1, 1, 400), rng.uniform(1, 2, 400)
    path = tmp_path / "osc.csv"
    pd.DataFrame({"x": x, "v": v, "omega": w, "a": -(w**2) * x - 0.3 * v * np.abs(v)}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("options, message", [
    (["--symmetric", "x"], "two to four inputs"),
    (["--increasing", "x,zz"], "zz is not an input"),
    (["--decreasing", ","], "at least one input"),
    (["--known=-omega**2*q"], "unknown name 'q'"),
    (["--known=-omega**2*"], "--known"),
    (["--target", "a,v", "--known", "x"], "one target"),
])
def test_bad_constraint_options_are_clear_errors(oscillator_csv, capsys, options, message):
    assert main(["discover", str(oscillator_csv), "--quiet", "--budget", "5", *options]) == 2
    assert message in capsys.readouterr().err


def test_known_formula_is_never_evaluated(oscillator_csv, tmp_path, capsys):
    marker = tmp_path / "ran"
    code = f"__import__('os').system('touch {marker}')"
    assert main(["discover", str(oscillator_csv), "--quiet", "--budget", "5", "--known", code]) == 2
    assert not marker.exists()
    assert "unknown name '__import__'" in capsys.readouterr().err


def test_known_part_from_the_command_line(oscillator_csv, capsys):
    assert main(["discover", str(oscillator_csv), "--target", "a", "--quiet", "--json", "--jobs", "1", "--budget", "15",
                 "--known=-omega^2*x", "--decreasing", "x"]) == 0
    payload = json.loads(capsys.readouterr().out)
    x, v, w = sympy.symbols("x v omega", real=True)
    found = sympy.sympify(payload["formula"], locals={"x": x, "v": v, "omega": w})
    assert sympy.simplify(found - (-(w**2) * x - sympy.Rational(3, 10) * v * sympy.Abs(v))) == 0
    assert payload["constraints"]["satisfied"]
    assert payload["constraints"]["constraints"] == ["decreasing in x", "contains the known part -omega**2*x"]
