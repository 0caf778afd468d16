"""A smooth stand-in for the data's law, for structure tests that need f at points not measured.

A KAN is fitted on the data in the view where laws are simplest: ``log x`` for positive inputs and
``log|y|`` for targets of one sign (products become sums there), standardised. A signed input whose
magnitudes span decades (a charge or a field from 1e-2 to 1e2, of either sign) is seen as
``asinh(x / s)``, ``s`` its small magnitudes' scale: that is ``sign(x) log|x|`` away from zero and
smooth through it, where the raw values would crowd most rows into one spline interval. The
surrogate is a vectorised numpy callable in the original units.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..kan import KAN

__all__ = ["Surrogate", "fit_surrogate", "signed_decade_scales"]

SIGNED_DECADES_RATIO = 30.0  # a signed input "spans decades" when its 95th |x| percentile is this many times its 5th


@dataclass
class Surrogate:
    """``f(X)`` for ``X`` of shape (n, d) in the data's units; ``val_error`` is its relative RMSE."""

    model: KAN
    log_inputs: np.ndarray  # (d,) bool
    asinh_scales: np.ndarray  # (d,) the scale s of asinh(x / s) for signed inputs over decades; 0 elsewhere
    log_target: bool
    sign: float
    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: float
    y_std: float
    val_error: float  # relative RMSE for a log-target surrogate, RMSE / std(y) otherwise
    spread: float  # std of the target (for the absolute error of a raw-target surrogate)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        Z = self._inputs(np.asarray(X, dtype=float))
        with torch.no_grad():
            out = self.model(torch.as_tensor(Z, dtype=torch.float64))[:, 0].numpy()
        out = out * self.y_std + self.y_mean
        return self.sign * np.exp(out) if self.log_target else out

    def error_beyond_noise(self, X: np.ndarray, y: np.ndarray, sigma: np.ndarray | float) -> float:
        """The surrogate's own error (in ``val_error``'s units) on noisy rows ``(X, y)`` of one-sigma ``sigma``.

        Its residuals on noisy rows hold the noise too: the noise's mean square is taken off, down to
        twice that estimate's standard error (what ``len(y)`` rows can tell apart from 0). Structure
        tests on the surrogate need this, not the raw error, or noise alone makes them blind.
        """
        y = np.asarray(y, dtype=float).ravel()
        scale = np.abs(y) if self.log_target else self.spread
        residual_ms = float(np.mean(((self(X) - y) / scale) ** 2))
        noise_ms = float(np.mean((np.broadcast_to(np.asarray(sigma, dtype=float), y.shape) / scale) ** 2))
        resolvable = 2.0 * np.sqrt(2.0 / max(len(y), 1)) * noise_ms
        return float(np.sqrt(max(residual_ms - noise_ms, resolvable, 0.0)))

    def _inputs(self, X: np.ndarray) -> np.ndarray:
        return (_view_inputs(X, self.log_inputs, self.asinh_scales) - self.x_mean) / self.x_std


def fit_surrogate(
    X: np.ndarray,
    y: np.ndarray,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    seed: int = 0,
    steps: int = 80,
    deadline: float | None = None,
) -> Surrogate:
    """Fit a ``[d, min(2d+1, 10), 1]`` KAN surrogate (grid 3) on ``(X, y)``.

    Targets of one sign are fitted as ``log|y|``; when that view fits worse than 1% (a target near
    zero), the raw view is fitted too and the better one kept.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).ravel()
    Xe = np.asarray(X_val, dtype=float) if X_val is not None else X
    ye = np.asarray(y_val, dtype=float).ravel() if y_val is not None else y
    one_sign = bool(np.all(y > 0) or np.all(y < 0))
    best = _fit_view(X, y, Xe, ye, one_sign, seed, steps, deadline)
    if one_sign and best.val_error > 1e-2:
        raw = _fit_view(X, y, Xe, ye, False, seed, steps, deadline)
        if raw.val_error * float(np.std(ye)) < float(np.sqrt(np.mean((best(Xe) - ye) ** 2))):
            best = raw
    return best


def signed_decade_scales(X: np.ndarray, log_inputs: np.ndarray) -> np.ndarray:
    """Per input, the scale ``s`` of ``asinh(x / s)`` for a signed input whose magnitudes span decades, else 0.

    "Spans decades": its 95th magnitude percentile is over :data:`SIGNED_DECADES_RATIO` times its 5th;
    ``s`` is that 5th percentile, so the bulk of the rows sits on ``asinh``'s logarithmic arms.
    """
    scales = np.zeros(X.shape[1])
    for j in np.flatnonzero(~log_inputs):
        low, high = np.quantile(np.abs(X[:, j]), [0.05, 0.95])
        if low > 0 and high > SIGNED_DECADES_RATIO * low:
            scales[j] = low
    return scales


def _view_inputs(X: np.ndarray, log_inputs: np.ndarray, asinh_scales: np.ndarray) -> np.ndarray:
    """The inputs as the surrogate's network sees them, before standardising: log, asinh(x/s) or raw."""
    Z = np.array(X, dtype=float)
    Z[:, log_inputs] = np.log(np.clip(Z[:, log_inputs], 1e-300, None))
    signed = asinh_scales > 0
    Z[:, signed] = np.arcsinh(Z[:, signed] / asinh_scales[signed])
    return Z


def _fit_view(X, y, Xe, ye, log_target: bool, seed: int, steps: int, deadline: float | None) -> Surrogate:
    d = X.shape[1]
    log_inputs = np.all(X > 0, axis=0) & np.all(Xe > 0, axis=0)
    asinh_scales = signed_decade_scales(X, log_inputs)
    sign = float(np.sign(y[0])) if log_target else 1.0
    Z = _view_inputs(X, log_inputs, asinh_scales)
    x_mean, x_std = Z.mean(0), Z.std(0)
    x_std[x_std == 0] = 1.0
    t = np.log(np.abs(y)) if log_target else y
    y_mean, y_std = float(t.mean()), float(t.std()) or 1.0
    Zt = torch.as_tensor((Z - x_mean) / x_std, dtype=torch.float64)
    tt = torch.as_tensor((t - y_mean) / y_std, dtype=torch.float64)[:, None]
    model = KAN([d, min(2 * d + 1, 10), 1], grid=3, seed=seed)
    stop = (lambda step, loss: time.perf_counter() > deadline) if deadline is not None else None
    model.fit(Zt, tt, steps=steps, verbose=False, seed=seed, callback=stop)
    sur = Surrogate(model, log_inputs, asinh_scales, log_target, sign, x_mean, x_std, y_mean, y_std, float("nan"), float(np.std(y)) or 1.0)
    scale = np.abs(ye) if log_target else sur.spread
    sur.val_error = float(np.sqrt(np.mean(((sur(Xe) - ye) / scale) ** 2)))
    return sur
