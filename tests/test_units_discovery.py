"""Units in discovery: the pi-group view, the planner on the groups, consistency deciding which law
wins, the CLI's report of the groups and the verdict, and the benchmark passing Feynman units."""

import json
from dataclasses import dataclass

import numpy as np
import pytest
import sympy

from kandisco.cli import main
from kandisco.data import load_dataset
from kandisco.discovery import DiscoveryResult, discover, get_view
from kandisco.discovery.problem import Problem, ProblemUnits, Proposal
from kandisco.discovery.strategies.kan import KANStrategy
from kandisco.discovery.strategies.sparse import SparseStrategy
from kandisco.discovery.strategies.units import MonomialStrategy, OnGroups, groups_problem, plan_unit_strategies
from kandisco.discovery.views import LogLogView, PiGroupView
from kandisco.units import buckingham, parse_unit

DRAG = {"rho": "kg/m^3", "v": "m/s", "L": "m", "mu": "Pa*s"}


def _drag(n=300, seed=0):
    X = np.random.default_rng(seed).uniform(1, 3, size=(n, 4))
    rho, v, L, mu = X.T
    return X, rho * v**2 * L**2 * (1 + 24 * mu / (rho * v * L))  # F = rho v^2 L^2 (1 + 24/Re)


def _drag_pi():
    return buckingham([(n, parse_unit(u)) for n, u in DRAG.items()], ("F", parse_unit("N")))


SYMS = [sympy.Symbol(f"x{i}", positive=True) for i in range(4)]


def _pendulum_csv(path, n=120, seed=0, header=("L [m]", "g [m/s^2]", "m [kg]", "T [s]")):
    rng = np.random.default_rng(seed)
    L, g, m = rng.uniform(0.2, 3, n), rng.uniform(1, 20, n), rng.uniform(0.1, 5, n)  # m: a nuisance column
    T = 2 * np.pi * np.sqrt(L / g)
    rows = [",".join(header)] + [f"{a:.17g},{b:.17g},{c:.17g},{t:.17g}" for a, b, c, t in zip(L, g, m, T)]
    path.write_text("\n".join(rows) + "\n")
    return path


# ------------------------------------------------------------------ the view
def test_pi_group_view_sees_the_groups_and_undoes_into_the_data_symbols():
    X, F = _drag()
    pi = _drag_pi()  # F*rho/mu**2 = f(L*rho*v/mu), and f(p) = p**2 + 24 p
    view = PiGroupView.of(pi, SYMS)
    Z, w = view.transform(X, F)
    np.testing.assert_allclose(w, Z[:, 0] ** 2 + 24 * Z[:, 0], rtol=1e-12)
    (p,) = view.inputs(SYMS)
    assert p == SYMS[2] * SYMS[0] * SYMS[1] / SYMS[3]
    law = view.undo(p**2 + 24 * p)
    np.testing.assert_allclose(sympy.lambdify(SYMS, law)(*X.T), F, rtol=1e-12)
    assert view.standardise and not PiGroupView.of(pi, SYMS, LogLogView()).standardise
    assert view.labels(list(DRAG), "F") == (["L*rho*v/mu"], "F*rho/mu**2")
    assert not view.applies(-X, F)


def test_pi_group_view_params_are_json_and_rebuild_the_view():
    view = PiGroupView.of(_drag_pi(), SYMS, LogLogView())
    params = json.loads(json.dumps(view.params()))
    assert params["name"] == "pi" and params["inner"] == {"name": "loglog"}
    again = get_view(params)
    assert again == view and isinstance(again.inner_view, LogLogView)
    X, F = _drag()
    np.testing.assert_array_equal(again.transform(X, F)[0], view.transform(X, F)[0])


# ------------------------------------------------------------------ the planner
def _problem(X, y, pi, dims, target):
    return Problem(symbols=[sympy.Symbol(f"x{i}", positive=True) for i in range(X.shape[1])], names=list(pi.inputs),
                   target=pi.target, train=(X, y), val=(X, y), relative=False, seed=0,
                   units=ProblemUnits(tuple(dims), target, pi))


