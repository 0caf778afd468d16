"""Collocation points in a box and on its faces: uniform, Sobol (scipy.stats.qmc), a tensor grid,
and residual-based resampling (more points where the residual is large)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from scipy.stats import qmc

from .errors import PDEError
from .problem import Box, Face

__all__ = ["METHODS", "sample_box", "sample_face", "grid_points", "resample_by_residual"]

METHODS = ("uniform", "sobol", "grid")


def _unit(n: int, d: int, method: str, seed: int) -> np.ndarray:
    """``n`` points in the unit cube ``[0, 1]^d``."""
    if method not in METHODS:
        raise PDEError(f"unknown sampling method {method!r}; choose one of {', '.join(METHODS)}")
    if n < 1:
        raise PDEError(f"need at least one point, got n={n}")
    if d == 0:
        return np.zeros((n, 0))
    if method == "uniform":
        return np.random.default_rng(seed).uniform(size=(n, d))
    if method == "sobol":
        with warnings.catch_warnings():  # a count that is not a power of two only loses balance, which is fine here
            warnings.simplefilter("ignore", UserWarning)
            return qmc.Sobol(d, scramble=True, seed=seed).random(n)
    m = max(2, math.ceil(n ** (1.0 / d)))
    axis = (np.arange(m) + 0.5) / m  # cell centres: the faces are sampled separately
    return np.stack(np.meshgrid(*([axis] * d), indexing="ij"), axis=-1).reshape(-1, d)


def sample_box(box: Box, n: int, method: str = "sobol", seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``(n, d)`` points inside the box (``grid``: the nearest tensor grid of at least ``n`` cell centres)."""
    u = _unit(n, box.dim, method, seed)
    lows, highs = np.array(box.lows), np.array(box.highs)
    return torch.as_tensor(lows + u * (highs - lows), dtype=dtype)


def sample_face(box: Box, face: Face, n: int, method: str = "sobol", seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``(n, d)`` points on ``face`` (its variable fixed, the others sampled over their intervals)."""
    others = [i for i in range(box.dim) if i != face.dim]
    u = _unit(n, len(others), "grid" if method == "grid" and others else method, seed)
    pts = np.empty((u.shape[0], box.dim))
    for k, i in enumerate(others):
        pts[:, i] = box.lows[i] + u[:, k] * (box.highs[i] - box.lows[i])
    pts[:, face.dim] = face.value
    return torch.as_tensor(pts, dtype=dtype)


def grid_points(box: Box, n: int | None = None, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A tensor grid over the closed box, ``n`` points per variable (default about 20 000 in all)."""
    n = n or max(11, round(20000 ** (1.0 / box.dim)))
    axes = [np.linspace(lo, hi, n) for lo, hi in zip(box.lows, box.highs)]
    return torch.as_tensor(np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, box.dim), dtype=dtype)


def resample_by_residual(candidates: torch.Tensor, scores: torch.Tensor, n: int, seed: int = 0, power: float = 1.0) -> torch.Tensor:
    """``n`` of the ``candidates`` drawn without replacement with probability proportional to
    ``scores**power / mean(scores**power) + 1`` (Wu et al.'s residual-based adaptive distribution: the
    ``+ 1`` keeps some points everywhere, so no region is forgotten)."""
    if candidates.shape[0] != scores.shape[0]:
        raise PDEError(f"{candidates.shape[0]} candidates but {scores.shape[0]} scores")
    if n > candidates.shape[0]:
        raise PDEError(f"cannot draw {n} points from {candidates.shape[0]} candidates")
    s = scores.detach().abs().double() ** power
    mean = s.mean()
    weights = (s / mean if float(mean) > 0 else torch.zeros_like(s)) + 1.0
    gen = torch.Generator().manual_seed(int(seed))
    idx = torch.multinomial(weights, n, replacement=False, generator=gen)
    return candidates[idx]
