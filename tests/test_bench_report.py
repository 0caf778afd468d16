"""The report: rates per method and noise, failures counted as unsolved, SRBench's published rates."""

from kandisco.bench.report import markdown_report, published_rates, srbench_name, summarize


def _row(task, method, status="ok", recovered=False, r2=0.5, seconds=1.0, noise=0.0, suite="feynman"):
    return {"task": task, "suite": suite, "method": method, "noise": noise, "seed": 0, "budget": 10.0, "n_train": 1000,
            "truth": "x", "status": status, "recovered": recovered, "r2_test": r2, "seconds": seconds, "formula": "x"}


def test_summary_counts_failures_as_unsolved():
    rows = [_row("I.12.1", "a", recovered=True, r2=1.0, seconds=2.0),
            _row("I.12.2", "a", r2=0.9995, seconds=4.0),
            _row("I.12.4", "a", status="timeout", r2=None, seconds=70.0),
            _row("I.12.1", "b", status="unavailable: Julia is not installed", recovered=None, r2=None, seconds=0.0)]
    (a, b) = summarize(rows)
    assert (a["jobs"], a["symbolic"], a["accuracy"], a["timeouts"]) == (3, 1, 2, 1)
    assert a["symbolic_rate"] == 1 / 3 and a["median_seconds"] == 4.0
    assert b["ran"] == 0 and b["symbolic_rate"] is None and b["unavailable"] == ["unavailable: Julia is not installed"]
    text = markdown_report(rows, "T")
    assert "| a | 0 | 3 | 1/3 (33%) | 1/3 (33%) | 2/3 (67%) | 4.0 | 1 | 0 |" in text
    assert "| b | 0 | 1 | unavailable: Julia is not installed |" in text


def test_published_srbench_rates_for_the_same_problems():
    assert srbench_name("I.12.1") == "feynman_I_12_1" and srbench_name("I.15.1") == "feynman_I_15_10"
    rates = published_rates(["I.12.1", "II.11.17"], [0.0, 0.01])  # II.11.17 is not in SRBench
    assert rates["gplearn"][0.0][2] == 1 and 0 <= rates["Operon"][0.01][0] <= 100
    text = markdown_report([_row("I.12.1", "operon")], "T")
    assert "Published SRBench 2021 rates" in text and "Operon (ours: operon)" in text


def test_srbench_rounding_forgives_float32_constants():
    import sympy

    from kandisco.bench.score import srbench_rounded_match
    from kandisco.datasets import feynman_equation
    from kandisco.symbolic.equivalence import check_equivalence

    eq = feynman_equation("II.3.24")  # Pwr / (4 pi r^2); Operon prints 1/(4 pi) in float32
    pwr, r = (sympy.Symbol(n, real=True) for n in ("Pwr", "r"))
    found = sympy.Float("0.07957748629843874") * pwr / r**2 - sympy.Float("9.2e-9")
    assert not check_equivalence(found, eq.expr, dict(zip(eq.variables, eq.ranges))).recovered
    assert srbench_rounded_match(found, eq.expr)
    assert not srbench_rounded_match(pwr / r, eq.expr)


def test_headline_is_mean_and_std_over_seeds_with_each_seeds_count(tmp_path):
    import json

    from kandisco.bench.report import seed_summary, write_report

    rows = []
    recovered_by_seed = {0: 3, 1: 2, 2: 4}  # of 5 tasks
    for seed, k in recovered_by_seed.items():
        for i in range(5):
            row = _row(f"I.{i}", "kandisco", recovered=i < k, r2=1.0 if i < k else 0.5)
            rows.append({**row, "seed": seed, "commit": "abc1234"})
    rows += [{**_row("I.0", "linear", r2=0.9999), "seed": s} for s in (0, 1, 2)]
    kandisco, linear = seed_summary(rows)
    assert kandisco["seeds"] == [0, 1, 2] and kandisco["tasks"] == 5
    assert {s: c["symbolic"] for s, c in kandisco["per_seed"].items()} == recovered_by_seed
    assert kandisco["symbolic_mean"] == 3.0 and kandisco["symbolic_std"] == 1.0
    assert linear["symbolic_mean"] == 0.0 and linear["accuracy_mean"] == 1.0 and linear["accuracy_std"] == 0.0
    text = markdown_report(rows, "T")
    assert "## Headline: recovered per seed" in text
    assert "| kandisco | 0 | 3 | 5 | 3.0 ± 1.0 | 0: 3/5, 1: 2/5, 2: 4/5 | 3.0 ± 1.0 | 3.0 ± 1.0 |" in text
    assert "| linear | 0 | 3 | 1 | 0.0 ± 0.0 | 0: 0/1, 1: 0/1, 2: 0/1 |" in text
    assert "## Summary (all seeds together)" in text and "| kandisco | 0 | 15 | 9/15 (60%) |" in text
    assert "Code: commit abc1234 (15 jobs), not recorded (3 jobs)" in text

    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:5]))
    md, _ = write_report(tmp_path, "one seed")
    assert "| kandisco | 0 | 1 | 5 | 3 (1 seed, no spread) | 0: 3/5 |" in md.read_text()
