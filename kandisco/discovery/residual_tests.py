"""Whether a formula's residuals look like noise: a law at the noise level leaves residuals that
neighbouring rows do not share; a wrong law within the noise floor leaves a smooth trend.

A loss against an estimated noise floor cannot always tell the two apart, since the estimate can be
high (a local polynomial's curvature error adds to it): the search's noise-floor stop asks this too.
The other way round, a fit whose residuals leave no trend at a loss well above rounding has seen
noise that the estimate could not tell from a law's curvature (:func:`shows_noise`).
"""

from __future__ import annotations

import math

import numpy as np

from .noise import VISIBLE, neighbour_mean, standardised

__all__ = ["leaves_trend", "near_unseen_noise", "residual_trend", "shows_noise"]

# a law at the noise level leaves residuals that its neighbours do not share (rank correlation of a row's
# residual with its neighbours' mean: |r| <= 0.05 for the true laws of ten Feynman tables at 1%, standard
# error 1/sqrt(n)); a wrong law within the estimated floor leaves a smooth trend (II.21.32 at 1%, where
# the estimate was twice the noise: 0.34 for a two-term sum). A trend is a correlation above this many
# standard errors and above TREND_CORRELATION
TREND_NEIGHBOURS = 5
TREND_STANDARD_ERRORS = 4.0
TREND_CORRELATION = 0.1
# where the noise estimate saw no noise (its kind "none": the local polynomial's curvature error is as
# large as 1% noise on some laws, docs/noise.md), a fit shows noise at its held-out loss when that loss is
# at least VISIBLE of the target's spread, at most this many times the estimate (curvature and noise
# together: the estimate is high rather than low), and its residuals leave no trend. A law that misses
# by more than about half the noise leaves one (its error is smooth, so neighbours share it)
SEEN_OVER_ESTIMATE = 2.0


def residual_trend(X: np.ndarray, residuals: np.ndarray, k: int = TREND_NEIGHBOURS) -> float:
    """The Spearman correlation of each row's residual with the mean residual of its ``k`` nearest
    neighbours (inputs standardised): about 0 for noise, positive where a law misses a smooth trend."""
    from scipy.stats import spearmanr

    X = np.asarray(X, dtype=np.float64)
    residuals = np.asarray(residuals, dtype=np.float64)
    if len(residuals) <= k + 1 or X.shape[1] == 0 or np.ptp(residuals) == 0:
        return 0.0
    value = spearmanr(residuals, neighbour_mean(standardised(X), residuals, k)).statistic
    return float(value) if math.isfinite(value) else 0.0


def leaves_trend(X: np.ndarray, residuals: np.ndarray) -> bool:
    """Whether ``residuals`` hold a trend that noise would not (see ``TREND_STANDARD_ERRORS``)."""
    threshold = max(TREND_CORRELATION, TREND_STANDARD_ERRORS / math.sqrt(max(len(residuals), 1)))
    return residual_trend(X, residuals) > threshold


def shows_noise(X: np.ndarray, residuals: np.ndarray, loss: float, estimate: float, spread: float) -> bool:
    """Whether a fit whose held-out loss is ``loss`` and whose residuals on the rows ``X`` are
    ``residuals`` has seen noise that an estimate of ``estimate`` (kind "none") did not call noise:
    the loss is visible against ``spread`` and near the estimate, and the residuals leave no trend."""
    if not near_unseen_noise(loss, estimate, spread):
        return False
    return bool(np.all(np.isfinite(residuals))) and not leaves_trend(X, residuals)


def near_unseen_noise(loss: float, estimate: float, spread: float) -> bool:
    """Whether a held-out ``loss`` could be noise that an estimate of ``estimate`` did not see:
    visible against ``spread`` and within ``SEEN_OVER_ESTIMATE`` of the estimate (the cheap part of :func:`shows_noise`)."""
    return VISIBLE * spread <= loss <= SEEN_OVER_ESTIMATE * estimate
