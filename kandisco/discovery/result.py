"""Discovery results: candidates, the Pareto front and the rule that picks one, JSON round trip.

The front follows PySR's hall of fame: for each complexity the candidate with the lowest
validation loss, kept only if it beats every simpler candidate. A front entry's *score* is
``-d log(loss) / d complexity`` against the previous (simpler) entry. The pick ("best") is the
highest score among entries whose loss is within ``1.5x`` of the lowest loss; ``"accuracy"`` picks
the lowest loss and ``"simplest"`` the simplest entry within 1.5x of the lowest loss. Entries whose
loss is at rounding level (``exact_loss``) all count as within the window, and the one of least
*description length* wins among them: its complexity plus :data:`FLOAT_COST` per fitted float (a
number the formula must state to its last digits; snapped ones such as ``1/2`` or ``pi`` are no
floats), so ``c*m/sqrt(c**2 - v**2)`` beats ``0.96*m*exp(0.027*exp(3.8*v/c))`` at the noise floor.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

import pandas as pd
import sympy
import torch

from .. import display
from ..errors import KandiscoError
from ..export import LawFunction, LawModule, to_jax, to_numpy, to_torch
from ..symbolic.formula import complexity, to_callable
from ..symbolic.parse import parse_formula

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Candidate", "DiscoveryResult", "LatexText", "ResultFileError", "pareto_front", "pick_candidate", "PICK_RULES"]

PICK_RULES = ("best", "accuracy", "simplest")
# a fitted float costs as much as this many more nodes in the description length (see above)
FLOAT_COST = 2
# a float as sympy prints one (always with a decimal point: 0.5, 1.0e-5, 3.0e+8)
_FLOAT = re.compile(r"(?<![\w.])\d+\.\d*(?:e[-+]?\d+)?")


class ResultFileError(KandiscoError, ValueError):
    """A result (JSON) cannot be read: malformed, missing fields, or a formula outside the whitelist."""
LOSS_WINDOW = 1.5


@dataclass
class Candidate:
    """One formula tried by the pipeline."""

    formula: str  # in the user's column names (for people; may not parse if names are not identifiers)
    formula_x: str  # the same in x0, x1, ... (always parses; see DiscoveryResult.expr)
    complexity: int
    loss: float  # validation RMSE in the target's units
    strategy: str  # which candidate generator produced it
    seconds: float
    score: float = 0.0  # filled in on the Pareto front
    config: dict[str, Any] = field(default_factory=dict)

    def expr(self, features: list[str]) -> sympy.Expr:
        """The formula as sympy with symbols named as the user's columns."""
        return _from_internal(self.formula_x, features)

    @property
    def description_length(self) -> int:
        """Complexity plus :data:`FLOAT_COST` per fitted float in the formula (see the module docstring)."""
        return self.complexity + FLOAT_COST * len(_FLOAT.findall(self.formula_x))

    @classmethod
    def from_expr(cls, expr: sympy.Expr, symbols: Sequence[sympy.Symbol], names: Sequence[str], **values: Any) -> Candidate:
        """The candidate for ``expr`` in the pipeline's symbols ``x0, x1, ...``: its formula in the
        user's column ``names`` and in plain ``x0, x1, ...``, and its complexity (unless given)."""
        values.setdefault("complexity", complexity(expr))
        return cls(formula=sympy.sstr(expr.xreplace({s: sympy.Symbol(n) for s, n in zip(symbols, names)})),
                   formula_x=sympy.sstr(expr.xreplace({s: sympy.Symbol(s.name, real=True) for s in symbols})), **values)


def _from_internal(text: str, features: list[str]) -> sympy.Expr:
    """Parse a formula in ``x0, x1, ...`` without evaluating code (results may come from a file)."""
    internal = [f"x{i}" for i in range(len(features))]
    try:
        expr = parse_formula(text, internal)
    except ValueError as exc:
        raise ResultFileError(f"formula {text[:80]!r} cannot be read: {exc}") from None
    return expr.xreplace({sympy.Symbol(f"x{i}", real=True): sympy.Symbol(n, real=True) for i, n in enumerate(features)})


def _safe_log(v: float) -> float:
    return math.log(max(v, 1e-300))


def pareto_front(candidates: list[Candidate]) -> list[Candidate]:
    """Complexity-ascending candidates that each have a lower loss than every simpler one."""
    finite = [c for c in candidates if math.isfinite(c.loss)]
    front: list[Candidate] = []
    for cand in sorted(finite, key=lambda c: (c.complexity, c.loss)):
        if not front or cand.loss < front[-1].loss:
            if front and cand.complexity == front[-1].complexity:
                continue
            front.append(cand)
    prev = None
    for cand in front:
        if prev is None:
            cand.score = 0.0
        else:
            dc = max(cand.complexity - prev.complexity, 1)
            cand.score = -(_safe_log(cand.loss) - _safe_log(prev.loss)) / dc
        prev = cand
    return front


