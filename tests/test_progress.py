"""The discovery progress bar: a tqdm.auto bar over the budget, driven by discover's progress
callback (in the parent process, also with worker processes), used by the CLI and the estimator."""

import argparse
import io
import logging

import numpy as np
import pytest

from kandisco import cli, estimator
from kandisco.discovery import SearchConfig, discover
from kandisco.estimator import KANDiscoverer
from kandisco.progress import ProgressBar


def _product(n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 3, (n, 2))
    return X, 2.5 * X[:, 0] ** 2 * X[:, 1]


FAST = SearchConfig(power_steps=20)


def test_bar_counts_seconds_of_the_budget_and_shows_the_last_strategy():
    out = io.StringIO()
    with ProgressBar(10, file=out, disable=False) as bar:
        assert (bar.total, bar.n) == (10.0, 0.0)
        bar("power_law", 3.2)
        assert bar.n == 3.2 and bar.last == "power_law"
        assert "3/10 s, power_law" in out.getvalue()
        bar("additive", 25.0)  # a search may end past its budget: the bar stops at it
        assert bar.n == 10.0
        assert "10/10 s, additive" in out.getvalue()
    assert "100%" in out.getvalue()
    bar.close()  # closing twice, and a late call after closing, are harmless
    bar("late", 1.0)
    assert bar.n == 10.0 and bar.last == "additive"


def test_a_disabled_bar_writes_nothing():
    out = io.StringIO()
    with ProgressBar(5, file=out, disable=True) as bar:
        bar("power_law", 1.0)
    assert out.getvalue() == ""


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_discover_drives_the_bar_from_the_parent_process(n_jobs):
    """The pipeline's judge calls progress in this process (runner.py): with forked workers the bar
    is never pickled, and it still sees every judged strategy."""
    out = io.StringIO()
    with ProgressBar(20, file=out, disable=False) as bar:
        calls = []
        seen = lambda name, elapsed: (calls.append((name, elapsed)), bar(name, elapsed))
        res = discover(_product(), budget_seconds=20, seed=0, max_strategies=n_jobs, n_jobs=n_jobs, config=FAST, progress=seen)
    assert calls and calls[0][0] == "sparse"  # the first strategy of the plan
    assert [e for _, e in calls] == sorted(e for _, e in calls) and 0 < calls[-1][1] <= res.seconds + 1
    assert bar.last == calls[-1][0] and bar.n == pytest.approx(calls[-1][1])
    assert f"| {calls[-1][1]:.0f}/20 s, {calls[-1][0]}" in out.getvalue()


def _args(**kw):
    base = {"quiet": False, "verbose": 0, "json": False, "budget": 30.0}
    return argparse.Namespace(**{**base, **kw})


@pytest.mark.parametrize("tty, kw, shown", [
    (True, {}, True), (False, {}, False), (False, {"verbose": 1}, True), (True, {"quiet": True}, False),
    (True, {"quiet": True, "verbose": 2}, False), (True, {"json": True}, False), (False, {"json": True, "verbose": 1}, True),
])
def test_cli_shows_the_bar_on_a_terminal_or_with_v(monkeypatch, tty, kw, shown):
    monkeypatch.setattr(cli.sys.stderr, "isatty", lambda: tty, raising=False)
    with cli._progress_bar(_args(**kw)) as bar:
        assert bar.total == 30.0
        assert bar._bar.disable is (not shown)


def test_cli_discover_with_v_draws_the_bar_on_stderr_and_keeps_stdout_for_the_law(tmp_path, capsys):
    X, y = _product()
    path = tmp_path / "law.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header="a,b,F", comments="")
    assert cli.main(["discover", str(path), "--budget", "20", "--max-strategies", "1", "--jobs", "1", "--set", "power_steps=20", "-v"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("F = ") and "discover" not in out
    assert "discover:" in err and "/20 s, sparse" in err
    assert "strategies run (seconds): sparse" in err


def test_estimator_verbose_shows_the_bar_and_info_during_fit_only(monkeypatch, capsys):
    seen = []
    real = estimator.discover

    def watched(*args, **kwargs):
        seen.append((kwargs["progress"], logging.getLogger("kandisco.kan").getEffectiveLevel()))
        return real(*args, **kwargs)

    monkeypatch.setattr(estimator, "discover", watched)
    X, y = _product()
    before = logging.getLogger("kandisco").level
    est = KANDiscoverer(budget_seconds=20, max_strategies=1, n_jobs=1, config=FAST, verbose=1)
    assert est.get_params()["verbose"] == 1  # stored unchanged, a scikit-learn parameter
    est.fit(X, y)
    progress, level = seen[-1]
    assert isinstance(progress, ProgressBar) and progress.last == "sparse" and level == logging.INFO
    out, err = capsys.readouterr()
    assert out == "" and "KANDiscoverer.fit:" in err and "sparse" in err
    assert logging.getLogger("kandisco").level == before

    KANDiscoverer(budget_seconds=20, max_strategies=1, n_jobs=1, config=FAST).fit(X, y)  # verbose=0: logging left alone, no bar
    assert seen[-1] == (None, logging.getLogger("kandisco.kan").getEffectiveLevel())
    assert capsys.readouterr() == ("", "")
