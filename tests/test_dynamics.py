"""kandisco.dynamics: textbook systems against closed forms and invariants, derivative estimates,
trajectory validation, the simulation check, discover_ode, the SINDy baseline and `kandisco ode`."""

import json

import numpy as np
import pandas as pd
import pytest
import sympy

from kandisco.data import DataError
from kandisco.dynamics import SYSTEMS, discover_ode, estimate_derivative, get_system, prepare_trajectories, simulate_laws, simulate_system
from kandisco.dynamics.derivatives import DerivativeError, noise_level
from kandisco.dynamics.sindy import unavailable as sindy_unavailable
from kandisco.dynamics.systems import SystemError, two_state_systems
from kandisco.symbolic.equivalence import check_equivalence

needs_pysindy = pytest.mark.skipif(sindy_unavailable() is not None, reason=str(sindy_unavailable()))


def _sym(*names):
    return [sympy.Symbol(n, real=True) for n in names]


# --- systems: the laws as written in textbooks, independently of systems.py ---------------------------

def test_at_least_twelve_systems_and_ten_with_two_states():
    assert len(SYSTEMS) >= 12 and len(two_state_systems()) >= 10
    with pytest.raises(SystemError, match="known: decay"):
        get_system("lorentz")


def test_laws_are_the_textbook_right_hand_sides():
    x, y, z, v = _sym("x", "y", "z", "v")
    s, i, r = _sym("s", "i", "r")
    w1, w2, w3 = _sym("w1", "w2", "w3")
    textbook = {
        "lorenz": {"x": 10 * (y - x), "y": x * (28 - z) - y, "z": x * y - sympy.Rational(8, 3) * z},
        "van_der_pol": {"x": v, "v": (1 - x**2) * v - x},
        "lotka_volterra": {"x": x - x * y / 2, "y": x * y / 5 - sympy.Rational(3, 5) * y},
        "sir": {"s": -s * i / 2, "i": s * i / 2 - i / 10, "r": i / 10},
        "brusselator": {"x": 1 + x**2 * y - 4 * x, "y": 3 * x - x**2 * y},
        # Euler: I1 w1' = (I2 - I3) w2 w3 and cyclic, with I = (1, 2, 3)
        "rigid_body": {"w1": (2 - 3) * w2 * w3, "w2": sympy.Rational(3 - 1, 2) * w3 * w1, "w3": sympy.Rational(1 - 2, 3) * w1 * w2},
    }
    for name, laws in textbook.items():
        found = get_system(name).laws
        for state, law in laws.items():
            assert sympy.simplify(found[state] - law) == 0, (name, state, found[state])


def test_harmonic_and_decay_trajectories_match_their_closed_forms():
    table = simulate_system(get_system("harmonic"), n_trajectories=3, n_samples=200, seed=1)
    for _, run in table.groupby("run"):
        t, x0, v0 = run.t.to_numpy(), run.x.iloc[0], run.v.iloc[0]
        np.testing.assert_allclose(run.x, x0 * np.cos(2 * t) + v0 / 2 * np.sin(2 * t), atol=1e-8)
        np.testing.assert_allclose(run.dv, -4 * run.x, atol=1e-12)  # exact derivative: the law on the state
    table = simulate_system(get_system("decay"), n_trajectories=3, n_samples=100)
    for _, run in table.groupby("run"):
        np.testing.assert_allclose(run.x, run.x.iloc[0] * np.exp(-run.t / 2), rtol=1e-8)


def test_invariants_hold_along_simulated_trajectories():
    sir = simulate_system(get_system("sir"), 3, 200)
    np.testing.assert_allclose((sir.s + sir.i + sir.r).groupby(sir.run).std(), 0, atol=1e-9)
    body = simulate_system(get_system("rigid_body"), 3, 200)
    energy = body.w1**2 + 2 * body.w2**2 + 3 * body.w3**2
    momentum = body.w1**2 + 4 * body.w2**2 + 9 * body.w3**2
    assert energy.groupby(body.run).std().max() < 1e-8 and momentum.groupby(body.run).std().max() < 1e-8
    lv = simulate_system(get_system("lotka_volterra"), 3, 300)  # V = d x - g ln x + b y - a ln y is conserved
    V = 0.2 * lv.x - 0.6 * np.log(lv.x) + 0.5 * lv.y - np.log(lv.y)
    assert V.groupby(lv.run).std().max() < 1e-8


