"""Training a KAN: LBFGS or Adam, any loss, the paper's sparsity regularisers, grid updates, guards.

Departures from pykan, on purpose:

* the data loss is reported as is, but regularisation is made scale-free: each layer's L1 term is
  divided by the (detached) mean magnitude of that layer's edges, so ``lamb`` means the same thing
  whether the target is 1e-3 or 1e6;
* a step whose loss or parameters turn NaN/inf is undone (last good state restored) and the step
  size halved, instead of poisoning the model;
* with a validation set the best state (lowest validation loss) is restored at the end, and
  training stops early after ``patience`` steps without improvement;
* ``constraints`` (symmetry, positivity, monotonicity, a known law: :mod:`kandisco.kan.constraints`)
  train the model wrapped in a :class:`~kandisco.kan.constraints.ConstrainedModel`, which the
  History hands back as ``history.model`` (the model passed in is trained in place: it is the base).

Notices go to the ``kandisco.kan.train`` logger (a child of ``kandisco``), never to stdout.
"""

from __future__ import annotations

import copy
import logging
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .constraints import ConstrainedModel, Constraint, constrain
from .flat_lbfgs import FlatLBFGS
from .layer import EDGE_SYMBOLIC, KANLayer

if TYPE_CHECKING:  # network.py and graph.py import this module: the names are for the checker only
    from .graph import GraphActivations
    from .network import Activations
    from .protocol import Trainable

__all__ = ["History", "fit", "regularization"]

