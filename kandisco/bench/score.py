"""Score one found formula the SRBench way: test R^2 on noise-free rows, symbolic recovery, size.

``recovered`` is kandisco's check (:mod:`kandisco.symbolic.equivalence`: floats snapped only when
within 1e-6 of a simple rational). ``recovered_rounded`` is SRBench's own, looser, reading
(``assess_symbolic_model.py``): only for test R^2 > 0.5, every float in ``truth - found`` and
``found / truth`` rounded to 3 decimals (below 1e-4 to 0), then a constant difference or ratio
counts. The second one does not punish float32 constants (Operon) and is what SRBench published.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import sympy

from .tasks import TaskData

__all__ = ["ACCURACY_R2", "r2_score", "score_formula", "srbench_rounded_match"]

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
        row.update(recovered=verdict.recovered, verdict=verdict.verdict)
    except Exception as exc:  # noqa: BLE001 - a formula the check cannot handle is not a recovery
        row.update(recovered=False, verdict=f"error: {type(exc).__name__}: {exc}"[:300])
    r2 = row["r2_test"]
    row["recovered_rounded"] = bool(row["recovered"]) or (
        r2 is not None and r2 > 0.5 and srbench_rounded_match(expr, data.truth, equivalence_timeout))
    return row


def _round_floats(expr: sympy.Expr) -> sympy.Expr:
    """Floats to 3 decimals, those below 1e-4 in magnitude to 0 (SRBench's rounding)."""
    reps = {f: sympy.Integer(0) if abs(float(f)) < 1e-4 else sympy.Float(round(float(f), 3))
            for f in expr.atoms(sympy.Float)}
    return expr.xreplace(reps)


def _rounded_decide(found: sympy.Expr, truth: sympy.Expr) -> bool:
    diff = _round_floats(truth - found)
    if not diff.free_symbols or not sympy.simplify(diff, ratio=1).free_symbols:
        return True
    frac = _round_floats(found / truth)
    if not frac.free_symbols:
        return frac != 0
    frac = sympy.simplify(frac)
    return not frac.free_symbols and frac != 0


def srbench_rounded_match(found: sympy.Expr, truth: sympy.Expr, timeout: float = 10.0) -> bool:
    """SRBench's symbolic-solution test with its float rounding; False when undecided in ``timeout`` s."""
    from .._timeout import TimedOut, call_with_timeout

    by_name = {s.name: s for s in truth.free_symbols}
    found = found.xreplace({s: by_name[s.name] for s in found.free_symbols if s.name in by_name})
    try:
        return bool(call_with_timeout(_rounded_decide, (found, truth), timeout))
    except TimedOut:
        return False
    except Exception:  # noqa: BLE001 - sympy failing on a formula means no match
        return False