def test_noise_is_a_fraction_of_each_columns_spread_and_seeded():
    clean = simulate_system(get_system("pendulum"), 3, 200)
    noisy = simulate_system(get_system("pendulum"), 3, 200, noise=0.01)
    assert np.std(noisy.theta - clean.theta) == pytest.approx(0.01 * clean.theta.std(), rel=0.15)
    assert (noisy.domega == clean.domega).all()  # state noise only: derivatives stay exact
    again = simulate_system(get_system("pendulum"), 3, 200, noise=0.01)
    pd.testing.assert_frame_equal(noisy, again)


# --- derivatives ----------------------------------------------------------------------------------

def test_clean_series_give_derivatives_to_rounding_and_noisy_ones_to_the_noise():
    t = np.linspace(0, 10, 400)
    clean = estimate_derivative(np.sin(t), t)
    assert "s=0," in clean.method and np.max(np.abs(clean.dxdt - np.cos(t))) < 1e-6
    x = np.sin(t) + np.random.default_rng(0).normal(0, 0.01, len(t))
    assert noise_level(x) == pytest.approx(0.01, rel=0.2)
    noisy = estimate_derivative(x, t)
    assert "s=0," not in noisy.method
    error = np.sqrt(np.mean((noisy.dxdt - np.cos(t))[10:-10] ** 2))
    assert error < 0.03
    assert error / 4 < noisy.dxdt_sigma < error * 4  # the bootstrap's estimate of that error: the right size
    assert np.std(noisy.smoothed - np.sin(t)) < 0.006  # smoothed, not the data back
    assert clean.dxdt_sigma == 0
    with pytest.raises(DerivativeError, match="at least 7"):
        estimate_derivative(np.ones(5), np.arange(5.0))
    with pytest.raises(DerivativeError, match="unknown derivative method"):
        estimate_derivative(x, t, method="magic")


# --- validation -----------------------------------------------------------------------------------

def _frame(n=50, runs=2):
    t = np.linspace(0, 5, n)
    return pd.concat([pd.DataFrame({"run": r, "t": t, "x": np.exp(-t / 2) * (r + 1)}) for r in range(runs)], ignore_index=True)


def test_bad_trajectories_are_clear_errors(tmp_path):
    frame = _frame()
    with pytest.raises(DataError, match=r"decreases.*--group"):
        prepare_trajectories(frame, "t", ["x"])  # two runs, no group column: time goes back
    gap = frame.drop(index=range(20, 25)).reset_index(drop=True)
    with pytest.raises(DataError, match=r"row 20: gap in time 't' in trajectory 0"):
        prepare_trajectories(gap, "t", ["x"], "run")
    uneven = frame.copy()
    uneven.loc[10, "t"] += 0.03
    with pytest.raises(DataError, match="uneven time steps"):
        prepare_trajectories(uneven, "t", ["x"], "run")
    nan = frame.copy()
    nan.loc[7, "x"] = np.nan
    path = tmp_path / "nan.csv"
    nan.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"nan.csv line 9: column 'x'"):
        prepare_trajectories(path, "t", ["x"], "run")
    with pytest.raises(DataError, match="has 4 samples"):
        prepare_trajectories(_frame(n=4, runs=1), "t", ["x"])
    with pytest.raises(DataError, match="no state column 'y'"):
        prepare_trajectories(frame, "t", ["y"], "run")
    with pytest.raises(DataError, match="no group column 'trial'"):
        prepare_trajectories(frame, "t", ["x"], "trial")


def test_prepared_table_has_estimated_derivatives_per_trajectory():
    prep = prepare_trajectories(_frame(), "t", "x", "run")
    table = prep.table()
    assert prep.targets == ["dx"] and len(prep.trajectories) == 2 and list(table.columns) == ["x", "dx"]
    np.testing.assert_allclose(table.dx, -table.x / 2, atol=1e-6)


# --- the simulation check -------------------------------------------------------------------------

def test_table_rows_map_back_to_the_samples_file_lines(tmp_path):
    """Outliers found in the derivative table are named by the user's file lines, not the table's positions."""
    table = simulate_system(get_system("decay"), 2, 60, noise=0.01, seed=0).drop(columns=["dx"])
    path = tmp_path / "traj.csv"
    table.to_csv(path, index=False)
    prep = prepare_trajectories(path, "t", ["x"], "run")
    lines, frame = prep.source_rows(), prep.table()
    assert len(lines) == len(frame) < len(table)  # the smoothed ends are trimmed
    np.testing.assert_array_equal(frame["x"].to_numpy(), table["x"].to_numpy()[lines - 2])  # line 2 is the first sample
    assert prep.describe_rows([0, 1]) == f"lines {lines[0]}, {lines[1]}"
    from_frame = prepare_trajectories(table, "t", ["x"], "run")
    assert from_frame.describe_rows([0]) == f"row {from_frame.source_rows()[0]}" == f"row {lines[0] - 2}"