def pick_candidate(front: list[Candidate], rule: str = "best", exact_loss: float = 0.0) -> int:
    """Index into ``front`` chosen by ``rule`` (see module docstring).

    Losses at or below ``exact_loss`` (the level of rounding noise) count as equally exact: all such
    entries join the window, and under ``"best"`` the one of least description length wins outright, since a score
    between two exact entries measures rounding noise: ``c**3*m/sqrt(c**2 - v**2)`` at 2e-14 is not
    passed over for a float-laden copy at 5e-15, nor ``G*m1*m2/r**2`` at 1e-12 for
    ``1.0*G**1.0*(m1 + 9.8e-17)*m2/r**2`` at 1e-16.
    """
    if rule not in PICK_RULES:
        raise ValueError(f"unknown pick rule {rule!r}; choose one of {', '.join(PICK_RULES)}")
    if not front:
        raise ValueError("no candidate formula to pick from")
    lowest = min(c.loss for c in front)
    window = [i for i, c in enumerate(front) if c.loss <= max(LOSS_WINDOW * lowest, exact_loss) + 1e-300]
    if rule == "accuracy":
        return min(range(len(front)), key=lambda i: front[i].loss)
    exact = [i for i in window if front[i].loss <= exact_loss]
    if rule == "simplest" or (rule == "best" and exact):
        return window[0] if rule == "simplest" else min(exact, key=lambda i: (front[i].description_length, i))
    return max(window, key=lambda i: (front[i].score, -front[i].complexity))


class LatexText(str):
    """The law's LaTeX: a ``str``, as the ``latex`` field always was, that can also be called, so
    ``result.latex`` and ``result.latex()`` (PySR's spelling) both give it."""

    def __call__(self) -> str:
        return str(self)


