"""Method adapters: one interface for every tool the harness compares.

An adapter fits training rows within a time budget and returns a sympy formula in the task's
feature names; ``unavailable()`` says why it cannot run here (a missing package, no Julia) without
importing the tool, so a missing tool is a recorded result, never a crash. Third-party tools are
imported only inside ``fit``, never when kandisco is imported.

Built in: ``kandisco``, ``operon``, ``gplearn``, ``pykan``, ``pysr``, ``sindy`` (pysindy's sparse
regression, the ``bench`` extra) and ``linear`` (least squares, a floor to compare against). Any
other adapter can be named as ``package.module:ClassName``.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from typing import Sequence

import numpy as np
import sympy

from ..tasks import BenchError

__all__ = ["Method", "METHODS", "DEFAULT_METHODS", "get_method", "feature_symbols", "internal_names", "to_features"]

METHODS: dict[str, str] = {
    "kandisco": "kandisco.bench.methods.kandisco:Kandisco",
    "kandisco-units": "kandisco.bench.methods.kandisco:KandiscoUnits",
    "operon": "kandisco.bench.methods.operon:Operon",
    "gplearn": "kandisco.bench.methods.gplearn:GPLearn",
    "pykan": "kandisco.bench.methods.pykan:PyKAN",
    "pysr": "kandisco.bench.methods.pysr:PySR",
    "linear": "kandisco.bench.methods.linear:Linear",
    "sindy": "kandisco.bench.methods.sindy:Sindy",
}
DEFAULT_METHODS = ("kandisco", "operon", "gplearn", "pykan", "pysr")


class Method:
    """Base adapter: subclasses set ``name``/``module`` and implement :meth:`fit`."""

    name: str = ""
    module: str | None = None  # the importable module of the tool, checked by unavailable()
    distribution: str | None = None  # its pip name, for the version column

    def unavailable(self) -> str | None:
        """Why this method cannot run here (None when it can); must not import the tool."""
        if self.module and importlib.util.find_spec(self.module) is None:
            return f"{self.distribution or self.module} is not installed (pip install 'kandisco[bench]')"
        return None

    def version(self) -> str:
        if not self.distribution:
            return ""
        try:
            from importlib.metadata import version

            return version(self.distribution)
        except Exception:  # noqa: BLE001 - a version is informative only
            return "unknown"

    def prepare(self) -> None:
        """One-off set-up that is not part of a fit (run before the job's clock starts)."""

    def fit(self, X: np.ndarray, y: np.ndarray, features: Sequence[str], target: str, budget: float, seed: int) -> sympy.Expr:
        """Fit ``y ~ f(X)`` within about ``budget`` seconds; return f in the names ``features``."""
        raise NotImplementedError


def get_method(spec: str) -> Method:
    """The adapter for a built-in name or a ``module:ClassName`` spec; BenchError when unknown."""
    target = METHODS.get(spec)
    if target is None:
        if ":" not in spec:
            close = difflib.get_close_matches(spec, list(METHODS), n=2)
            hint = f"; did you mean {' or '.join(close)}?" if close else ""
            raise BenchError(f"unknown method {spec!r}{hint} (methods: {', '.join(METHODS)}, or module:ClassName)")
        target = spec
    module_name, _, attr = target.partition(":")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise BenchError(f"cannot load method {spec!r}: {exc}") from None
    method = obj() if isinstance(obj, type) else obj
    if not callable(getattr(method, "fit", None)):
        raise BenchError(f"method {spec!r} has no fit(X, y, features, target, budget, seed)")
    return method


def feature_symbols(features: Sequence[str]) -> list[sympy.Symbol]:
    """Real sympy symbols named as the features (the form every adapter returns)."""
    return [sympy.Symbol(f, real=True) for f in features]


def internal_names(n: int) -> list[str]:
    """``x0, x1, ...``: names every tool accepts, mapped back with :func:`to_features`."""
    return [f"x{i}" for i in range(n)]


def to_features(expr: sympy.Expr, features: Sequence[str]) -> sympy.Expr:
    """Rename the symbols ``x0, x1, ...`` of ``expr`` to the task's feature names (one simultaneous swap)."""
    by_name = {s.name: s for s in expr.free_symbols}
    swap = {by_name[f"x{i}"]: sym for i, sym in enumerate(feature_symbols(features)) if f"x{i}" in by_name}
    return expr.xreplace(swap)