def test_the_units_planner_proposes_the_flat_strategies_on_the_groups():
    X, F = _drag()
    pi = _drag_pi()
    everything = plan_unit_strategies(_problem(X, F, pi, [parse_unit(u) for u in DRAG.values()], parse_unit("N")))
    plan = [(p, s) for p, s in everything if isinstance(s, KANStrategy)]
    names = [s.name for _, s in plan]
    main = [n for n in names if n.startswith("pi_")]
    assert main[:2] == ["pi_power_law", "pi_additive"] and "pi_general" in main
    # the sparse strategies on the groups come first (a second or two each), in their own order
    grouped = sorted(((p, s) for p, s in everything if isinstance(s, OnGroups)), key=lambda e: e[0])
    assert [s.name for _, s in grouped][:2] == ["pi_sparse", "pi_sparse_inverse"]
    assert max(p for p, s in grouped if isinstance(s.inner, SparseStrategy) and not s.inner.rational) < plan[0][0]
    # one group: sums of at most four terms, exact ones only (a function of one variable is easily imitated)
    assert all(s.inner.max_terms == 4 and s.inner.exact_only for _, s in grouped if isinstance(s.inner, SparseStrategy))
    # groups are dimensionless: functions of their reciprocals too (a group's orientation is a convention)
    assert all("exp(-1/x)" in s.inner.functions for _, s in grouped if isinstance(s.inner, SparseStrategy))
    assert all(isinstance(s.view, PiGroupView) and s.width[0] == 1 for _, s in plan)  # one group, one network input
    assert plan[0][0] == 2.5  # a quarter of the flat power law's priority: the groups go first
    assert max(p for p, s in plan if len(s.width) == 2) < 20 < min(p for p, s in plan if len(s.width) > 2)
    # the alternative monomials (F/(mu v L), F/(rho v^2 L^2)) get the one-layer strategies right after
    others = [s for _, s in plan if s.name.startswith(("pi2_", "pi3_"))]
    assert {s.name for s in others} >= {"pi2_power_law", "pi2_additive", "pi3_additive"}
    assert all(len(s.width) == 2 for s in others)
    assert {s.view.target_exponents for s in others} == {tuple(str(e) for e in a) for a in pi.alternatives}


def _velocity_addition(n=400, seed=0, noise=0.0):
    """w = (u + v) / (1 + u v / c**2): one ratio of two short sums in the groups u/c and v/c."""
    rng = np.random.default_rng(seed)
    u, v, c = rng.uniform(1, 5, n), rng.uniform(1, 5, n), rng.uniform(3, 10, n)
    w = (u + v) / (1 + u * v / c**2)
    X = np.column_stack([u, v, c])
    dims = [parse_unit("m/s")] * 3
    pi = buckingham([(n, d) for n, d in zip("uvc", dims)], ("w", parse_unit("m/s")))
    return X, w * (1 + noise * rng.standard_normal(n)), pi, dims


def test_groups_problem_is_the_target_group_on_the_groups_with_the_noise_carried():
    X, w, pi, dims = _velocity_addition()
    problem = _problem(X, w, pi, dims, parse_unit("m/s"))
    problem.noise, problem.unseen_noise = 0.5, 0.25
    proxy = groups_problem(problem, pi)
    M = pi.monomial_values(X)
    np.testing.assert_allclose(proxy.train[1], w / M)
    np.testing.assert_allclose(proxy.train[0], pi.group_values(X))
    assert [s.name for s in proxy.symbols] == ["p0", "p1"] and proxy.units is None
    # absolute noise sigma on y is sigma/|M| on y/M: the inner level is its root mean square
    assert proxy.noise == pytest.approx(0.5 * np.sqrt(np.mean(1 / M**2)))
    assert proxy.unseen_noise == pytest.approx(0.25 * np.sqrt(np.mean(1 / M**2)))  # (an estimate that saw no noise, likewise)
    problem.relative = True
    assert groups_problem(problem, pi).noise == 0.5  # relative errors of y/M are those of y


