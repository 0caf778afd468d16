"""Derivatives of measured series, one trajectory at a time, with the ``derivative`` package.

The smoothing is the package's (``derivative.Spline``: scipy's ``splrep`` smoothing spline, or
``derivative.SavitzkyGolay`` / ``derivative.FiniteDifference`` when asked); kandisco only picks its
strength. ``method="auto"`` estimates each series' noise from its fourth differences (white noise
of std sigma gives fourth differences of std ``sqrt(70) sigma``; a smooth signal sampled densely
gives almost none) and then uses

* an interpolating quintic spline (``s = 0``) when the series is clean: its fourth differences are
  below ``1e-7`` of its spread, or they grow when every second sample is taken (a smooth signal's
  grow 16-fold, white noise's not at all): simulated or clean data, derivative errors of order ``h^5``;
* a cubic smoothing spline with ``s = n sigma^2`` (the residual sum a fit through the noise alone
  would leave: Reinsch's criterion) otherwise.

The derivative's own uncertainty (``dxdt_sigma``) is estimated by a parametric bootstrap: fresh
noise of the estimated size is added to the smoothed series and the derivative taken again the same
way; the spread of the difference is the error a smoothed derivative carries. It is correlated along
the trajectory, so a noise estimate from the derivative table alone (neighbouring samples) misses
most of it; :func:`kandisco.dynamics.discover_ode` hands it to the discovery as the target's sigma.
How far along the trajectory that error is correlated (``correlated_samples``, the integrated
autocorrelation time of the bootstrap's differences: 1 + 2 * the sum of the autocorrelations up to
the first that is not positive) goes with it: 700 samples whose errors move together over 10 are
about 70 independent ones, and the discovery's statistical tests must count them so.
Clean series get ``dxdt_sigma = 0`` and ``correlated_samples = 1``.

Estimates near a trajectory's ends are the least reliable; :func:`estimate_derivatives` reports how
many points to trim at each end (``trim``) rather than dropping them silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import KandiscoError

__all__ = ["DerivativeError", "DerivativeEstimate", "correlation_time", "estimate_derivative", "noise_level", "METHODS"]

METHODS = ("auto", "spline", "savitzky_golay", "finite_difference")
CLEAN = 1e-7  # noise below this fraction of a series' spread: interpolate, do not smooth
BOOTSTRAP_REPEATS = 2  # fresh-noise re-estimates behind dxdt_sigma
BOOTSTRAP_SEED = 12345


class DerivativeError(KandiscoError, ValueError):
    """A series the derivative cannot be estimated from (too short, unknown method)."""


@dataclass(frozen=True)
class DerivativeEstimate:
    """A series' derivative with the smoothed series, the noise estimate and the method's settings."""

    dxdt: np.ndarray
    smoothed: np.ndarray
    noise: float  # estimated noise std of the series
    method: str  # e.g. "spline(s=0, order=5)"
    dxdt_sigma: float = 0.0  # the derivative's estimated error std (parametric bootstrap; 0 for a clean series)
    correlated_samples: float = 1.0  # samples per independent derivative error (the bootstrap's autocorrelation time)


def noise_level(x: np.ndarray) -> float:
    """Noise std of an evenly sampled series from its fourth differences (robust: median absolute deviation)."""
    d4 = np.diff(np.asarray(x, dtype=float), n=4)
    if len(d4) == 0:
        return 0.0
    mad = float(np.median(np.abs(d4 - np.median(d4))))
    return 1.4826 * mad / np.sqrt(70.0)


def correlation_time(errors: np.ndarray) -> float:
    """Integrated autocorrelation time of a series, in samples: ``1 + 2 * sum(rho_k)`` over the lags
    before the first autocorrelation that is not positive (Geyer's initial positive sequence, the
    usual truncation), at most a tenth of the series. 1 for white noise, about the window for a
    moving average."""
    e = np.asarray(errors, dtype=float)
    e = e - e.mean()
    var = float(e @ e)
    if len(e) < 4 or var <= 0:
        return 1.0
    total = 0.0
    for lag in range(1, max(len(e) // 10, 1) + 1):
        rho = float(e[:-lag] @ e[lag:]) / var
        if rho <= 0:
            break
        total += rho
    return 1.0 + 2.0 * total


def estimate_derivative(x: np.ndarray, t: np.ndarray, method: str = "auto", **options: float) -> DerivativeEstimate:
    """d x / d t of one trajectory (``t`` strictly increasing) with the ``derivative`` package.

    ``method``: ``auto`` (see the module docstring), ``spline`` (``s``, ``order`` options),
    ``savitzky_golay`` (``left``, ``right`` in time units, ``order``), ``finite_difference`` (``k``).
    """
    import derivative

    x = np.asarray(x, dtype=float)
    t = np.asarray(t, dtype=float)
    if method not in METHODS:
        raise DerivativeError(f"unknown derivative method {method!r}; choose one of {', '.join(METHODS)}")
    if len(x) < 7:
        raise DerivativeError(f"a trajectory needs at least 7 samples for a derivative, got {len(x)}")
    sigma = noise_level(x)
    spread = float(np.ptp(x)) or 1.0
    if method == "auto":
        if sigma <= CLEAN * spread or noise_level(x[::2]) > 8 * sigma:
            method, options = "spline", {"s": 0.0, "order": 5}
        else:
            method, options = "spline", {"s": len(x) * sigma**2, "order": 3}
    if method == "spline":
        s, order = float(options.get("s", 0.0)), int(options.get("order", 3))
        diff = derivative.Spline(s=s, order=order)
        label = f"spline(s={s:.3g}, order={order})"
    elif method == "savitzky_golay":
        h = float(np.median(np.diff(t)))
        left, right = float(options.get("left", 5 * h)), float(options.get("right", 5 * h))
        order = int(options.get("order", 3))
        diff = derivative.SavitzkyGolay(left=left, right=right, order=order)
        label = f"savitzky_golay(left={left:.3g}, right={right:.3g}, order={order})"
    else:
        k = int(options.get("k", 1))
        diff = derivative.FiniteDifference(k=k)
        label = f"finite_difference(k={k})"
    dxdt = np.asarray(diff.d(x, t), dtype=float)
    smoothed = x
    if label.startswith("spline") and options.get("s"):
        # the package's Spline.x returns the data unsmoothed; the same spline (scipy's splrep, as the package fits) gives the values
        from scipy.interpolate import splev, splrep

        smoothed = np.asarray(splev(t, splrep(t, x, k=int(options.get("order", 3)), s=float(options["s"]))), dtype=float)
    dxdt_sigma = 0.0
    if label.startswith("spline") and options.get("s"):
        rng = np.random.default_rng(BOOTSTRAP_SEED)
        interior = slice(max(2, len(x) // 50), len(x) - max(2, len(x) // 50))
        spreads, times = [], []
        s_value, order = float(options.get("s", 0.0)), int(options.get("order", 3))
        base = np.asarray(derivative.Spline(s=s_value, order=order).d(smoothed, t), dtype=float)  # a fresh object: Spline caches its fit
        for _ in range(BOOTSTRAP_REPEATS):
            again = np.asarray(derivative.Spline(s=s_value, order=order).d(smoothed + rng.normal(0.0, sigma, len(x)), t), dtype=float)
            spreads.append(float(np.sqrt(np.mean((again - base)[interior] ** 2))))
            times.append(correlation_time((again - base)[interior]))
        dxdt_sigma = float(np.mean(spreads))
        correlated = float(np.mean(times))
    else:
        correlated = 1.0
    return DerivativeEstimate(dxdt=dxdt, smoothed=smoothed, noise=sigma, method=label, dxdt_sigma=dxdt_sigma,
                              correlated_samples=correlated)
