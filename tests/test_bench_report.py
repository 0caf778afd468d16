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