@dataclass
class DiscoveryResult:
    """What :func:`kandisco.discover` found, with everything needed to judge and reuse it."""

    formula: str
    formula_x: str
    latex: str
    target: str
    features: list[str]
    r2_test: float
    rmse_test: float
    complexity: int
    pareto: list[Candidate]
    chosen: int
    seconds: float
    timings: dict[str, float]
    config: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # strategies that failed, and why
    candidates: list[Candidate] = field(default_factory=list)
    importance: dict[str, float] = field(default_factory=dict)  # input importance of the chosen formula
    model: Any = None  # the KAN behind the chosen formula (not serialised; save it with model.save)
    constants: list[dict[str, Any]] = field(default_factory=list)  # the law's fitted constants: value, error (1 sigma), text
    formula_with_errors: str = ""  # the law with each constant as (value +- error)
    latex_with_errors: str = ""
    outliers: list[int] = field(default_factory=list)  # rows beyond 5 robust sigmas of the law (file line numbers)
    fit: dict[str, Any] = field(default_factory=dict)  # the last fit: robust, weighted, dof, residual_std, reduced_chi2

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "latex" and isinstance(value, str) and not isinstance(value, LatexText):
            value = LatexText(value)  # so result.latex() works however the result was made
        object.__setattr__(self, name, value)

    @property
    def symbols(self) -> list[sympy.Symbol]:
        return [sympy.Symbol(n, real=True) for n in self.features]

    @property
    def expr(self) -> sympy.Expr:
        """The chosen formula as sympy, in the user's column names."""
        return _from_internal(self.formula_x, self.features)

    def predict(self, X: Any) -> Any:
        """Evaluate the chosen formula on rows of ``X`` (columns in ``features`` order)."""
        return to_callable(self.expr, self.symbols)(X)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "model"}
        out["pareto"] = [asdict(c) for c in self.pareto]
        out["candidates"] = [asdict(c) for c in self.candidates]
        return out

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text: str, source: str = "result") -> DiscoveryResult:
        """Read :meth:`to_json`'s text. Every formula is checked by the whitelisting parser here,
        before anything uses it, so a file whose formula strings carry code is refused
        (:class:`ResultFileError` naming ``source``) and nothing in it is run."""
        try:
            data = json.loads(text)
            names = {f.name for f in fields(Candidate)}
            data["pareto"] = [Candidate(**{k: v for k, v in c.items() if k in names}) for c in data["pareto"]]
            data["candidates"] = [Candidate(**{k: v for k, v in c.items() if k in names}) for c in data.get("candidates", [])]
            known = {f.name for f in fields(cls)}
            result = cls(**{k: v for k, v in data.items() if k in known})
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ResultFileError(f"{source}: not a kandisco result ({type(exc).__name__}: {exc})") from None
        try:
            for text_x in [result.formula_x] + [c.formula_x for c in result.pareto + result.candidates]:
                _from_internal(text_x, result.features)
        except ResultFileError as exc:
            raise ResultFileError(f"{source}: {exc}") from None
        return result

    def table(self) -> str:
        """The Pareto front as a text table; ``>`` marks the chosen row."""
        lines = [f"  {'':1} {'complexity':>10} {'loss':>11} {'score':>8}  formula"]
        for i, c in enumerate(self.pareto):
            mark = ">" if i == self.chosen else " "
            lines.append(f"  {mark} {c.complexity:>10d} {c.loss:>11.4g} {c.score:>8.3f}  {c.formula}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        """The law with its test scores on the first line, then the Pareto front and the count of warnings."""
        lines = [
            f"DiscoveryResult({self.target} = {self.formula}, R^2_test={self.r2_test:.6g}, "
            f"RMSE_test={self.rmse_test:.4g}, {len(self.pareto)} on the Pareto front)",
            self.table(),
        ]
        if self.warnings:
            lines.append(f"  {len(self.warnings)} warning(s): see .warnings")
        return "\n".join(lines)

    # ------------------------------------------------------------------ notebook display
    def _repr_latex_(self) -> str:
        """Jupyter's LaTeX view: ``$target = law$``."""
        return f"${display.law_latex(self.target, self.expr)}$"

    def _repr_html_(self) -> str:
        """Jupyter's HTML view: the law as display LaTeX, test R^2/RMSE, the Pareto front with the pick marked."""
        return display.result_html(self)

    def pareto_frame(self) -> pd.DataFrame:
        """The Pareto front as a DataFrame: complexity, loss, score, formula, sympy, latex, callable
        (a numpy function of the feature columns), chosen (bool), strategy."""
        return display.pareto_frame(self)

    # ------------------------------------------------------------------ exports
    def sympy(self) -> sympy.Expr:
        """The chosen law as a sympy expression (the same as :attr:`expr`)."""
        return self.expr

    def to_numpy(self) -> LawFunction:
        """The chosen law as a vectorised numpy function: ``f(X)`` (columns in ``features`` order),
        ``f(frame)``, ``f(*columns)`` or ``f(**{feature: values})``."""
        return to_numpy(self.expr, self.features)

    def to_torch(self, trainable: str = "floats", dtype: torch.dtype = torch.float64) -> LawModule:
        """The chosen law as an ``nn.Module`` whose float constants are trainable parameters (integers and
        rationals fixed; ``trainable="all"`` frees those too); ``.sympy()`` reads the trained law back."""
        return to_torch(self.expr, self.symbols, trainable=trainable, dtype=dtype)

    def to_jax(self) -> LawFunction:
        """The chosen law as a JAX function (same call forms as :meth:`to_numpy`); needs the ``jax`` package."""
        return to_jax(self.expr, self.features)

    # ------------------------------------------------------------------ data in and out
    def _features_and_target(self, data: Any, y: Any) -> tuple[Any, Any]:
        """Feature matrix (a DataFrame's feature columns, else ``data`` itself) and the true values."""
        if hasattr(data, "columns") and hasattr(data, "iloc"):
            missing = [f for f in self.features if f not in data.columns]
            if missing:
                raise KeyError(f"the DataFrame lacks the feature column(s) {', '.join(missing)}")
            if y is None and self.target in data.columns:
                y = data[self.target].to_numpy(dtype=float)
            return data[self.features].to_numpy(dtype=float), y
        return data, y

    def predict_frame(self, data: pd.DataFrame) -> pd.DataFrame:
        """Predictions for a DataFrame's rows, on its index: ``prediction`` and, where the frame holds the
        target column, the target and ``residual`` (true - predicted)."""
        X, y = self._features_and_target(data, None)
        out = pd.DataFrame(index=data.index)
        pred = self.to_numpy()(X)
        if y is not None:
            out[self.target] = y
        out["prediction"] = pred
        if y is not None:
            out["residual"] = y - pred
        return out

    # ------------------------------------------------------------------ figures
    def plot(self, data: Any = None, y: Any = None) -> Figure:
        """Predicted against true and the residuals, as a matplotlib Figure. ``data``: a DataFrame with
        the feature (and target) columns, or an array X in ``features`` order with ``y``."""
        if data is None:
            raise ValueError("plot() needs data: a DataFrame with the feature and target columns, or X and y "
                             "(a result does not keep its data)")
        X, truth = self._features_and_target(data, y)
        if truth is None:
            raise ValueError(f"plot() needs the true values: pass y, or a DataFrame with the column {self.target!r}")
        return display.fit_figure(truth, self.predict(X), target=self.target, title=f"{self.target} = {self.formula}")

    def plot_pareto(self) -> Figure:
        """Validation loss against complexity for every candidate, the front and the pick marked."""
        from ..plot import plot_pareto  # matplotlib is loaded only when a figure is asked for

        return plot_pareto(self)