def test_a_smoothed_derivatives_errors_are_correlated_along_the_trajectory_and_said_so():
    """White noise has an autocorrelation time of 1; a smoothing spline's derivative errors run over
    several samples, and the prepared table says how many (the discovery's tests count them)."""
    from kandisco.dynamics.derivatives import correlation_time

    assert 0.7 < correlation_time(np.random.default_rng(0).normal(size=4000)) < 1.3
    system = get_system("pendulum")
    noisy = simulate_system(system, 3, 400, noise=0.01, seed=0)
    prep = prepare_trajectories(noisy[["run", "t", *system.states]], "t", list(system.states), "run")
    truth = np.concatenate([noisy[noisy.run == int(tr.label)][["dtheta", "domega"]].to_numpy()[tr.keep] for tr in prep.trajectories])
    for k in range(2):
        actual = correlation_time(prep.table()[prep.targets[k]].to_numpy() - truth[:, k])
        assert actual > 3 and actual / 3 < prep.correlated_rows(k) < 3 * actual
    clean = prepare_trajectories(simulate_system(system, 2, 200)[["run", "t", *system.states]], "t", list(system.states), "run")
    assert clean.correlated_rows(0) == clean.correlated_rows(1) == 1.0


def test_simulation_of_the_true_law_does_not_drift_and_a_wrong_one_does():
    system = get_system("harmonic")
    table = simulate_system(system, 3, 300)
    runs = [(str(k), g.t.to_numpy(), g[["x", "v"]].to_numpy()) for k, g in table.groupby("run")]
    exact = simulate_laws(system.laws, ["x", "v"], runs)
    assert exact.all_ok and exact.max_error < 1e-5 and all(c.drift_time is None for c in exact.trajectories)
    x, v = _sym("x", "v")
    wrong = simulate_laws({"x": v, "v": -3 * x}, ["x", "v"], runs)
    assert all(c.drift_time is not None and c.drift_time < 8 for c in wrong.trajectories)


def test_blow_ups_and_non_finite_laws_are_reported_not_raised():
    t = np.linspace(0, 5, 60)
    runs = [("0", t, (1 + t / 10)[:, None])]
    (x,) = _sym("x")
    blown = simulate_laws({"x": x**3}, ["x"], runs).trajectories[0]
    assert blown.status in ("blew up", "non-finite") or blown.status.startswith("failed")
    assert blown.drift_time is not None and blown.drift_time < 5
    bad = simulate_laws({"x": sympy.log(x - 2)}, ["x"], runs).trajectories[0]
    assert bad.status != "ok"
    assert json.dumps({"e": bad.error if np.isfinite(bad.error) else None})


def test_a_law_singular_on_the_path_stalls_instead_of_hanging():
    """x' = -1/x from x = 1 reaches x = 0 at t = 1/2 with an infinite speed: the solver's steps shrink
    without end there (a found law such as c*v**2/x did that, and kandisco ode never returned)."""
    t = np.linspace(0, 1, 50)
    runs = [("0", t, np.sqrt(np.clip(1 - 2 * t, 1e-9, None))[:, None])]
    (x,) = _sym("x")
    check = simulate_laws({"x": -1 / x}, ["x"], runs, max_evaluations=2000).trajectories[0]
    assert check.status.startswith("stalled: 2000 evaluations") and check.error == float("inf")


# --- discovery --------------------------------------------------------------------------------------

def test_discover_ode_finds_exponential_decay():
    table = simulate_system(get_system("decay"), 3, 120).drop(columns=["dx"])
    result = discover_ode(table, time="t", group="run", budget_seconds=10, n_jobs=1)
    law = result.laws["x"]
    assert check_equivalence(law.expr, sympy.Symbol("x", real=True) * -sympy.Rational(1, 2), {"x": (0.5, 3)}).verdict == "exact"
    assert law.r2 > 0.999999 and result.simulation is not None and result.simulation.max_error < 1e-4
    payload = result.to_dict()
    json.dumps(payload, allow_nan=False)
    assert sympy.sympify(payload["laws"]["x"]).free_symbols <= {sympy.Symbol("x")}