LossFn = Callable[["Trainable", torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class History:
    """Per-step record of a fit (lists have one entry per completed step)."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    reg: list[float] = field(default_factory=list)
    nan_recoveries: int = 0  # steps undone because the loss or parameters went NaN/inf
    nonfinite_losses: int = 0  # loss evaluations that were NaN/inf (line searches back off from them)
    best_step: int | None = None
    stopped_early: bool = False
    penalty: list[float] = field(default_factory=list)  # constraint penalty (monotonicity) per step, when there is one
    model: Any = field(default=None, repr=False)  # the model trained: the constrained wrapper when constraints were given

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "model"}


_HUGE = 1e30
_log = logging.getLogger(__name__)


def _as_tensor(a: Any, name: str, dtype: torch.dtype) -> torch.Tensor:
    """Training data as a finite 2-D tensor; a clear error names the offending rows otherwise."""
    t = a if isinstance(a, torch.Tensor) else torch.as_tensor(np.array(a, dtype=np.float64))
    t = t.to(dtype)
    if t.dim() == 1:
        t = t[:, None]
    if t.dim() != 2:
        raise ValueError(f"{name} must be 1-D or 2-D (samples, columns), got shape {tuple(t.shape)}")
    bad = (~torch.isfinite(t)).any(dim=1).nonzero().flatten().tolist()
    if bad:
        shown = ", ".join(map(str, bad[:10])) + (f", ... ({len(bad)} rows)" if len(bad) > 10 else "")
        raise ValueError(f"{name} has NaN or infinite values in rows {shown}")
    return t


def regularization(
    model: Trainable,
    acts: Activations | GraphActivations,
    lamb_l1: float = 1.0,
    lamb_entropy: float = 2.0,
    lamb_coef: float = 0.0,
    lamb_coefdiff: float = 0.0,
) -> torch.Tensor:
    """The KAN paper's sparsity penalty over all layers, made scale-free.

    Per layer with edge magnitudes ``m_ji = mean_batch |phi_ji|`` and total ``M``:
    ``lamb_l1 * sum(m)/M_ref + lamb_entropy * H(m / M) + lamb_coef * mean|coef| +
    lamb_coefdiff * mean|diff(coef)|`` where ``M_ref`` is ``M`` detached (so the L1 gradient is
    relative) and ``H`` is the entropy over the layer's edges (the paper sums entropies per node;
    that is the same up to grouping, which we keep per output node as the paper does).
    """
    total = acts.output.new_zeros(())
    for layer, phi in zip(model.layers, acts.edges):
        mag = phi.abs().mean(dim=0)  # (out, in)
        scale = mag.sum().detach().clamp_min(1e-30)
        total = total + lamb_l1 * mag.sum() / scale
        p = mag / scale  # (out, in)
        total = total + lamb_entropy * -(p * torch.log(p + 1e-12)).sum()
        if lamb_coef:
            total = total + lamb_coef * layer.coef.abs().mean()
        if lamb_coefdiff:
            total = total + lamb_coefdiff * torch.diff(layer.coef, dim=-1).abs().mean()
    return total


def _mse(model: Trainable, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.mse_loss(model(xb), yb)  # one op and one backward node


def fit(
    model: Trainable,
    X: Any,
    y: Any,
    *,
    opt: str = "LBFGS",
    steps: int = 100,
    lr: float | None = None,
    batch: int = -1,
    loss_fn: LossFn | None = None,
    lamb: float = 0.0,
    lamb_l1: float = 1.0,
    lamb_entropy: float = 2.0,
    lamb_coef: float = 0.0,
    lamb_coefdiff: float = 0.0,
    update_grid: bool = True,
    grid_update_num: int = 10,
    stop_grid_update_step: int = 50,
    grid_eps: float = 0.02,
    X_val: Any = None,
    y_val: Any = None,
    patience: int | None = None,
    max_iter: int = 20,
    seed: int = 0,
    verbose: bool = True,
    callback: Callable[[int, float], bool | None] | None = None,
    constraints: Sequence[Constraint] | None = None,
) -> History:
    """Train ``model`` on ``(X, y)`` in place and return its :class:`History`.

    Args:
        opt: ``"LBFGS"`` (torch's, strong-Wolfe line search; ``max_iter`` inner iterations per
            step as in pykan) or ``"Adam"``.
        steps: optimiser steps. ``lr`` defaults to 1 (LBFGS) or 1e-2 (Adam).
        batch: mini-batch size, ``-1`` for the full data.
        loss_fn: ``loss_fn(model, X_batch, y_batch) -> scalar``; default MSE. A physics-informed
            loss (PDE residual through autograd) plugs in here; ``y`` may then be anything of the
            same length as ``X`` (e.g. source values).
        lamb: overall weight of the sparsity regulariser (see :func:`regularization`).
        update_grid: refit the grids to the data every ``grid_update_num`` steps until
            ``stop_grid_update_step``.
        X_val, y_val: validation data (loss recorded per step; best state restored).
        patience: stop after this many steps without validation improvement.
        seed: seeds mini-batch sampling.
        verbose: a progress bar when stderr is a terminal, and notices (training stopped on NaN)
            logged at WARNING; False logs them at DEBUG (``logging.getLogger("kandisco")``).
        callback: ``callback(step, train_loss)`` after every step; returning True stops training.
        constraints: :class:`~kandisco.kan.constraints.Symmetric`, ``Positive``, ``Monotone``, ``KnownLaw``:
            the model is trained inside a :class:`~kandisco.kan.constraints.ConstrainedModel` (exact
            constraints by construction, monotonicity as a penalty added to the loss); use
            ``history.model`` to predict and to read the law. A ConstrainedModel passed as ``model``
            brings its own constraints (a Monotone penalty included).
    """
    if constraints:
        model = constrain(model, *constraints)  # type: ignore[assignment]  # the wrapper has the Trainable interface
    penalty = model.penalty if isinstance(model, ConstrainedModel) and model.monotone else None
    dtype = model.dtype
    X = _as_tensor(X, "X", dtype)
    y = _as_tensor(y, "y", dtype)
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    if X.shape[1] != model.n_inputs:
        raise ValueError(f"X has {X.shape[1]} columns but the model has {model.n_inputs} inputs")
    if loss_fn is None and y.shape[1] != model.n_outputs:  # a custom loss may take any y
        raise ValueError(f"y has {y.shape[1]} columns but the model has {model.n_outputs} outputs")
    if opt not in ("LBFGS", "Adam"):
        raise ValueError(f"unknown optimiser {opt!r}; choose 'LBFGS' or 'Adam'")
    has_val = X_val is not None
    if has_val:
        X_val = _as_tensor(X_val, "X_val", dtype)
        y_val = _as_tensor(y_val, "y_val", dtype)
        if X_val.shape[1] != X.shape[1] or X_val.shape[0] != y_val.shape[0] or y_val.shape[1] != y.shape[1]:
            raise ValueError(
                f"validation data X_val {tuple(X_val.shape)}, y_val {tuple(y_val.shape)} do not match "
                f"the training data X {tuple(X.shape)}, y {tuple(y.shape)}"
            )
    loss_fn = loss_fn or _mse
    n = X.shape[0]
    gen = torch.Generator().manual_seed(int(seed))
    lr = lr if lr is not None else (1.0 if opt == "LBFGS" else 1e-2)

    if not bool(model.grids_initialized):
        model.initialize_grids(X)

    def make_optimizer(rate: float) -> FlatLBFGS | torch.optim.Optimizer:
        params = _optimised_parameters(model)
        if opt == "LBFGS":
            settings: dict[str, Any] = {
                "lr": rate, "max_iter": max_iter, "history_size": 10, "line_search_fn": "strong_wolfe",
                "tolerance_grad": 1e-32, "tolerance_change": 1e-32,
            }
            try:
                return FlatLBFGS(params, **settings)
            except ValueError:  # mixed dtypes or devices: torch's per-tensor bookkeeping
                return torch.optim.LBFGS(params, **settings)
        return torch.optim.Adam(params, lr=rate)

    optimizer = make_optimizer(lr)
    hist = History()
    good_state = copy.deepcopy(model.state_dict())
    best_val, best_state, since_best = math.inf, None, 0
    use_reg = lamb > 0
    bar = _progress(steps, verbose)

    for step in range(steps):
        if update_grid and step % grid_update_num == 0 and step < stop_grid_update_step and step > 0:
            model.update_grid(X, grid_eps=grid_eps)
            optimizer = make_optimizer(lr)  # the coefficients moved: stale curvature is wrong
        idx = torch.randperm(n, generator=gen)[:batch] if 0 < batch < n else None
        xb = X if idx is None else X[idx]
        yb = y if idx is None else y[idx]
        parts: dict[str, float] = {}

        def closure(optimizer=optimizer, xb=xb, yb=yb, parts=parts) -> torch.Tensor:  # bound: this step's
            optimizer.zero_grad()
            if use_reg:
                acts = model.activations(xb)
                data_loss = (
                    torch.mean((acts.output - yb) ** 2) if loss_fn is _mse else loss_fn(model, xb, yb)
                )
                reg = regularization(model, acts, lamb_l1, lamb_entropy, lamb_coef, lamb_coefdiff)
                objective = data_loss + lamb * reg
                parts["reg"] = float(reg.detach())
            else:
                objective = data_loss = loss_fn(model, xb, yb)
                parts["reg"] = 0.0
            if penalty is not None:
                pen = penalty(xb)
                objective = objective + pen
                parts["penalty"] = float(pen.detach())
            parts["loss"] = float(data_loss.detach())
            value = parts["loss"] if objective is data_loss else float(objective.detach())
            if not math.isfinite(value):
                # report a huge finite loss with zero gradient: a line search backs off from it
                hist.nonfinite_losses += 1
                return objective.new_tensor(_HUGE)
            objective.backward()
            return objective

        before = hist.nonfinite_losses
        try:
            optimizer.step(closure)  # type: ignore[arg-type]  # torch types closures as returning float; LBFGS wants the tensor
            ok = math.isfinite(parts.get("loss", math.nan)) and _params_finite(model)
        except (IndexError, RuntimeError):  # torch's line search can break on a non-finite bracket
            if hist.nonfinite_losses == before:
                raise
            ok = False
        if not ok:
            hist.nan_recoveries += 1
            model.load_state_dict(good_state)
            lr *= 0.5
            optimizer = make_optimizer(lr)
            if hist.nan_recoveries > 20:
                _warn(verbose, "training stopped: the loss kept turning NaN/inf (last good state restored)")
                break
            continue
        good_state = copy.deepcopy(model.state_dict())
        train_loss = parts["loss"]  # data loss at the step's last evaluation
        hist.train_loss.append(train_loss)
        hist.reg.append(parts["reg"])
        if penalty is not None:
            hist.penalty.append(parts.get("penalty", 0.0))
        if has_val:
            v = float(loss_fn(model, X_val, y_val).detach())  # grad stays on: PDE losses differentiate
            hist.val_loss.append(v)
            if v < best_val:
                best_val, best_state, since_best = v, copy.deepcopy(model.state_dict()), 0
                hist.best_step = len(hist.train_loss) - 1
            else:
                since_best += 1
                if patience is not None and since_best >= patience:
                    hist.stopped_early = True
                    break
        if callback is not None and callback(step, train_loss):
            break  # the callback asked to stop (a deadline, a target loss, ...)
        if bar is not None:
            bar.set_postfix_str(f"loss {train_loss:.3e}" + (f" val {hist.val_loss[-1]:.3e}" if has_val else ""))
            bar.update(1)
    if bar is not None:
        bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.train_inputs = X.detach()
    if isinstance(model, ConstrainedModel):
        model.base.train_inputs = model.base_inputs(X).detach()  # what the base saw: for its symbolic edges
    hist.model = model
    return hist


def _optimised_parameters(model: Trainable) -> list[torch.nn.Parameter]:
    """Trainable parameters that can move the output.

    A layer's symbolic ``(a, b, c, d)`` block is left out while none of its edges is symbolic: it
    gets no gradient, and LBFGS would still copy, add and concatenate it at every evaluation.
    """
    idle = {
        id(m.sym_params)
        for m in model.modules()
        if isinstance(m, KANLayer) and not bool((m.state == EDGE_SYMBOLIC).any())
    }
    return [p for p in model.parameters() if p.requires_grad and id(p) not in idle]


def _params_finite(model: Trainable) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def _progress(steps: int, verbose: bool):
    if not verbose or not sys.stderr.isatty():
        return None
    from tqdm.auto import tqdm

    return tqdm(total=steps, file=sys.stderr, leave=False, desc="fit")


def _warn(verbose: bool, msg: str) -> None:
    """A WARNING for a fit the caller watches (``verbose``); DEBUG for the pipeline's quiet fits,
    whose outcome the strategy judges anyway (the History records the recoveries)."""
    _log.log(logging.WARNING if verbose else logging.DEBUG, msg)
