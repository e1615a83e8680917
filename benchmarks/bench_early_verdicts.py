"""Early verdicts: how often they differ from the full run's, and how much of the run
they save (pytest_wamrobust/core/judging/sequential.py).

    python benchmarks/bench_early_verdicts.py [--runs 10000] [--threshold 0.5]
                                              [--alpha 0.05] [--gates 9] [--seed 0]

One gate, judge `point`, over a population of N cases of which N1 = round((threshold +
margin) * N) succeed, margins -0.2, -0.1, -0.05, -0.02 (the full run fails) and +0.02 ...
+0.2 (it passes), N = 100, 1,400 and 10,030. Every run plays the cases in a new uniformly
random order and stops at the first episode after which the gate is decided. Per cell:
the share of runs whose early verdict differs from the full run's (goal <= alpha in every
cell) and the mean share of the N episodes played (goal <= 35% at a 0.1 margin on 1,400
cases), for three constructions: the uniform prior, the centred prior (the default), and
the centred prior at alpha / --gates, what each of the nine rate gates of a release
(clean, seven axes, overall) runs at under Bonferroni.

A gate's decision depends on (episodes played t, successes k) only, and is monotone in k
(tests/core/test_sequential.py checks it), so each construction reduces to two
boundaries per t, computed once per N with sequential.confidence_set; the runs are then
vectorised. A few runs per N are replayed through SequentialGate itself and must stop at
the same episode with the same verdict.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np

from pytest_wamrobust.core.judging.sequential import (
    PASS,
    SequentialGate,
    beta_binomial_prior,
    centred_prior,
    confidence_set,
    cutoff,
)

SIZES = (100, 1400, 10030)
MARGINS = (-0.2, -0.1, -0.05, -0.02, 0.02, 0.05, 0.1, 0.2)
#: The goal on the share of episodes played: at this |margin| and N.
GOAL_MARGIN, GOAL_N, GOAL_PLAYED = 0.1, 1400, 0.35


def least_k(holds: Callable[[int], bool], t: int, guess: int) -> int:
    """The least k in 0..t where the monotone `holds` is true (t + 1 if none), searched
    from the previous t's answer: it moves by a step or two."""
    k = min(max(guess, 0), t + 1)
    if k <= t and holds(k):
        while k > 0 and holds(k - 1):
            k -= 1
    else:
        k += 1
        while k <= t and not holds(k):
            k += 1
    return k


def boundaries(n: int, c: int, alpha: float, prior: np.ndarray) -> np.ndarray:
    """[pass, fail] x t: after t episodes the gate passes iff k >= pass[t] (its set's
    low end reached the cutoff) and fails iff k <= fail[t] (its high end is below it)."""
    out = np.empty((2, n + 1), np.int64)
    guess_pass = guess_fail = 0
    for t in range(n + 1):
        guess_pass = least_k(lambda k, t=t: confidence_set(n, t, k, alpha, prior)[0] >= c,
                             t, guess_pass)
        guess_fail = least_k(lambda k, t=t: confidence_set(n, t, k, alpha, prior)[1] >= c,
                             t, guess_fail)
        out[:, t] = guess_pass, guess_fail - 1
    return out