@needs_pysindy
def test_sindy_recovers_the_pendulum_from_clean_trajectories():
    from kandisco.dynamics.sindy import sindy_ode

    system = get_system("pendulum")
    prep = prepare_trajectories(simulate_system(system, 3, 300), "t", list(system.states), "run")
    result = sindy_ode(prep, budget=10)
    for state, truth in system.laws.items():
        assert check_equivalence(result.laws[state].expr, truth, {"theta": (-2, 2), "omega": (-1, 1)}).recovered, result.laws[state].formula


@needs_pysindy
def test_the_sindy_bench_method_fits_a_table():
    from kandisco.bench.methods import get_method

    X = np.random.default_rng(0).uniform(-2, 2, (300, 2))
    expr = get_method("sindy").fit(X, X[:, 0] * X[:, 1] + 2 * np.sin(X[:, 1]), ["a", "b"], "y", budget=10, seed=0)
    a, b = _sym("a", "b")
    assert check_equivalence(expr, a * b + 2 * sympy.sin(b), {"a": (-2, 2), "b": (-2, 2)}).recovered, expr


# --- the command ---------------------------------------------------------------------------------

def test_kandisco_ode_prints_json_and_writes_plots(tmp_path, capsys):
    from kandisco.cli import main

    path = tmp_path / "traj.csv"
    table = simulate_system(get_system("decay"), 3, 100).drop(columns=["dx"]).rename(columns={"t": "t [s]", "x": "x [mol/L]"})
    table.to_csv(path, index=False)
    rc = main(["ode", str(path), "--time", "t", "--group", "run", "--budget", "5", "--jobs", "1", "--json", "--out", str(tmp_path / "o")])
    assert rc == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload["laws"]) == {"x"} and payload["r2"]["x"] > 0.99
    assert payload["units"] == {"t": "s", "x": "mol/L", "dx": "(mol/L)/s"}  # carried from the header, the derivative's derived
    assert len(payload["simulation"]["trajectories"]) == 3
    assert (tmp_path / "o" / "trajectories.png").stat().st_size > 0 and (tmp_path / "o" / "phase.png").exists()


def test_kandisco_ode_bad_input_exits_2(tmp_path, capsys):
    from kandisco.cli import main

    bad_unit = tmp_path / "unit.csv"
    simulate_system(get_system("decay"), 1, 40).drop(columns=["dx", "run"]).rename(columns={"x": "x [blorps]"}).to_csv(
        bad_unit, index=False)
    assert main(["ode", str(bad_unit), "--time", "t"]) == 2
    assert "column 'x'" in capsys.readouterr().err

    path = tmp_path / "two.csv"
    _frame().to_csv(path, index=False)
    assert main(["ode", str(path), "--time", "t", "--states", "x"]) == 2
    assert "error:" in capsys.readouterr().err


# --- potentials ----------------------------------------------------------------------------------

def test_the_curl_test_tells_gradients_from_rotations():
    from kandisco.dynamics.potential import curl_test

    P = np.random.default_rng(0).uniform(-1.5, 1.5, (400, 2))
    x, y = P.T
    assert curl_test(P, np.column_stack([-2 * x, -2 * y**3])).conservative
    rotation = curl_test(P, np.column_stack([-y, x]))
    assert not rotation.conservative and rotation.ratio == pytest.approx(2.0, rel=0.01)


def test_a_rotational_field_gets_no_potential():
    from kandisco.dynamics.potential import discover_potential

    P = np.random.default_rng(1).uniform(-1, 1, (200, 2))
    frame = pd.DataFrame({"x": P[:, 0], "y": P[:, 1], "Fx": -P[:, 1], "Fy": P[:, 0]})
    result = discover_potential(frame, ["x", "y"], ["Fx", "Fy"], budget_seconds=5)
    assert result.formula is None and not result.curl.conservative and "not conservative" in result.notes[0]
    with pytest.raises(DataError, match="<frame>: no column 'Fz'"):
        discover_potential(frame, ["x", "y"], ["Fx", "Fz"])


def test_a_polynomial_potential_from_forces():
    """The issue's V = k x^2/2 + a y^4 (k = 3, a = 1/4), exact, from the forces alone."""
    from kandisco.dynamics.potential import discover_potential

    P = np.random.default_rng(0).uniform(-1.5, 1.5, (400, 2))
    x, y = P.T
    frame = pd.DataFrame({"x": x, "y": y, "Fx": -3 * x, "Fy": -y**3})
    result = discover_potential(frame, ["x", "y"], ["Fx", "Fy"], budget_seconds=30, n_jobs=1)
    X, Y = _sym("x", "y")
    assert result.curl.conservative and result.kan_force_r2 > 0.9999
    assert check_equivalence(result.expr, 3 * X**2 / 2 + Y**4 / 4, {"x": (-1.5, 1.5), "y": (-1.5, 1.5)}).verdict == "exact", result.formula
    assert result.force_r2 == pytest.approx(1.0, abs=1e-9)