def test_the_rational_sparse_strategy_on_the_groups_finds_velocity_addition():
    X, w, pi, dims = _velocity_addition()
    problem = _problem(X, w, pi, dims, parse_unit("m/s"))
    strategy = OnGroups(SparseStrategy("sparse_rational", rational=True), pi)
    assert strategy.name == "pi_sparse_rational" and strategy.describe()["on_groups"] == pi.to_dict()
    formulas = strategy.propose(problem, None).formulas
    u, v, c = problem.symbols
    truth = (u + v) / (1 + u * v / c**2)
    assert any(sympy.simplify(f - truth) == 0 for f in formulas), formulas  # in the data's symbols, exact


def test_no_group_plans_the_monomial_and_no_reduction_plans_nothing():
    X = np.random.default_rng(0).uniform(1, 2, size=(30, 2))
    pendulum = buckingham([("L", parse_unit("m")), ("g", parse_unit("m/s^2"))], ("T", parse_unit("s")))
    plan = plan_unit_strategies(_problem(X, X[:, 0], pendulum, [parse_unit("m"), parse_unit("m/s^2")], parse_unit("s")))
    assert [type(s) for _, s in plan] == [MonomialStrategy]
    free = buckingham([("a", parse_unit("1")), ("b", parse_unit("1"))], ("c", parse_unit("1")))
    assert plan_unit_strategies(_problem(X, X[:, 0], free, [parse_unit("1")] * 2, parse_unit("1"))) == []
    no_units = _problem(X, X[:, 0], free, [parse_unit("1")] * 2, parse_unit("1"))
    no_units.units = None
    assert plan_unit_strategies(no_units) == []


# ------------------------------------------------------------------ consistency decides
@dataclass
class Fixed:
    """Proposes given formulas of x0, x1, ... (a test double for a strategy)."""

    texts: tuple[str, ...]
    name: str = "fixed"
    seed: int = 0

    def describe(self):
        return {"name": self.name, "kind": "fixed", "seed": self.seed}

    def propose(self, problem, deadline):
        local = {s.name: s for s in problem.symbols}
        return Proposal([sympy.sympify(t, locals=local) for t in self.texts])


def test_an_inconsistent_law_never_wins_when_units_are_known(tmp_path):
    rng = np.random.default_rng(0)
    L, g, m = rng.uniform(0.2, 3, 100), rng.uniform(1, 20, 100), rng.uniform(0.1, 5, 100)
    T = 2 * np.pi * np.sqrt(L / g) + 0.05 * m  # a made-up law that adds kilograms to seconds
    data = (np.column_stack([L, g, m]), T)
    names = {"feature_names": ["L", "g", "m"], "target_name": "T"}
    units = {"L": "m", "g": "m/s^2", "m": "kg", "T": "s"}
    strategies = [Fixed(("2*pi*sqrt(x0/x1)", "2*pi*sqrt(x0/x1) + 0.05*x2"))]
    plain = discover(load_dataset(data, **names), strategies=strategies, n_jobs=1, budget_seconds=5)
    assert plain.formula == "2*pi*sqrt(L)/sqrt(g) + 0.05*m" and "units" not in plain.config
    with_units = discover(load_dataset(data, **names, units=units), strategies=strategies, n_jobs=1, budget_seconds=5)
    assert with_units.formula == "2*pi*sqrt(L)/sqrt(g)"
    flags = {c.formula: c.config["dimensionally_consistent"] for c in with_units.candidates}
    assert flags["2*pi*sqrt(L)/sqrt(g) + 0.05*m"] is False and flags["2*pi*sqrt(L)/sqrt(g)"] is True
    summary = with_units.config["units"]
    assert summary["consistent"] and summary["law"] == "T*sqrt(g)/sqrt(L) = f()" and summary["units"] == units
    back = DiscoveryResult.from_json(with_units.to_json())  # the verdict and the flags survive the file
    assert back.config["units"]["consistent"] and back.candidates[-1].config["dimensionally_consistent"] is False
    only_bad = discover(load_dataset(data, **names, units=units), strategies=[Fixed(("2*pi*sqrt(x0/x1) + 0.05*x2",))],
                        n_jobs=1, budget_seconds=5)
    assert not only_bad.config["units"]["consistent"] and "adds" in only_bad.config["units"]["reason"]


