"""Discovery on data as measured (issue 17): noise, error bars, outliers, constants with errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import sympy

from kandisco import DataError, discover
from kandisco.cli import main
from kandisco.data import load_dataset
from kandisco.discovery.law_fit import fit_law
from kandisco.discovery.outlier_repick import isolated_rows, refit_without_rows
from kandisco.discovery.pipeline import _sane_front
from kandisco.discovery.result import Candidate, DiscoveryResult

x0, x1 = sympy.Symbol("x0", positive=True), sympy.Symbol("x1", positive=True)


def _hubble(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    r = rng.uniform(0.1, 2.0, n)
    return pd.DataFrame({"r": r, "v": 70.0 * r + rng.normal(0, 5.0, n)})


def test_a_fitted_constant_comes_with_its_standard_error():
    frame = _hubble()
    result = discover(frame, target="v", budget_seconds=20, seed=0, max_strategies=2, n_jobs=1)
    assert result.constants, result.formula
    slope = max(result.constants, key=lambda c: abs(c["value"]))
    assert slope["value"] == pytest.approx(70.0, abs=4 * slope["error"])
    assert 0 < slope["error"] < 5
    assert "+-" in result.formula_with_errors and r"\pm" in result.latex_with_errors
    assert result.config["noise"]["kind"] == "additive"
    back = DiscoveryResult.from_json(result.to_json())
    assert back.constants == result.constants and back.fit == result.fit


def test_the_cli_prints_the_law_with_errors_and_the_noise(tmp_path, capsys):
    path = tmp_path / "hubble.csv"
    _hubble().to_csv(path, index=False)
    assert main(["discover", str(path), "--target", "v", "--budget", "20", "--max-strategies", "2", "--jobs", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "with errors (1 sigma): v = " in out and "+-" in out
    assert "noise: additive" in out


def test_per_row_sigma_is_a_weighted_fit_with_a_reduced_chi_square(tmp_path):
    rng = np.random.default_rng(1)
    r = rng.uniform(0.1, 2.0, 60)
    dv = rng.uniform(1.0, 8.0, 60)
    frame = pd.DataFrame({"r": r, "dv": dv, "v": 70.0 * r + rng.normal(0, dv)})
    result = discover(frame, target="v", sigma="dv", budget_seconds=20, seed=0, max_strategies=2, n_jobs=1)
    assert result.features == ["r"]  # the uncertainties are not an input
    assert result.fit["weighted"] and result.config["noise"]["source"] == "given per-row sigma"
    if result.constants:
        assert 0.4 < result.fit["reduced_chi2"] < 2.0


def test_a_bad_uncertainty_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("r,dv,v\n1,0.5,70\n2,0.5,141\n3,-1,209\n4,0.5,281\n5,0.5,350\n6,0.5,420\n")
    with pytest.raises(DataError, match=r"column 'dv'.*line 4"):
        discover(str(path), target="v", sigma="dv", budget_seconds=5)
    with pytest.raises(DataError, match="no column 'dz'"):
        discover(str(path), target="v", sigma="dz", budget_seconds=5)


def test_outliers_of_the_law_are_named_and_the_constants_refitted_robustly():
    rng = np.random.default_rng(2)
    X = rng.uniform(1, 5, size=(200, 2))
    y = 2.5 * X[:, 0] * X[:, 1] ** 2 * (1 + 0.01 * rng.normal(size=200))
    bad = np.array([3, 50, 51, 120, 199])
    y[bad] *= 3.0
    expr = sympy.Float(2.4) * x0 * x1**2
    train = np.arange(0, 200, 2)
    val = np.arange(1, 200, 2)
    fit = fit_law(expr, [x0, x1], X, y, train, val, relative=True)
    assert sorted(fit.outliers) == bad.tolist()
    assert fit.robust
    assert fit.expr == sympy.Rational(5, 2) * x0 * x1**2  # refitted without the outliers' pull, then snapped


def test_a_small_tables_law_is_refitted_on_the_rows_it_was_picked_on():
    # cross-validation picks on training + validation rows; the search fitted on the training rows only
    rng = np.random.default_rng(3)
    X = rng.uniform(12, 48, size=(25, 1))
    y = 1400.0 / X[:, 0] * (1 + 0.01 * rng.normal(size=25))
    rows = np.arange(20)
    expr = sympy.Float(1380.0) / x0
    assert fit_law(expr, [x0], X, y, rows, relative=False).expr == expr  # no outliers, no sigma: kept as it is
    fit = fit_law(expr, [x0], X, y, rows, relative=False, refit=True)
    u = 1 / X[rows, 0]
    closed = float(u @ y[rows] / (u @ u))  # least squares of c/V: the closed form
    assert float(fit.expr * x0) == pytest.approx(closed, rel=1e-8)
    assert fit.constants[0].error > 0


def test_a_formula_not_finite_on_some_row_never_wins():
    X = np.column_stack([np.linspace(1, 3, 50)])
    good = Candidate("x0", "x0", complexity=1, loss=0.5, strategy="t", seconds=0.0)
    bad = Candidate("log(x0 - 2)", "log(x0 - 2)", complexity=4, loss=1e-3, strategy="t", seconds=0.0)
    front = _sane_front([good, bad], list, set(), [sympy.Symbol("x0", real=True)], X)
    assert [c.formula for c in front] == ["x0"]


def test_outliers_of_a_frame_are_named_by_row_position():
    """A DataFrame has no file lines: its outlying rows are named by position, and said to be."""
    rng = np.random.default_rng(1)
    x = rng.uniform(1, 3, 200)
    y = 3 * x + 0.03 * rng.normal(size=200)
    bad = [10, 50, 150]
    y[bad] *= 3
    result = discover(pd.DataFrame({"x": x, "y": y}), target="y", budget_seconds=10, seed=0)
    assert sorted(result.outliers) == bad and result.fit["outlier_rows_are"] == "row indices"
    assert any("rows 10, 50, 150" in note for note in result.notes), result.notes


@pytest.mark.slow
def test_kepler_with_ten_percent_corrupted_rows_gives_the_law_and_names_them(tmp_path):
    """Issue 17's acceptance case: T ~ a^1.5 M^-0.5 from 250 rows, 25 of them off by a factor 2-5."""
    rng = np.random.default_rng(0)
    n = 250
    a = np.exp(rng.uniform(np.log(0.01), np.log(30), n))
    m = np.exp(rng.uniform(np.log(0.1), np.log(3), n))
    t = a**1.5 / np.sqrt(m) * (1 + 0.01 * rng.normal(size=n))
    bad = rng.choice(n, 25, replace=False)
    t[bad] *= rng.uniform(2, 5, 25) ** rng.choice([-1, 1], 25)
    path = tmp_path / "planets.csv"
    pd.DataFrame({"a_AU": a, "M_sun": m, "T_yr": t}).to_csv(path, index=False)
    result = discover(str(path), target="T_yr", budget_seconds=60, seed=0)
    a_s, m_s = sympy.symbols("a_AU M_sun", real=True)
    assert sympy.simplify(result.expr - a_s ** sympy.Rational(3, 2) / sympy.sqrt(m_s)) == 0, result.formula
    assert sorted(result.outliers) == sorted((bad + 2).tolist())  # line numbers: the header is line 1


