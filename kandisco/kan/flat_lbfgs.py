"""L-BFGS over one flat parameter buffer, with its bookkeeping in numpy and Python floats.

torch.optim.LBFGS loops over the parameter tensors at every loss evaluation (add the step to
each, concatenate the gradients, copy each back) and does its line search and two-loop recursion
with 0-d tensors. For a small KAN that bookkeeping costs as much as the forward pass. Here the
parameters are re-seated as views into one flat tensor and their gradients as views into
another; the optimiser works on numpy views of those two buffers (no copies), and every scalar
of the line search is a Python float.

The algorithm is torch's, step for step: the same two-loop recursion, the same strong-Wolfe line
search with cubic interpolation (ported from minFunc / torch/optim), the same stopping rules and
evaluation budget. Iterates agree with torch's to rounding (tested). Numerical trouble that makes
torch's scalar code raise (a zero-width bracket, an overflowing interpolation) falls back to a
bisection step here instead.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

__all__ = ["FlatLBFGS"]


def _cubic_minimiser(
    x1: float, f1: float, g1: float, x2: float, f2: float, g2: float, bounds: tuple[float, float] | None = None
) -> float:
    """Minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clipped to ``bounds``.

    The midpoint of the bounds when the cubic has no minimiser or the points coincide.
    """
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    try:
        d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
        d2_square = d1 * d1 - g1 * g2
        if d2_square >= 0:
            d2 = math.sqrt(d2_square)
            if x1 <= x2:
                min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
            else:
                min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
            return min(max(min_pos, lo), hi)
    except (ZeroDivisionError, OverflowError, ValueError):
        pass
    return (lo + hi) / 2.0


def _low_high(bracket_f: list[float]) -> tuple[int, int]:
    """Positions of the lower and the higher end of a bracket (a NaN end is the higher one)."""
    return (1, 0) if bracket_f[-1] < bracket_f[0] else (0, 1)


Evaluate = Callable[[float], tuple[float, np.ndarray]]


def _strong_wolfe(
    evaluate: Evaluate,
    t: float,
    d: np.ndarray,
    f: float,
    g: np.ndarray,
    gtd: float,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, np.ndarray, float, int]:
    """Line search along ``d`` for a step satisfying the strong Wolfe conditions.

    ``evaluate(t)`` returns the loss and a private copy of the gradient at ``x0 + t d``. Returns
    ``(loss, gradient, t, evaluations)`` of the accepted point (torch's algorithm and constants).
    """
    d_norm = float(np.abs(d).max())
    f_new, g_new = evaluate(t)
    ls_func_evals = 1
    gtd_new = float(g_new @ d)

    # bracket an interval containing a point satisfying the Wolfe criteria
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    bracket: list[float] = []
    bracket_f: list[float] = []
    bracket_g: list[np.ndarray] = []
    bracket_gtd: list[float] = []
    while ls_iter < max_ls:
        if not f_new <= f + c1 * t * gtd or (ls_iter > 1 and not f_new < f_prev):  # NaN counts as too far
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # extrapolate
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        t_prev, t = t, _cubic_minimiser(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        f_prev, g_prev, gtd_prev = f_new, g_new, gtd_new
        f_new, g_new = evaluate(t)
        ls_func_evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1

    if ls_iter == max_ls:  # out of evaluations while extrapolating
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]
        bracket_gtd = [gtd, gtd_new]

    # zoom: shrink the bracket until a point satisfies the conditions
    insuf_progress = False
    low_pos, high_pos = _low_high(bracket_f)
    while not done and ls_iter < max_ls:
        if not abs(bracket[1] - bracket[0]) * d_norm >= tolerance_change:  # tiny (or NaN) bracket
            break
        t = _cubic_minimiser(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # a trial too close to an end, twice or on it, moves 10% of the bracket inside
        b_max, b_min = max(bracket), min(bracket)
        eps = 0.1 * (b_max - b_min)
        if min(b_max - t, t - b_min) < eps:
            if insuf_progress or t >= b_max or t <= b_min:
                t = b_max - eps if abs(t - b_max) < abs(t - b_min) else b_min + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = evaluate(t)
        ls_func_evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1

        if not f_new <= f + c1 * t * gtd or not f_new < bracket_f[low_pos]:
            # Armijo condition not satisfied or not lower than the lowest point (or NaN)
            bracket[high_pos], bracket_f[high_pos], bracket_g[high_pos] = t, f_new, g_new
            bracket_gtd[high_pos] = gtd_new
            low_pos, high_pos = _low_high(bracket_f)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                # the old high becomes the new low
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos], bracket_g[low_pos] = t, f_new, g_new
            bracket_gtd[low_pos] = gtd_new

    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


class FlatLBFGS:
    """L-BFGS (torch's algorithm and arguments) with parameters and gradients in two flat buffers.

    After construction each parameter's ``.data`` is a view of ``self.flat`` (values unchanged)
    and its ``.grad`` a view of ``self.flat_grad``; ``zero_grad`` zeroes that buffer in place so
    autograd keeps accumulating into the views. Dense real CPU parameters of one dtype only (what
    KANs have); anything else raises ``ValueError`` (use ``torch.optim.LBFGS`` there).

    It has the optimiser interface train.fit uses (``step(closure)``, ``zero_grad``,
    ``param_groups``) but is not a ``torch.optim.Optimizer``: constructing the first one of those
    in a process imports torch._dynamo, 0.6-1.4 s on this machine, which every first fit paid.
    """

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float = 1.0,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        params = list(params)
        if not params:
            raise ValueError("FlatLBFGS needs at least one parameter")
        if not lr >= 0:
            raise ValueError(f"invalid learning rate: {lr}")
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        ref = params[0]
        if any(
            p.dtype != ref.dtype or p.device.type != "cpu" or p.is_sparse or p.is_complex() or not p.dtype.is_floating_point
            for p in params
        ):
            raise ValueError("FlatLBFGS needs dense real CPU parameters of one dtype")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("FlatLBFGS was given the same parameter twice")
        defaults: dict[str, Any] = {
            "lr": float(lr),
            "max_iter": int(max_iter),
            "max_eval": int(max_eval if max_eval is not None else max_iter * 5 // 4),
            "tolerance_grad": float(tolerance_grad),
            "tolerance_change": float(tolerance_change),
            "history_size": int(history_size),
            "line_search_fn": line_search_fn,
        }
        self.param_groups = [{"params": params, **defaults}]
        with torch.no_grad():
            self.flat = torch.cat([p.detach().reshape(-1) for p in params])
        self.flat_grad = torch.zeros_like(self.flat)
        offset = 0
        for p in params:
            n = p.numel()
            p.data = self.flat[offset : offset + n].view_as(p)
            p.grad = self.flat_grad[offset : offset + n].view_as(p)
            offset += n
        self._x = self.flat.numpy()  # shares memory with the parameters
        self._g = self.flat_grad.numpy()  # shares memory with their gradients
        # torch's LBFGS state: counters, the last direction and step, the curvature pairs (Any: mixed kinds)
        self._memory: dict[str, Any] = {"n_iter": 0, "func_evals": 0}
        self._memory.update(dict.fromkeys(("d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss")))

    def zero_grad(self, set_to_none: bool = True) -> None:  # in place whatever is asked: the views must survive
        self.flat_grad.zero_()

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        """Up to ``max_iter`` L-BFGS iterations; ``closure`` zeroes the gradients, evaluates the
        loss, calls ``backward`` and returns the loss. Returns the first evaluation's loss."""
        closure = torch.enable_grad()(closure)
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size, line_search = group["history_size"], group["line_search_fn"] is not None
        x, memory = self._x, self._memory

        orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        memory["func_evals"] += 1
        flat_grad = self._g.copy()
        if np.abs(flat_grad).max() <= tolerance_grad:
            return orig_loss

        d, t = memory["d"], memory["t"]
        old_dirs, old_stps, ro = memory["old_dirs"], memory["old_stps"], memory["ro"]
        h_diag, prev_flat_grad, prev_loss = memory["H_diag"], memory["prev_flat_grad"], memory["prev_loss"]

        def evaluate(x0: np.ndarray, direction: np.ndarray, step: float) -> tuple[float, np.ndarray]:
            np.add(x0, step * direction, out=x)
            value = float(closure())
            grad = self._g.copy()
            np.copyto(x, x0)
            return value, grad

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            memory["n_iter"] += 1
            # descent direction: the two-loop recursion over the curvature pairs kept
            if memory["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, h_diag = [], [], [], 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / float(y @ y)
                num_old = len(old_dirs)
                al = [0.0] * num_old
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = float(old_stps[i] @ q) * ro[i]
                    q -= al[i] * old_dirs[i]
                d = q * h_diag
                for i in range(num_old):
                    be_i = float(old_dirs[i] @ d) * ro[i]
                    d += (al[i] - be_i) * old_stps[i]
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss

            # step length: the first iteration ever is scaled by the gradient's size
            if memory["n_iter"] == 1:
                g_sum = float(np.abs(flat_grad).sum())
                t = (min(1.0, 1.0 / g_sum) if g_sum > 0 else 1.0) * lr
            else:
                t = lr
            gtd = float(flat_grad @ d)
            if not gtd <= -tolerance_change:  # not a descent direction (or NaN)
                break

            if line_search:
                x_init = x.copy()
                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    functools.partial(evaluate, x_init, d), t, d, loss, flat_grad, gtd,
                    max_ls=max_eval - current_evals,
                )
                x += t * d
            else:  # fixed step; re-evaluate except after the last iteration (torch's rule)
                x += t * d
                ls_func_evals = 0
                if n_iter != max_iter:
                    loss = float(closure())
                    flat_grad = self._g.copy()
                    ls_func_evals = 1
            opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            current_evals += ls_func_evals
            memory["func_evals"] += ls_func_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if abs(t) * float(np.abs(d).max()) <= tolerance_change:  # no progress in x
                break
            if abs(loss - prev_loss) < tolerance_change:  # no progress in the loss
                break

        memory.update(
            d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
            prev_flat_grad=prev_flat_grad, prev_loss=prev_loss,
        )
        return orig_loss
