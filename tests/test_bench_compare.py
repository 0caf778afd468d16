"""experiments/bench_compare.py: options, the results layout under --results-root, --seeds 0,1,2."""

import importlib.util
import json
import sys

import pytest

from kandisco.bench.provenance import MANIFEST_FILE, git_state, source_root


@pytest.fixture(scope="module")
def compare():
    spec = importlib.util.spec_from_file_location("bench_compare", source_root() / "experiments" / "bench_compare.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it runs
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_full_with_three_seeds_is_filed_under_feynman_date_commit(compare, tmp_path):
    p = compare.plan(compare.parser().parse_args(["--full", "--seeds", "0,1,2", "--results-root", str(tmp_path)]))
    assert p.seeds == [0, 1, 2] and p.methods == ["kandisco"] and len(p.tasks) == 100 and p.budget == 60.0
    assert p.out.parent == tmp_path / "feynman" and p.out.name.endswith("_" + git_state()["commit_short"])
    assert p.root == tmp_path and p.noise == [0.0, 0.01]


def test_default_root_is_experiments_results_and_out_still_takes_any_directory(compare, tmp_path):
    p = compare.plan(compare.parser().parse_args([]))
    assert p.root == source_root() / "experiments" / "results" and p.out.parent == p.root / "compare"
    assert len(p.tasks) == 31 and p.methods == compare.METHODS
    p = compare.plan(compare.parser().parse_args(["--smoke", "--out", str(tmp_path / "x"), "--noise", "0",
                                                  "--methods", "linear", "--budget", "3", "--seeds", "2, 0,2"]))
    assert p.out == tmp_path / "x" and p.root is None and p.noise == [0.0] and p.methods == ["linear"]
    assert p.budget == 3.0 and p.seeds == [2, 0] and [t.id for t in p.tasks] == ["kepler", "I.12.1", "II.3.24"]


@pytest.mark.parametrize("args", [["--seeds", "0,one"], ["--seeds", ","], ["--noise", "0,lots"],
                                  ["--out", "a", "--results-root", "b"], ["--full", "--smoke"]])
def test_bad_options_exit_2(compare, args, capsys):
    with pytest.raises(SystemExit) as info:
        compare.parser().parse_args(args)
    assert info.value.code == 2


def test_a_smoke_run_writes_the_layout_the_manifest_and_the_index(compare, tmp_path):
    argv = ["--smoke", "--methods", "linear", "--noise", "0", "--seeds", "0,1", "--budget", "3", "--jobs", "2",
            "--results-root", str(tmp_path)]
    assert compare.main(argv) == 0
    (run,) = (tmp_path / "smoke").iterdir()
    rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and {r["seed"] for r in rows} == {0, 1}
    assert all(r["commit"] == git_state()["commit_short"] for r in rows)
    manifest = json.loads((run / MANIFEST_FILE).read_text())
    assert manifest["seeds"] == [0, 1] and manifest["sessions"][0]["jobs_run"] == 6
    assert "## Headline: recovered per seed" in (run / "report.md").read_text()
    index = (tmp_path / "README.md").read_text()
    assert f"| smoke | {run.name.split('_')[0]} |" in index and "| linear | 0 | 2 |" in index
