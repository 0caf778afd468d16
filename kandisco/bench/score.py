"""Score one found formula the SRBench way: test R^2 on noise-free rows, symbolic recovery, size."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import sympy

from .tasks import TaskData

__all__ = ["ACCURACY_R2", "r2_score", "score_formula"]

ACCURACY_R2 = 0.999  # SRBench's accuracy solution: test R^2 above this


def r2_score(expr: sympy.Expr, features: tuple[str, ...], X: np.ndarray, y: np.ndarray) -> float | None:
    """R^2 of ``expr`` on ``(X, y)``; None when the formula is not finite and real on every row."""
    symbols = [sympy.Symbol(f, real=True) for f in features]
    by_name = {s.name: s for s in expr.free_symbols}
    expr = expr.xreplace({by_name[s.name]: s for s in symbols if s.name in by_name})
    try:
        fn = sympy.lambdify(symbols, expr, modules="numpy")
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pred = np.asarray(fn(*X.T), dtype=np.complex128) * np.ones(len(y))
    except Exception:  # noqa: BLE001 - a formula numpy cannot evaluate scores as unusable
        return None
    scale = np.maximum(np.abs(pred.real), 1.0)
    if not np.all(np.isfinite(pred)) or np.any(np.abs(pred.imag) > 1e-9 * scale):
        return None
    sst = float(np.sum((y - y.mean()) ** 2))
    sse = float(np.sum((y - pred.real) ** 2))
    return 1.0 - sse / sst if sst > 0 else (1.0 if sse == 0 else None)


def score_formula(expr: sympy.Expr, data: TaskData, equivalence_timeout: float = 10.0) -> dict[str, Any]:
    """formula, complexity (tree nodes), r2_train, r2_test, and, when the truth is known, recovered/verdict."""
    from ..symbolic.equivalence import check_equivalence

    row: dict[str, Any] = {
        "formula": str(expr),
        "complexity": sum(1 for _ in sympy.preorder_traversal(expr)),
        "r2_train": r2_score(expr, data.features, data.X_train, data.y_train),
        "r2_test": r2_score(expr, data.features, data.X_test, data.y_test),
    }
    if data.truth is None:
        row.update(recovered=None, verdict=None)
        return row
    try:
        verdict = check_equivalence(expr, data.truth, data.ranges, timeout=equivalence_timeout)
    except Exception as exc:  # noqa: BLE001 - a formula the check cannot handle is not a recovery
        row.update(recovered=False, verdict=f"error: {type(exc).__name__}: {exc}"[:300])
        return row
    row.update(recovered=verdict.recovered, verdict=verdict.verdict)
    return row