def test_noise_argument_is_checked():
    with pytest.raises(ValueError, match="noise must be a relative uncertainty"):
        discover(_hubble(), target="v", noise=-1, budget_seconds=5)
    with pytest.raises(ValueError, match="sigma .* or noise"):
        discover(_hubble(), target="v", noise=0.01, sigma=[1.0] * 40, budget_seconds=5)
    for bad in (0.5, float("nan"), "10", True):
        with pytest.raises(ValueError, match="correlated_rows must be a number of rows"):
            discover(_hubble(), target="v", correlated_rows=bad, budget_seconds=5)


def test_json_output_carries_constants_and_noise(tmp_path, capsys):
    path = tmp_path / "hubble.csv"
    _hubble().to_csv(path, index=False)
    assert main(["discover", str(path), "--target", "v", "--budget", "10", "--max-strategies", "1", "--jobs", "1", "--json",
                 "--noise", "0.05"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["noise"]["source"] == "given fraction 0.05"
    assert isinstance(payload["constants"], list) and "fit" in payload and isinstance(payload["outliers"], list)
    assert all(math.isfinite(c["value"]) for c in payload["constants"])


def test_refit_without_rows_gives_the_closed_form_constant_and_snaps_it():
    """A constant fitted with an outlier row (0.9 for 2) is refitted on the clean rows: the closed-form
    least squares, then snapped to 2 at that noise; its loss is on the clean validation rows."""
    rng = np.random.default_rng(4)
    x = rng.uniform(1, 3, 300)
    y = 2 * x**2 * (1 + 0.001 * rng.normal(size=300))
    x0 = sympy.Symbol("x0", positive=True)
    train, val = (x[:200, None], y[:200]), (x[200:, None], y[200:])
    ((law, loss),) = refit_without_rows([sympy.Float(0.9) * x0**2], [x0], train, val, relative=False, noise=0.001 * np.std(y))
    assert law == 2 * x0**2
    assert loss == pytest.approx(float(np.sqrt(np.mean((2 * x[200:] ** 2 - y[200:]) ** 2))))
    # without snapping (no noise known and a constant away from a nice number) it is the closed form
    exact = (x[:200, None], 2.05 * x[:200] ** 2), (x[200:, None], 2.05 * x[200:] ** 2)
    ((law, _),) = refit_without_rows([sympy.Float(0.9) * x0**2], [x0], *exact, relative=False)
    assert float(law / x0**2) == pytest.approx(2.05, rel=1e-9) or law == 41 * x0**2 / 20


def test_only_scattered_rows_count_as_outliers_not_a_region_a_wrong_law_misses():
    """Rows a law calls far off are outliers when scattered; a contiguous block of them (a region the
    law gets wrong, such as a Gaussian's peak) is not."""
    rng = np.random.default_rng(5)
    X = rng.uniform(0, 1, size=(400, 2))
    scattered = [int(i) for i in rng.choice(400, 8, replace=False)]
    near_centre = np.argsort(np.linalg.norm(X - 0.5, axis=1))[:15].tolist()
    kept = isolated_rows(X, scattered + near_centre)
    assert set(kept) <= set(scattered) - set(near_centre)  # the block is dropped whole
    assert len(kept) >= 6  # scattered rows stay (one may happen to sit next to another named row)
    assert isolated_rows(X, []) == []


def test_noise_the_estimate_missed_is_seen_in_a_laws_residuals_and_the_law_found():
    # II.11.27 at 1%: the local polynomial's curvature error on n*alpha*eps*Ef/(1 - n*alpha/3) is as large as the
    # noise, so the estimate saw none and every sum had to be exact; the inverse sum's residuals leave no trend
    # at the noise, which from then on is the noise: the law comes out snapped
    from kandisco.bench.tasks import load_tasks

    task = load_tasks("feynman", ["II.11.27"])[0].data(0.01, 0)
    data = load_dataset((task.X_train, task.y_train), feature_names=list(task.features), target_name=task.target)
    result = discover(data, budget_seconds=30, n_jobs=1, seed=0)
    n, alpha, eps, Ef = sympy.symbols("n alpha epsilon Ef", positive=True)
    law = result.expr.xreplace({s: sympy.Symbol(s.name, positive=True) for s in result.expr.free_symbols})
    assert sympy.simplify(law - n * alpha * eps * Ef / (1 - n * alpha / 3)) == 0, result.formula
    noise = result.config["noise"]
    assert noise["kind"] == "additive" and "seen in the residuals" in noise["source"]
    assert 0.8 < noise["sigma"] / (0.01 * np.std(task.y_train)) < 1.3
