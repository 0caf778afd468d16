"""The data's noise level: given by the user or estimated, and the loss it lets a law have.

Estimated without a model of the law: each row's target is predicted from its nearest neighbours
by a local polynomial (cubic where the neighbourhood affords one, else quadratic; inputs
standardised, positive inputs spanning more than a decade in log scale, where laws are smoother),
the row itself left out. For a smooth law the out-of-sample error is the noise plus a curvature
term that shrinks as the fourth power of the neighbours' distance, and the prediction's own
variance is divided out (its leverage). The noise is the median-based spread of these errors,
which a few wild rows do not move (they are reported as possible outliers instead). On the
Feynman equations at 600 rows this gives 1.10x the true noise at 1% (median; quartiles 1.02-1.25),
0.99x at 10%, and a median 3e-4 of the target's spread at noise 0.

The same errors say what *kind* of noise it is: errors that grow with ``|y|`` are relative
(multiplicative: a measurement good to 1%), errors of one size everywhere are additive. Targets
spanning decades are judged by relative error only when the noise is relative too: with additive
noise the smallest values carry the largest relative errors, and a relative fit chases them.

Given instead: ``sigma`` per row (one-sigma uncertainties of the target: a weighted fit, and the
noise in the loss's units is their root mean square) or ``fraction`` (a relative uncertainty of
every value: ``sigma_i = fraction * |y_i|``).

:meth:`NoiseEstimate.floor` is the held-out loss that a law at the noise level reaches, plus the
statistical margin for ``n`` held-out rows: losses at or below it cannot be told apart from the
noise, so the selection treats them as equally accurate and the search may stop there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations_with_replacement

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["NoiseEstimate", "estimate_noise", "given_noise", "local_residuals", "neighbour_mean", "standardised"]

# the loss of a law at the noise level, on n held-out rows, is sigma * (1 +- 1/sqrt(2n)) (chi
# distribution): MARGIN standard errors of it still count as "at the noise floor"
MARGIN = 2.0
# fewer rows than this: no estimate (the neighbours are too far apart to say anything)
MIN_ROWS = 20
# a local polynomial has at most this many coefficients (cubic up to 4 inputs, quadratic up to 7)
MAX_COEFFICIENTS = 40
# neighbours beyond the coefficient count: few, so that the neighbourhood stays small
EXTRA_NEIGHBOURS = 3
# rows used for the estimate at most (a seeded subsample of larger tables)
MAX_ROWS = 2000
# the median of a chi-square with one degree of freedom: median(e^2) / this is the variance
CHI2_1_MEDIAN = 0.454936
# below this fraction of the target's spread, no noise is seen (the law's curvature alone)
VISIBLE = 1e-3
# a row whose local error is this many noise sigmas is a possible outlier
OUTLIER_SIGMAS = 5.0
# rounds of judging rows with the suspects out of the neighbourhoods; more suspects than this fraction
# of the rows are no outliers but the law's own shape (or a table too small for local fits)
OUTLIER_ROUNDS = 3
MAX_SUSPECTS = 0.3
# noise makes a row's left-out error anti-correlated with its neighbours' (each noisy row pulls its
# neighbours' fits the other way: rank correlation -0.25 median at 1% noise on the Feynman set), a
# smooth law's curvature makes them alike (+0.02 median at noise 0): errors this anti-correlated are noise
NOISE_CORRELATION = -0.1
# ... pooled, or in the median of the thirds of the rows by |y| (each at least this many rows): where
# a law is steep (1/c**2 near c = 1) the local fit's curvature error outgrows the noise and its rows'
# errors are alike, which pooled with the rest hides the noise that the other two thirds show
# (II.13.17 at 1%: -0.28, -0.20, +0.01 by third, -0.09 pooled); a third has a third of the rows, so
# its correlation scatters more, and the pooled one still counts where it is the lower
MAGNITUDE_STRATA = 3
MIN_STRATUM_ROWS = 30


@dataclass(frozen=True)
class NoiseEstimate:
    """Noise of the target in the units of the pipeline's loss (absolute, or relative to ``|y|``)."""

    sigma: float  # one-sigma noise (0 when none can be seen)
    source: str  # "estimated (local polynomial)", "given per-row sigma", "given fraction ...", "unknown"
    relative: bool
    fraction_of_spread: float  # sigma / std(y) (sigma itself for relative losses): how noisy, unit-free
    kind: str = "unknown"  # "additive", "relative", "none" (not visible) or "unknown"
    neighbour_correlation: float = 0.0  # rank correlation of left-out errors with their neighbours'
    outliers: tuple[int, ...] = field(default=())  # rows (indices into the rows estimated on) far off their neighbours
    correlated_rows: float = 1.0  # rows per independent error (given: a smoothed derivative's errors run along its trajectory)

    @property
    def visible(self) -> bool:
        """Whether there is noise to speak of: given, or seen above what a smooth law's curvature
        leaves (large enough, and errors anti-correlated between neighbours as noise makes them)."""
        return self.kind in ("additive", "relative")

    def floor(self, n_rows: int) -> float:
        """The highest held-out loss still statistically at the noise level on ``n_rows`` rows
        (``n_rows / correlated_rows`` of them independent)."""
        if not (self.sigma > 0 and n_rows > 0):
            return 0.0
        return self.sigma * (1.0 + MARGIN / math.sqrt(2.0 * max(n_rows / self.correlated_rows, 1.0)))

    def to_dict(self) -> dict[str, object]:
        return {"sigma": self.sigma, "source": self.source, "relative": self.relative, "kind": self.kind,
                "fraction_of_spread": self.fraction_of_spread, "neighbour_correlation": self.neighbour_correlation,
                "correlated_rows": self.correlated_rows}


