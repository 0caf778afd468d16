"""Typed registry of the 1-D symbolic functions an edge can become.

A :class:`SymbolicFunction` bundles everything the rest of kandisco needs to
know about one candidate ``f`` in ``c * f(a * x + b) + d``:

* ``torch_fn`` – the exact function (used for scoring on valid points);
* ``safe_torch_fn`` – a version that is finite, with a finite gradient, for
  every finite input (used inside optimisers, where a step may leave the
  domain); it equals ``torch_fn`` away from poles and inside the domain;
* ``sympy_fn`` – the same function for formulas;
* ``complexity`` – what choosing it costs (see ``select.score_fits``);
* ``domain`` – where it is real-valued and finite;
* ``search`` / ``canonicalize`` – which of the affine parameters (a, b) are
  genuinely free and how equivalent parameter sets are mapped to one
  canonical set (both documented in :mod:`kandisco.symbolic.affine`).

:class:`SymbolicLibrary` is an ordered, name-keyed collection.  User functions
enter through :meth:`SymbolicLibrary.register`, which probes them (shape,
dtype, finiteness on the domain, sympy/torch agreement) before accepting them,
so that a broken function fails at registration and not deep inside a fit.
A library travels with a saved model as :meth:`SymbolicLibrary.to_spec`
(names plus a ``custom`` flag) and comes back with
:meth:`SymbolicLibrary.from_spec`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy
import torch
from torch import Tensor

from ..errors import KandiscoError

__all__ = [
    "Domain",
    "SymbolicFunction",
    "SymbolicLibrary",
    "UnknownFunctionError",
    "InvalidFunctionError",
    "SEARCH_MODES",
    "SUBSETS",
    "default_library",
    "get_library",
]

inf = math.inf
_EPS = 1e-12  # how far safe functions keep away from a boundary or pole
_BIG = 1e12  # where safe functions clamp runaway outputs (tan near a pole)

#: How (a, b) are searched for a function (see ``affine`` for the reasons):
#: ``none`` f is constant (y ~ d); ``linear`` f(x) = x (a, b degenerate);
#: ``shift`` a = 1, search b (integer powers, abs); ``sign_shift`` a = +-1,
#: search b (fractional powers, log); ``scale`` b = 0, search a (exp);
#: ``harmonic`` sinusoids (a searched by a periodogram, b in closed form);
#: ``full_pos`` search a > 0 and b (functions with a symmetry that makes a > 0
#: canonical); ``full`` search both signs of a and b.
SEARCH_MODES = ("none", "linear", "shift", "sign_shift", "scale", "harmonic", "full_pos", "full")

Params = tuple[Tensor, Tensor, Tensor, Tensor]
Canonicalizer = Callable[[Tensor, Tensor, Tensor, Tensor], Params]


class UnknownFunctionError(KandiscoError, KeyError):
    """A function name is not in the library (message suggests close names)."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else ""


class InvalidFunctionError(KandiscoError, ValueError):
    """A function offered to :meth:`SymbolicLibrary.register` failed its probe."""


@dataclass(frozen=True)
class Domain:
    """Where a function is real-valued and finite.

    ``low``/``high`` may be infinite; ``*_open`` excludes the bound itself.
    ``poles`` lists isolated singular points inside (low, high);
    ``pole_period`` adds the periodic poles ``pole_offset + k * pole_period``
    (tan). Points within ``pole_tol`` of a pole count as invalid.
    """

    low: float = -inf
    high: float = inf
    low_open: bool = True
    high_open: bool = True
    poles: tuple[float, ...] = ()
    pole_period: float | None = None
    pole_offset: float = 0.0
    pole_tol: float = 1e-9

    def valid(self, z: Tensor) -> Tensor:
        """Boolean mask (same shape as ``z``) of finite points inside the domain."""
        ok = torch.isfinite(z)
        if math.isfinite(self.low):
            ok &= (z > self.low) if self.low_open else (z >= self.low)
        if math.isfinite(self.high):
            ok &= (z < self.high) if self.high_open else (z <= self.high)
        for p in self.poles:
            ok &= (z - p).abs() > self.pole_tol
        if self.pole_period is not None:
            k = torch.round((z - self.pole_offset) / self.pole_period)
            ok &= (z - self.pole_offset - k * self.pole_period).abs() > self.pole_tol
        return ok

    def interior_points(self) -> Tensor:
        """A few hundred float64 probe points inside the domain, incl. 0, +-1 where valid."""
        pts = [
            torch.linspace(-10.0, 10.0, 201, dtype=torch.float64),
            torch.logspace(-6, 2, 60, dtype=torch.float64),
            -torch.logspace(-6, 2, 60, dtype=torch.float64),
            torch.tensor([0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0], dtype=torch.float64),
        ]
        lo = self.low if math.isfinite(self.low) else -100.0
        hi = self.high if math.isfinite(self.high) else 100.0
        if hi > lo:
            span = hi - lo
            pts.append(torch.linspace(lo + 1e-6 * span, hi - 1e-6 * span, 101, dtype=torch.float64))
        z = torch.cat(pts)  # (P,)
        return torch.unique(z[self.valid(z)])


