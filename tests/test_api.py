"""The public API and the defects found when kandisco was tried as a new user (issue 16): each
test here fails on commit bdf2ae2."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sympy
import torch

import kandisco
from kandisco.cli import main
from kandisco.discovery import ConfigError, DiscoveryResult, Proposal, ResultFileError, SearchConfig, StrategyError, discover
from kandisco.symbolic.library import default_library

REPO = Path(__file__).resolve().parents[1]


def _lorentz_like(n: int = 1000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    q, E, v, B = (rng.uniform(1, 3, n) for _ in range(4))
    return pd.DataFrame({"q": q, "E": E, "v": v, "B": B, "F": q * (E + v * B)})


# ------------------------------------------------------------------------ public API
def test_public_names_import_from_the_package():
    from kandisco import KAN, DiscoveryResult, GraphModule, KANDiscoverer, KandiscoError, KANGraph, __version__  # noqa: F401
    from kandisco.data import DataError

    assert callable(kandisco.discover) and kandisco.discover is discover
    assert isinstance(__version__, str) and __version__[0].isdigit()
    assert issubclass(DataError, KandiscoError) and issubclass(ConfigError, KandiscoError)
    assert issubclass(ResultFileError, KandiscoError)
    assert (Path(kandisco.__file__).parent / "py.typed").exists()


def test_python_dash_m_runs_the_command():
    done = subprocess.run([sys.executable, "-m", "kandisco", "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == f"kandisco {kandisco.__version__}"


# ------------------------------------------------------------------------------- CLI
def test_discover_out_writes_every_file_when_the_structured_strategy_wins(tmp_path, capsys):
    csv = tmp_path / "lor1.csv"
    _lorentz_like().to_csv(csv, index=False)
    out = tmp_path / "out"
    # sparse regression finds q*E + q*v*B first: switched off so that the structured strategy's graph is the model
    assert main(["discover", str(csv), "--target", "F", "--out", str(out), "--budget", "60", "--quiet", "--jobs", "1",
                 "--set", "sparse=false"]) == 0
    result = DiscoveryResult.from_json((out / "result.json").read_text())
    assert result.pareto[result.chosen].strategy == "structured"  # the GraphModule case that crashed
    q, E, v, B = sympy.symbols("q E v B", real=True)
    assert sympy.simplify(result.expr - q * (E + v * B)) == 0
    for name in ("result.json", "formula.tex", "model.kan", "network.png", "pareto.png", "predictions.png"):
        assert (out / name).stat().st_size > 0, name
    model = kandisco.load_model(out / "model.kan")
    assert isinstance(model, kandisco.GraphModule)
    assert "q*(B*v + E)" in capsys.readouterr().out


@pytest.mark.parametrize("budget", ["-5", "0", "abc", "nan"])
def test_bad_budget_exits_2_with_one_line(tmp_path, budget):
    csv = tmp_path / "d.csv"
    _lorentz_like(50).to_csv(csv, index=False)
    done = subprocess.run([sys.executable, "-m", "kandisco", "discover", str(csv), f"--budget={budget}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--budget" in lines[0], done.stderr


def test_bad_search_setting_exits_2_and_suggests(tmp_path, capsys):
    csv = tmp_path / "d.csv"
    _lorentz_like(50).to_csv(csv, index=False)
    assert main(["discover", str(csv), "--set", "general_step=80"]) == 2
    assert "did you mean 'general_steps'" in capsys.readouterr().err
    assert main(["discover", str(csv), "--set", "general_steps=abc"]) == 2


def test_search_config_reads_files_and_rejects_bad_values(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"general_steps": 80, "general_lambdas": [0.01], "structured": False}))
    cfg = SearchConfig.from_file(path)
    assert cfg.general_steps == 80 and cfg.general_lambdas == (0.01,) and cfg.structured is False
    with pytest.raises(ConfigError, match="search_rows"):
        SearchConfig(search_rows=0)
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="cfg.json"):
        SearchConfig.from_file(path)


# --------------------------------------------------------------------- result files
def _small_result(**kwargs) -> DiscoveryResult:
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, size=(200, 2))
    return discover((X, 3.0 * X[:, 0] * X[:, 1]), budget_seconds=30, max_strategies=1, n_jobs=1, **kwargs)


def test_result_file_carrying_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    payload = json.loads(_small_result().to_json())
    DiscoveryResult.from_json(json.dumps(payload))  # the genuine file reads
    for where in ("top", "pareto"):
        bad = json.loads(json.dumps(payload))
        code = f"__import__('os').system('touch {marker}')"
        if where == "top":
            bad["formula_x"] = code
        else:
            bad["pareto"][0]["formula_x"] = code
        with pytest.raises(ResultFileError, match="__import__"):
            DiscoveryResult.from_json(json.dumps(bad), source="evil.json")
        assert not marker.exists()


def test_result_with_a_custom_library_round_trips_through_json():
    lib = default_library().subset(["x", "x^2", "0"])
    lib.register("x_tanh", lambda t: t * torch.tanh(t), lambda e: e * sympy.tanh(e))
    res = _small_result(library=lib)
    back = DiscoveryResult.from_json(res.to_json())
    assert back.formula == res.formula and back.config["library"] == {"custom": ["x", "x^2", "0", "x_tanh"]}
    assert all(isinstance(c.config, dict) for c in back.candidates)


# ------------------------------------------------------------------ strategy failures
@dataclass
class _Failing:
    """A strategy that raises ``error``."""

    error: type
    name: str = "failing"
    seed: int = 0

    def describe(self) -> dict:
        return {"name": self.name, "kind": "test"}

    def propose(self, problem, deadline) -> Proposal:
        raise self.error("boom")


def test_a_strategy_failure_is_a_warning_and_a_bug_fails_in_strict_mode():
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, size=(100, 2))
    y = X[:, 0] + X[:, 1]
    res = discover((X, y), strategies=[_Failing(ArithmeticError)], n_jobs=1)  # numerical: a warning even in strict mode
    assert res.warnings == ["strategy failing#0 failed: ArithmeticError: boom"]
    with pytest.raises(StrategyError, match="AttributeError: boom"):
        discover((X, y), strategies=[_Failing(AttributeError)], n_jobs=1, config=SearchConfig(strict=True))
    lenient = discover((X, y), strategies=[_Failing(AttributeError)], n_jobs=1, config=SearchConfig(strict=False))
    assert "AttributeError: boom" in lenient.warnings[0] and lenient.formula  # the constant law still comes back


def test_the_suite_runs_strict():
    assert os.environ.get("KANDISCO_STRICT") == "1" and SearchConfig().strict


# ------------------------------------------------------------------------ parallelism
def test_the_result_does_not_depend_on_the_number_of_workers():
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, size=(400, 2))
    y = np.exp(-X[:, 0] ** 2) * np.cos(3 * X[:, 1]) + X[:, 0]  # no flat strategy is exact: all four run
    flat = SearchConfig(structured=False)
    one = discover((X, y), budget_seconds=120, seed=1, max_strategies=4, n_jobs=1, config=flat)
    two = discover((X, y), budget_seconds=120, seed=1, max_strategies=4, n_jobs=2, config=flat)
    assert one.formula == two.formula
    assert [(c.strategy, c.formula, c.loss) for c in one.candidates] == [(c.strategy, c.formula, c.loss) for c in two.candidates]
    assert two.config["n_jobs"] == 2 and len(two.timings) == 4


def test_bad_worker_counts_are_refused():
    with pytest.raises(ConfigError, match="n_jobs"):
        discover((np.ones((10, 1)), np.ones(10)), n_jobs=0)
    with pytest.raises(ConfigError, match="budget_seconds"):
        discover((np.ones((10, 1)), np.ones(10)), budget_seconds=-1)


def test_ctrl_c_with_workers_returns_the_best_so_far(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(
        # a shell that starts the suite in the background (`cmd &`) ignores SIGINT, and its children inherit that:
        # Python then installs no KeyboardInterrupt handler; a user's Ctrl-C arrives at a foreground process, so restore it
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "import numpy as np, kandisco\n"
        "rng = np.random.default_rng(0)\n"
        "X = rng.uniform(-1, 1, size=(600, 3))\n"
        "y = np.sin(3 * X[:, 0]) * np.exp(X[:, 1]) + np.tanh(X[:, 2])\n"
        "import kandisco.discovery\n"  # torch and the compiled kernel loaded before the clock: on a busy machine
        "from kandisco.kan import native\n"  # they take seconds, and the interrupt is for the search, not the imports
        "native.kernel()\n"
        "print('start', flush=True)\n"
        "res = kandisco.discover((X, y), budget_seconds=300, n_jobs=2)\n"
        "print('notes', res.notes, flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "start"
    time.sleep(6)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "interrupted" in out


def test_large_tables_are_searched_on_a_subsample_and_refitted_on_every_row():
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, size=(6000, 2))
    y = 2.5 * X[:, 0] ** 2 * X[:, 1]
    res = discover((X, y), budget_seconds=60, n_jobs=1, config=SearchConfig(search_rows=400, search_val_rows=200))
    assert res.config["search_rows"] == 400 and any("searched on 400 of" in n for n in res.notes)
    x0, x1 = sympy.symbols("x0 x1", real=True)
    assert sympy.simplify(res.expr - sympy.Rational(5, 2) * x0**2 * x1) == 0


def test_the_same_jobs_run_on_a_dask_cluster():
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, size=(300, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2
    local = discover((X, y), budget_seconds=120, seed=1, max_strategies=3, n_jobs=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            remote = discover((X, y), budget_seconds=120, seed=1, max_strategies=3, scheduler=client)
    assert remote.formula == local.formula and remote.config["n_jobs"] == "dask"


def test_the_estimator_takes_the_search_config_and_worker_count():
    from kandisco import KANDiscoverer

    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, size=(120, 2))
    est = KANDiscoverer(budget_seconds=30, max_strategies=1, n_jobs=1, config=SearchConfig(power_steps=20)).fit(X, X[:, 0] ** 2 * X[:, 1])
    assert est.result_.config["search"]["power_steps"] == 20 and est.result_.config["n_jobs"] == 1
    assert sympy.simplify(est.formula_ - sympy.Symbol("x0", real=True) ** 2 * sympy.Symbol("x1", real=True)) == 0
