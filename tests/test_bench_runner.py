"""The runner: results appended per job, resume, timeouts and crashes as rows, Dask equals local."""

import json
import textwrap

import numpy as np
import pytest

from kandisco.bench import BenchError, load_tasks, make_jobs, run_bench
from kandisco.bench.report import summarize
from kandisco.bench.runner import RESULTS_FILE, job_key, load_results

TIMING = {"seconds", "wall", "version"}


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """Two tiny tasks: y = x0*x1 and y = x0 + 2*x1 (100 rows each)."""
    root = tmp_path_factory.mktemp("tasks")
    X = np.random.default_rng(0).uniform(1, 3, (100, 2))
    for name, y in (("prod", X[:, 0] * X[:, 1]), ("lin", X[:, 0] + 2 * X[:, 1])):
        rows = ["x0,x1,y"] + [f"{a:.17g},{b:.17g},{c:.17g}" for (a, b), c in zip(X, y)]
        (root / f"{name}.csv").write_text("\n".join(rows) + "\n")
    (root / "tasks.csv").write_text("id,data,target,formula\nprod,prod.csv,y,x0*x1\nlin,lin.csv,y,x0 + 2*x1\n")
    return str(root / "tasks.csv")


@pytest.fixture
def custom_methods(tmp_path, monkeypatch):
    """A method that sleeps past its limit, one that raises, one that kills its process, one slow to set up."""
    (tmp_path / "bench_test_methods.py").write_text(textwrap.dedent("""
        import os, time
        import sympy

        class Sleepy:
            def unavailable(self): return None
            def version(self): return "0"
            def fit(self, X, y, features, target, budget, seed):
                time.sleep(100)

        class Broken(Sleepy):
            def fit(self, X, y, features, target, budget, seed):
                raise ArithmeticError("no law here")

        class Crashing(Sleepy):
            def fit(self, X, y, features, target, budget, seed):
                os._exit(3)

        class SlowStart(Sleepy):
            def prepare(self):
                time.sleep(2)
            def fit(self, X, y, features, target, budget, seed):
                return sympy.Symbol(features[0]) * sympy.Symbol(features[1])
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # the job processes import it too


def _comparable(rows):
    return sorted(({k: v for k, v in r.items() if k not in TIMING} for r in rows), key=lambda r: (r["task"], r["noise"]))


def test_rows_are_appended_and_a_rerun_runs_only_the_missing_jobs(table, tmp_path):
    tasks = load_tasks(table)
    run_bench(make_jobs(tasks[:1], ["linear"], [0.0], [0], budget=5), tmp_path, workers=1)  # then "interrupted"
    path = tmp_path / RESULTS_FILE
    with path.open("a") as fh:  # an interrupted write leaves half a line
        fh.write('{"task": "lin", "method": "lin')
    events = []
    rows = run_bench(make_jobs(tasks, ["linear"], [0.0], [0], budget=5), tmp_path, workers=2, progress=events.append)
    assert events[0]["todo"] == 1 and events[0]["done"] == 1
    assert [(r["task"], r["seed"]) for r in events[1:]] == [("lin", 0)]  # only the missing job ran
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line) for line in lines)  # the partial line is gone
    assert {job_key(r) for r in rows} == {("prod", "linear", 0.0, 0), ("lin", "linear", 0.0, 0)}
    assert all(r["status"] == "ok" and r["r2_test"] is not None for r in rows)
    by_task = {r["task"]: r for r in rows}
    assert by_task["lin"]["recovered"] and by_task["lin"]["r2_test"] > 0.999999  # least squares finds x0 + 2*x1
    assert not by_task["prod"]["recovered"] and by_task["prod"]["r2_test"] < 0.999


def test_a_job_over_its_limit_is_a_timeout_row(table, tmp_path, custom_methods):
    (task,) = load_tasks(table, ["prod"])
    jobs = (make_jobs([task], ["bench_test_methods:Sleepy"], [0.0], [0], budget=0.5, margin=4)
            + make_jobs([task], ["bench_test_methods:Broken", "bench_test_methods:Crashing"], [0.0], [0], budget=0.5,
                        margin=60))  # room for a slow start on a busy machine
    rows = {r["method"].split(":")[1]: r for r in run_bench(jobs, tmp_path, workers=3)}
    assert rows["Sleepy"]["status"] == "timeout" and rows["Sleepy"]["seconds"] == 4.5
    assert rows["Sleepy"]["wall"] < 15
    assert rows["Broken"]["status"] == "error: ArithmeticError: no law here"
    assert rows["Crashing"]["status"].startswith("error: worker exited with code 3")
    assert not any(r["recovered"] for r in rows.values())


def test_set_up_time_is_not_charged_to_the_fit(table, tmp_path, custom_methods):
    """A method's prepare() (kandisco: building its kernel) runs before the job's clock starts."""
    (task,) = load_tasks(table, ["prod"])
    (row,) = run_bench(make_jobs([task], ["bench_test_methods:SlowStart"], [0.0], [0], budget=1, margin=30), tmp_path)
    assert row["status"] == "ok" and row["recovered"]
    assert row["seconds"] < 1
    assert row["wall"] >= 2


def test_mixing_budgets_in_one_directory_is_refused(table, tmp_path):
    tasks = load_tasks(table, ["lin"])
    (tmp_path / RESULTS_FILE).write_text(json.dumps({"task": "lin", "method": "linear", "noise": 0.0, "seed": 0,
                                                     "budget": 60.0, "n_train": 1000, "status": "ok"}) + "\n")
    with pytest.raises(BenchError, match="budget 60 s"):
        run_bench(make_jobs(tasks, ["linear"], [0.0], [0], budget=5), tmp_path)


def test_dask_local_cluster_gives_the_local_table(table, tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed (kandisco[bench])")
    jobs = make_jobs(load_tasks(table, ["lin"]), ["linear"], [0.0, 0.1], [0], budget=5)
    local = run_bench(jobs, tmp_path / "local", workers=2)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        remote = run_bench(jobs, tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert len(load_results(tmp_path / "dask" / RESULTS_FILE)) == 2
    assert _comparable(remote) == _comparable(local)
    def strip(summary):
        return [{k: v for k, v in s.items() if k != "median_seconds"} for s in summary]

    assert strip(summarize(remote)) == strip(summarize(local))
