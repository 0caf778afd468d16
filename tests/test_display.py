"""How a result shows itself (LaTeX, HTML, repr, the Pareto frame), its figures, and pandas in and out.

Each check reads the content (the law's LaTeX as sympy writes it, the front's rows, values against
``sympy.lambdify``), not only that a method runs."""

import re

import numpy as np
import pandas as pd
import pytest
import sympy
from matplotlib.figure import Figure

from kandisco.discovery import Candidate, DiscoveryResult, discover

a, b = sympy.symbols("a b", real=True)
FRONT = [sympy.Float(1.75), a * b, 2.5 * a**2 * b]


def _plain(expr, features):
    return expr.xreplace({sympy.Symbol(n, real=True): sympy.Symbol(f"x{i}", real=True) for i, n in enumerate(features)})


def _result(front=FRONT, chosen=2, features=("a", "b"), target="y", notes=(), warnings=()):
    features = list(features)
    cands = [Candidate(formula=str(e), formula_x=sympy.sstr(_plain(e, features)), complexity=1 + 3 * i, loss=10.0 ** -(3 * i),
                       strategy=f"s{i}", seconds=0.0, score=0.5 * i) for i, e in enumerate(front)]
    best = cands[chosen]
    return DiscoveryResult(formula=best.formula, formula_x=best.formula_x, latex=sympy.latex(front[chosen]), target=target,
                           features=features, r2_test=0.987654321, rmse_test=0.0123, complexity=best.complexity, pareto=cands,
                           chosen=chosen, seconds=1.5, timings={}, config={"loss": "RMSE"}, notes=list(notes),
                           warnings=list(warnings), candidates=cands)


def test_latex_repr_is_the_law_as_sympy_writes_it():
    assert _result()._repr_latex_() == "$y = " + sympy.latex(2.5 * a**2 * b) + "$" == "$y = 2.5 a^{2} b$"
    kepler = _result([sympy.Symbol("a_AU", real=True) ** sympy.Rational(3, 2)], 0, ["a_AU"], "T_years")
    assert kepler._repr_latex_() == r"$T_{years} = a_{AU}^{\frac{3}{2}}$"


def test_html_shows_the_law_scores_and_the_front_with_the_pick_marked():
    page = _result(notes=["a note"], warnings=["strategy x failed"])._repr_html_()
    assert "$$y = 2.5 a^{2} b$$" in page
    assert "R<sup>2</sup> = 0.987654" in page and "RMSE = 0.0123" in page
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", page.split("<tbody>")[1])
    assert len(rows) == 3
    cells = [re.findall(r"<td>(.*?)</td>", r) for r in rows]
    assert [c[1] for c in cells] == ["1", "4", "7"]  # complexities, simplest first
    assert [c[4] for c in cells] == ["<code>1.75000000000000</code>", "<code>a*b</code>", "<code>2.5*a**2*b</code>"]
    chosen = re.findall(r'<tr class="chosen"[^>]*>(.*?)</tr>', page)
    assert len(chosen) == 1 and "2.5*a**2*b" in chosen[0] and "&#9654;" in chosen[0]
    assert "strategy x failed" in page and "a note" in page


def test_html_escapes_text_from_the_result():
    page = _result(target="<b>y</b>", notes=["<script>alert(1)</script>"])._repr_html_()
    assert "<script>" not in page and "<b>y</b>" not in page
    assert "&lt;script&gt;" in page


def test_repr_keeps_the_summary_line_and_adds_the_front():
    text = repr(_result(warnings=["w"]))
    lines = text.splitlines()
    assert lines[0] == "DiscoveryResult(y = 2.5*a**2*b, R^2_test=0.987654, RMSE_test=0.0123, 3 on the Pareto front)"
    marked = [line for line in lines if line.lstrip().startswith(">")]
    assert len(marked) == 1 and marked[0].endswith("2.5*a**2*b")
    assert "1 warning(s)" in lines[-1]