def _identity_canon(a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Params:
    return a, b, c, d


@dataclass(frozen=True)
class SymbolicFunction:
    """One library entry: ``f`` with its torch, safe-torch and sympy forms.

    ``builtin`` marks entries of :func:`default_library` (a saved model only
    needs the names of those); user registrations are ``builtin=False``.
    """

    name: str
    torch_fn: Callable[[Tensor], Tensor]
    sympy_fn: Callable[[sympy.Expr], sympy.Expr]
    complexity: float
    safe_torch_fn: Callable[[Tensor], Tensor]
    domain: Domain = field(default_factory=Domain)
    search: str = "full"
    canonicalize: Canonicalizer = _identity_canon
    builtin: bool = False

    def __call__(self, z: Tensor) -> Tensor:
        return self.torch_fn(z)


# ---------------------------------------------------------------- canonicalisers
# Each maps parameters (a, b, c, d) of c*f(a*x+b)+d to the canonical member of
# its equivalence class; the rules are listed in the ``affine`` module docstring.


def _canon_const(a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Params:
    """0: f ignores (a, b, c): a=1, b=0, c=0."""
    return torch.ones_like(a), torch.zeros_like(b), torch.zeros_like(c), d


def _canon_linear(a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Params:
    """x: c*(a x + b) + d = (c a) x + (d + c b): a=1, b=0."""
    return torch.ones_like(a), torch.zeros_like(b), c * a, d + c * b


def _canon_int_power(n: int) -> Canonicalizer:
    """(a x + b)^n = a^n (x + b/a)^n for integer n: a=1, b/a, c a^n."""

    def canon(a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Params:
        return torch.ones_like(a), b / a, c * a**n, d

    return canon


def _canon_pos_power(p: float) -> Canonicalizer:
    """(a x + b)^p = |a|^p (sign(a) x + b/|a|)^p: a=+-1, b/|a|, c |a|^p."""

    def canon(a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Params:
        m = a.abs()
        return torch.sign(a), b / m, c * m**p, d

    return canon


def _canon_abs(a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Params:
    """|a x + b| = |a| |x + b/a|: a=1, b/a, c |a|."""
    return torch.ones_like(a), b / a, c * a.abs(), d


def _canon_log(a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Params:
    """log(a x + b) = log|a| + log(sign(a) x + b/|a|): a=+-1, d + c log|a|."""
    m = a.abs()
    return torch.sign(a), b / m, c, d + c * torch.log(m)


def _canon_exp(a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Params:
    """exp(a x + b) = e^b exp(a x): b=0, c e^b (kept as is where e^b would overflow)."""
    c2 = c * torch.exp(b)
    ok = torch.isfinite(c2) & ((c2 != 0) | (c == 0))
    return a, torch.where(ok, torch.zeros_like(b), b), torch.where(ok, c2, c), d


def _canon_odd(a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Params:
    """Odd f: f(a x + b) = -f(-a x - b): a > 0."""
    s = torch.where(a < 0, -1.0, 1.0).to(a)
    return a * s, b * s, c * s, d


def _canon_even(a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Params:
    """Even f: f(a x + b) = f(-a x - b): a > 0."""
    s = torch.where(a < 0, -1.0, 1.0).to(a)
    return a * s, b * s, c, d


def _wrap(b: Tensor, period: float) -> Tensor:
    """b wrapped into [-period/2, period/2)."""
    return torch.remainder(b + period / 2, period) - period / 2


def _canon_sinusoid(parity: str) -> Canonicalizer:
    """sin (odd) / cos (even): a > 0, then c > 0 (by b += pi), b in [-pi, pi)."""
    flip = _canon_odd if parity == "odd" else _canon_even

    def canon(a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Params:
        a, b, c, d = flip(a, b, c, d)
        b = torch.where(c < 0, b + math.pi, b)
        return a, _wrap(b, 2 * math.pi), c.abs(), d

    return canon


def _canon_tan(a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Params:
    """tan: odd (a > 0), period pi: b in [-pi/2, pi/2)."""
    a, b, c, d = _canon_odd(a, b, c, d)
    return a, _wrap(b, math.pi), c, d


def _canon_arccos(a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Params:
    """arccos(z) = pi - arccos(-z): a > 0 via (-a, -b, -c, d + c pi)."""
    neg = a < 0
    s = torch.where(neg, -1.0, 1.0).to(a)
    return a * s, b * s, c * s, torch.where(neg, d + c * math.pi, d)


def _canon_sigmoid(a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Params:
    """sigmoid(z) = 1 - sigmoid(-z): a > 0 via (-a, -b, -c, d + c)."""
    neg = a < 0
    s = torch.where(neg, -1.0, 1.0).to(a)
    return a * s, b * s, c * s, torch.where(neg, d + c, d)


# ---------------------------------------------------------------- safe functions


def _away_from_zero(z: Tensor, eps: float = _EPS) -> Tensor:
    """z with |z| >= eps (sign kept, 0 -> +eps)."""
    sign = torch.where(z < 0, -1.0, 1.0).to(z)
    return sign * torch.clamp(z.abs(), min=eps)


def _ipow(n: int) -> Callable[[Tensor], Tensor]:
    """z**n by repeated multiplication (torch's float pow is several times slower)."""
    m = abs(n)

    def power(z: Tensor) -> Tensor:
        out = z
        for _ in range(m - 1):
            out = out * z
        return 1 / out if n < 0 else out

    return power


def _safe_inverse_power(n: int) -> Callable[[Tensor], Tensor]:
    power = _ipow(-n)
    return lambda z: power(_away_from_zero(z))


def _safe_pow15(z: Tensor) -> Tensor:
    zc = torch.clamp(z, min=_EPS)
    return zc * torch.sqrt(zc)


def _safe_tan(z: Tensor) -> Tensor:
    return torch.clamp(torch.tan(z), -_BIG, _BIG)


def _safe_exp(z: Tensor) -> Tensor:
    return torch.exp(torch.clamp(z, max=700.0))


def _clamp_unit(z: Tensor, eps: float = 1e-12) -> Tensor:
    return torch.clamp(z, -1.0 + eps, 1.0 - eps)


# ---------------------------------------------------------------- the registry


def _suggest(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(name), list(options), n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


class SymbolicLibrary(Mapping[str, SymbolicFunction]):
    """Ordered mapping ``name -> SymbolicFunction`` with probing registration."""

    def __init__(self, functions: Iterable[SymbolicFunction] = ()) -> None:
        self._fns: dict[str, SymbolicFunction] = {}
        for fn in functions:
            self._fns[fn.name] = fn

    # Mapping protocol ------------------------------------------------------
    def __getitem__(self, name: str) -> SymbolicFunction:
        try:
            return self._fns[name]
        except KeyError:
            raise UnknownFunctionError(
                f"unknown symbolic function {name!r}.{_suggest(name, self._fns)} "
                f"Known: {', '.join(self._fns)}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._fns)

    def __len__(self) -> int:
        return len(self._fns)

    def __repr__(self) -> str:
        return f"SymbolicLibrary({list(self._fns)})"

    @property
    def names(self) -> list[str]:
        """Function names in library order."""
        return list(self._fns)

    def subset(self, names: Sequence[str]) -> SymbolicLibrary:
        """A new library with ``names`` (in that order); unknown names raise."""
        if isinstance(names, str):
            raise TypeError("subset() takes a list of names, not a single string")
        return SymbolicLibrary(self[n] for n in names)

    def copy(self) -> SymbolicLibrary:
        return SymbolicLibrary(self._fns.values())

    def add(self, fn: SymbolicFunction, *, replace: bool = False) -> SymbolicFunction:
        """Insert an already-built function (no probing); duplicates need ``replace``."""
        if fn.name in self._fns and not replace:
            raise InvalidFunctionError(
                f"function {fn.name!r} is already in the library; pass replace=True to overwrite it"
            )
        self._fns[fn.name] = fn
        return fn

    def register(
        self,
        name: str,
        torch_fn: Callable[[Tensor], Tensor],
        sympy_fn: Callable[[sympy.Expr], sympy.Expr],
        complexity: float = 3.0,
        domain: Domain | None = None,
        safe_torch_fn: Callable[[Tensor], Tensor] | None = None,
        *,
        search: str = "full",
        canonicalize: Canonicalizer | None = None,
        replace: bool = False,
    ) -> SymbolicFunction:
        """Probe a user function and add it.

        The probe evaluates ``torch_fn`` on a few hundred float64 points in
        ``domain`` (including 0, +-1 and negatives where valid) and rejects,
        with :class:`InvalidFunctionError`, output that is not a tensor of the
        input's shape and dtype, non-finite output on the domain, a
        ``sympy_fn`` that does not return a sympy expression or disagrees with
        ``torch_fn`` (lambdify; 1e-6 relative to max(|f|, 1)), a non-finite ``safe_torch_fn``,
        and duplicate names (unless ``replace=True``).  Without
        ``safe_torch_fn`` one is built by projecting inputs into the domain.
        """
        if not isinstance(name, str) or not name:
            raise InvalidFunctionError(f"function name must be a non-empty string, got {name!r}")
        if name in self._fns and not replace:
            raise InvalidFunctionError(
                f"function {name!r} is already in the library; pass replace=True to overwrite it"
            )
        if not callable(torch_fn) or not callable(sympy_fn):
            raise InvalidFunctionError(f"{name!r}: torch_fn and sympy_fn must be callables")
        if search not in SEARCH_MODES:
            raise InvalidFunctionError(f"{name!r}: search must be one of {SEARCH_MODES}, got {search!r}")
        try:
            complexity = float(complexity)
        except (TypeError, ValueError):
            raise InvalidFunctionError(f"{name!r}: complexity must be a number, got {complexity!r}") from None
        if not math.isfinite(complexity) or complexity < 0:
            raise InvalidFunctionError(f"{name!r}: complexity must be finite and >= 0, got {complexity}")
        domain = Domain() if domain is None else domain
        if not isinstance(domain, Domain):
            raise InvalidFunctionError(f"{name!r}: domain must be a Domain, got {type(domain).__name__}")
        z = domain.interior_points()  # (P,)
        if z.numel() < 5:
            raise InvalidFunctionError(f"{name!r}: domain {domain} holds too few probe points")
        _probe_torch(name, torch_fn, z)
        _probe_sympy(name, torch_fn, sympy_fn, z)
        if safe_torch_fn is None:
            safe_torch_fn = _projecting_safe_fn(torch_fn, domain)
        _probe_safe(name, torch_fn, safe_torch_fn, domain, z)
        fn = SymbolicFunction(
            name=name,
            torch_fn=torch_fn,
            sympy_fn=sympy_fn,
            complexity=complexity,
            safe_torch_fn=safe_torch_fn,
            domain=domain,
            search=search,
            canonicalize=canonicalize or _identity_canon,
            builtin=False,
        )
        self._fns[name] = fn
        return fn

    # Travelling with a saved model ------------------------------------------
    def to_spec(self) -> list[dict[str, Any]]:
        """JSON-able ``[{"name": ..., "custom": bool}, ...]`` in library order."""
        return [{"name": n, "custom": not fn.builtin} for n, fn in self._fns.items()]

    @classmethod
    def from_spec(
        cls, spec: Sequence[dict[str, Any] | str], extra: SymbolicLibrary | None = None
    ) -> SymbolicLibrary:
        """Rebuild a library from :meth:`to_spec` output.

        Built-in names come from :func:`default_library`; custom ones must be in
        ``extra`` (the user's own library), otherwise
        :class:`UnknownFunctionError` lists every missing one.
        """
        defaults = default_library()
        extra = extra if extra is not None else SymbolicLibrary()
        fns: list[SymbolicFunction] = []
        missing: list[str] = []
        for item in spec:
            name, custom = (item, False) if isinstance(item, str) else (item["name"], bool(item.get("custom")))
            if custom or name not in defaults:
                if name in extra:
                    fns.append(extra[name])
                else:
                    missing.append(name)
            else:
                fns.append(defaults[name])
        if missing:
            raise UnknownFunctionError(
                f"the saved library uses custom function(s) {missing} that are not available: "
                f"register it and pass library=... (a SymbolicLibrary holding {missing})"
            )
        return cls(fns)


def _probe_torch(name: str, torch_fn: Callable[[Tensor], Tensor], z: Tensor) -> None:
    """Shape, dtype and finiteness of ``torch_fn`` on probe points ``z``."""
    try:
        out = torch_fn(z.clone())
    except Exception as err:  # user code: report whatever it raised
        raise InvalidFunctionError(f"{name!r}: torch_fn raised {type(err).__name__}: {err}") from err
    if not isinstance(out, Tensor):
        raise InvalidFunctionError(f"{name!r}: torch_fn must return a torch.Tensor, got {type(out).__name__}")
    if out.shape != z.shape:
        raise InvalidFunctionError(
            f"{name!r}: torch_fn must act elementwise; input shape {tuple(z.shape)} gave output "
            f"shape {tuple(out.shape)}"
        )
    if out.dtype != z.dtype:
        raise InvalidFunctionError(f"{name!r}: torch_fn turned a {z.dtype} input into {out.dtype}")
    bad = ~torch.isfinite(out)
    if bad.any():
        i = int(bad.nonzero()[0])
        raise InvalidFunctionError(
            f"{name!r}: torch_fn is not finite on its domain: f({z[i].item():.6g}) = {out[i].item()} "
            f"({int(bad.sum())} of {z.numel()} probe points); narrow the domain or fix the function"
        )
    z2 = z.reshape(-1, 1).expand(-1, 2)  # (P, 2)
    try:
        out2 = torch_fn(z2.clone())
    except Exception as err:
        raise InvalidFunctionError(f"{name!r}: torch_fn fails on a 2-D input: {err}") from err
    if not isinstance(out2, Tensor) or out2.shape != z2.shape:
        raise InvalidFunctionError(f"{name!r}: torch_fn must act elementwise on tensors of any shape")


def _probe_sympy(
    name: str, torch_fn: Callable[[Tensor], Tensor], sympy_fn: Callable[[sympy.Expr], sympy.Expr], z: Tensor
) -> None:
    """``sympy_fn`` returns an expression that agrees with ``torch_fn``."""
    x = sympy.Symbol("x", real=True)
    try:
        expr = sympy_fn(x)
    except Exception as err:
        raise InvalidFunctionError(f"{name!r}: sympy_fn raised {type(err).__name__}: {err}") from err
    if not isinstance(expr, sympy.Basic):
        raise InvalidFunctionError(
            f"{name!r}: sympy_fn must return a sympy expression, got {type(expr).__name__}"
        )
    expr = sympy.sympify(expr)
    if expr.free_symbols - {x}:
        raise InvalidFunctionError(f"{name!r}: sympy_fn(x) has extra symbols {expr.free_symbols - {x}}")
    idx = torch.linspace(0, z.numel() - 1, 9).round().long()
    pts = z[idx]  # (9,)
    try:
        f = sympy.lambdify(x, expr, modules=["scipy", "numpy"])
        ref = np.asarray([complex(f(float(p))) for p in pts])
    except Exception as err:
        raise InvalidFunctionError(f"{name!r}: could not evaluate sympy_fn numerically: {err}") from err
    got = torch_fn(pts.clone()).detach().cpu().numpy()
    # 1e-6 relative to max(|f|, 1): tight, yet tolerant of e.g. torch's bessel_j0 (abs. error ~4e-7)
    tol = 1e-6 * np.maximum(np.abs(ref.real), 1.0)
    close = (np.abs(ref.real - got) <= tol) & (np.abs(ref.imag) <= tol)
    if not close.all():
        i = int(np.flatnonzero(~close)[0])
        raise InvalidFunctionError(
            f"{name!r}: sympy_fn disagrees with torch_fn at x={float(pts[i]):.6g}: "
            f"sympy gives {ref[i]:.10g}, torch gives {got[i]:.10g}"
        )


def _probe_safe(
    name: str,
    torch_fn: Callable[[Tensor], Tensor],
    safe_fn: Callable[[Tensor], Tensor],
    domain: Domain,
    z: Tensor,
) -> None:
    """``safe_fn`` is finite (value and gradient) everywhere and matches inside the domain."""
    wide = torch.cat([torch.linspace(-50, 50, 401, dtype=torch.float64), z]).requires_grad_(True)  # (Q,)
    try:
        out = safe_fn(wide)
        grad = torch.autograd.grad(out.sum(), wide, allow_unused=True)[0] if out.requires_grad else None
    except Exception as err:
        raise InvalidFunctionError(f"{name!r}: safe_torch_fn raised {type(err).__name__}: {err}") from err
    if out.shape != wide.shape or not torch.isfinite(out).all():
        raise InvalidFunctionError(f"{name!r}: safe_torch_fn must be finite for every finite input")
    if grad is not None and not torch.isfinite(grad).all():
        raise InvalidFunctionError(f"{name!r}: safe_torch_fn must have a finite gradient everywhere")
    inside = z[(z - z.round()).abs() > 1e-3]  # away from integers (typical poles)
    ref, got = torch_fn(inside), safe_fn(inside).detach()
    ok = torch.isclose(ref, got, rtol=1e-6, atol=1e-9) | (ref.abs() > _BIG)
    if not ok.all():
        i = int((~ok).nonzero()[0])
        raise InvalidFunctionError(
            f"{name!r}: safe_torch_fn differs from torch_fn inside the domain at x={inside[i].item():.6g}"
        )


def _projecting_safe_fn(torch_fn: Callable[[Tensor], Tensor], domain: Domain) -> Callable[[Tensor], Tensor]:
    """Generic safe version: clamp into [low, high] (eps inside open ends), zero non-finite output."""
    lo = domain.low + (_EPS if domain.low_open else 0.0) if math.isfinite(domain.low) else None
    hi = domain.high - (_EPS if domain.high_open else 0.0) if math.isfinite(domain.high) else None

    def safe(z: Tensor) -> Tensor:
        zc = torch.clamp(z, min=lo, max=hi) if (lo is not None or hi is not None) else z
        out = torch_fn(zc)
        return torch.where(torch.isfinite(out), out, torch.zeros_like(out))

    return safe


# ---------------------------------------------------------------- defaults

_POS = Domain(low=0.0, low_open=False)
_POS_OPEN = Domain(low=0.0, low_open=True)
_NONZERO = Domain(poles=(0.0,), pole_tol=0.0)
_UNIT_CLOSED = Domain(low=-1.0, high=1.0, low_open=False, high_open=False)
_UNIT_OPEN = Domain(low=-1.0, high=1.0)
_TAN = Domain(pole_period=math.pi, pole_offset=math.pi / 2, pole_tol=1e-9)


def _builtin(
    name: str,
    torch_fn: Callable[[Tensor], Tensor],
    sympy_fn: Callable[[sympy.Expr], sympy.Expr],
    complexity: float,
    search: str,
    canonicalize: Canonicalizer,
    domain: Domain | None = None,
    safe_torch_fn: Callable[[Tensor], Tensor] | None = None,
) -> SymbolicFunction:
    return SymbolicFunction(
        name=name,
        torch_fn=torch_fn,
        sympy_fn=sympy_fn,
        complexity=complexity,
        safe_torch_fn=safe_torch_fn or torch_fn,
        domain=domain or Domain(),
        search=search,
        canonicalize=canonicalize,
        builtin=True,
    )


def _default_functions() -> list[SymbolicFunction]:
    S = sympy
    return [
        _builtin("0", lambda z: z * 0, lambda x: S.Integer(0) * x, 0, "none", _canon_const),
        _builtin("x", lambda z: z, lambda x: x, 1, "linear", _canon_linear),
        _builtin("x^2", _ipow(2), lambda x: x**2, 2, "shift", _canon_int_power(2)),
        _builtin("x^3", _ipow(3), lambda x: x**3, 3, "shift", _canon_int_power(3)),
        _builtin("x^4", _ipow(4), lambda x: x**4, 3, "shift", _canon_int_power(4)),
        _builtin("x^5", _ipow(5), lambda x: x**5, 3, "shift", _canon_int_power(5)),
        _builtin("1/x", lambda z: 1 / z, lambda x: 1 / x, 2, "shift", _canon_int_power(-1),
                 _NONZERO, _safe_inverse_power(1)),
        _builtin("1/x^2", _ipow(-2), lambda x: x**-2, 2, "shift", _canon_int_power(-2),
                 _NONZERO, _safe_inverse_power(2)),
        _builtin("1/x^3", _ipow(-3), lambda x: x**-3, 3, "shift", _canon_int_power(-3),
                 _NONZERO, _safe_inverse_power(3)),
        _builtin("sqrt", torch.sqrt, S.sqrt, 2, "sign_shift", _canon_pos_power(0.5),
                 _POS, lambda z: torch.sqrt(torch.clamp(z, min=_EPS))),
        _builtin("x^1.5", lambda z: z * torch.sqrt(z), lambda x: x ** S.Rational(3, 2), 4, "sign_shift",
                 _canon_pos_power(1.5), _POS, _safe_pow15),
        _builtin("1/sqrt", torch.rsqrt, lambda x: 1 / S.sqrt(x), 2, "sign_shift", _canon_pos_power(-0.5),
                 _POS_OPEN, lambda z: torch.rsqrt(torch.clamp(z, min=_EPS))),
        _builtin("exp", torch.exp, S.exp, 2, "scale", _canon_exp, None, _safe_exp),
        _builtin("log", torch.log, S.log, 2, "sign_shift", _canon_log,
                 _POS_OPEN, lambda z: torch.log(torch.clamp(z, min=_EPS))),
        _builtin("sin", torch.sin, S.sin, 2, "harmonic", _canon_sinusoid("odd")),
        _builtin("cos", torch.cos, S.cos, 2, "harmonic", _canon_sinusoid("even")),
        _builtin("tan", torch.tan, S.tan, 3, "full_pos", _canon_tan, _TAN, _safe_tan),
        _builtin("tanh", torch.tanh, S.tanh, 3, "full_pos", _canon_odd),
        _builtin("arcsin", torch.arcsin, S.asin, 4, "full_pos", _canon_odd,
                 _UNIT_CLOSED, lambda z: torch.arcsin(_clamp_unit(z))),
        _builtin("arccos", torch.arccos, S.acos, 4, "full_pos", _canon_arccos,
                 _UNIT_CLOSED, lambda z: torch.arccos(_clamp_unit(z))),
        _builtin("arctan", torch.arctan, S.atan, 4, "full_pos", _canon_odd),
        _builtin("arctanh", torch.arctanh, S.atanh, 4, "full_pos", _canon_odd,
                 _UNIT_OPEN, lambda z: torch.arctanh(_clamp_unit(z))),
        _builtin("abs", torch.abs, S.Abs, 3, "shift", _canon_abs),
        _builtin("gaussian", lambda z: torch.exp(-z * z), lambda x: S.exp(-(x**2)), 3, "full_pos", _canon_even),
        _builtin("sigmoid", torch.sigmoid, lambda x: 1 / (1 + S.exp(-x)), 4, "full_pos", _canon_sigmoid),
    ]


def default_library() -> SymbolicLibrary:
    """A fresh copy of the built-in library (25 functions)."""
    return SymbolicLibrary(_default_functions())


#: Named subsets of the default library (``get_library("physics")``).
SUBSETS: dict[str, list[str]] = {
    "default": [f.name for f in _default_functions()],
    # pykan 0.2.8 SYMBOLIC_LIB, mapped to our names ('x^0.5' -> sqrt, '1/sqrt(x)'
    # and '1/x^0.5' -> 1/sqrt); its 1/x^4, 1/x^5 and sgn have no counterpart here.
    "pykan": [
        "x", "x^2", "x^3", "x^4", "x^5", "1/x", "1/x^2", "1/x^3", "sqrt", "x^1.5", "1/sqrt",
        "exp", "log", "abs", "sin", "cos", "tan", "tanh", "arcsin", "arccos", "arctan", "arctanh",
        "0", "gaussian",
    ],
    "polynomial": ["0", "x", "x^2", "x^3", "x^4", "x^5"],
    "physics": ["0", "x", "x^2", "x^3", "1/x", "1/x^2", "sqrt", "1/sqrt", "x^1.5", "exp", "log", "sin", "cos"],
}


def get_library(spec: None | str | Sequence[str] | SymbolicLibrary = None) -> SymbolicLibrary:
    """Resolve a library spec: None (default), a SUBSETS name, a list of names, or a library."""
    if spec is None:
        return default_library()
    if isinstance(spec, SymbolicLibrary):
        return spec
    if isinstance(spec, str):
        if spec not in SUBSETS:
            raise UnknownFunctionError(
                f"unknown library subset {spec!r}.{_suggest(spec, SUBSETS)} Valid subsets: {', '.join(SUBSETS)}"
            )
        return default_library().subset(SUBSETS[spec])
    if isinstance(spec, Sequence) and all(isinstance(n, str) for n in spec):
        return default_library().subset(list(spec))
    raise TypeError(
        f"library must be None, a subset name, a list of names or a SymbolicLibrary, got {type(spec).__name__}"
    )