def test_target_units_out_of_reach_are_said_and_nothing_is_filtered():
    X = np.random.default_rng(0).uniform(1, 2, size=(60, 2))
    data = load_dataset((X, X[:, 0] * X[:, 1]), feature_names=["L", "m"], target_name="T",
                        units={"L": "m", "m": "kg", "T": "s"})
    result = discover(data, strategies=[Fixed(("x0*x1",))], n_jobs=1, budget_seconds=5)
    assert result.formula == "L*m"
    assert "no input carries s" in result.config["units"]["message"] and not result.config["units"]["consistent"]
    assert any("cannot make the units of T" in n for n in result.notes)


# ------------------------------------------------------------------ end to end
def test_discover_finds_the_pendulum_in_the_original_variables(tmp_path):
    result = discover(_pendulum_csv(tmp_path / "pendulum.csv"), budget_seconds=10, n_jobs=1, seed=0)
    L, g = sympy.symbols("L g", positive=True)
    law = result.expr.xreplace({s: sympy.Symbol(s.name, positive=True) for s in result.expr.free_symbols})
    assert sympy.simplify(law - 2 * sympy.pi * sympy.sqrt(L / g)) == 0, result.formula
    assert result.r2_test > 1 - 1e-12 and result.config["units"]["consistent"]
    assert result.config["units"]["target_group"] == "T*sqrt(g)/sqrt(L)"


def test_a_formula_leaving_a_trend_does_not_end_the_search_at_an_overestimated_noise_floor():
    # II.21.32 at 1%: the estimate is twice the noise, and a two-term sum of snapped numbers within it
    # used to end the search after 2 s; its residuals' trend now keeps the search going to the law
    from kandisco.bench.tasks import load_tasks

    task = load_tasks("feynman", ["II.21.32"])[0].data(0.01, 0)
    data = load_dataset((task.X_train, task.y_train), feature_names=list(task.features), target_name=task.target,
                        units=task.units)
    result = discover(data, budget_seconds=20, n_jobs=1, seed=0)
    q, eps, r, v, c = sympy.symbols("q epsilon r v c", positive=True)
    law = result.expr.xreplace({s: sympy.Symbol(s.name, positive=True) for s in result.expr.free_symbols})
    assert sympy.simplify(law - q / (4 * sympy.pi * eps * r * (1 - v / c))) == 0, result.formula
    assert result.config["noise"]["sigma"] > 1.5 * 0.01 * np.std(task.y_train)  # the overestimate this is about


def test_a_long_sum_of_snapped_terms_within_the_noise_does_not_end_the_search():
    # II.11.27 at 1% with units: on the groups, five snapped terms in n and alpha fit within the noise (seen in
    # their residuals, which leave no trend) and used to end the search after 8 s; the law, one short sum, wins
    from kandisco.bench.tasks import load_tasks

    task = load_tasks("feynman", ["II.11.27"])[0].data(0.01, 0)
    data = load_dataset((task.X_train, task.y_train), feature_names=list(task.features), target_name=task.target,
                        units=task.units)
    result = discover(data, budget_seconds=30, n_jobs=1, seed=0)
    n, alpha, eps, Ef = sympy.symbols("n alpha epsilon Ef", positive=True)
    law = result.expr.xreplace({s: sympy.Symbol(s.name, positive=True) for s in result.expr.free_symbols})
    assert sympy.simplify(law - n * alpha * eps * Ef / (1 - n * alpha / 3)) == 0, result.formula


def test_discover_finds_drag_through_the_reynolds_number():
    X, F = _drag()
    data = load_dataset((X, F), feature_names=list(DRAG), target_name="F", units={**DRAG, "F": "N"})
    result = discover(data, budget_seconds=10, n_jobs=1, seed=0)
    assert result.r2_test > 1 - 1e-9 and result.config["units"]["consistent"], result
    assert result.config["units"]["groups"] == ["L*rho*v/mu"]
    assert result.pareto[result.chosen].strategy.startswith(("pi_", "pi2_", "pi3_"))  # found on the groups


