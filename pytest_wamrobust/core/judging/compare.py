"""Is a candidate policy worse than the baseline? A paired test on the same cases.

Outcomes are mostly deterministic per case, so comparing pooled success rates wastes
most of the information: the exact McNemar test looks only at the cases where the two
runs disagree. Cases pair by their CaseKey (suite, task, setting, level, seed); each
setting (clean and the seven axes) and `overall` (every perturbed case, clean excluded,
as the gates and the study's "Total" count it) get a verdict. The rows are one family
of tests, so p-values are Holm-adjusted: a gate that tests nine rows at 5% each would
otherwise cry wolf on about a third of no-change candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pytest_wamrobust.core.judging.gates import INCONCLUSIVE_RULES, OVERALL
from pytest_wamrobust.core.judging.stats import mcnemar_exact
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.parsing import parse_number
from pytest_wamrobust.core.model.results import EpisodeResult
from pytest_wamrobust.core.model.types import CLEAN, SETTINGS, CaseKey

#: Defaults of `wamrobust compare` and `--wam-baseline`.
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_EFFECT = 0.05

REGRESSED = "regressed"
IMPROVED = "improved"
NO_CHANGE = "no significant change"
#: The rate moved by at least the minimum effect but too few cases disagreed to tell:
#: "no significant change" would read as reassurance the data cannot give.
INCONCLUSIVE = "inconclusive"
#: Largest sample size `cases_needed` searches before it answers "more than this".
MAX_CASES_SEARCHED = 100_000


def parse_alpha(text: str) -> float:
    """A significance level in (0, 1) (`--wam-alpha`, `wamrobust compare --alpha`)."""
    value = parse_number(text, float)
    if value is None:
        raise UsageError(f"alpha must be a number in (0, 1), got {text!r}")
    if not 0.0 < value < 1.0:
        raise UsageError(f"alpha must be in (0, 1), e.g. 0.05; got {text!r}")
    return value


def parse_inconclusive_rule(text: str) -> bool:
    """`pass` or `fail` (`--wam-inconclusive`, `wamrobust compare --inconclusive`): whether
    a drop too small a sample cannot judge fails the gate; True for fail."""
    value = str(text).strip().lower()
    if value not in INCONCLUSIVE_RULES:
        raise UsageError(f"the inconclusive rule is pass or fail (whether a drop too few "
                         f"cases can judge fails the gate), got {text!r}")
    return value == "fail"


def parse_min_effect(text: str) -> float:
    """A minimum effect in percentage points [0, 100), returned as a fraction."""
    value = parse_number(text, float)
    if value is None:
        raise UsageError(f"minimum effect must be percentage points, e.g. 5; got {text!r}")
    if not 0.0 <= value < 100.0:
        raise UsageError(f"minimum effect must be in [0, 100) pp; got {text!r}")
    return value / 100.0


@dataclass(frozen=True)
class RowComparison:
    """One setting (or overall): paired counts, the test and its verdict.

    An errored episode counts as not solved, as in the robustness table.
    """

    setting: str
    n: int
    baseline_successes: int
    candidate_successes: int
    only_baseline: int
    only_candidate: int
    p_value: float
    adjusted_p: float
    verdict: str
    cases_needed: int | None = None

    @property
    def baseline_rate(self) -> float:
        return self.baseline_successes / self.n if self.n else float("nan")

    @property
    def candidate_rate(self) -> float:
        return self.candidate_successes / self.n if self.n else float("nan")

    @property
    def delta(self) -> float:
        """Candidate minus baseline success rate (a fraction; negative is worse)."""
        return (self.candidate_successes - self.baseline_successes) / self.n if self.n else 0.0

    @property
    def verdict_text(self) -> str:
        """The verdict, with what an inconclusive row would need to be decided."""
        if self.verdict != INCONCLUSIVE:
            return self.verdict
        change = "drop" if self.delta < 0 else "gain"
        needed = (f"about n={self.cases_needed}" if self.cases_needed
                  else f"more than n={MAX_CASES_SEARCHED}")
        return (f"inconclusive (n={self.n}; needs {needed} to detect a {change} of "
                f"{abs(self.delta) * 100:.0f} pp)")


@dataclass(frozen=True)
class Comparison:
    """All rows, settings in the study's order and overall last."""

    rows: tuple[RowComparison, ...]
    baseline_policy: str
    candidate_policy: str
    alpha: float
    min_effect: float
    unpaired_baseline: int
    unpaired_candidate: int

    @property
    def regressed(self) -> bool:
        return any(row.verdict == REGRESSED for row in self.rows)

    @property
    def inconclusive_drops(self) -> list[RowComparison]:
        """Rows whose rate fell by at least the minimum effect on too few cases to tell:
        not a regression, and not the reassurance "no regression" would give."""
        return [row for row in self.rows if row.verdict == INCONCLUSIVE and row.delta < 0]

    def verdict_text(self, fail_inconclusive: bool) -> tuple[bool, str]:
        """Whether the comparison passes, and the sentence that says why."""
        regressed = [row.setting for row in self.rows if row.verdict == REGRESSED]
        if regressed:
            return False, f"REGRESSED ({', '.join(regressed)})"
        unclear = self.inconclusive_drops
        if unclear:
            rows = "; ".join(row.setting + ": " + row.verdict_text for row in unclear)
            rule = ("the inconclusive rule is fail" if fail_inconclusive else
                    "not judged a regression; the inconclusive rule fail would fail it")
            return not fail_inconclusive, f"INCONCLUSIVE drops ({rows}); {rule}"
        return True, "no regression"

    @property
    def overall(self) -> RowComparison | None:
        """The row over the perturbed cases; None when only clean cases were paired."""
        return self.rows[-1] if self.rows[-1].setting == OVERALL else None

    def row(self, setting: str) -> RowComparison:
        for row in self.rows:
            if row.setting == setting:
                return row
        raise KeyError(setting)


