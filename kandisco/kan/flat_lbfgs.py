"""torch's LBFGS over one flat parameter buffer: the same algorithm, a handful of ops per evaluation.

torch.optim.LBFGS loops over the parameter tensors at every loss evaluation (add the step to
each, concatenate the gradients, copy each back), which for a small KAN costs as much as its
forward pass. Here the parameters are re-seated as views into one flat tensor and their
gradients as views into another, so those loops become single operations. The line search,
history and stopping rules are torch's own; only the parameter bookkeeping is replaced.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

__all__ = ["FlatLBFGS"]


class FlatLBFGS(torch.optim.LBFGS):
    """``torch.optim.LBFGS`` with its parameters and gradients viewed into two flat buffers.

    After construction each parameter's ``.data`` is a view of ``self.flat`` (values unchanged)
    and its ``.grad`` a view of ``self.flat_grad``; ``zero_grad`` zeroes that buffer in place
    so autograd keeps accumulating into the views. Dense real parameters on one device and
    dtype only (what KANs have); anything else raises ``ValueError``.
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], **kwargs) -> None:
        params = list(params)
        super().__init__(params, **kwargs)
        if not params:
            raise ValueError("FlatLBFGS needs at least one parameter")
        ref = params[0]
        if any(p.dtype != ref.dtype or p.device != ref.device or p.is_sparse or p.is_complex() for p in params):
            raise ValueError("FlatLBFGS needs dense real parameters of one dtype and device")
        with torch.no_grad():
            self.flat = torch.cat([p.detach().reshape(-1) for p in params])
        self.flat_grad = torch.zeros_like(self.flat)
        offset = 0
        for p in params:
            n = p.numel()
            p.data = self.flat[offset : offset + n].view_as(p)
            p.grad = self.flat_grad[offset : offset + n].view_as(p)
            offset += n

    def zero_grad(self, set_to_none: bool = True) -> None:  # in place whatever is asked: the views must survive
        self.flat_grad.zero_()

    # -- torch.optim.LBFGS's parameter bookkeeping, one operation each ---------------------------
    def _gather_flat_grad(self) -> torch.Tensor:
        return self.flat_grad.clone()  # the line search keeps earlier gradients: hand out a copy

    def _add_grad(self, step_size, update) -> None:
        self.flat.add_(update, alpha=step_size)

    def _clone_param(self) -> list[torch.Tensor]:
        return [self.flat.clone()]

    def _set_param(self, params_data) -> None:
        self.flat.copy_(params_data[0])