def local_residuals(X: np.ndarray, t: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
    """Each row's leave-one-out error against a local polynomial of its nearest neighbours, divided
    by sqrt(1 + leverage), so that for pure noise its spread is the noise's (see the module).
    ``exclude`` (bool per row): rows never used as anyone's neighbour (suspected outliers)."""
    Z = standardised(np.asarray(X, dtype=np.float64))
    n, d = Z.shape
    pool = np.arange(n) if exclude is None else np.flatnonzero(~exclude)
    degree = 3
    while degree > 1 and (math.comb(d + degree, degree) > MAX_COEFFICIENTS or math.comb(d + degree, degree) + EXTRA_NEIGHBOURS >= len(pool)):
        degree -= 1
    n_coef = math.comb(d + degree, degree)
    k = min(len(pool) - 1, n_coef + EXTRA_NEIGHBOURS)
    _, idx = cKDTree(Z[pool]).query(Z, k=k + 1)
    found = pool[idx]  # (n, k + 1) rows of the pool, nearest first
    is_self = found == np.arange(n)[:, None]
    keep = np.argsort(is_self, axis=1, kind="stable")[:, :k]  # the row itself left out, order kept
    neighbours = np.take_along_axis(found, keep, axis=1)
    offsets = Z[neighbours] - Z[:, None, :]
    offsets /= np.sqrt(np.mean(offsets**2, axis=(1, 2), keepdims=True)) + 1e-300
    design = _monomials(offsets, degree)  # (n, k, P)
    gram = np.einsum("nkp,nkq->npq", design, design) + 1e-10 * np.eye(n_coef)
    inverse = np.linalg.inv(gram)
    coef = np.einsum("npq,nq->np", inverse, np.einsum("nkp,nk->np", design, t[neighbours]))
    return (t - coef[:, 0]) / np.sqrt(1.0 + inverse[:, 0, 0])


def estimate_noise(X: np.ndarray, y: np.ndarray, relative: bool = False, seed: int = 0) -> NoiseEstimate:
    """The noise in ``y`` and its kind, estimated from the data alone (see the module).

    ``relative``: the loss is relative to ``|y|`` (a positive target spanning decades); the estimate
    then says, by its ``kind``, whether relative noise is what the data show. 0 for tiny tables.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    spread = float(np.std(y))
    if n < MIN_ROWS or spread == 0 or X.shape[1] == 0:
        return NoiseEstimate(0.0, "unknown", relative, 0.0)
    rows = np.arange(n)
    if n > MAX_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=MAX_ROWS, replace=False))
    X, y = X[rows], y[rows]
    Z = standardised(X)
    errors = local_residuals(X, y)
    sigma_abs = _robust_sigma(errors)
    correlation = _stratified_correlation(Z, errors, y)
    kind = _kind(errors, y) if sigma_abs >= VISIBLE * spread and correlation <= NOISE_CORRELATION else "none"
    if relative:
        scaled = local_residuals(X, np.log(np.abs(y)))
        scale = 1.0
    else:
        scaled, scale = errors, spread
    sigma = _robust_sigma(scaled)
    outliers: tuple[int, ...] = ()
    if sigma > 0:
        # an outlier spoils its neighbours' fits too: judge every row again with the suspects kept out of
        # the neighbourhoods, so that only rows that are themselves off are named
        # (repeated: with the worst rows out, the noise is smaller and more rows stand out)
        target = np.log(np.abs(y)) if relative else y
        suspect = np.abs(scaled) > OUTLIER_SIGMAS * sigma
        for _ in range(OUTLIER_ROUNDS):
            if not suspect.any() or suspect.sum() > MAX_SUSPECTS * len(y):
                break
            again = local_residuals(X, target, exclude=suspect)
            sigma = _robust_sigma(again[~suspect])
            now = np.abs(again) > OUTLIER_SIGMAS * sigma
            if np.array_equal(now, suspect):
                break
            suspect = now
        if suspect.sum() <= MAX_SUSPECTS * len(y):
            outliers = tuple(int(rows[i]) for i in np.flatnonzero(suspect))
    return NoiseEstimate(sigma, "estimated (local polynomial)", relative, sigma / scale, kind, correlation, outliers)


def given_noise(y: np.ndarray, relative: bool, sigma: np.ndarray | None = None, fraction: float | None = None) -> NoiseEstimate:
    """The noise the user stated: per-row one-sigma ``sigma``, or a relative ``fraction`` of each value."""
    y = np.asarray(y, dtype=np.float64)
    spread = 1.0 if relative else (float(np.std(y)) or 1.0)
    if sigma is not None:
        per_row = np.asarray(sigma, dtype=np.float64)
        source = "given per-row sigma"
    elif fraction is not None:
        per_row = float(fraction) * np.abs(y)
        source = f"given fraction {fraction:g}"
    else:
        raise ValueError("given_noise needs sigma or fraction")
    if relative:
        per_row = per_row / np.abs(y)
    value = float(np.sqrt(np.mean(per_row**2)))
    kind = "relative" if fraction is not None else "additive"
    return NoiseEstimate(value, source, relative, value / spread, kind)


def neighbour_mean(Z: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """Each row's mean of ``values`` over its ``k`` nearest neighbours in ``Z`` (itself left out)."""
    _, idx = cKDTree(Z).query(Z, k=k + 1)
    return values[idx[:, 1:]].mean(axis=1)


def _stratified_correlation(Z: np.ndarray, errors: np.ndarray, y: np.ndarray, k: int = 3) -> float:
    """The Spearman correlation of each row's error with the mean error of its ``k`` nearest
    neighbours: over all rows, or the median of its values in the thirds of the rows by ``|y|``
    where that is lower (tables with enough rows; see ``MAGNITUDE_STRATA``)."""
    from scipy.stats import spearmanr

    if np.ptp(errors) == 0:
        return 0.0
    around = neighbour_mean(Z, errors, k)

    def correlation(rows: np.ndarray) -> float:
        value = spearmanr(errors[rows], around[rows]).statistic
        return float(value) if math.isfinite(value) else 0.0

    pooled = correlation(np.arange(len(y)))
    if len(y) < MAGNITUDE_STRATA * MIN_STRATUM_ROWS:
        return pooled
    thirds = np.array_split(np.argsort(np.abs(y), kind="stable"), MAGNITUDE_STRATA)
    return min(pooled, float(np.median([correlation(rows) for rows in thirds])))


def _robust_sigma(errors: np.ndarray) -> float:
    return float(math.sqrt(np.median(errors**2) / CHI2_1_MEDIAN))


def _kind(errors: np.ndarray, y: np.ndarray) -> str:
    """"relative" when the errors grow with ``|y|`` (the top third's spread over the bottom third's
    is nearer their typical ``|y|`` ratio than 1, on a log scale), else "additive"."""
    size = np.abs(y)
    order = np.argsort(size)
    third = max(len(y) // 3, 1)
    low, high = order[:third], order[-third:]
    size_ratio = float(np.median(size[high]) / max(np.median(size[low]), 1e-300))
    if size_ratio < 2.0:
        return "additive"  # one magnitude throughout: the two kinds look the same
    spread_ratio = _robust_sigma(errors[high]) / max(_robust_sigma(errors[low]), 1e-300)
    return "relative" if spread_ratio > math.sqrt(size_ratio) else "additive"


def _monomials(offsets: np.ndarray, degree: int) -> np.ndarray:
    """Every monomial of the offsets up to ``degree``, the constant first: (n, k, P)."""
    n, k, d = offsets.shape
    columns = [np.ones((n, k))]
    for order in range(1, degree + 1):
        for combo in combinations_with_replacement(range(d), order):
            term = np.ones((n, k))
            for axis in combo:
                term = term * offsets[:, :, axis]
            columns.append(term)
    return np.stack(columns, axis=2)


def standardised(X: np.ndarray) -> np.ndarray:
    """Columns with zero mean and unit spread; positive columns spanning more than a decade in log."""
    Z = X.copy()
    for j in range(Z.shape[1]):
        col = Z[:, j]
        if np.all(col > 0) and col.max() > 10 * col.min():
            col = np.log(col)
        std = float(np.std(col))
        Z[:, j] = (col - col.mean()) / std if std > 0 else 0.0
    return Z
