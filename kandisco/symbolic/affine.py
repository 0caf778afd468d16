"""Batched fit of ``y ~ c * f(a * x + b) + d`` for every library function and edge.

:func:`fit_affine` takes ``x, y`` of shape (E, N) — E independent 1-D problems
(KAN edges), N samples each — and returns, for every edge and every library
function, the best affine parameters and a held-out R^2.

Method
------
1. *Standardise* each edge: ``u = (x - mean x) / std x``, ``v = (y - mean y) /
   std y``.  All searching happens on (u, v), so grids and thresholds are
   scale-free; parameters are mapped back to x-space at the end.
2. *Split* the samples with one seeded permutation: a ``holdout`` fraction
   (default 25 %) is held out and only used for the reported R^2; the rest is
   the fit set.  With fewer than 20 samples nothing is held out and R^2 is
   in-sample.  The grid search uses the first ``n_sample`` fit points.
3. *Grid search* over the free inner parameters (one batched tensor
   evaluation per function and grid chunk, never a loop over edges).  For every
   grid point (c, d) are closed-form least squares, ``c = cov(f, v) /
   var(f)``, ``d = mean(v) - c mean(f)``, computed on centred quantities.
   Which inner parameters are searched depends on ``SymbolicFunction.search``:

   ``none``       (``0``) y ~ d; R^2 is 0 by definition.
   ``linear``     (``x``) a and c are degenerate: a=1, b=0, (c, d) closed form.
   ``shift``      integer powers, 1/x^n, abs: (a x + b)^n = a^n (x + b/a)^n, so
                  a=1 and only b is searched, on an asinh-spaced grid covering
                  |b| up to 1e3 standard deviations.
   ``sign_shift`` sqrt, x^1.5, 1/sqrt, log: a = +-1, search b for both signs.
   ``scale``      exp: b folds into c, so b=0 and only a is searched.
   ``harmonic``   sin, cos: for fixed a, c f(a u + b) = alpha sin(a u) + beta
                  cos(a u), which is linear, so a is searched on a fine linear
                  grid (a periodogram, up to ``harmonic_max`` in u units) and b
                  follows in closed form.
   ``full_pos``   search a > 0 (on a log grid) and the feature's location
                  u0 = -b/a (on an asinh grid); used where a symmetry makes a > 0
                  canonical.  ``full`` (user functions) also searches a < 0.

   The ``n_starts`` (3) best local maxima of the first grid are then zoomed
   in ``rounds - 1`` rounds (5 points per coordinate over +-1 step, halving
   the step), each re-centred on that start's best point; multi-start keeps
   a wrong basin that leads on the coarse grid (a Bessel function's far,
   cosine-like tail) from hiding the right one.  A coordinate whose optimum
   sits on the grid boundary is *widened* (half-width doubled around the
   optimum) instead of shrunk, so optima outside the initial window
   (|a|, |b| > 10) are reachable.
4. *Domain*: only points where ``a x + b`` is in f's domain (and f is finite)
   are fitted.  An invalid point counts as unexplained: its squared error is
   its squared deviation from the mean of y.  Hence R^2 = (S_valid -
   SSE_valid) / SST with S_valid = sum over valid points of (y - mean y)^2.
   A candidate defined on part of the data is penalised in proportion to the
   variance it cannot reach, never zeroed wholesale.
5. *Polish*: the ``polish_top`` best functions of each edge (by search R^2)
   are refined by a batched Levenberg–Marquardt on (a, b, c, d) (only the
   parameters the search mode leaves free) over the fit set, with the same
   treatment of invalid points.  Finally (c, d) are re-solved in closed form
   and R^2 is computed on the held-out points.  ``amplification`` (max |c f| over
   half the prediction's range) flags degenerate fits for ``select``.
6. *Canonicalise* (``SymbolicFunction.canonicalize``), so equal fits give equal,
   well-scaled parameters:

   * ``0``: a=1, b=0, c=0 (y = d);  ``x``: a=1, b=0.
   * x^n, 1/x^n (integer n): a=1, b/a, c a^n (sign of a goes into c).
   * sqrt, x^1.5, 1/sqrt (power p): a=+-1, b/|a|, c |a|^p.
   * abs: a=1, b/a, c |a|.
   * log: a=+-1, b/|a|, d + c log|a|.
   * exp: b=0, c e^b (skipped where c e^b would overflow).
   * odd f (tanh, arctan, arcsin, arctanh): a > 0 via (-a, -b, -c, d).
   * even f (gaussian): a > 0 via (-a, -b, c, d).
   * sin / cos: a > 0 (odd / even rule), then c > 0 via b += pi, b in [-pi, pi).
   * tan: odd rule, then b in [-pi/2, pi/2) (period pi).
   * arccos: arccos(z) = pi - arccos(-z): a > 0 via (-a, -b, -c, d + c pi).
   * sigmoid: sigmoid(z) = 1 - sigmoid(-z): a > 0 via (-a, -b, -c, d + c).
   * user functions: unchanged unless a ``canonicalize`` was registered.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as nnf
from torch import Tensor

from .library import SymbolicFunction, SymbolicLibrary, get_library

__all__ = ["AffineFits", "fit_affine", "evaluate_affine"]

_DT = torch.float64
_FMAX = 1e100  # |f| above this counts as invalid (its square would overflow sums)
_TINY = 1e-300


@dataclass
class AffineFits:
    """Best affine parameters per (edge, function).

    ``params[e, k] = (a, b, c, d)`` of ``c * f_k(a * x + b) + d`` in canonical
    form (x-space), ``r2[e, k]`` the held-out R^2 (see module docstring for how
    out-of-domain points count), ``r2_search`` the grid-search R^2,
    ``names[k]`` and ``complexities[k]`` the library entries.
    ``amplification[e, k]`` = max |c f(a x + b)| / (half the range of the
    prediction) on the fit set: about 1-3 for an honest fit, huge when a
    function is used in a degenerate limit where c f and d nearly cancel
    (a parabola as 1549 sin(0.034 x - 1.58) + 1549); ``select`` penalises it.
    """

    params: Tensor  # (E, F, 4)
    r2: Tensor  # (E, F)
    names: list[str]
    complexities: Tensor  # (F,)
    r2_search: Tensor  # (E, F)
    amplification: Tensor | None = None  # (E, F)

    @property
    def n_edges(self) -> int:
        return int(self.params.shape[0])

    def to_dict(self) -> dict:
        """JSON-able plain dict (nested lists); :meth:`from_dict` inverts it."""
        out = {
            "params": self.params.tolist(),
            "r2": self.r2.tolist(),
            "names": list(self.names),
            "complexities": self.complexities.tolist(),
            "r2_search": self.r2_search.tolist(),
        }
        if self.amplification is not None:
            out["amplification"] = self.amplification.tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> AffineFits:
        t = lambda key: torch.tensor(data[key], dtype=_DT)  # noqa: E731
        return cls(params=t("params"), r2=t("r2"), names=list(data["names"]), complexities=t("complexities"),
                   r2_search=t("r2_search"), amplification=t("amplification") if "amplification" in data else None)


# ------------------------------------------------------------------ input handling


def _as_2d(t: Tensor | np.ndarray | Sequence[float], what: str) -> Tensor:
    """Float64 (E, N) tensor from an (N,) or (E, N) array-like."""
    out = torch.as_tensor(np.asarray(t.detach().cpu() if isinstance(t, Tensor) else t, dtype=np.float64))
    if out.ndim == 1:
        out = out[None, :]
    if out.ndim != 2:
        raise ValueError(f"{what} must have shape (E, N) or (N,), got {tuple(out.shape)}")
    bad = ~torch.isfinite(out)
    if bad.any():
        e, i = (int(v) for v in bad.nonzero()[0])
        raise ValueError(f"{what} has a non-finite value at edge {e}, sample {i}: {out[e, i].item()}")
    return out


def _standardise(t: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(t - mean) / std per row; std 0 is replaced by 1. Returns (scaled, mean, std), stats (E, 1)."""
    mean = t.mean(dim=1, keepdim=True)  # (E, 1)
    std = t.std(dim=1, unbiased=False, keepdim=True)  # (E, 1)
    std = torch.where(std > 1e-300, std, torch.ones_like(std))
    return (t - mean) / std, mean, std


