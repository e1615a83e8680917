"""Confidence intervals and McNemar against published values and their invariants."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_wamrobust.core.judging.stats import (
    binom_cdf,
    clopper_pearson_interval,
    mcnemar_exact,
    wilson_interval,
)


def test_wilson_50_trials_at_80_percent_is_about_plus_minus_11_points():
    low, high = wilson_interval(40, 50)
    assert (low, high) == pytest.approx((0.6696, 0.8876), abs=1e-4)
    assert (high - low) / 2 == pytest.approx(0.11, abs=0.005)


def test_clopper_pearson_matches_the_exact_beta_quantiles():
    # R: binom.test(40, 50)$conf.int -> 0.6628169 0.8996978
    assert clopper_pearson_interval(40, 50) == pytest.approx((0.6628169, 0.8996978), abs=1e-6)
    # zero successes: upper bound is 1 - (alpha/2)^(1/n) (the "rule of three" region)
    assert clopper_pearson_interval(0, 20) == pytest.approx((0.0, 1 - 0.025 ** (1 / 20)), abs=1e-9)


def test_mcnemar_exact_p_values():
    # 2 vs 10 discordant pairs: 2 * P(X <= 2 | Bin(12, 0.5)) = 2 * 79 / 4096
    assert mcnemar_exact(2, 10) == pytest.approx(2 * 79 / 4096)
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)


def test_no_trials_means_nothing_is_known():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert clopper_pearson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize("successes, n", [(-1, 5), (6, 5), (0, -1)])
def test_impossible_counts_are_rejected(successes, n):
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(successes, n)


counts = st.integers(0, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@settings(deadline=None)  # exact intervals at n ~ 1600 are slow on a loaded machine
@given(counts)
def test_intervals_contain_the_point_estimate_and_stay_in_unit_range(sn):
    successes, n = sn
    for low, high in (wilson_interval(successes, n), clopper_pearson_interval(successes, n)):
        assert 0.0 <= low <= high <= 1.0
        if n:
            assert low - 1e-9 <= successes / n <= high + 1e-9


@settings(deadline=None)  # exact intervals at n ~ 1600 are slow on a loaded machine
@given(counts)
def test_more_trials_at_the_same_rate_narrow_the_interval(sn):
    successes, n = sn
    if n:
        for interval in (wilson_interval, clopper_pearson_interval):
            low, high = interval(successes, n)
            low4, high4 = interval(4 * successes, 4 * n)
            assert high4 - low4 < high - low


@settings(deadline=None)  # exact intervals at n ~ 1600 are slow on a loaded machine
@given(counts)
def test_intervals_are_symmetric_under_swapping_success_and_failure(sn):
    successes, n = sn
    low, high = wilson_interval(successes, n)
    flow, fhigh = wilson_interval(n - successes, n)
    assert (low, high) == pytest.approx((1 - fhigh, 1 - flow), abs=1e-9)


@given(st.integers(0, 60), st.integers(0, 60))
def test_mcnemar_is_symmetric_and_a_probability(a, b):
    p = mcnemar_exact(a, b)
    assert 0.0 < p <= 1.0
    assert p == mcnemar_exact(b, a)


@given(st.integers(1, 200), st.floats(0.01, 0.99))
def test_binomial_cdf_sums_to_one(n, p):
    assert binom_cdf(n - 1, n, p) + p ** n == pytest.approx(1.0, abs=1e-9)
    assert not math.isnan(binom_cdf(n // 2, n, p))