def simulate(n: int, n1: int, bounds: list[np.ndarray], runs: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(episodes played, passed) per construction and run. A draw without replacement
    is a success with chance (successes left) / (cases left), all runs at once."""
    stop = np.full((len(bounds), runs), -1)
    passed = np.zeros((len(bounds), runs), bool)
    k = np.zeros(runs, np.int64)
    active = np.arange(runs)
    for t in range(n + 1):
        seen = k[active]
        for v, (pass_at, fail_at) in enumerate(bounds):
            open_ = stop[v, active] < 0
            won, lost = open_ & (seen >= pass_at[t]), open_ & (seen <= fail_at[t])
            stop[v, active[won | lost]] = t
            passed[v, active[won]] = True
        active = active[(stop[:, active] < 0).any(axis=0)]
        if not active.size:
            break
        k[active] += rng.random(active.size) * (n - t) < (n1 - k[active])
    assert (stop >= 0).all(), "the set collapses at t = N: every run must be decided"
    return stop, passed


def cross_check(n: int, n1: int, c: int, alpha: float, prior: np.ndarray,
                bounds: np.ndarray, runs: int, rng: np.random.Generator) -> int:
    """Runs where SequentialGate stops elsewhere or says otherwise than the boundaries."""
    pass_at, fail_at = bounds
    differ = 0
    for _ in range(runs):
        outcomes = rng.permutation(np.arange(n) < n1)
        k = np.concatenate([[0], np.cumsum(outcomes)])
        t = int(np.flatnonzero((k >= pass_at) | (k <= fail_at))[0])
        gate = SequentialGate(n, c, alpha, prior)
        while gate.decision is None:
            gate.update(bool(outcomes[gate.t]))
        differ += (gate.t, gate.decision == PASS) != (t, bool(k[t] >= pass_at[t]))
    return differ


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000, help="random orders per cell")
    parser.add_argument("--threshold", type=float, default=0.5,
                        help="the gate (0.5: the largest variance, the slowest to decide)")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--gates", type=int, default=9,
                        help="gates sharing alpha in the last construction (Bonferroni)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    share = args.alpha / args.gates
    names = ("uniform", "centred", f"centred a/{args.gates}")
    levels = (args.alpha, args.alpha, share)
    print(f"gate: point >= {args.threshold:g}; alpha {args.alpha:g}; {args.runs:,} random "
          f"orders per cell; N1 = round((threshold + margin) * N), fixed per cell")
    print(f"{'':27}" + "".join(f"{name:>19}" for name in names))
    print(f"{'N':>6} {'margin':>6} {'N1':>6} {'cut':>6}"
          + f"{'wrong':>10}{'played':>9}" * len(names))
    worst = [0.0] * len(names)
    goal_cells: list[tuple[float, list[float]]] = []
    mismatches = replayed = 0
    for n in SIZES:
        c = cutoff("point", args.threshold, n)
        priors = (beta_binomial_prior(n), centred_prior(n, c), centred_prior(n, c))
        tick = time.perf_counter()
        bounds = [boundaries(n, c, level, prior)
                  for level, prior in zip(levels, priors, strict=True)]
        setup = time.perf_counter() - tick
        for margin in MARGINS:
            n1 = min(n, max(0, round((args.threshold + margin) * n)))
            stop, passed = simulate(n, n1, bounds, args.runs, rng)
            wrong = (passed != (n1 >= c)).mean(axis=1)
            played = stop.mean(axis=1) / n
            worst = [max(w, x / level) for w, x, level in zip(worst, wrong, levels, strict=True)]
            if n == GOAL_N and abs(margin) == GOAL_MARGIN:
                goal_cells.append((margin, list(played)))
            print(f"{n:>6} {margin:>+6.2f} {n1:>6} {c:>6}"
                  + "".join(f"{w:>10.4f}{p:>9.1%}" for w, p in zip(wrong, played, strict=True)))
            if abs(margin) == GOAL_MARGIN:
                for level, prior, bound in zip(levels, priors, bounds, strict=True):
                    mismatches += cross_check(n, n1, c, level, prior, bound, 10, rng)
                    replayed += 10
        print(f"{'':>6} (boundaries of the three constructions: {setup:.1f} s)")
    elapsed = time.perf_counter() - started
    print(f"replayed through SequentialGate: {replayed} runs, {mismatches} differ from the "
          f"boundaries")
    ok_wrong = max(worst) <= 1.0
    print("wrong verdicts <= each construction's alpha in every cell: worst wrong/alpha "
          + ", ".join(f"{name} {w:.2f}" for name, w in zip(names, worst, strict=True))
          + f" -> goal {'met' if ok_wrong else 'NOT met'}")
    ok_played = bool(goal_cells)
    for margin, played in goal_cells:
        ok_played &= played[1] <= GOAL_PLAYED
        print(f"played at margin {margin:+.1f} on {GOAL_N:,} cases: "
              + ", ".join(f"{name} {p:.1%}" for name, p in zip(names, played, strict=True))
              + f" (goal for the default, centred: <= {GOAL_PLAYED:.0%})")
    print(f"episodes played goal {'met' if ok_played else 'NOT met'}")
    print(f"wall time {elapsed:.0f} s")
    return 0 if ok_wrong and ok_played and mismatches == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