# ------------------------------------------------------------------ scoring kernels


def _eval_f(fn: SymbolicFunction, z: Tensor) -> tuple[Tensor, Tensor]:
    """Safe f(z) (zero where invalid) and the validity mask (domain and |f| < 1e100), same shape as z."""
    fz = fn.safe_torch_fn(z)
    valid = fn.domain.valid(z) & (fz.abs() < _FMAX)  # NaN and inf fail the comparison
    return torch.where(valid, fz, torch.zeros_like(fz)), valid


def _closed_form(fz: Tensor, valid: Tensor, v: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Least-squares (c, d) of v ~ c f + d over valid points, and R^2 by the validity rule.

    fz, valid: (E, G, n) or (E, n) with fz zero where invalid; v: (E, n).
    Returns c, d, r2 of shape (E, G) or (E,).
    """
    squeeze = fz.ndim == 2
    if squeeze:
        fz, valid = fz[:, None, :], valid[:, None, :]  # (E, 1, n)
    E, G, n = fz.shape
    v_mean_all = v.mean(dim=-1, keepdim=True)  # (E, 1)
    dev2 = (v - v_mean_all) ** 2  # (E, n)
    sst = dev2.sum(dim=-1)[:, None]  # (E, 1)
    vb = v[:, None, :]  # (E, 1, n)
    if bool(valid.all()):  # common case: skip the masking passes
        n_v = torch.full((E, G), float(n), dtype=_DT)
        s_v = v.sum(dim=-1, keepdim=True).expand(E, G)
        s_vv = (v * v).sum(dim=-1, keepdim=True).expand(E, G)
        s_valid = sst.expand(E, G)
        n_safe = n_v
        mf = fz.sum(dim=-1) / n_safe  # (E, G)
        fc = fz - mf[..., None]  # (E, G, n)
    else:
        # Sums over valid points as elementwise products, not matmuls: tiny batched matmuls
        # hand work to MKL threads, which stall badly on a busy machine.
        w = valid.to(_DT)  # (E, G, n)
        n_v = w.sum(dim=-1)  # (E, G)
        s_v = (w * vb).sum(dim=-1)
        s_vv = (w * (vb * vb)).sum(dim=-1)
        s_valid = (w * dev2[:, None, :]).sum(dim=-1)  # S_valid: sum of (v - mean v)^2 over valid points
        n_safe = n_v.clamp(min=1.0)
        mf = fz.sum(dim=-1) / n_safe  # (E, G)
        fc = (fz - mf[..., None]) * w  # (E, G, n), zero where invalid
    mv = s_v / n_safe
    var_f = (fc * fc).sum(dim=-1)  # (E, G)
    cov = (fc * vb).sum(dim=-1)  # (E, G): sum fc v = sum fc (v - mv) as sum fc = 0
    ss_v = (s_vv - n_v * mv * mv).clamp(min=0.0)  # (E, G)
    ok = var_f > 1e-24 * n_safe * (mf * mf + var_f / n_safe + 1e-300)
    c = torch.where(ok, cov / torch.where(ok, var_f, torch.ones_like(var_f)), torch.zeros_like(cov))
    d = mv - c * mf
    sse_v = (ss_v - c * cov).clamp(min=0.0)
    r2 = torch.where(sst > 0, (s_valid - sse_v) / sst.clamp(min=_TINY), (sse_v <= 0).to(_DT))
    r2 = torch.where(n_v >= min(3, v.shape[-1]), r2, torch.zeros_like(r2))
    if squeeze:
        return c[:, 0], d[:, 0], r2[:, 0]
    return c, d, r2


def _score_ab(fn: SymbolicFunction, u: Tensor, v: Tensor, a: Tensor, b: Tensor, chunk_bytes: int) -> Tensor:
    """R^2 of the closed-form (c, d) fit at every grid point. u, v: (E, n); a, b: (E, G) -> (E, G)."""
    E, n = u.shape
    G = a.shape[1]
    step = max(1, int(chunk_bytes // (8 * 6 * E * n)))
    out = []
    for g0 in range(0, G, step):
        ag, bg = a[:, g0 : g0 + step], b[:, g0 : g0 + step]  # (E, g)
        z = torch.addcmul(bg[:, :, None], ag[:, :, None], u[:, None, :])  # (E, g, n)
        fz, valid = _eval_f(fn, z)  # (E, g, n)
        out.append(_closed_form(fz, valid, v)[2])  # (E, g)
    return torch.cat(out, dim=1)  # (E, G)


def _score_harmonic(
    fn: SymbolicFunction, u: Tensor, v: Tensor, a: Tensor, chunk_bytes: int
) -> tuple[Tensor, Tensor]:
    """Periodogram: R^2 and phase b of v ~ alpha sin(a u) + beta cos(a u) + gamma.

    u, v: (E, n); a: (E, G). Returns r2, b: (E, G), with b such that
    R sin(a u + phi) = R f(a u + b) for f(z) = sin(z + theta_f).
    """
    theta_f = math.atan2(float(fn.safe_torch_fn(torch.zeros(1, dtype=_DT))),
                         float(fn.safe_torch_fn(torch.full((1,), math.pi / 2, dtype=_DT))))
    E, n = u.shape
    G = a.shape[1]
    step = max(1, int(chunk_bytes // (8 * 6 * E * n)))
    vc = v - v.mean(dim=1, keepdim=True)  # (E, n)
    sst = (vc * vc).sum(dim=1, keepdim=True)  # (E, 1)
    r2s, bs = [], []
    for g0 in range(0, G, step):
        z = a[:, g0 : g0 + step, None] * u[:, None, :]  # (E, g, n)
        s, c = torch.sin(z), torch.cos(z)
        s = s - s.mean(dim=-1, keepdim=True)  # (E, g, n)
        c = c - c.mean(dim=-1, keepdim=True)
        ss, cc, sc = (s * s).sum(-1), (c * c).sum(-1), (s * c).sum(-1)  # (E, g)
        sv, cv = (s * vc[:, None, :]).sum(-1), (c * vc[:, None, :]).sum(-1)  # (E, g)
        det = ss * cc - sc * sc
        ok = det > 1e-10 * ss * cc
        det = torch.where(ok, det, torch.ones_like(det))
        alpha = torch.where(ok, (cc * sv - sc * cv) / det, sv / ss.clamp(min=_TINY))
        beta = torch.where(ok, (ss * cv - sc * sv) / det, torch.zeros_like(det))
        explained = alpha * sv + beta * cv
        r2s.append(torch.where(sst > 0, explained / sst.clamp(min=_TINY), torch.ones_like(explained)))
        bs.append(torch.atan2(beta, alpha) - theta_f)
    return torch.cat(r2s, dim=1), torch.cat(bs, dim=1)


# ------------------------------------------------------------------ zoom search

# A search space: maps coordinates (E, G, D) to (a, b) (E, G) each, plus the
# initial [low, high] of each coordinate and its number of grid points.
ToAB = Callable[[Tensor], tuple[Tensor, Tensor]]


def _unit_mesh(sizes: Sequence[int]) -> tuple[Tensor, Tensor]:
    """Grid in [-1, 1]^D and the integer index of every point. Returns (G, D), (G, D)."""
    unit = [torch.linspace(-1.0, 1.0, s, dtype=_DT) if s > 1 else torch.zeros(1, dtype=_DT) for s in sizes]
    mesh = torch.stack([m.reshape(-1) for m in torch.meshgrid(*unit, indexing="ij")], dim=-1)
    index = torch.stack(
        [m.reshape(-1) for m in torch.meshgrid(*[torch.arange(s) for s in sizes], indexing="ij")], dim=-1
    )
    return mesh, index


def _local_maxima(r2: Tensor, sizes: Sequence[int]) -> Tensor:
    """r2 with every point that is not a local maximum of its grid neighbourhood set to -inf.

    r2: (E, G) on a grid of ``sizes`` (1-D or 2-D, row-major). Returns (E, G).
    """
    E = r2.shape[0]
    if len(sizes) == 1:
        pooled = nnf.max_pool1d(r2[:, None, :], 3, stride=1, padding=1)[:, 0]
    elif len(sizes) == 2:
        pooled = nnf.max_pool2d(r2.reshape(E, 1, *sizes), 3, stride=1, padding=1).reshape(E, -1)
    else:
        return r2
    return torch.where(r2 >= pooled, r2, torch.full_like(r2, -math.inf))


def _zoom_search(
    score: Callable[[Tensor], tuple[Tensor, Tensor, Tensor]],
    lows: Sequence[float],
    highs: Sequence[float],
    sizes: Sequence[int],
    E: int,
    rounds: int,
    zoom_size: int = 5,
    n_starts: int = 3,
) -> tuple[Tensor, Tensor, Tensor]:
    """Multi-start grid search with zoom/widen rounds, independently per edge.

    Round 0 scans ``sizes`` points per coordinate over [lows, highs] and keeps
    the ``n_starts`` best local maxima of each edge (so a wrong basin that
    happens to lead in round 0 cannot hide the right one).  Each later round
    scans ``zoom_size`` points per coordinate over +-1 grid step of the
    previous round around each start's best point (halving the step), except
    that a coordinate whose best point sat on the boundary is widened to twice
    its previous half-width around that point.
    ``score(coords (E, G, D)) -> (r2, a, b)`` each (E, G). Returns best a, b, r2 (E,).
    """
    D = len(sizes)
    lo_t = torch.tensor(list(lows), dtype=_DT)
    hi_t = torch.tensor(list(highs), dtype=_DT)
    mesh, index = _unit_mesh(sizes)  # (G0, D)
    coords = ((lo_t + hi_t) / 2 + (hi_t - lo_t) / 2 * mesh).expand(E, -1, -1)  # (E, G0, D)
    r2, a, b = score(coords)  # (E, G0)
    r2 = torch.nan_to_num(r2, nan=-math.inf)
    best_r2, k0 = r2.max(dim=1)  # (E,)
    best_a, best_b = a.gather(1, k0[:, None])[:, 0], b.gather(1, k0[:, None])[:, 0]
    M = min(n_starts, r2.shape[1])
    k = _local_maxima(r2, sizes).topk(M, dim=1).indices  # (E, M)
    size_t = torch.tensor(list(sizes))
    idx = index[k]  # (E, M, D)
    on_edge = (idx == 0) | (idx == size_t - 1)
    half0 = ((hi_t - lo_t) / 2).expand(E, M, D)
    step = 2 * half0 / (size_t - 1).clamp(min=1)
    center = coords.gather(1, k[..., None].expand(E, M, D))  # (E, M, D)
    half = torch.where(on_edge, 2 * half0, step)
    zmesh, zindex = _unit_mesh([zoom_size] * D)  # (Gz, D)
    Gz = zmesh.shape[0]
    for _ in range(1, max(1, rounds)):
        coords = center[:, :, None, :] + half[:, :, None, :] * zmesh  # (E, M, Gz, D)
        r2, a, b = score(coords.reshape(E, M * Gz, D))  # (E, M*Gz)
        r2 = torch.nan_to_num(r2, nan=-math.inf).reshape(E, M, Gz)
        r2_k, kz = r2.max(dim=2)  # (E, M)
        flat = (torch.arange(M) * Gz + kz)  # (E, M) index into M*Gz
        top_r2, m = r2_k.max(dim=1)  # (E,)
        better = top_r2 > best_r2
        kb = flat.gather(1, m[:, None])  # (E, 1)
        best_r2 = torch.where(better, top_r2, best_r2)
        best_a = torch.where(better, a.gather(1, kb)[:, 0], best_a)
        best_b = torch.where(better, b.gather(1, kb)[:, 0], best_b)
        zi = zindex[kz]  # (E, M, D)
        on_edge = (zi == 0) | (zi == zoom_size - 1)
        step = 2 * half / max(zoom_size - 1, 1)
        center = coords.gather(2, kz[:, :, None, None].expand(E, M, 1, D))[:, :, 0]  # (E, M, D)
        half = torch.where(on_edge, 2 * half, step)
    return best_a, best_b, best_r2


def _search_function(
    fn: SymbolicFunction,
    u: Tensor,
    v: Tensor,
    *,
    grid: tuple[int, int],
    grid_1d: int,
    harmonic_max: float,
    rounds: int,
    chunk_bytes: int,
) -> tuple[Tensor, Tensor, Tensor]:
    """Best (a, b) in u-space and its search R^2 for one function, all edges. Returns (E,) each."""
    E = u.shape[0]
    ones = torch.ones(E, dtype=_DT)
    zeros = torch.zeros(E, dtype=_DT)
    mode = fn.search

    def ab_score(to_ab: ToAB) -> Callable[[Tensor], tuple[Tensor, Tensor, Tensor]]:
        def score(coords: Tensor) -> tuple[Tensor, Tensor, Tensor]:
            a, b = to_ab(coords)  # (E, G)
            return _score_ab(fn, u, v, a, b, chunk_bytes), a, b

        return score

    if mode == "none":
        return zeros, zeros, zeros
    if mode == "linear":
        r2 = _score_ab(fn, u, v, ones[:, None], zeros[:, None], chunk_bytes)[:, 0]
        return ones, zeros, r2
    t_shift = math.asinh(1e3)
    if mode in ("shift", "sign_shift"):
        signs = (1.0,) if mode == "shift" else (1.0, -1.0)

        def shift(s: float) -> ToAB:
            return lambda c: (torch.full_like(c[..., 0], s), torch.sinh(c[..., 0]))

        results = [
            _zoom_search(ab_score(shift(s)), [-t_shift], [t_shift], [grid_1d], E, rounds)
            for s in signs
        ]
        return _best_of(results)
    if mode == "scale":
        t_a = math.asinh(40.0)
        return _zoom_search(
            ab_score(lambda c: (torch.sinh(c[..., 0]), torch.zeros_like(c[..., 0]))),
            [-t_a], [t_a], [grid_1d], E, rounds,
        )
    if mode == "harmonic":
        n = max(grid_1d, int(harmonic_max / 0.2))  # step 0.2 << periodogram lobe width (~2 pi / range of u)

        def harm(coords: Tensor) -> tuple[Tensor, Tensor, Tensor]:
            a = coords[..., 0].abs().clamp(min=1e-3)  # (E, G)
            r2, b = _score_harmonic(fn, u, v, a, chunk_bytes)
            return r2, a, b

        return _zoom_search(harm, [0.02], [harmonic_max], [n], E, rounds)
    if mode in ("full_pos", "full"):
        t_loc = math.asinh(8.0)
        signs = (1.0,) if mode == "full_pos" else (1.0, -1.0)

        def to_ab(c: Tensor, s: float) -> tuple[Tensor, Tensor]:
            a = s * 10.0 ** c[..., 0]  # (E, G)
            return a, -a * torch.sinh(c[..., 1])

        # user functions ("full") may oscillate (a Bessel function's tail): a coarse grid lands in
        # the wrong basin, so they get at least 33 x 33 (one function, so the cost stays small)
        sizes = list(grid) if mode == "full_pos" else [max(g, 33) for g in grid]
        def signed(s: float) -> ToAB:
            return lambda c: to_ab(c, s)

        results = [
            _zoom_search(ab_score(signed(s)), [-1.5, -t_loc], [1.7, t_loc], sizes, E, rounds)
            for s in signs
        ]
        return _best_of(results)
    raise ValueError(f"function {fn.name!r} has unknown search mode {mode!r}")


def _best_of(results: list[tuple[Tensor, Tensor, Tensor]]) -> tuple[Tensor, Tensor, Tensor]:
    """Per-edge best of several (a, b, r2) search results."""
    a, b, r2 = results[0]
    for a2, b2, r22 in results[1:]:
        better = r22 > r2
        a, b, r2 = torch.where(better, a2, a), torch.where(better, b2, b), torch.where(better, r22, r2)
    return a, b, r2


# ------------------------------------------------------------------ polish

_FREE = {
    "shift": (0.0, 1.0, 1.0, 1.0),
    "sign_shift": (0.0, 1.0, 1.0, 1.0),
    "scale": (1.0, 0.0, 1.0, 1.0),
    "harmonic": (1.0, 1.0, 1.0, 1.0),
    "full_pos": (1.0, 1.0, 1.0, 1.0),
    "full": (1.0, 1.0, 1.0, 1.0),
}


def _f_and_grad(fn: SymbolicFunction, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Safe f(z), df/dz (autograd, or central differences where f has no autograd) and validity."""
    zg = z.detach().requires_grad_(True)
    with torch.enable_grad():
        out = fn.safe_torch_fn(zg)
        if out.requires_grad:
            (grad,) = torch.autograd.grad(out.sum(), zg)
        else:
            h = 1e-6 * (1.0 + z.abs())
            grad = (fn.safe_torch_fn(z + h) - fn.safe_torch_fn(z - h)) / (2 * h)
    out = out.detach()
    valid = fn.domain.valid(z) & torch.isfinite(out) & (out.abs() < _FMAX) & torch.isfinite(grad)
    zero = torch.zeros_like(out)
    return torch.where(valid, out, zero), torch.where(valid, grad, zero), valid


def _residual(fn: SymbolicFunction, u: Tensor, v: Tensor, p: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Residuals (invalid points: v - mean v) and the pieces of the Jacobian. p: (P, 4); u, v: (P, n)."""
    a, b, c, d = (p[:, i : i + 1] for i in range(4))  # (P, 1)
    z = a * u + b  # (P, n)
    f, fp, valid = _f_and_grad(fn, z)
    v_mean = v.mean(dim=1, keepdim=True)
    r = torch.where(valid, c * f + d - v, v - v_mean)  # (P, n)
    return r, f, fp, valid


def _solve_spd(A: Tensor, g: Tensor) -> Tensor:
    """Solve A x = g for a batch of small symmetric positive-definite A by an unrolled Cholesky.

    A: (P, K, K); g: (P, K) -> (P, K). Elementwise on (P,) columns: for K = 4 this is far
    cheaper than batched LAPACK calls, and does not wake MKL threads.
    """
    K = A.shape[-1]
    unset = torch.zeros_like(A[:, 0, 0])  # above the diagonal: never read
    L: list[list[Tensor]] = [[unset] * K for _ in range(K)]
    for j in range(K):
        diag = A[:, j, j] - sum((L[j][k] * L[j][k] for k in range(j)), torch.zeros_like(A[:, 0, 0]))
        L[j][j] = torch.sqrt(diag.clamp(min=1e-300))
        for i in range(j + 1, K):
            off = A[:, i, j] - sum((L[i][k] * L[j][k] for k in range(j)), torch.zeros_like(A[:, 0, 0]))
            L[i][j] = off / L[j][j]
    y: list[Tensor] = []
    for i in range(K):  # forward substitution L y = g
        y.append((g[:, i] - sum((L[i][k] * y[k] for k in range(i)), torch.zeros_like(g[:, 0]))) / L[i][i])
    x: list[Tensor] = [torch.zeros_like(g[:, 0])] * K
    for i in reversed(range(K)):  # back substitution L^T x = y
        x[i] = (y[i] - sum((L[k][i] * x[k] for k in range(i + 1, K)), torch.zeros_like(g[:, 0]))) / L[i][i]
    return torch.stack(x, dim=1)


def _polish(fn: SymbolicFunction, u: Tensor, v: Tensor, p: Tensor, iters: int = 40) -> Tensor:
    """Batched Levenberg–Marquardt on (a, b, c, d). u, v: (P, n); p: (P, 4) -> (P, 4)."""
    free = torch.tensor(_FREE[fn.search], dtype=_DT)  # (4,)
    lam = torch.full((p.shape[0],), 1e-3, dtype=_DT)  # (P,)
    r, f, fp, valid = _residual(fn, u, v, p)
    cost = (r * r).sum(dim=1)  # (P,)
    done = torch.zeros_like(cost, dtype=torch.bool)  # (P,)
    n = u.shape[1]
    for _ in range(iters):
        w = valid.to(_DT)
        c = p[:, 2:3]
        J = torch.stack([c * fp * u, c * fp, f, w], dim=-1) * w[..., None] * free  # (P, n, 4)
        JTJ = (J[..., :, None] * J[..., None, :]).sum(dim=1)  # (P, 4, 4), elementwise (see _closed_form)
        g = (J * r[..., None]).sum(dim=1)  # (P, 4)
        diag = torch.diagonal(JTJ, dim1=1, dim2=2)  # (P, 4)
        damp = lam[:, None] * (diag + 1e-12 * diag.amax(dim=1, keepdim=True) + 1e-300)  # (P, 4)
        A = JTJ + torch.diag_embed(damp) + torch.diag_embed(1.0 - free).expand_as(JTJ)
        step = -_solve_spd(A, g) * free  # (P, 4)
        step = torch.nan_to_num(step, nan=0.0, posinf=0.0, neginf=0.0)
        p_new = p + step
        r_new, f_new, fp_new, valid_new = _residual(fn, u, v, p_new)
        cost_new = (r_new * r_new).sum(dim=1)
        ok = cost_new < cost  # (P,)
        rel = (cost - cost_new).abs() / cost.clamp(min=1e-300)
        p = torch.where(ok[:, None], p_new, p)
        r = torch.where(ok[:, None], r_new, r)
        f = torch.where(ok[:, None], f_new, f)
        fp = torch.where(ok[:, None], fp_new, fp)
        valid = torch.where(ok[:, None], valid_new, valid)
        cost = torch.where(ok, cost_new, cost)
        lam = torch.where(ok, lam / 3, lam * 4).clamp(1e-12, 1e12)
        done |= (ok & (rel < 1e-10)) | (lam >= 1e8) | (cost < 1e-24 * n)
        if bool(done.all()):
            break
    return p


# ------------------------------------------------------------------ public API


def evaluate_affine(fn: SymbolicFunction, x: Tensor, params: Tensor) -> Tensor:
    """c * f(a * x + b) + d with the exact torch function. x: (E, N); params: (E, 4) -> (E, N)."""
    a, b, c, d = (params[:, i : i + 1] for i in range(4))
    return c * fn.torch_fn(a * x + b) + d


def fit_affine(
    x: Tensor | np.ndarray,
    y: Tensor | np.ndarray,
    library: SymbolicLibrary | str | Sequence[str] | None = None,
    *,
    n_sample: int = 128,
    grid: tuple[int, int] = (17, 17),
    grid_1d: int = 65,
    harmonic_max: float = 64.0,
    rounds: int = 4,
    seed: int = 0,
    polish: bool = True,
    polish_top: int = 5,
    n_polish: int = 512,
    holdout: float = 0.25,
    chunk_bytes: int = 1 << 26,
) -> AffineFits:
    """Fit ``y ~ c * f(a * x + b) + d`` for every library function and every edge.

    x, y: (E, N) (or (N,)) real, finite. Returns :class:`AffineFits` with
    canonical x-space parameters and held-out R^2; see the module docstring
    for the method, the out-of-domain rule and the canonical forms.
    """
    lib = get_library(library)
    X, Y = _as_2d(x, "x"), _as_2d(y, "y")
    if X.shape != Y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(X.shape)} and {tuple(Y.shape)}")
    E, N = X.shape
    if N < 3:
        raise ValueError(f"need at least 3 samples per edge, got {N}")
    if not 0.0 <= holdout < 1.0:
        raise ValueError(f"holdout must be in [0, 1), got {holdout}")
    if n_sample < 3:
        raise ValueError(f"n_sample must be >= 3, got {n_sample}")
    U, mu, s = _standardise(X)  # (E, N), (E, 1)
    V, ym, sy = _standardise(Y)
    fit_idx, hold_idx = _split(N, holdout, seed)
    search_idx = fit_idx[:n_sample]
    polish_idx = fit_idx[:n_polish]
    u_s, v_s = U[:, search_idx], V[:, search_idx]  # (E, n)
    u_f, v_f = U[:, fit_idx], V[:, fit_idx]  # (E, n_fit)
    u_h, v_h = U[:, hold_idx], V[:, hold_idx]  # (E, n_hold)

    fns = list(lib.values())
    F = len(fns)
    a_u = torch.zeros(E, F, dtype=_DT)
    b_u = torch.zeros(E, F, dtype=_DT)
    r2_search = torch.zeros(E, F, dtype=_DT)
    for k, fn in enumerate(fns):
        a_u[:, k], b_u[:, k], r2_search[:, k] = _search_function(
            fn, u_s, v_s, grid=(int(grid[0]), int(grid[1])), grid_1d=grid_1d, harmonic_max=harmonic_max,
            rounds=rounds, chunk_bytes=chunk_bytes,
        )
    if polish and polish_top > 0:
        _polish_top(fns, U[:, polish_idx], V[:, polish_idx], a_u, b_u, r2_search, polish_top)

    params = torch.zeros(E, F, 4, dtype=_DT)
    r2 = torch.zeros(E, F, dtype=_DT)
    amp = torch.ones(E, F, dtype=_DT)
    for k, fn in enumerate(fns):
        params[:, k], r2[:, k], amp[:, k] = _finalise(
            fn, u_f, v_f, u_h, v_h, a_u[:, k], b_u[:, k], mu, s, ym, sy
        )
    complexities = torch.tensor([fn.complexity for fn in fns], dtype=_DT)
    return AffineFits(params=params, r2=r2, names=[fn.name for fn in fns], complexities=complexities,
                      r2_search=r2_search, amplification=amp)


def _split(N: int, holdout: float, seed: int) -> tuple[Tensor, Tensor]:
    """Seeded (fit, held-out) sample indices; no hold-out below 20 samples."""
    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(N, generator=gen)
    n_hold = int(round(N * holdout)) if N >= 20 else 0
    if n_hold == 0:
        return perm, perm
    return perm[n_hold:], perm[:n_hold]


def _polish_top(
    fns: list[SymbolicFunction], u: Tensor, v: Tensor, a_u: Tensor, b_u: Tensor, r2: Tensor, top: int
) -> None:
    """LM-polish (in place) the ``top`` best functions of every edge. u, v: (E, n); a_u, b_u, r2: (E, F)."""
    F = len(fns)
    order = torch.argsort(-torch.nan_to_num(r2, nan=-math.inf), dim=1, stable=True)[:, : min(top, F)]  # (E, K)
    chosen = torch.zeros_like(r2, dtype=torch.bool).scatter_(1, order, True)  # (E, F)
    for k, fn in enumerate(fns):
        if fn.search not in _FREE:
            continue
        edges = chosen[:, k].nonzero()[:, 0]  # (P,)
        if edges.numel() == 0:
            continue
        ue, ve = u[edges], v[edges]  # (P, n)
        a, b = a_u[edges, k], b_u[edges, k]
        fz, valid = _eval_f(fn, a[:, None] * ue + b[:, None])
        c, d, _ = _closed_form(fz, valid, ve)
        p = _polish(fn, ue, ve, torch.stack([a, b, c, d], dim=1))  # (P, 4)
        a_u[edges, k], b_u[edges, k] = p[:, 0], p[:, 1]


def _finalise(
    fn: SymbolicFunction,
    u_f: Tensor, v_f: Tensor, u_h: Tensor, v_h: Tensor,
    a: Tensor, b: Tensor,
    mu: Tensor, s: Tensor, ym: Tensor, sy: Tensor,
) -> tuple[Tensor, Tensor, Tensor]:
    """Closed-form (c, d) on the fit set, held-out R^2, x-space canonical params, amplification.

    Returns (E, 4), (E,), (E,).
    """
    if fn.search == "none":
        c = torch.zeros_like(a)
        d = v_f.mean(dim=1)
    else:
        fz, valid = _eval_f(fn, a[:, None] * u_f + b[:, None])  # (E, n_fit)
        c, d, _ = _closed_form(fz, valid, v_f)
    r2 = _heldout_r2(fn, u_h, v_h, a, b, c, d)
    amp = torch.ones_like(a) if fn.search == "none" else _amplification(fn, u_f, a, b, c, d)
    s1, mu1, sy1, ym1 = s[:, 0], mu[:, 0], sy[:, 0], ym[:, 0]
    ax = a / s1
    bx = b - a * mu1 / s1
    cx = c * sy1
    dx = d * sy1 + ym1
    if fn.search == "none":
        ax, bx = torch.ones_like(ax), torch.zeros_like(bx)
    p = fn.canonicalize(ax, bx, cx, dx)
    return torch.stack(p, dim=1), r2, amp


def _amplification(fn: SymbolicFunction, u: Tensor, a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Tensor:
    """max |c f| / half the prediction's range over valid fit points (see AffineFits). u: (E, n) -> (E,)."""
    fz, valid = _eval_f(fn, a[:, None] * u + b[:, None])  # (E, n)
    term = c[:, None] * fz  # (E, n)
    big = torch.full_like(term, math.inf)
    hi = torch.where(valid, term, -big).amax(dim=1)
    lo = torch.where(valid, term, big).amin(dim=1)
    peak = torch.where(valid, term.abs(), torch.zeros_like(term)).amax(dim=1)
    half_range = (hi - lo) / 2
    amp = peak / half_range.clamp(min=1e-300)
    return torch.where(half_range > 0, amp, torch.ones_like(amp))


def _heldout_r2(fn: SymbolicFunction, u: Tensor, v: Tensor, a: Tensor, b: Tensor, c: Tensor, d: Tensor) -> Tensor:
    """R^2 on held-out points; invalid points count as deviation from the mean. u, v: (E, n) -> (E,)."""
    if fn.search == "none":
        pred = d[:, None].expand_as(v)
        valid = torch.ones_like(v, dtype=torch.bool)
    else:
        fz, valid = _eval_f(fn, a[:, None] * u + b[:, None])  # (E, n)
        pred = c[:, None] * fz + d[:, None]
    v_mean = v.mean(dim=1, keepdim=True)
    sq = torch.where(valid, (pred - v) ** 2, (v - v_mean) ** 2)  # (E, n)
    sse = sq.sum(dim=1)
    sst = ((v - v_mean) ** 2).sum(dim=1)
    return torch.where(sst > 0, 1 - sse / sst.clamp(min=_TINY), (sse <= 1e-24).to(_DT))
