"""The process one benchmark job runs in: ``python -m kandisco.bench.worker JOB.pkl ROW.json``.

Reads the pickled (job, data) the runner wrote, fits the method on the training rows, scores the
formula and writes one JSON row. Every failure inside becomes the row's status; only a crash or the
runner's kill leaves no row (the runner records those).
"""

from __future__ import annotations

import json
import pickle
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Sequence

__all__ = ["execute", "main"]


def execute(job: Any, data: Any) -> dict[str, Any]:
    """Fit ``job.method`` on ``data`` within ``job.budget`` and score it; returns the result fields."""
    from .methods import get_method

    row: dict[str, Any] = {"recovered": False, "rows_train": int(len(data.y_train))}
    try:
        method = get_method(job.method)
    except Exception as exc:  # noqa: BLE001 - recorded
        row.update(status=f"error: {type(exc).__name__}: {exc}", seconds=0.0)
        return row
    row["version"] = method.version()
    reason = method.unavailable()
    if reason:
        row.update(status=f"unavailable: {reason}", seconds=0.0, recovered=None)
        return row
    _one_thread()
    try:  # one-off set-up (kandisco: building its compiled kernel) is not charged to the fit
        getattr(method, "prepare", lambda: None)()
    except Exception as exc:  # noqa: BLE001 - recorded
        row.update(status=f"error: prepare: {type(exc).__name__}: {_clip(str(exc))}", seconds=0.0)
        return row
    start = time.perf_counter()
    try:
        extra = {"units": getattr(data, "units", None)} if getattr(method, "uses_units", False) else {}
        expr = method.fit(data.X_train, data.y_train, list(data.features), data.target, job.budget, job.seed, **extra)
    except Exception as exc:  # noqa: BLE001 - a crashing method is a result
        row.update(status=f"error: {type(exc).__name__}: {_clip(str(exc))}", seconds=time.perf_counter() - start,
                   traceback=_clip(traceback.format_exc(limit=-3), 2000))
        return row
    row["seconds"] = time.perf_counter() - start
    try:
        from .score import score_formula

        row.update(score_formula(_as_sympy(expr, data.features), data, job.equivalence_timeout), status="ok")
    except Exception as exc:  # noqa: BLE001 - a formula that cannot be scored is a result
        row.update(status=f"error: scoring: {type(exc).__name__}: {_clip(str(exc))}", formula=_clip(str(expr), 2000))
    return row


def _as_sympy(expr: Any, features: Sequence[str]) -> Any:
    """A method's answer as sympy; text goes through the safe parser, never through sympify."""
    import numbers

    import sympy

    from ..symbolic.parse import parse_formula

    if isinstance(expr, sympy.Expr):
        return expr
    if isinstance(expr, str):
        return parse_formula(expr, features)
    if isinstance(expr, numbers.Real):
        return sympy.Float(float(expr))
    raise TypeError(f"fit returned {type(expr).__name__}, not a sympy expression")


def _one_thread() -> None:
    """One core per job: the runner decides how many jobs share the machine."""
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def _clip(text: str, n: int = 300) -> str:
    text = " ".join(text.split()) if n <= 300 else text
    return text if len(text) <= n else text[: n - 3] + "..."


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m kandisco.bench.worker JOB.pkl ROW.json", file=sys.stderr)
        return 2
    job, data = pickle.loads(Path(args[0]).read_bytes())
    row = execute(job, data)
    tmp = Path(args[1] + ".tmp")
    tmp.write_text(json.dumps(row, default=str))
    tmp.replace(args[1])  # the runner never sees a half-written row
    return 0


if __name__ == "__main__":
    sys.exit(main())
