"""A sympy formula as a vectorised array function: numpy (always) or JAX (where it is installed).

The function takes its inputs the ways a notebook has them: ``f(X)`` with a 2-D array whose columns
are the inputs in order, ``f(frame)`` with a DataFrame holding (at least) the input columns,
``f(a, b)`` with one array per input, or ``f(a=..., b=...)`` by name (names that are not Python
identifiers go through ``f(**{"T [s]": t})``). Values that are not real (``sqrt`` of a negative
number) come back as NaN, never as a real part.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import sympy

__all__ = ["LawFunction", "to_numpy", "to_jax"]


def _internal(expr: sympy.Expr, names: Sequence[str]) -> tuple[sympy.Expr, list[sympy.Symbol]]:
    """``expr`` over plain symbols ``_k0, _k1, ...`` in ``names`` order (any column name lambdifies)."""
    plain = [sympy.Symbol(f"_k{i}") for i in range(len(names))]
    position = {n: i for i, n in enumerate(names)}
    expr = sympy.sympify(expr)
    unknown = sorted(str(s) for s in expr.free_symbols if str(s) not in position)
    if unknown:
        raise ValueError(f"the formula uses {', '.join(unknown)}, which are not among the inputs {', '.join(names)}")
    return expr.xreplace({s: plain[position[str(s)]] for s in expr.free_symbols}), plain


def _is_frame(obj: Any) -> bool:
    return hasattr(obj, "columns") and hasattr(obj, "iloc")


class LawFunction:
    """``f(X)``, ``f(frame)``, ``f(*columns)`` or ``f(**named)`` for one formula; see the module docstring."""

    def __init__(self, expr: sympy.Expr, names: Sequence[str], backend: str = "numpy") -> None:
        self.expr = sympy.sympify(expr)
        self.names = [str(n) for n in names]
        self.backend = backend
        plain_expr, plain = _internal(self.expr, self.names)
        if backend == "numpy":
            # scipy first: erf/erfc have no numpy spelling
            self._fn: Callable[..., Any] = sympy.lambdify(plain, plain_expr, modules=["scipy", "numpy"])
            self._asarray: Callable[[Any], Any] = lambda v: np.asarray(v, dtype=np.float64)
        elif backend == "jax":
            import jax.numpy as jnp  # optional: to_jax checks that it imports
            import jax.scipy.special as jsp

            # sympy's jax printer leaves erf/erfc to the math module (scalars only)
            self._fn = sympy.lambdify(plain, plain_expr, modules=[{"erf": jsp.erf, "erfc": jsp.erfc}, "jax"])
            self._asarray = jnp.asarray
        else:
            raise ValueError(f"unknown backend {backend!r}; choose numpy or jax")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its formula (the compiled function is rebuilt), so estimators and frames holding it pickle."""
        return (type(self), (self.expr, self.names, self.backend))

    def columns(self, args: tuple[Any, ...], named: dict[str, Any]) -> list[Any]:
        """The input columns, in ``names`` order, from any of the accepted call forms."""
        return self._columns(args, named)[0]

    def _columns(self, args: tuple[Any, ...], named: dict[str, Any]) -> tuple[list[Any], tuple[int, ...] | None]:
        """The columns and, for a table (2-D array, DataFrame), its row count as the output shape."""
        d = len(self.names)
        if args and named:
            raise TypeError("pass the inputs either positionally or by name, not both")
        if named:
            missing = [n for n in self.names if n not in named]
            extra = [n for n in named if n not in self.names]
            if missing or extra:
                raise TypeError(f"inputs are {', '.join(self.names)}; missing {missing}, unknown {extra}")
            return [self._asarray(named[n]) for n in self.names], None
        if len(args) == 1 and _is_frame(args[0]):
            frame = args[0]
            missing = [n for n in self.names if n not in frame.columns]
            if missing:
                raise KeyError(f"the DataFrame lacks the input column(s) {', '.join(missing)}")
            return [self._asarray(frame[n].to_numpy(dtype=np.float64)) for n in self.names], (len(frame),)
        if len(args) == 1 and d != 1:
            X = self._asarray(args[0])
            if X.ndim != 2 or X.shape[1] != d:
                raise ValueError(f"X must be (n, {d}) with columns {', '.join(self.names)}; got shape {tuple(X.shape)}")
            return [X[:, i] for i in range(d)], (X.shape[0],)
        if len(args) == 1 and d == 1:
            x = self._asarray(args[0])
            return [x[:, 0] if x.ndim == 2 and x.shape[1] == 1 else x], None
        if len(args) != d:
            raise TypeError(f"expected {d} input(s) ({', '.join(self.names)}), got {len(args)}")
        return [self._asarray(a) for a in args], None

    def __call__(self, *args: Any, **named: Any) -> Any:
        cols, rows = self._columns(args, named)
        shape = rows if rows is not None else np.broadcast_shapes(*[np.shape(c) for c in cols]) if cols else ()
        if self.backend != "numpy":
            import jax.numpy as jnp

            return jnp.broadcast_to(self._fn(*cols), shape)  # one value per row, even for a law of no input
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.asarray(self._fn(*cols)) * np.ones(shape)
        if np.iscomplexobj(out):  # not a real value: NaN, never its real part
            real = np.abs(out.imag) <= 1e-12 * np.maximum(np.abs(out.real), 1e-300)
            out = np.where(real, out.real, np.nan)
        return out.astype(np.float64)

    def __repr__(self) -> str:
        return f"LawFunction({', '.join(self.names)} -> {self.expr}, backend={self.backend})"


def to_numpy(expr: sympy.Expr, names: Sequence[str]) -> LawFunction:
    """``expr`` as a vectorised numpy function of the inputs ``names`` (float64 in, float64 out)."""
    return LawFunction(expr, names, backend="numpy")


def to_jax(expr: sympy.Expr, names: Sequence[str]) -> LawFunction:
    """``expr`` as a JAX function (jit- and grad-able; float64 needs ``jax_enable_x64``).

    Raises ImportError naming the package when JAX is not installed.
    """
    try:
        import jax  # noqa: F401
    except ImportError as exc:
        raise ImportError("to_jax() needs the 'jax' package, which is not installed: pip install jax") from exc
    return LawFunction(expr, names, backend="jax")