def compare_results(
    baseline: Sequence[EpisodeResult],
    candidate: Sequence[EpisodeResult],
    *,
    alpha: float = 0.05,
    min_effect: float = 0.05,
) -> Comparison:
    """Pair the two runs case by case and test each setting and overall.

    A row is `regressed` (or `improved`) only if its Holm-adjusted p-value is below
    `alpha` AND the success rate moved by at least `min_effect` (a fraction): a
    significant but negligible change does not block a release.
    """
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"alpha must be in (0, 1), got {alpha}")
    if not 0.0 <= min_effect < 1.0:
        raise UsageError(f"min effect must be a fraction in [0, 1), got {min_effect}")
    base = _index(baseline, "baseline")
    cand = _index(candidate, "candidate")
    _check_suites(base, cand)
    common = sorted(base.keys() & cand.keys())
    if not common:
        raise UsageError(
            "baseline and candidate share no case (suite, task, setting, level, seed); "
            "run both with the same --tasks/--axes/--levels/--seeds")
    by_setting: dict[str, list[CaseKey]] = {}
    for key in common:
        by_setting.setdefault(key.setting, []).append(key)
    order = [s for s in SETTINGS if s in by_setting] + sorted(set(by_setting) - set(SETTINGS))
    perturbed = [k for k in common if k.setting != CLEAN]
    groups = [(s, by_setting[s]) for s in order] + ([(OVERALL, perturbed)] if perturbed else [])
    counts = [_paired_counts(keys, base, cand) for _, keys in groups]
    p_values = [mcnemar_exact(c[2], c[3]) for c in counts]
    adjusted = holm(p_values)
    rows = tuple(
        _row(setting, len(keys), c, p, q, alpha, min_effect, len(groups))
        for (setting, keys), c, p, q in zip(groups, counts, p_values, adjusted, strict=True)
    )
    return Comparison(
        rows=rows,
        baseline_policy=_policy(baseline),
        candidate_policy=_policy(candidate),
        alpha=alpha,
        min_effect=min_effect,
        unpaired_baseline=len(base) - len(common),
        unpaired_candidate=len(cand) - len(common),
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error control, any dependence)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _index(results: Iterable[EpisodeResult], side: str) -> dict[CaseKey, EpisodeResult]:
    results = list(results)
    if not results:
        raise UsageError(f"the {side} has no wamrobust episode results")
    policies = sorted({r.policy for r in results})
    if len(policies) > 1:
        raise UsageError(
            f"the {side} holds results of {len(policies)} policies ({', '.join(policies)}); "
            f"choose one with --{side}-policy")
    index: dict[CaseKey, EpisodeResult] = {}
    for result in results:
        if result.key in index:
            raise UsageError(
                f"the {side} has case {result.key.case_id} twice; pass each shard's file once")
        index[result.key] = result
    return index


