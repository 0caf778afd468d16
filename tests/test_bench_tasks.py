"""Benchmark tasks: Feynman data as feynman_data makes it, noise-free test rows, Kepler, task tables."""

import numpy as np
import pytest
import sympy

from kandisco.bench import BenchError, load_tasks, sample_feynman_ids
from kandisco.bench.tasks import TEST_SEED_OFFSET
from kandisco.datasets import feynman_data


def test_feynman_training_rows_are_feynman_data_and_test_rows_are_noise_free():
    (task,) = load_tasks("feynman", ["I.12.1"])
    d = task.data(noise=0.01, seed=3, n_train=200, n_test=150)
    X, y, eq = feynman_data("I.12.1", n=200, noise=0.01, seed=3)
    np.testing.assert_array_equal(d.X_train, X)
    np.testing.assert_array_equal(d.y_train, y)
    Xt, _, _ = feynman_data("I.12.1", n=150, noise=0.0, seed=TEST_SEED_OFFSET + 3)
    np.testing.assert_array_equal(d.X_test, Xt)
    np.testing.assert_allclose(d.y_test, d.X_test[:, 0] * d.X_test[:, 1])  # F = mu * Nn exactly
    clean = X[:, 0] * X[:, 1]
    assert 0.005 < np.std(y - clean) / np.std(clean) < 0.015  # noise is 1% of std(y)
    assert d.ranges == dict(zip(eq.variables, eq.ranges)) and d.truth == eq.expr


def test_kepler_task_trains_on_the_planets_and_tests_on_the_law():
    (task,) = load_tasks("kepler")
    d = task.data(noise=0.0, seed=0, n_test=50)
    assert d.features == ("a_AU", "eccentricity") and d.X_train.shape == (11, 2)
    a = sympy.Symbol("a_AU", real=True)
    assert d.truth == a ** sympy.Rational(3, 2)
    np.testing.assert_allclose(d.y_test, d.X_test[:, 0] ** 1.5)
    assert d.X_test[:, 0].min() >= d.X_train[:, 0].min() and d.X_test[:, 0].max() <= d.X_train[:, 0].max()