def test_pareto_frame_rows_columns_and_callables():
    frame = _result().pareto_frame()
    assert list(frame.columns) == ["complexity", "loss", "score", "formula", "sympy", "latex", "callable", "chosen", "strategy"]
    assert frame["complexity"].tolist() == [1, 4, 7] and frame["chosen"].tolist() == [False, False, True]
    assert frame["formula"].tolist() == [str(e) for e in FRONT]
    assert frame["latex"].tolist() == [sympy.latex(e) for e in FRONT]
    assert all(got == want for got, want in zip(frame["sympy"], FRONT))
    X = np.random.default_rng(0).uniform(-2, 2, size=(20, 2))
    for fn, expr in zip(frame["callable"], FRONT):
        want = np.broadcast_to(sympy.lambdify([a, b], expr)(*X.T), (20,))
        np.testing.assert_allclose(fn(X), want, rtol=1e-14)
        np.testing.assert_allclose(fn(a=X[:, 0], b=X[:, 1]), want, rtol=1e-14)
    np.testing.assert_allclose(frame["loss"], [1.0, 1e-3, 1e-6])


def test_pareto_frame_after_a_json_round_trip():
    result = _result()
    again = DiscoveryResult.from_json(result.to_json())
    assert again.pareto_frame()["latex"].tolist() == result.pareto_frame()["latex"].tolist()
    assert again._repr_html_() == result._repr_html_()


def test_predict_frame_is_aligned_to_the_input_index():
    result = _result()
    df = pd.DataFrame({"b": [1.0, 2.0, 3.0], "a": [1.0, 1.0, 2.0], "y": [2.0, 5.0, 31.0], "label": list("pqr")},
                      index=[10, 20, 30])
    out = result.predict_frame(df)
    assert list(out.index) == [10, 20, 30] and list(out.columns) == ["y", "prediction", "residual"]
    np.testing.assert_allclose(out["prediction"], [2.5, 5.0, 30.0])
    np.testing.assert_allclose(out["residual"], [-0.5, 0.0, 1.0])  # true - predicted
    only = result.predict_frame(df[["a", "b"]].iloc[::-1])
    assert list(only.columns) == ["prediction"] and list(only.index) == [30, 20, 10]
    with pytest.raises(KeyError, match="'?a'?"):
        result.predict_frame(df[["b"]])


def test_figures_are_objects_with_the_data_drawn():
    result = _result()
    df = pd.DataFrame({"a": [1.0, 1.0, 2.0], "b": [1.0, 2.0, 3.0], "y": [2.0, 5.0, 31.0]})
    fig = result.plot(df)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    fit, res = fig.axes
    np.testing.assert_allclose(fit.collections[0].get_offsets(), [[2.0, 2.5], [5.0, 5.0], [31.0, 30.0]])
    np.testing.assert_allclose(res.collections[0].get_offsets(), [[2.5, -0.5], [5.0, 0.0], [30.0, 1.0]])
    arrays = result.plot(df[["a", "b"]].to_numpy(), df["y"].to_numpy())
    np.testing.assert_allclose(arrays.axes[0].collections[0].get_offsets(), fit.collections[0].get_offsets())
    with pytest.raises(ValueError, match="needs data"):
        result.plot()
    with pytest.raises(ValueError, match="true values"):
        result.plot(df[["a", "b"]])
    pareto = result.plot_pareto()
    assert isinstance(pareto, Figure)
    chosen = pareto.axes[0].collections[-1].get_offsets()
    np.testing.assert_allclose(chosen, [[7, 1e-6]])


def test_discover_on_a_frame_leaves_text_columns_out_with_a_note(one_torch_thread):
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 3, 60)
    df = pd.DataFrame({"site": [f"s{i % 3}" for i in range(60)], "x": x, "T": 3 * x}, index=np.arange(100, 160))
    result = discover(df, target="T", max_strategies=1, n_jobs=1, budget_seconds=10)
    assert result.features == ["x"] and result.target == "T"
    assert "non-numeric columns left out: site" in result.notes
    assert "non-numeric columns left out: site" in result._repr_html_()
    out = result.predict_frame(df)
    assert list(out.index) == list(df.index)
    np.testing.assert_allclose(out["prediction"], 3 * x, rtol=1e-9)
    np.testing.assert_allclose(out["residual"], 0, atol=1e-8)
