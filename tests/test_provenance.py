"""Benchmark provenance: manifest.json per run (sessions appended on resume), commit on every row, layout."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from kandisco.bench import load_tasks, make_jobs, provenance, run_bench
from kandisco.bench.provenance import (
    MANIFEST_FILE,
    git_state,
    output_dir,
    read_manifest,
    run_dir,
    source_root,
    suite_label,
)
from kandisco.bench.runner import RESULTS_FILE, load_results
from kandisco.bench.tasks import BenchError

RUN_NAME = re.compile(r"\d{4}-\d{2}-\d{2}_([0-9a-f]{7}|unknown)")
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

SESSION_FIELDS = {"commit", "commit_short", "dirty", "dirty_files", "started", "ended", "status", "argv", "suites",
                  "methods", "noises", "seeds", "budget", "n_train", "n_test", "jobs", "jobs_run", "packages",
                  "cores", "platform", "python"}


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    root = tmp_path_factory.mktemp("tasks")
    X = np.random.default_rng(0).uniform(1, 3, (60, 2))
    for name, y in (("prod", X[:, 0] * X[:, 1]), ("lin", X[:, 0] + 2 * X[:, 1])):
        rows = ["x0,x1,y"] + [f"{a:.17g},{b:.17g},{c:.17g}" for (a, b), c in zip(X, y)]
        (root / f"{name}.csv").write_text("\n".join(rows) + "\n")
    (root / "tasks.csv").write_text("id,data,target,formula\nprod,prod.csv,y,x0*x1\nlin,lin.csv,y,x0 + 2*x1\n")
    return str(root / "tasks.csv")


def _head() -> str:
    return subprocess.run(["git", "-C", str(source_root()), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


@needs_git
def test_a_run_writes_a_manifest_and_every_row_carries_the_commit(table, tmp_path):
    tasks = load_tasks(table)
    argv = ["kandisco", "bench", "--suite", table]
    run_bench(make_jobs(tasks[:1], ["linear"], [0.0], [0], budget=5), tmp_path, workers=1, argv=argv)
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    (session,) = manifest["sessions"]
    assert SESSION_FIELDS <= set(session)
    head = _head()
    assert session["commit"] == head and session["commit_short"] == head[:7] and manifest["commits"] == [head]
    assert isinstance(session["dirty"], bool)
    assert session["argv"] == argv and session["status"] == "complete" and session["jobs_run"] == 1
    assert session["methods"] == ["linear"] and session["seeds"] == [0] and session["noises"] == [0.0]
    assert session["budget"] == 5.0 and session["suites"] == ["table"]
    assert set(provenance.CORE_PACKAGES) <= set(session["packages"]) and session["packages"]["numpy"]
    assert session["cores"]["cpu_count"] >= 1
    assert session["started"] <= session["ended"] and session["python"]["version"]
    (row,) = load_results(tmp_path / RESULTS_FILE)
    assert row["commit"] == head[:7] and "version" in row and row["dirty"] == session["dirty"]

    # a resume into the same folder appends a session and leaves the first as it was
    run_bench(make_jobs(tasks, ["linear"], [0.0], [0, 1], budget=5), tmp_path, workers=1, argv=argv + ["again"])
    again = read_manifest(tmp_path)
    assert len(again["sessions"]) == 2 and again["sessions"][0] == session
    assert again["sessions"][1]["jobs_run"] == 3 and again["sessions"][1]["jobs"] == 4
    assert again["seeds"] == [0, 1] and again["format"] == provenance.MANIFEST_FORMAT
    assert all(r["commit"] == head[:7] for r in load_results(tmp_path / RESULTS_FILE))

    # nothing left to run: no empty session
    run_bench(make_jobs(tasks, ["linear"], [0.0], [0, 1], budget=5), tmp_path, workers=1)
    assert len(read_manifest(tmp_path)["sessions"]) == 2


def test_without_git_the_commit_is_unknown_and_nothing_fails(table, tmp_path, monkeypatch):
    assert git_state(tmp_path) == {"commit": "unknown", "commit_short": "unknown", "dirty": None, "dirty_files": []}
    monkeypatch.setenv("PATH", str(tmp_path))  # no git binary at all
    assert git_state()["commit"] == "unknown"
    run_bench(make_jobs(load_tasks(table)[:1], ["linear"], [0.0], [0], budget=5), tmp_path / "run", workers=1)
    (session,) = read_manifest(tmp_path / "run")["sessions"]
    assert session["commit"] == "unknown" and session["dirty"] is None
    assert [r["commit"] for r in load_results(tmp_path / "run" / RESULTS_FILE)] == ["unknown"]


@needs_git
def test_a_folder_inside_a_checkout_is_not_that_checkout(tmp_path):
    assert git_state(source_root() / "kandisco")["commit"] == "unknown"  # e.g. site-packages of a venv in it


@needs_git
def test_dirty_means_tracked_files_changed_outside_the_run_folder(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       check=True, capture_output=True)

    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "results.jsonl").write_text("{}\n")
    git("init", "-q")
    git("add", "code.py", "out/results.jsonl")
    git("commit", "-q", "-m", "first")
    (tmp_path / "untracked.txt").write_text("not code\n")
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "out" / "results.jsonl").write_text("{}\n{}\n")
    assert git_state(tmp_path, exclude=[tmp_path / "out"])["dirty"] is False
    assert git_state(tmp_path)["dirty"] is True
    (tmp_path / "code.py").write_text("x = 2\n")
    state = git_state(tmp_path, exclude=[tmp_path / "out"])
    assert state["dirty"] is True and state["dirty_files"] == ["code.py"]


def test_run_dir_is_suite_date_commit_and_reuses_the_commits_folder(tmp_path):
    first = run_dir(tmp_path, "feynman", commit="558626f7e15d419cb583355de14429ace817d6c5", date="2026-11-26")
    assert first == tmp_path / "feynman" / "2026-11-26_558626f"
    first.mkdir(parents=True)
    assert run_dir(tmp_path, "feynman", commit="558626f") == first  # a resume on another day
    assert run_dir(tmp_path, "feynman", commit="abcdef0").parent == tmp_path / "feynman"
    assert run_dir(tmp_path, "feynman", commit="abcdef0").name.endswith("_abcdef0")
    assert suite_label("kepler,feynman") == "kepler+feynman"
    assert suite_label(["data/my tasks.csv"]) == "my-tasks"
    with pytest.raises(BenchError, match="YYYY-MM-DD"):
        run_dir(tmp_path, "feynman", commit="abc", date="26.11.2026")


def test_output_dir_is_out_as_given_or_the_layout_under_results_root(tmp_path):
    assert output_dir(tmp_path / "any", None, "feynman") == tmp_path / "any"
    made = output_dir(None, tmp_path, "kepler")
    assert made.parent == tmp_path / "kepler" and RUN_NAME.fullmatch(made.name)
    assert made.name.endswith("_" + git_state()["commit_short"])
    with pytest.raises(BenchError, match="not both"):
        output_dir(tmp_path, tmp_path, "feynman")
    with pytest.raises(BenchError, match="--results-root"):
        output_dir(None, None, "feynman")


def test_a_broken_manifest_is_a_clear_error(tmp_path):
    (tmp_path / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(BenchError, match="manifest.json: not JSON"):
        read_manifest(tmp_path)


def _index_module():
    import importlib.util

    path = source_root() / "experiments" / "results_index.py"
    spec = importlib.util.spec_from_file_location("results_index", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_results_index_lists_runs_with_mean_and_std_over_seeds(tmp_path):
    index = _index_module()
    run = run_dir(tmp_path, "feynman", commit="abc1234", date="2026-12-01")
    run.mkdir(parents=True)
    rows = []
    for seed, k in {0: 3, 1: 2, 2: 4}.items():
        for i in range(5):
            rows.append({"task": f"I.{i}", "suite": "feynman", "method": "kandisco", "noise": 0.0, "seed": seed,
                         "budget": 60.0, "n_train": 1000, "truth": "x", "status": "ok", "recovered": i < k,
                         "r2_test": 1.0 if i < k else 0.5, "seconds": 1.0, "commit": "abc1234"})
    (run / RESULTS_FILE).write_text("".join(json.dumps(r) + "\n" for r in rows))
    session = {"commit": "abc1234" + "0" * 33, "dirty": True, "suites": ["feynman"], "methods": ["kandisco"],
               "noises": [0.0], "seeds": [0, 1, 2], "budget": 60.0}
    provenance._write_manifest(run, {"sessions": [session]})
    legacy = tmp_path / "bench_old"
    legacy.mkdir()
    (legacy / RESULTS_FILE).write_text(json.dumps({**rows[0], "seed": 0}) + "\n")
    (legacy / "report.md").write_text("# An old run\n")
    (tmp_path / "kan_speed.md").write_text("# KAN speed\n")
    (tmp_path / "kan_speed.csv").write_text("a,b\n")

    text = index.render(tmp_path)
    assert ("| feynman | 2026-12-01 | abc1234 *dirty* | kandisco | 0 | 3 | 3.0 ± 1.0 / 5 (3 seeds: 3, 2, 4) | "
            "3.0 ± 1.0 / 5 (3 seeds: 3, 2, 4) | 60 s | [feynman/2026-12-01_abc1234]") in text
    assert "| [bench_old](bench_old/report.md) | An old run | kandisco | 0 | 1 | 1/1 (1 seed) |" in text
    assert "| [kan_speed.csv](kan_speed.csv) | data of kan_speed.md |" in text
    assert "| [kan_speed.md](kan_speed.md) | KAN speed |" in text
    assert index.main(["--root", str(tmp_path), "--check"]) == 1
    assert index.main(["--root", str(tmp_path)]) == 0
    assert index.main(["--root", str(tmp_path), "--check"]) == 0
    assert (tmp_path / "README.md").read_text() == text


def test_the_committed_results_index_is_up_to_date():
    index = _index_module()
    assert index.main(["--check"]) == 0, "run python experiments/results_index.py"