def test_task_table_with_a_known_formula_column(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 2, (30, 2))
    lines = ["p,q,out"] + [f"{a},{b},{a / b}" for a, b in X]
    (tmp_path / "pq.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "tasks.csv").write_text("id,data,target,formula\nratio,pq.csv,out,p/q\n")
    (task,) = load_tasks(str(tmp_path / "tasks.csv"))
    d = task.data(noise=0.1, seed=1, n_test=20)
    assert task.features == ("p", "q") and d.X_train.shape == (30, 2)
    np.testing.assert_allclose(d.y_test, d.X_test[:, 0] / d.X_test[:, 1])
    assert not np.allclose(d.y_train, X[:, 0] / X[:, 1])  # training targets carry the noise


def test_task_table_formula_goes_through_the_safe_parser(tmp_path):
    (tmp_path / "d.csv").write_text("a,y\n1,1\n2,2\n3,3\n4,4\n5,5\n")
    (tmp_path / "tasks.csv").write_text('id,data,target,formula\nbad,d.csv,y,"__import__(\'os\')"\n')
    with pytest.raises(BenchError, match="tasks.csv:2"):
        load_tasks(str(tmp_path / "tasks.csv"))


def test_unknown_suite_and_id_are_clear_errors():
    with pytest.raises(BenchError, match="unknown suite 'feynmann'"):
        load_tasks("feynmann")
    with pytest.raises(BenchError, match="did you mean I.12.1"):
        load_tasks("feynman", ["I.12.10"])


def test_sample_is_seeded_and_in_table_order():
    ids = sample_feynman_ids(30, 0)
    assert ids == sample_feynman_ids(30, 0) and len(set(ids)) == 30
    order = [t.id for t in load_tasks("feynman")]
    assert ids == sorted(ids, key=order.index)


def _cot_table(tmp_path, features_cell):
    rng = np.random.default_rng(2)
    X = rng.uniform(0.5, 2.5, (60, 2))  # y stays away from cot's poles at 0 and pi
    lines = ["x,y,z"] + [f"{a:.17g},{b:.17g},{np.cos(a) / np.tan(b):.17g}" for a, b in X]
    (tmp_path / "xy.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "tasks.csv").write_text(f'id,data,target,formula,features\ncotlaw,xy.csv,z,cos(x)*cot(y),"{features_cell}"\n')
    return str(tmp_path / "tasks.csv")


@pytest.mark.parametrize("cell", ["x,y", " x , y ", "x;y", "x y"])
def test_features_written_with_commas_and_a_cot_law_load_generate_and_score(tmp_path, cell):
    from kandisco.bench.score import score_formula

    (task,) = load_tasks(_cot_table(tmp_path, cell))
    assert task.features == ("x", "y")
    d = task.data(noise=0.0, seed=0, n_test=40)
    np.testing.assert_allclose(d.y_test, np.cos(d.X_test[:, 0]) / np.tan(d.X_test[:, 1]))
    x, y = sympy.symbols("x y", real=True)
    assert d.truth == sympy.cos(x) * sympy.cot(y)
    row = score_formula(sympy.cos(x) / sympy.tan(y), d)
    assert row["recovered"] is True and row["r2_test"] > 0.999999


@pytest.mark.parametrize("cell, problem", [("x,,y", "an empty name"), ("x,y,", "an empty name"),
                                           ("x y,z", "contains a blank"), ("x,x", "appears twice")])
def test_a_bad_features_cell_names_the_task_and_the_cell(tmp_path, cell, problem):
    with pytest.raises(BenchError) as info:
        load_tasks(_cot_table(tmp_path, cell))
    message = str(info.value)
    assert "tasks.csv:2: task 'cotlaw'" in message and repr(cell) in message and problem in message


# ------------------------------------------------------------------ realistic sampling
def test_every_feynman_variable_has_a_documented_realistic_rule():
    from kandisco.datasets import feynman_equations, realistic_rules

    rules = realistic_rules()
    used = {v for eq in feynman_equations().values() for v in eq.variables}
    assert used <= set(rules), sorted(used - set(rules))
    assert all(kind in ("log", "angle") and note for kind, _, _, note in rules.values())


def test_realistic_sampling_spans_decades_with_signs_and_keeps_the_law_finite():
    import sympy

    from kandisco.datasets import feynman_equations, realistic_feynman_data, realistic_rules, realistic_scale

    rules = realistic_rules()
    widened = 0
    for eq_id, eq in feynman_equations().items():
        X, y, _ = realistic_feynman_data(eq_id, n=200, seed=3)
        assert X.shape == (200, len(eq.variables)) and np.all(np.isfinite(y)), eq_id
        truth = sympy.lambdify(eq.symbols, eq.expr, "numpy")(*X.T)
        np.testing.assert_allclose(y, truth, rtol=1e-12, err_msg=eq_id)  # noise 0: the law itself
        if realistic_scale(eq_id) is None:
            continue
        widened += 1
        for k, name in enumerate(eq.variables):
            kind, signed, _, _ = rules[name]
            if signed:
                assert (X[:, k] < 0).any() and (X[:, k] > 0).any(), (eq_id, name)
            if kind == "log" and eq.ranges[k][0] > 0 and realistic_scale(eq_id) == 1.0:
                spread = np.log10(np.abs(X[:, k]).max() / np.abs(X[:, k]).min())
                assert spread > 1.5, (eq_id, name, spread)  # the table's [1, 5] is 0.7 decades
    assert widened >= 95
    a, b = realistic_feynman_data("I.12.11", n=50, seed=1), realistic_feynman_data("I.12.11", n=50, seed=1)
    np.testing.assert_array_equal(a[0], b[0])


def test_realistic_suite_tasks_carry_signed_ranges():
    task = load_tasks("feynman-realistic", ["I.12.11"])[0]
    data = task.data(0.0, 0, n_train=100, n_test=100)
    assert task.suite == "feynman-realistic" and data.ranges["q"][0] < 0 < data.ranges["q"][1]
    assert -np.pi <= data.ranges["theta"][0] < 0 < data.ranges["theta"][1] <= np.pi
