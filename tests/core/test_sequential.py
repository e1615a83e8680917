"""Early verdicts: the confidence sequence covers N1 at every look, and gates decide right."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_wamrobust.core.judging.gates import JUDGES, Row, Thresholds, evaluate
from pytest_wamrobust.core.judging.sequential import (
    FAIL,
    PASS,
    EarlyVerdicts,
    SequentialGate,
    beta_binomial_prior,
    centred_prior,
    confidence_set,
    cutoff,
    log_likelihood,
)
from pytest_wamrobust.core.judging.stats import wilson_interval


def cs_table(n: int, alpha: float, prior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """lo[t, k] and hi[t, k] of the confidence set for every reachable (t, k)."""
    lo = np.zeros((n + 1, n + 1), int)
    hi = np.zeros((n + 1, n + 1), int)
    for t in range(n + 1):
        for k in range(t + 1):
            lo[t, k], hi[t, k] = confidence_set(n, t, k, alpha, prior)
    return lo, hi


def paths(n: int, n1: int, runs: int, seed: int) -> np.ndarray:
    """k after each of t = 0..n draws, for `runs` uniformly random orders of the cases."""
    population = np.zeros((runs, n), np.int64)
    population[:, :n1] = 1
    orders = np.random.default_rng(seed).permuted(population, axis=1)
    return np.concatenate([np.zeros((runs, 1), np.int64), orders.cumsum(axis=1)], axis=1)


N = 200


@pytest.fixture(scope="module")
def tables() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {"uniform": cs_table(N, 0.05, beta_binomial_prior(N)),
            "centred": cs_table(N, 0.05, centred_prior(N, cutoff("point", 0.5, N)))}


@pytest.mark.parametrize("prior", ["uniform", "centred"])
@pytest.mark.parametrize("n1", [0, 20, 100, 117, 170, 200])
def test_the_whole_sequence_covers_the_true_count_in_all_but_alpha_of_orders(tables, prior, n1):
    lo, hi = tables[prior]
    k = paths(N, n1, 2000, seed=n1)
    t = np.arange(N + 1)
    missed = ((lo[t, k] > n1) | (hi[t, k] < n1)).any(axis=1)
    assert missed.mean() <= 0.05
    # and the sets do shrink: the last looks pin N1 down
    assert (hi[t, k] - lo[t, k])[:, N - 1].max() <= 1


@pytest.mark.parametrize("prior", ["uniform", "centred"])
def test_bounds_grow_with_the_successes_seen(tables, prior):
    """What lets the benchmark judge a run by two boundaries per t (and the gates stick)."""
    lo, hi = tables[prior]
    for t in range(N + 1):
        assert (np.diff(lo[t, :t + 1]) >= 0).all() and (np.diff(hi[t, :t + 1]) >= 0).all()


@pytest.mark.parametrize("n", [1, 2, 7, 50, 1400])
def test_the_set_collapses_to_the_count_when_every_case_ran(n):
    priors = [beta_binomial_prior(n), centred_prior(n, n // 2), centred_prior(n, n + 1)]
    for k in sorted({0, 1, n // 3, n - 1, n} & set(range(n + 1))):
        for prior in priors:
            assert confidence_set(n, n, k, 0.05, prior) == (k, k)


def test_the_set_never_leaves_what_the_draws_already_prove():
    # 30 successes and 10 failures seen out of 100: 30 <= N1 <= 90 whatever the order
    lo, hi = confidence_set(100, 40, 30, alpha=0.999)
    assert 30 <= lo <= hi <= 90
    assert confidence_set(100, 0, 0) == (0, 100)


def test_the_likelihood_is_the_hypergeometric_of_one_ordered_draw():
    n, t = 12, 5
    for k in range(t + 1):
        logl = log_likelihood(n, t, k)
        for j in range(n + 1):
            exact = math.comb(j, k) * math.comb(n - j, t - k) / math.comb(n, t) / math.comb(t, k)
            assert math.exp(logl[j]) == pytest.approx(exact, rel=1e-9, abs=0.0)


def test_priors_are_distributions_with_the_mean_they_promise():
    assert np.exp(beta_binomial_prior(40)) == pytest.approx(np.full(41, 1 / 41))
    prior = np.exp(centred_prior(1400, 840))
    assert prior.sum() == pytest.approx(1.0)
    assert (np.arange(1401) * prior).sum() / 1400 == pytest.approx(0.6, abs=1e-3)


def brute_cutoff(judge: str, threshold: float, n: int) -> int:
    """The least count the full run passes with, by gates.evaluate, n + 1 if none."""
    for c in range(n + 1):
        verdict = evaluate(Thresholds(rates={"clean": threshold}, judge=judge),
                           [Row("clean", n, c, 0)], float("nan"))[0]
        if verdict.passed:
            return c
    return n + 1


@pytest.mark.parametrize("judge", JUDGES)
@pytest.mark.parametrize("n", [1, 2, 3, 10, 37, 100, 1400])
def test_cutoffs_match_evaluating_every_count(judge, n):
    grid = [*np.linspace(0.0, 1.0, 21), 0.07, 0.1, 0.3, 0.6, 0.7, 0.9, 1 / 3, 0.999]
    for threshold in grid:
        assert cutoff(judge, float(threshold), n) == brute_cutoff(judge, float(threshold), n)


def test_cutoffs_at_the_ends_and_against_the_formulas():
    assert cutoff("point", 0.0, 50) == 0 and cutoff("wilson_lower", 0.0, 50) == 0
    assert cutoff("point", 1.0, 50) == 50
    assert cutoff("wilson_lower", 1.0, 50) == 51  # the lower bound never reaches 1
    assert cutoff("point", 0.7, 10) == 7  # 7/10 >= 0.7, though 0.7 * 10 is 7.000000000000001
    c = cutoff("wilson_lower", 0.6, 1400)
    assert wilson_interval(c, 1400)[0] >= 0.6 > wilson_interval(c - 1, 1400)[0]


def test_a_gate_is_undecided_early_and_right_when_it_decides():
    n = 1400
    c = cutoff("point", 0.5, n)
    for n1, truth in ((840, PASS), (560, FAIL)):
        outcomes = np.random.default_rng(n1).permutation(np.arange(n) < n1)
        gate = SequentialGate(n, c)
        for success in outcomes[:10]:
            assert gate.update(bool(success)) is None
        lo, hi = gate.interval
        assert lo <= 0.5 <= hi
        while gate.decision is None:
            gate.update(bool(outcomes[gate.t]))
        assert gate.decision == truth
        assert gate.t < n / 2  # a 10-point margin over 1,400 cases needs far fewer
        decided_at = gate.interval
        for success in outcomes[gate.t:]:
            gate.update(bool(success))
        assert gate.decision == truth and gate.interval == decided_at
        assert gate.k == n1


def test_a_single_case_decides_on_its_outcome():
    assert cutoff("point", 0.5, 1) == 1
    for success, truth in ((True, PASS), (False, FAIL)):
        gate = SequentialGate(1, 1)
        assert gate.decision is None
        assert gate.update(success) == truth


def test_gates_whose_verdict_needs_no_episode_decide_at_once():
    assert SequentialGate(30, cutoff("point", 0.0, 30)).decision == PASS
    assert SequentialGate(30, cutoff("wilson_lower", 1.0, 30)).decision == FAIL


def test_all_successes_pass_a_threshold_of_one_once_a_hidden_failure_is_unlikely():
    """With N1 = n - 1 the first t draws are all successes with chance (n - t) / n: the
    gate may pass (wrongly then) only when that is below alpha, and must by t = n."""
    n, alpha = 40, 0.05
    gate = SequentialGate(n, cutoff("point", 1.0, n), alpha)
    while gate.update(True) is None:
        pass
    assert gate.decision == PASS
    assert n * (1 - alpha) <= gate.t <= n


def test_counts_only_go_forward_and_stay_possible():
    gate = SequentialGate(10, 5)
    gate.observe(4, 2)
    for t, k in ((3, 2), (5, 1), (4, 5), (11, 3)):
        with pytest.raises(ValueError):
            gate.observe(t, k)
    with pytest.raises(ValueError, match="alpha"):
        SequentialGate(10, 5, alpha=0.0)
    with pytest.raises(ValueError, match="cutoff"):
        SequentialGate(10, 12)
    with pytest.raises(ValueError, match="judge"):
        cutoff("mean", 0.5, 10)
    with pytest.raises(ValueError, match="prior"):
        confidence_set(10, 1, 1, 0.05, beta_binomial_prior(11))


def test_several_gates_share_alpha_and_each_episode_reaches_its_gates():
    thresholds = Thresholds(rates={"clean": 0.9, "camera": 0.5, "overall": 0.6, "noise": 0.5})
    verdicts = EarlyVerdicts.for_thresholds(thresholds, {"clean": 200, "camera": 200,
                                                         "light": 300})
    assert set(verdicts.gates) == {"clean", "camera", "overall"}  # no noise case: not run
    assert [g.alpha for g in verdicts.gates.values()] == [pytest.approx(0.05 / 3)] * 3
    assert verdicts.gates["overall"].n == 500
    assert verdicts.gates["overall"].cutoff == 300
    verdicts.record("light", True)
    verdicts.record("clean", False)
    assert [(g.t, g.k) for g in verdicts.gates.values()] == [(1, 0), (0, 0), (1, 1)]

    rng = np.random.default_rng(0)
    cases = [(s, bool(rng.random() < p)) for s, n, p in
             (("clean", 200, 0.99), ("camera", 200, 0.8), ("light", 300, 0.85)) for _ in range(n)]
    verdicts = EarlyVerdicts.for_thresholds(thresholds, {"clean": 200, "camera": 200,
                                                         "light": 300})
    played = 0
    for index in rng.permutation(len(cases)):
        verdicts.record(*cases[index])
        played += 1
        if verdicts.decided:
            break
    assert verdicts.decisions == {"clean": PASS, "camera": PASS, "overall": PASS}
    assert played < len(cases)
