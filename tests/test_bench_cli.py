"""`kandisco bench` end to end on one tiny job, and its user errors."""

import json

import numpy as np
import pytest

from kandisco.cli import main


@pytest.fixture
def task_table(tmp_path):
    X = np.random.default_rng(1).uniform(1, 3, (100, 2))
    lines = ["x0,x1,y"] + [f"{a:.17g},{b:.17g},{a * b:.17g}" for a, b in X]
    (tmp_path / "xy.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "tasks.csv").write_text("id,data,target,formula\nxy,xy.csv,y,x0*x1\n")
    return tmp_path / "tasks.csv"


def test_bench_writes_results_and_report(task_table, tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["bench", "--suite", str(task_table), "--methods", "linear", "--noise", "0", "--budget", "2",
               "--out", str(out), "--jobs", "1", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["task"] == "xy" and rows[0]["status"] == "ok"
    report = (out / "report.md").read_text()
    assert "| linear | 0 | 1 | 0/1 (0%) | 0/1 (0%) | 0/1 (0%) |" in report and "## Per task" in report
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["bench", "--suite", str(task_table), "--out", str(out), "--report-only"]) == 0


@pytest.mark.parametrize("args, message", [
    (["--methods", "kandsico"], "did you mean kandisco"),
    (["--suite", "feynman", "--ids", "I.12.99"], "unknown task id 'I.12.99'"),
    (["--noise", "0,lots"], "--noise takes comma-separated float values"),
    (["--budget", "0"], "argument --budget: must be a positive number of seconds"),
])
def test_bench_user_errors_exit_2(args, message, task_table, tmp_path, capsys):
    base = ["bench", "--suite", str(task_table), "--methods", "linear", "--out", str(tmp_path / "o")]
    assert main(base + args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def _has_results_root() -> bool:
    import contextlib
    import io

    help_text = io.StringIO()
    with contextlib.redirect_stdout(help_text), contextlib.suppress(SystemExit):
        main(["bench", "--help"])
    return "--results-root" in help_text.getvalue()


@pytest.mark.skipif(not _has_results_root(), reason="kandisco bench has no --results-root yet (cli.py)")
def test_bench_results_root_files_the_run_as_suite_date_commit(task_table, tmp_path, capsys):
    from kandisco.bench.provenance import git_state

    root = tmp_path / "results"
    args = ["bench", "--suite", str(task_table), "--methods", "linear", "--noise", "0", "--budget", "2", "--jobs", "1",
            "--quiet", "--results-root", str(root)]
    assert main(args) == 0, capsys.readouterr().err
    (run,) = (root / "tasks").iterdir()
    assert run.name.endswith("_" + git_state()["commit_short"])
    assert {p.name for p in run.iterdir()} >= {"results.jsonl", "manifest.json", "report.md", "report.png"}
    assert json.loads((run / "manifest.json").read_text())["sessions"][0]["methods"] == ["linear"]
    # one of --out and --results-root, not both: a usage error, exit 2 with one line
    assert main(["bench", "--suite", str(task_table), "--out", str(tmp_path / "o"), "--results-root", str(root)]) == 2
