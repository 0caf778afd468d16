"""How sure a fitted constant is: standard errors from the Jacobian at the least-squares optimum.

For residuals ``r_i = w_i (f(x_i; theta) - y_i)`` the covariance of ``theta`` is
``s^2 (J^T J)^-1`` with ``J`` the Jacobian of ``r`` and ``s^2 = RSS / (n - p)`` the residual
variance (scipy's ``curve_fit`` with ``absolute_sigma=False``). With per-row one-sigma
uncertainties (``sigma``) the weights are ``1 / sigma_i`` and the covariance is ``(J^T J)^-1``
unscaled (``absolute_sigma=True``): the error bars come from the measurements, and the reduced
chi-square says whether the law fits them. A constant the data cannot identify (a direction of
``J`` with no weight, or no degrees of freedom left) gets an infinite error.

The derivatives are sympy's, exact; constants are the formula's floats in the order of
:func:`constant_order` (the order :func:`~kandisco.symbolic.formula.refit_constants` uses).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

__all__ = ["ConstantFit", "FitErrors", "constant_errors", "constant_order", "format_with_error", "with_errors"]

# derivatives of formulas with more floats than this are not worth their cost
MAX_FLOATS = 40


@dataclass(frozen=True)
class ConstantFit:
    """One fitted constant: its value and one-sigma standard error (``inf``: not identifiable)."""

    value: float
    error: float

    def text(self) -> str:
        """``465 +- 50``: the value rounded to the error's second significant digit."""
        return format_with_error(self.value, self.error)

    def to_dict(self) -> dict[str, float | str]:
        return {"value": self.value, "error": self.error, "text": self.text()}


@dataclass(frozen=True)
class FitErrors:
    """Standard errors of every float of a formula, and the fit's residual statistics."""

    constants: tuple[ConstantFit, ...]
    dof: int  # rows minus fitted constants
    rss: float  # weighted residual sum of squares
    reduced_chi2: float | None  # RSS / dof when per-row sigma was given; None otherwise

    @property
    def residual_std(self) -> float:
        return math.sqrt(self.rss / self.dof) if self.dof > 0 else math.inf


def constant_order(expr: sympy.Expr) -> list[sympy.Float]:
    """The floats of ``expr`` in a deterministic order (sympy's default sort key)."""
    return sorted(expr.atoms(sympy.Float), key=sympy.default_sort_key)