def test_cli_prints_the_law_its_pi_groups_and_dimensionally_consistent(tmp_path, capsys):
    path = _pendulum_csv(tmp_path / "pendulum.csv")
    assert main(["discover", str(path), "--budget", "10", "--jobs", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("T = 2*pi*sqrt(L)/sqrt(g)\n")
    assert "pi groups: T*sqrt(g)/sqrt(L) = f()\n" in out and "\ndimensionally consistent\n" in out
    plain = _pendulum_csv(tmp_path / "plain.csv", header=("L", "g", "m", "T"))
    (tmp_path / "units.csv").write_text("name,unit\nL,m\ng,m/s^2\nm,kg\nT,s\n")
    assert main(["discover", str(plain), "--units", str(tmp_path / "units.csv"), "--constants", "c",
                 "--budget", "10", "--jobs", "1", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["formula"] == "2*pi*sqrt(L)/sqrt(g)" and payload["units"]["consistent"]
    assert payload["units"]["constants"] == {"c": 299792458.0} and payload["units"]["target_group"] == "T*sqrt(g)/sqrt(L)"


def test_cli_unknown_unit_is_one_error_line_naming_the_column(tmp_path, capsys):
    path = _pendulum_csv(tmp_path / "bad.csv", header=("L [m]", "g [m/s^^2]", "m [kg]", "T [s]"))
    assert main(["discover", str(path), "--budget", "1", "--jobs", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "column 'g'" in err and err.count("\n") == 1


# ------------------------------------------------------------------ the benchmark
def test_feynman_tasks_carry_their_units_to_the_job_data():
    from kandisco.bench.methods import get_method
    from kandisco.bench.tasks import load_tasks

    (task,) = load_tasks("feynman", ["I.10.7"])  # m = m_0 / sqrt(1 - v^2/c^2)
    assert dict(task.units) == {"m_0": "kg", "v": "m*s**-1", "c": "m*s**-1", "m": "kg"}
    assert task.data(0.0, 0, n_train=20, n_test=5).units == dict(task.units)
    assert load_tasks("kepler")[0].data(0.0, 0, n_test=5).units is None
    method = get_method("kandisco.bench.methods.kandisco:KandiscoUnits")
    assert method.uses_units and method.name == "kandisco-units"


def test_bench_units_runs_kandisco_with_units_beside_the_other_methods(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["bench", "--suite", "feynman", "--ids", "I.12.1", "--methods", "linear", "--units", "--noise", "0",
                 "--budget", "5", "--n-train", "200", "--n-test", "200", "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    rows = {r["method"]: r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}
    assert set(rows) == {"linear", "kandisco.bench.methods.kandisco:KandiscoUnits"} or set(rows) == {"linear", "kandisco-units"}
    units_row = rows.get("kandisco-units") or rows["kandisco.bench.methods.kandisco:KandiscoUnits"]
    assert units_row["status"] == "ok" and units_row["recovered"], units_row


def test_estimator_takes_units_and_finds_the_pendulum_on_its_groups():
    from kandisco.estimator import KANDiscoverer

    rng = np.random.default_rng(0)
    L, g = rng.uniform(0.2, 2, 200), rng.uniform(1, 20, 200)
    X = np.column_stack([L, g])
    est = KANDiscoverer(budget_seconds=10, n_jobs=1, feature_names=["L", "g"], units={"L": "m", "g": "m/s^2", "y": "s"})
    est.fit(X, 2 * np.pi * np.sqrt(L / g))
    Ls, gs = sympy.symbols("L g", positive=True)
    law = est.formula_.xreplace({s: sympy.Symbol(s.name, positive=True) for s in est.formula_.free_symbols})
    assert sympy.simplify(law - 2 * sympy.pi * sympy.sqrt(Ls / gs)) == 0
    assert est.result_.config["units"]["consistent"]
