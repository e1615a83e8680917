"""`--wam-baseline FILE`: gate this run against an earlier one (the last release) in the
same pytest command, with the paired test of `wamrobust compare`.

The file is read and checked when the session starts, so a wrong path, a file that is
not a wamrobust JUnit report, another suite or no shared case stops the run in one
line before any episode; the comparison itself runs once, on the controller, over the
results of every worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pytest_wamrobust.core.judging.compare import (
    DEFAULT_ALPHA,
    DEFAULT_MIN_EFFECT,
    Comparison,
    compare_results,
)
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.results import EpisodeResult
from pytest_wamrobust.plugin.run import WamRun


@dataclass(frozen=True)
class Baseline:
    path: str
    results: tuple[EpisodeResult, ...]
    alpha: float
    min_effect: float
    #: --wam-inconclusive=fail or the gates' on_inconclusive = "fail": a drop too few
    #: cases can judge fails the run
    fail_inconclusive: bool = False

    @classmethod
    def load(cls, run: WamRun) -> Baseline | None:
        """The run's baseline, checked against the run's cases; None without one."""
        path = run.options.baseline
        if not path:
            return None
        from pytest_wamrobust.records.junit import results_of_one_policy

        results = tuple(results_of_one_policy([path], None, f"--wam-baseline {path}"))
        suites = sorted({r.key.suite for r in results})
        if suites != [run.suite.name]:
            raise UsageError(f"--wam-baseline {path} ran suite {', '.join(suites)}, this run "
                             f"{run.suite.name}; compare runs of the same suite")
        if not set(run.cases) & {r.key for r in results}:
            raise UsageError(f"--wam-baseline {path} shares no case with this run; run with "
                             "the baseline's --tasks/--axes/--levels/--seeds")
        alpha = DEFAULT_ALPHA if run.options.alpha is None else run.options.alpha
        min_effect = (DEFAULT_MIN_EFFECT if run.options.min_effect is None
                      else run.options.min_effect)
        fail_inconclusive = (run.options.inconclusive if run.options.inconclusive is not None
                             else run.thresholds.on_inconclusive == "fail")
        return cls(path, results, alpha, min_effect, fail_inconclusive)

    def compare(self, results: Sequence[EpisodeResult]) -> Comparison:
        return compare_results(self.results, results, alpha=self.alpha,
                               min_effect=self.min_effect)


def summary_lines(baseline: Baseline, comparison: Comparison) -> list[str]:
    """The comparison table as Markdown (readable in a log, pasteable in a PR) and the
    verdict that sets the exit status."""
    from pytest_wamrobust.report.tables import comparison_table, to_markdown

    passed, verdict = comparison.verdict_text(baseline.fail_inconclusive)
    if not passed:
        verdict += "; the exit status is 1"
    return [f"baseline {baseline.path}:",
            *to_markdown(comparison_table(comparison)).rstrip("\n").splitlines(),
            f"baseline comparison: {verdict}"]
