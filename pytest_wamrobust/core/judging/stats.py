"""Confidence intervals for success rates and the paired test for comparing two policies.

Pure Python + numpy (no scipy): the harness must install light. Episodes are Bernoulli
trials, so a success rate is only meaningful with its interval (50 trials at 80% is
+-11 pp); two policies run on the SAME cases are compared with the exact McNemar test,
which looks only at the cases where they disagree.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

#: Two-sided 95%: the interval the tables print.
DEFAULT_CONFIDENCE = 0.95


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def _check_counts(successes: int, n: int) -> None:
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")


def wilson_interval(successes: int, n: int,
                    confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval: well-behaved near 0% and 100%, unlike the normal one.

    With no trials nothing is known, so the interval is the whole [0, 1].
    """
    _check_counts(successes, n)
    if n == 0:
        return (0.0, 1.0)
    z = _z(confidence)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _log_binom_coeffs(n: int, k: int) -> np.ndarray:
    """log C(n, i) for i = 0..k."""
    return np.array([math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                     for i in range(k + 1)])


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space so large n stays exact."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    i = np.arange(k + 1)
    logs = _log_binom_coeffs(n, k) + i * math.log(p) + (n - i) * math.log1p(-p)
    top = logs.max()
    return float(min(1.0, math.exp(top) * np.exp(logs - top).sum()))


def _bisect(f, target: float, increasing: bool) -> float:
    """The p in [0, 1] where the monotone f(p) crosses `target` (to ~1e-12)."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if (f(mid) < target) == increasing:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def clopper_pearson_interval(successes: int, n: int,
                             confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """Exact (conservative) interval: covers the true rate at least `confidence` of the time."""
    _check_counts(successes, n)
    if n == 0:
        return (0.0, 1.0)
    alpha = 1.0 - confidence
    # lower: P(X >= k | p) = alpha/2; upper: P(X <= k | p) = alpha/2
    lower = 0.0 if successes == 0 else _bisect(
        lambda p: 1.0 - binom_cdf(successes - 1, n, p), alpha / 2, increasing=True)
    upper = 1.0 if successes == n else _bisect(
        lambda p: binom_cdf(successes, n, p), alpha / 2, increasing=False)
    return (lower, upper)


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs.

    `only_a` = cases policy A solved and B did not, `only_b` the reverse. Under the null
    (same success probability) each discordant case is a fair coin.
    """
    if only_a < 0 or only_b < 0:
        raise ValueError(f"discordant counts must be >= 0, got {only_a}, {only_b}")
    n = only_a + only_b
    if n == 0:
        return 1.0
    return min(1.0, 2.0 * binom_cdf(min(only_a, only_b), n, 0.5))