def _check_suites(base: dict[CaseKey, EpisodeResult], cand: dict[CaseKey, EpisodeResult]) -> None:
    base_suites = sorted({k.suite for k in base})
    cand_suites = sorted({k.suite for k in cand})
    if base_suites != cand_suites:
        raise UsageError(
            f"suites differ: baseline ran {', '.join(base_suites)}, candidate ran "
            f"{', '.join(cand_suites)}; compare runs of the same suite")


def _paired_counts(keys: Sequence[CaseKey], base: dict[CaseKey, EpisodeResult],
                   cand: dict[CaseKey, EpisodeResult]) -> tuple[int, int, int, int]:
    """(baseline successes, candidate successes, only baseline, only candidate)."""
    b = [base[k].success for k in keys]
    c = [cand[k].success for k in keys]
    only_b = sum(x and not y for x, y in zip(b, c, strict=True))
    only_c = sum(y and not x for x, y in zip(b, c, strict=True))
    return sum(b), sum(c), only_b, only_c


def _row(setting: str, n: int, counts: tuple[int, int, int, int], p: float, q: float,
         alpha: float, min_effect: float, family: int) -> RowComparison:
    base_s, cand_s, only_b, only_c = counts
    delta = (cand_s - base_s) / n
    # a tolerance so a delta of exactly min_effect (e.g. 1/20 = 0.05) counts as reaching it
    big = abs(delta) + 1e-12 >= min_effect
    if q < alpha and big:
        verdict = REGRESSED if delta < 0 else IMPROVED
        return RowComparison(setting, n, base_s, cand_s, only_b, only_c, p, q, verdict)
    if big:
        return RowComparison(setting, n, base_s, cand_s, only_b, only_c, p, q, INCONCLUSIVE,
                             cases_needed(n, only_b, only_c, alpha / family))
    return RowComparison(setting, n, base_s, cand_s, only_b, only_c, p, q, NO_CHANGE)


def cases_needed(n: int, only_baseline: int, only_candidate: int, level: float) -> int | None:
    """About how many paired cases would make the observed disagreement significant at
    `level` (Holm's strictest step, alpha / rows): the same discordance proportions,
    scaled up until the exact McNemar test rejects. None if no n up to
    MAX_CASES_SEARCHED would."""
    discordant = only_baseline + only_candidate
    if discordant == 0 or only_baseline == only_candidate:
        return None
    minority = min(only_baseline, only_candidate) / discordant

    def significant(scale: int) -> bool:
        pairs = discordant * scale
        return mcnemar_exact(round(pairs * minority), pairs - round(pairs * minority)) < level

    high = 1
    while not significant(high):  # p falls as the sample grows: double, then bisect
        if n * high > MAX_CASES_SEARCHED:
            return None
        high *= 2
    low = high // 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if significant(middle) else (middle, high)
    return n * high


def _policy(results: Sequence[EpisodeResult]) -> str:
    return results[0].policy if results else ""
