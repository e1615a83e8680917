"""Early verdicts: stop a run as soon as every rate gate's full-run verdict is known.

A gate judges a FINITE population: the N cases collected for its setting. Its verdict
over all N is a fixed monotone function of N1, the number of them the policy solves
(`point` passes iff N1/N >= threshold, `wilson_lower` iff the Wilson lower bound of
N1/N does), so it passes iff N1 >= a cutoff c. Playing the cases in a seeded, uniformly
random order makes the first t outcomes a draw WITHOUT replacement, and a confidence
sequence for N1 - a confidence set valid at every t at once, so it may be looked at after
every episode - decides the gate once the whole set lies on one side of c.

The sequence is Waudby-Smith & Ramdas' prior-posterior ratio ("Confidence sequences for
sampling without replacement", NeurIPS 2020): for any prior pi on N1 fixed before the
data, pi(j) / posterior_t(j) is a nonnegative martingale with mean 1 when N1 = j, so by
Ville's inequality {j : pi(j) / posterior_t(j) < 1/alpha} misses the true N1 at SOME t
with probability <= alpha. The likelihood is hypergeometric (exact for a finite
population, no normal approximation), and at t = N the set is {N1}: a run that never
stops early still ends in the full run's verdict.

The guarantee holds only if the outcomes are fed in the seeded order (a prefix of the
permutation), not in the order episodes finish: under xdist a failing episode that runs
to its time limit finishes last, and completion order would bias the prefix.

Pure numpy + math, like stats.py: scipy is not a dependency.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from pytest_wamrobust.core.judging.gates import JUDGES, OVERALL, Row, Thresholds, evaluate
from pytest_wamrobust.core.model.types import CLEAN, CaseKey

#: Chance that an early verdict differs from the full run's (all gates together).
DEFAULT_ALPHA = 0.05
PASS = "pass"
FAIL = "fail"

#: A prior over N1 in {0..N}, as log-probabilities (length N + 1), fixed before any data.
LogPrior = np.ndarray


def _check(n: int, t: int, k: int) -> None:
    if n < 1 or not 0 <= t <= n or not 0 <= k <= t:
        raise ValueError(f"need n >= 1 and 0 <= successes <= draws <= n, "
                         f"got n={n}, draws={t}, successes={k}")


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


@functools.lru_cache(maxsize=16)
def _log_factorials(n: int) -> np.ndarray:
    """log i! for i = 0..n, once per population size (read-only: it is shared)."""
    table = np.array([math.lgamma(i + 1) for i in range(n + 1)])
    table.setflags(write=False)
    return table


def _logsumexp(values: np.ndarray) -> float:
    top = float(values.max())
    if top == -math.inf:
        return -math.inf
    return top + math.log(float(np.exp(values - top).sum()))


def beta_binomial_prior(n: int, a: float = 1.0, b: float = 1.0) -> LogPrior:
    """log P(N1 = j), j = 0..n, for N1 ~ BetaBinomial(n, a, b); a = b = 1 is uniform.

    The conjugate prior of the hypergeometric: what Waudby-Smith & Ramdas use."""
    if n < 1 or a <= 0 or b <= 0:
        raise ValueError(f"need n >= 1, a > 0, b > 0, got n={n}, a={a}, b={b}")
    lf = _log_factorials(n)
    j = np.arange(n + 1)
    log_choose = lf[n] - lf[j] - lf[n - j]
    log_beta = np.array([math.lgamma(x + a) + math.lgamma(n - x + b) for x in range(n + 1)])
    out = log_choose + log_beta - math.lgamma(n + a + b) - (
        math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    return out - _logsumexp(out)  # exact up to rounding; normalise the rounding away


#: a + b of the centred prior: its sd at a 50% cutoff is 0.15, so the margins that cost
#: episodes (a few points to 0.2) keep most of its mass.
CENTRED_CONCENTRATION = 10.0


def centred_prior(n: int, cutoff: int,
                  concentration: float = CENTRED_CONCENTRATION) -> LogPrior:
    """A beta-binomial prior with its mean at the cutoff rate: the default of a gate.

    Any prior fixed before the data keeps the guarantee; it only decides how fast the
    set shrinks where the prior is thin. A gate's verdict is hard only when N1 is near
    its cutoff, so that is where the mass goes; far from it the verdict comes fast
    anyway (benchmarks/bench_early_verdicts.py measures both against the uniform)."""
    mean = (min(max(cutoff, 0), n) + 0.5) / (n + 1)  # in (0, 1) for any cutoff
    return beta_binomial_prior(n, concentration * mean, concentration * (1.0 - mean))


def log_likelihood(n: int, t: int, k: int) -> np.ndarray:
    """log P(this ordered draw | N1 = j) for j = 0..n: k successes in the first t of a
    uniformly random order of n cases, j of them successes (-inf where impossible).

    (j)_k (n - j)_(t-k) / (n)_t with (x)_m the falling factorial: the hypergeometric
    without its binomial coefficient, which does not depend on j."""
    _check(n, t, k)
    lf = _log_factorials(n)
    failures = t - k
    out = np.full(n + 1, -math.inf)
    j = np.arange(k, n - failures + 1)  # N1 >= k successes seen, N - N1 >= failures seen
    out[j] = (lf[j] - lf[j - k] + lf[n - j] - lf[n - j - failures]
              - (lf[n] - lf[n - t]))
    return out


def confidence_set(n: int, t: int, k: int, alpha: float = DEFAULT_ALPHA,
                   log_prior: LogPrior | None = None) -> tuple[int, int]:
    """(lo, hi): the N1 in the level-`alpha` confidence sequence after k successes in t
    draws, i.e. {j : prior(j) / posterior_t(j) < 1/alpha}; the prior is uniform unless
    one is given.

    prior/posterior = sum_i prior(i) L(i) / L(j), so j is in iff L(j) > alpha * m with m
    the prior-mixed likelihood. L is log-concave in j, so the set is the interval
    [lo, hi]; it is never empty (the likelihood's maximiser has L >= m)."""
    _check_alpha(alpha)
    logl = log_likelihood(n, t, k)
    prior = np.full(n + 1, -math.log(n + 1)) if log_prior is None else log_prior
    if prior.shape != (n + 1,):
        raise ValueError(f"the prior must give N1 = 0..{n} a log-probability each, "
                         f"got shape {prior.shape}")
    inside = np.flatnonzero(logl > _logsumexp(prior + logl) + math.log(alpha))
    return int(inside[0]), int(inside[-1])


def _full_run_passes(judge: str, threshold: float, successes: int, n: int) -> bool:
    """The full run's verdict on one gate, by gates.evaluate itself (one source of truth)."""
    verdict = evaluate(Thresholds(rates={CLEAN: threshold}, judge=judge),
                       [Row(CLEAN, n, successes, 0)], float("nan"))[0]
    return bool(verdict.passed)


def cutoff(judge: str, threshold: float, n: int) -> int:
    """The smallest N1 for which the full run over n cases passes the gate; n + 1 when
    none does (wilson_lower at threshold 1: the bound never reaches 1).

    Both judges are monotone in N1, so a bisection over gates.evaluate finds it."""
    if judge not in JUDGES:
        raise ValueError(f"judge must be one of {', '.join(JUDGES)}, got {judge!r}")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a rate in [0, 1], got {threshold}")
    if n < 1:
        raise ValueError(f"a gate needs n >= 1 cases, got {n}")
    lo, hi = 0, n + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if _full_run_passes(judge, threshold, mid, n):
            hi = mid
        else:
            lo = mid + 1
    return lo


class SequentialGate:
    """One gate (`N1 >= cutoff` over n cases) judged after every episode.

    `decision` is None until the confidence sequence lies on one side of the cutoff,
    then "pass" or "fail" for good: the run may stop for this gate, and the chance that
    this differs from the full run's verdict is <= alpha. The prior defaults to
    `centred_prior` on the cutoff."""

    def __init__(self, n: int, cutoff: int, alpha: float = DEFAULT_ALPHA,
                 log_prior: LogPrior | None = None) -> None:
        _check(n, 0, 0)
        _check_alpha(alpha)
        if not 0 <= cutoff <= n + 1:
            raise ValueError(f"cutoff must be in 0..{n + 1}, got {cutoff}")
        self.n, self.cutoff, self.alpha = n, cutoff, alpha
        self.log_prior = centred_prior(n, cutoff) if log_prior is None else log_prior
        self.t = self.k = 0
        self.lo, self.hi = 0, n
        self.decision: str | None = None
        self._decide()

    def update(self, success: bool) -> str | None:
        """One more episode, in the seeded order; the decision after it."""
        return self.observe(self.t + 1, self.k + bool(success))

    def observe(self, t: int, k: int) -> str | None:
        """k successes in the first t episodes of the seeded order; the decision."""
        _check(self.n, t, k)
        if t < self.t or k < self.k or t - k < self.t - self.k:
            raise ValueError(f"counts go forward only: had {self.k}/{self.t}, got {k}/{t}")
        self.t, self.k = t, k
        if self.decision is None:
            self.lo, self.hi = confidence_set(self.n, t, k, self.alpha, self.log_prior)
            self._decide()
        return self.decision

    def _decide(self) -> None:
        if self.lo >= self.cutoff:
            self.decision = PASS
        elif self.hi < self.cutoff:
            self.decision = FAIL

    @property
    def interval(self) -> tuple[float, float]:
        """The confidence set as rates (lo/n, hi/n), as of the decision once decided."""
        return (self.lo / self.n, self.hi / self.n)


class EarlyVerdicts:
    """Several gates judged together on one run, which stops once all are decided.

    Bonferroni: each gate runs at alpha / (number of gates), so the chance that ANY early
    verdict differs from the full run's is <= alpha. It needs no assumption about how
    the gates depend on each other (`overall` pools the axes' very episodes), and with
    at most nine rate gates it costs little: the set's width grows with log(1/alpha)
    only under a square root (a 0.1 margin over 1,400 cases is decided after 18% of
    them at 0.05/9, 12.5% at 0.05: benchmarks/bench_early_verdicts.py).

    Only the rate gates are covered: the latency and error-rate gates still judge what
    ran. An errored episode counts as a failure, as it does in the table."""

    def __init__(self, gates: Mapping[str, tuple[int, int]], alpha: float = DEFAULT_ALPHA,
                 prior: Callable[[int, int], LogPrior] = centred_prior) -> None:
        """`gates`: name -> (cases in its population, cutoff)."""
        _check_alpha(alpha)
        share = alpha / max(1, len(gates))
        self.alpha = alpha
        self.gates = {name: SequentialGate(n, c, share, prior(n, c))
                      for name, (n, c) in gates.items()}

    @classmethod
    def for_thresholds(cls, thresholds: Thresholds, population: Mapping[str, int],
                       alpha: float = DEFAULT_ALPHA) -> EarlyVerdicts:
        """One gate per rate threshold whose setting has cases; `population` counts the
        collected cases per setting, `overall` being every perturbed one."""
        sizes = dict(population)
        sizes[OVERALL] = sum(n for setting, n in population.items() if setting != CLEAN)
        judge = thresholds.judged_by
        return cls({key: (sizes[key], cutoff(judge, rate, sizes[key]))
                    for key, rate in thresholds.rates.items() if sizes.get(key, 0) > 0},
                   alpha)

    def record(self, setting: str, success: bool) -> None:
        """One episode of `setting`, in the seeded order: its gate and `overall`'s."""
        for name in _gates_of(setting):
            gate = self.gates.get(name)
            if gate is not None:
                gate.update(success)

    @property
    def decisions(self) -> dict[str, str | None]:
        return {name: gate.decision for name, gate in self.gates.items()}

    @property
    def decided(self) -> bool:
        """Every gate's verdict is known: the run may stop."""
        return all(gate.decision is not None for gate in self.gates.values())


def _gates_of(setting: str) -> Iterable[str]:
    return (setting,) if setting == CLEAN else (setting, OVERALL)


def play_order(cases: Sequence[CaseKey], seed: int = 0) -> list[CaseKey]:
    """The cases in the seeded random order an early-verdict run plays them in: a hash of
    each case id and the seed, so every worker and machine agrees without talking, the
    settings and tasks interleave (every gate gathers evidence at the same pace), and
    the order depends on nothing a case's outcome could depend on."""
    def rank(key: CaseKey) -> bytes:
        return hashlib.sha256(f"wamrobust-play-order/{seed}/{key.case_id}".encode()).digest()

    return sorted(cases, key=rank)