def constant_errors(
    expr: sympy.Expr,
    symbols: Sequence[sympy.Symbol],
    X: np.ndarray,
    y: np.ndarray,
    *,
    relative: bool = False,
    sigma: np.ndarray | None = None,
    correlated_rows: float = 1.0,
) -> FitErrors:
    """Standard errors of the floats of ``expr`` (taken as fitted to ``(X, y)``); see the module.

    ``relative``: residuals relative to ``|y|`` (the loss used for targets spanning decades);
    ``sigma``: per-row one-sigma uncertainties of ``y`` (weighted fit, absolute errors);
    ``correlated_rows``: errors correlated over about this many rows (a smoothed derivative along a
    trajectory): ``n / correlated_rows`` independent rows, so every error grows by its square root.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    floats = constant_order(expr)
    weight = _weights(y, relative, sigma)
    n, p = len(y), len(floats)
    pred = _evaluate(expr, symbols, X, n)
    resid = (pred - y) * weight
    rss = float(np.sum(resid**2)) if np.all(np.isfinite(resid)) else math.inf
    dof = n - p
    chi2 = rss / dof if sigma is not None and dof > 0 else None
    if p == 0:
        return FitErrors((), dof, rss, chi2)
    if p > MAX_FLOATS or dof <= 0 or not math.isfinite(rss):
        return FitErrors(tuple(ConstantFit(float(f), math.inf) for f in floats), dof, rss, chi2)
    params = [sympy.Dummy(f"k{i}", real=True) for i in range(p)]  # real: d/dk Abs(k*x) is x*sign(k*x), not Derivative(re(k), k) terms
    template = expr.xreplace(dict(zip(floats, params)))
    values = [float(f) for f in floats]
    jac = np.empty((n, p))
    for j, param in enumerate(params):
        column = _evaluate(sympy.diff(template, param), [*symbols, *params], np.column_stack([X, np.tile(values, (n, 1))]), n)
        jac[:, j] = column * weight
    if not np.all(np.isfinite(jac)):
        return FitErrors(tuple(ConstantFit(v, math.inf) for v in values), dof, rss, chi2)
    scale = (1.0 if sigma is not None else rss / dof) * max(float(correlated_rows), 1.0)
    errors = _standard_errors(jac, scale)
    return FitErrors(tuple(ConstantFit(v, e) for v, e in zip(values, errors)), dof, rss, chi2)


def _weights(y: np.ndarray, relative: bool, sigma: np.ndarray | None) -> np.ndarray:
    if sigma is not None:
        return 1.0 / np.asarray(sigma, dtype=np.float64)
    if relative:
        return 1.0 / np.abs(y)
    return np.ones_like(y)


def _evaluate(expr: sympy.Expr, symbols: Sequence[sympy.Symbol], X: np.ndarray, n: int) -> np.ndarray:
    """``expr`` on the rows of ``X`` (columns in the order of ``symbols``); NaN where not real."""
    fn = sympy.lambdify(list(symbols), expr, modules="numpy")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = np.asarray(fn(*X.T)) * np.ones(n)
    if np.iscomplexobj(out):
        out = np.where(np.abs(out.imag) <= 1e-12 * np.maximum(np.abs(out.real), 1e-300), out.real, np.nan)
    return out.astype(np.float64)


def _standard_errors(jac: np.ndarray, scale: float) -> list[float]:
    """sqrt of the diagonal of ``scale * (J^T J)^-1`` through the SVD; parameters with weight in a
    direction the data do not determine get ``inf``."""
    _, sv, vt = np.linalg.svd(jac, full_matrices=False)
    keep = sv > sv[0] * 1e-10 if sv.size and sv[0] > 0 else np.zeros_like(sv, dtype=bool)
    var = (vt[keep].T**2) @ (1.0 / sv[keep] ** 2) * scale
    undetermined = (vt[~keep].T**2).sum(axis=1) > 1e-8
    return [math.inf if bad else float(math.sqrt(v)) for v, bad in zip(var, undetermined)]


# ------------------------------------------------------------------------ presentation
def format_with_error(value: float, error: float, latex: bool = False) -> str:
    """``value +- error`` rounded to the error's second significant digit (``465 +- 50``,
    ``0.4231 +- 0.0012``); a value with an infinite or NaN error keeps 4 significant digits."""
    pm = r" \pm " if latex else " +- "
    if not math.isfinite(error) or error <= 0:
        suffix = "" if error == 0 else (r" \pm \infty" if latex else " +- inf")
        return f"{value:.4g}{suffix}"
    digits = 1 - int(math.floor(math.log10(error)))  # decimals that keep 2 significant digits of the error
    if digits <= 0:
        step = 10 ** (-digits)
        return f"{round(value / step) * step:.0f}{pm}{round(error / step) * step:.0f}"
    return f"{value:.{digits}f}{pm}{error:.{digits}f}"


def with_errors(expr: sympy.Expr, constants: Sequence[ConstantFit], latex: bool = False) -> str:
    """The formula with each float written as ``(value +- error)``, for people (``465 +- 50``), in
    the order sympy prints the formula itself (a negated constant prints as ``- (40 +- 83)``)."""
    floats = constant_order(expr)
    if len(floats) != len(constants):
        raise ValueError(f"the formula has {len(floats)} floats but {len(constants)} constants were given")
    errors: dict[float, float] = {}
    for f, const in zip(floats, constants):
        errors[float(f)] = const.error
        errors.setdefault(-float(f), const.error)  # printers write -c*x as -(c*x)
    return (_LatexWithErrors(errors) if latex else _StrWithErrors(errors)).doprint(expr)


def _float_text(value: float, errors: dict[float, float], latex: bool) -> str | None:
    if value not in errors:
        return None
    text = format_with_error(value, errors[value], latex)
    return rf"\left({text}\right)" if latex else f"({text})"


class _StrWithErrors(StrPrinter):
    def __init__(self, errors: dict[float, float]) -> None:
        super().__init__()
        self.errors = errors

    def _print_Float(self, expr: sympy.Float) -> str:
        return _float_text(float(expr), self.errors, False) or super()._print_Float(expr)


class _LatexWithErrors(LatexPrinter):
    def __init__(self, errors: dict[float, float]) -> None:
        super().__init__()
        self.errors = errors

    def _print_Float(self, expr: sympy.Float) -> str:
        return _float_text(float(expr), self.errors, True) or super()._print_Float(expr)