@pytest.mark.slow
def test_the_kepler_potential_from_forces():
    """-G M / r from the 2-D inverse-square force on an annulus (the KAN alone is 1e-4 off there: steep at small r)."""
    from kandisco.dynamics.potential import discover_potential

    rng = np.random.default_rng(0)
    r, theta = rng.uniform(0.5, 3, 500), rng.uniform(0, 2 * np.pi, 500)
    P = np.column_stack([r * np.cos(theta), r * np.sin(theta)])
    F = -2.5 * P / r[:, None] ** 3
    frame = pd.DataFrame({"x": P[:, 0], "y": P[:, 1], "Fx": F[:, 0], "Fy": F[:, 1]})
    result = discover_potential(frame, ["x", "y"], ["Fx", "Fy"], budget_seconds=60, n_jobs=1)
    X, Y = _sym("x", "y")
    assert check_equivalence(result.expr, -sympy.Rational(5, 2) / sympy.sqrt(X**2 + Y**2), {"x": (-2, 2), "y": (-2, 2)}).verdict == "exact", \
        result.formula


def test_a_degenerate_fit_of_the_potential_reaches_its_limit_on_the_forces():
    """A fit that ran a -> 0 in sin(a*x + 1.5707963...) (what the pipeline found for -k/r from KAN values) is the
    Kepler potential in its limit: phase snapped to pi/2, cos(a*x) -> 1 - a^2 x^2/2, the 3e-13 offset dropped,
    every form refitted on the forces; the simplest exact one is chosen."""
    from kandisco.dynamics.potential import _ForceFits

    rng = np.random.default_rng(0)
    r, theta = rng.uniform(0.5, 3, 300), rng.uniform(0, 2 * np.pi, 300)
    P = np.column_stack([r * np.cos(theta), r * np.sin(theta)])
    F = -2.5 * P / r[:, None] ** 3
    X, Y = _sym("x", "y")
    drifted = sympy.sympify("-0.00411328998652057/sqrt(-0.49808650817183*sin(0.00329694462304792*x + 1.57079632680951)"
                            " - 0.501913491827872*sin(0.00328435142743534*y + 1.57079632678143) + 1)", locals={"x": X, "y": Y})
    fits = _ForceFits([X, Y], P, F)
    fits.add(drifted)
    fits.polish(drifted)
    law, rmse = fits.choose()
    assert sympy.simplify(law + sympy.Rational(5, 2) / sympy.sqrt(X**2 + Y**2)) == 0, law
    assert rmse < 1e-12


def test_kandisco_potential_cli(tmp_path, capsys):
    from kandisco.cli import main

    P = np.random.default_rng(2).uniform(-1, 1, (200, 2))
    rotation = tmp_path / "rotation.csv"
    pd.DataFrame({"x": P[:, 0], "y": P[:, 1], "Fx": -P[:, 1], "Fy": P[:, 0]}).to_csv(rotation, index=False)
    assert main(["potential", str(rotation), "--positions", "x,y", "--forces", "Fx,Fy", "--budget", "5", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["potential"] is None and payload["conservative"] is False and payload["curl_ratio"] > 1.5
    assert main(["potential", str(rotation), "--positions", "x,y", "--forces", "Fx,Fy", "--budget", "5"]) == 0
    assert "not conservative" in capsys.readouterr().out
    assert main(["potential", str(rotation), "--positions", "x,y", "--forces", "Fx,Fz"]) == 2
    assert "no column 'Fz'" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y,Fx,Fy\n0.1,0.2,-0.1,-0.2\n0.3,oops,-0.3,-0.4\n")
    assert main(["potential", str(bad), "--positions", "x,y", "--forces", "Fx,Fy"]) == 2
    assert "bad.csv line 3: column 'y' is 'oops'" in capsys.readouterr().err


@pytest.mark.slow
def test_discover_ode_finds_the_harmonic_oscillator():
    system = get_system("harmonic")
    table = simulate_system(system, 3, 300).drop(columns=["dx", "dv"])
    result = discover_ode(table, time="t", group="run", budget_seconds=20, n_jobs=1)
    for state, truth in system.laws.items():
        assert check_equivalence(result.laws[state].expr, truth, {"x": (-1, 1), "v": (-2, 2)}).verdict == "exact", result.laws[state].formula
