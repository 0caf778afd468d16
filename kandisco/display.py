"""How a discovery result shows itself: the law as LaTeX, the Pareto front as HTML and as a DataFrame,
and the fit as a figure (predicted against true, residuals).

These helpers read a result through :class:`ShownResult` (what
:class:`~kandisco.discovery.DiscoveryResult` has) and never import the pipeline, so the result
module can use them without a cycle. Every formula shown is rebuilt from the whitelisted parse
(``result.expr``), and every text put into HTML is escaped: a result read from a file cannot inject
markup into a notebook.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
import sympy

from .export.numpy_fn import to_numpy

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ShownResult", "law_latex", "pareto_frame", "pareto_html", "result_html", "fit_figure", "PARETO_COLUMNS"]

PARETO_COLUMNS = ("complexity", "loss", "score", "formula", "sympy", "latex", "callable", "chosen", "strategy")


class _Entry(Protocol):
    """One Pareto-front entry (a :class:`~kandisco.discovery.Candidate`)."""

    @property
    def formula(self) -> str: ...

    @property
    def complexity(self) -> int: ...

    @property
    def loss(self) -> float: ...

    @property
    def score(self) -> float: ...

    @property
    def strategy(self) -> str: ...

    def expr(self, features: list[str]) -> sympy.Expr: ...


class ShownResult(Protocol):
    """What the helpers here read from a result (read-only)."""

    @property
    def target(self) -> str: ...

    @property
    def features(self) -> list[str]: ...

    @property
    def r2_test(self) -> float: ...

    @property
    def rmse_test(self) -> float: ...

    @property
    def pareto(self) -> Sequence[_Entry]: ...

    @property
    def chosen(self) -> int: ...

    @property
    def seconds(self) -> float: ...

    @property
    def config(self) -> Mapping[str, Any]: ...

    @property
    def notes(self) -> Sequence[str]: ...

    @property
    def warnings(self) -> Sequence[str]: ...

    @property
    def expr(self) -> sympy.Expr: ...


def law_latex(target: str, expr: sympy.Expr) -> str:
    """``target = expr`` in LaTeX, the target written as sympy writes a symbol (``T_years`` -> ``T_{years}``)."""
    return f"{sympy.latex(sympy.Symbol(target))} = {sympy.latex(expr)}"


def _loss_name(result: ShownResult) -> str:
    return str(result.config.get("loss", "RMSE"))


def pareto_frame(result: ShownResult) -> pd.DataFrame:
    """The Pareto front, simplest first: one row per entry with its sympy form, LaTeX, a numpy
    function of the feature columns (:class:`~kandisco.export.LawFunction`) and whether it was chosen."""
    rows = []
    for i, entry in enumerate(result.pareto):
        expr = entry.expr(result.features)
        rows.append({
            "complexity": int(entry.complexity), "loss": float(entry.loss), "score": float(entry.score),
            "formula": entry.formula, "sympy": expr, "latex": sympy.latex(expr),
            "callable": to_numpy(expr, result.features), "chosen": i == result.chosen, "strategy": entry.strategy,
        })
    return pd.DataFrame(rows, columns=list(PARETO_COLUMNS))


def _number(v: float, digits: int = 4) -> str:
    return f"{v:.{digits}g}" if math.isfinite(v) else str(v)


def pareto_html(result: ShownResult) -> str:
    """The Pareto front as an HTML table; the chosen row has ``class="chosen"``, is bold and marked ``▶``."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ("", "complexity", f"loss ({_loss_name(result)})", "score", "formula", "strategy"))
    body = []
    for i, entry in enumerate(result.pareto):
        chosen = i == result.chosen
        cells = ["&#9654;" if chosen else "", str(int(entry.complexity)), _number(entry.loss), f"{entry.score:.3f}",
                 f"<code>{html.escape(str(entry.expr(result.features)))}</code>", html.escape(entry.strategy)]
        attrs = ' class="chosen" style="font-weight:bold"' if chosen else ""
        body.append(f"<tr{attrs}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (f'<table class="kandisco-pareto"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def result_html(result: ShownResult) -> str:
    """A notebook view: the law as display LaTeX (``$$...$$``, typeset by MathJax), the test scores,
    the Pareto front table, then warnings and notes."""
    law = html.escape(law_latex(result.target, result.expr), quote=False)
    summary = (f"test R<sup>2</sup> = {_number(result.r2_test, 6)}, test RMSE = {_number(result.rmse_test)}; "
               f"{len(result.pareto)} formulas on the Pareto front; {result.seconds:.1f} s")
    parts = ['<div class="kandisco-result">', f"<p><strong>kandisco law for {html.escape(result.target)}</strong></p>",
             f"<p>$${law}$$</p>", f"<p>{summary}</p>", pareto_html(result)]
    for title, items in (("warnings", result.warnings), ("notes", result.notes)):
        if items:
            lis = "".join(f"<li>{html.escape(t)}</li>" for t in items)
            opened = " open" if title == "warnings" else ""
            parts.append(f"<details{opened}><summary>{len(items)} {title}</summary><ul>{lis}</ul></details>")
    parts.append("</div>")
    return "\n".join(parts)


def fit_figure(y_true: Any, y_pred: Any, target: str = "y", title: str = "") -> Figure:
    """Two panels: predicted against true (with the identity line) and residuals (true - predicted)
    against predicted. Built without pyplot, like every figure of :mod:`kandisco.plot`."""
    from matplotlib.figure import Figure  # heavy: loaded only when a figure is asked for

    truth, pred = np.ravel(np.asarray(y_true, dtype=float)), np.ravel(np.asarray(y_pred, dtype=float))
    if truth.shape != pred.shape:
        raise ValueError(f"{truth.size} true values but {pred.size} predictions")
    fig = Figure(figsize=(9, 4))
    ax_fit, ax_res = fig.subplots(1, 2)
    ax_fit.scatter(truth, pred, s=10)
    finite = truth[np.isfinite(truth)]
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        ax_fit.plot([lo, hi], [lo, hi], color="black", lw=1)
    ax_fit.set_xlabel(f"{target} (true)")
    ax_fit.set_ylabel(f"{target} (predicted)")
    ax_res.scatter(pred, truth - pred, s=10, color="tab:orange")
    ax_res.axhline(0.0, color="black", lw=1)
    ax_res.set_xlabel(f"{target} (predicted)")
    ax_res.set_ylabel("residual (true - predicted)")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
