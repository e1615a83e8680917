"""The run's verdict: pass or fail, and the one sentence that says why.

Users read the exit status as the answer to "can this model ship?", so the rule is
written once, here, and printed as the last line of the run:
- an incomplete run (a case never ran, or failed before its episode) never passes, nor
  does one whose every episode was skipped (a missing asset): it measured nothing;
- an episode that errored fails the run whatever the gates say, unless the gates
  allow that share of errors (`max_error_rate`): a rate over episodes that crashed
  measures the harness, not the policy;
- with gates or a baseline, they decide (single unsolved episodes do not), and a
  gate that could judge nothing fails rather than holding vacuously;
- without either, every unsolved episode fails the run, as any failed test would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pytest_wamrobust.core.judging.compare import Comparison
from pytest_wamrobust.core.judging.gates import Verdict
from pytest_wamrobust.core.model.results import EpisodeResult


@dataclass(frozen=True)
class RunVerdict:
    passed: bool
    reason: str

    @property
    def exit_status(self) -> int:
        return 0 if self.passed else 1

    @property
    def line(self) -> str:
        return f"wamrobust verdict: {self.reason} -> exit {self.exit_status}"


def decide(results: Sequence[EpisodeResult], verdicts: Sequence[Verdict],
           comparison: Comparison | None, *, gates_configured: bool, incomplete: int,
           other_failures: int, broken_searches: int = 0, searches: int = 0,
           max_error_rate: float = 0.0, decided_early: str = "",
           fail_inconclusive: bool = False, skipped: int = 0) -> RunVerdict:
    """`incomplete`: cases without an episode result (or a search without an outcome);
    `other_failures`: failed tests that are not episodes (the latency case, the project's
    own tests); `broken_searches`: --wam-search cases that found a failure, which fail
    the run when no gate judges them; `searches`: the search cases collected;
    `max_error_rate`: the share of episodes the gates allow to end in error;
    `decided_early`: how far a --wam-decide run got before its gates were decided;
    `fail_inconclusive`: a baseline drop too few cases can judge fails the run;
    `skipped`: episodes that were collected but skipped (their reasons are listed)."""
    if incomplete:
        missing = ("episodes never ran or failed before their episode started" if not searches
                   else "cases (episodes and breaking-point searches) never ran or could not "
                        "be judged")
        return RunVerdict(False, f"{incomplete} of {len(results) + searches} {missing}; an "
                                 f"incomplete run cannot pass")
    others = [f"{other_failures} other test{'s' if other_failures != 1 else ''} failed"
              ] if other_failures else []
    if gates_configured or comparison is not None:
        parts, held = [], not others
        errored = sum(r.errored for r in results)
        if errored > max_error_rate * len(results):
            allowed = (f"max_error_rate {max_error_rate:g} allows {max_error_rate:.0%}"
                       if max_error_rate else "set max_error_rate in the gates to allow some")
            parts.append(f"{errored} of {len(results)} episodes ended in error and errors "
                         f"fail the run ({allowed})")
            held = False
        if gates_configured:
            failed = [v.name for v in verdicts if v.passed is False]
            judged = sum(v.passed is not None for v in verdicts)
            early = f" (decided early: {decided_early})" if decided_early else ""
            if failed:
                parts.append(f"gates FAILED ({', '.join(failed)}){early}")
            elif judged:
                parts.append(f"gates configured: all {judged} held{early}")
            else:
                parts.append("gates configured, but none could be judged: their settings "
                             "ran no episode")
            held = held and not failed and judged > 0
        if comparison is not None:
            passed, why = comparison.verdict_text(fail_inconclusive)
            parts.append(f"baseline: {why}")
            held = held and passed
        return RunVerdict(held, "; ".join(parts + others))
    if skipped and not results:  # with gates: "none could be judged" above says it
        return RunVerdict(False, f"no episode played: all {skipped} collected episodes were "
                                 f"skipped (reasons above); a run that measured nothing "
                                 f"cannot pass")
    unsolved = sum(not r.success for r in results)
    if unsolved or broken_searches:
        what = [f"{unsolved} unsolved episode{'s' if unsolved != 1 else ''}"] if unsolved else []
        what += [f"{broken_searches} search{'es' if broken_searches != 1 else ''} that found "
                 f"a failure"] if broken_searches else []
        verb = "fails" if unsolved + broken_searches == 1 else "fail"
        what_gates_judge = "rates and breaking points" if broken_searches else "rates"
        return RunVerdict(False, f"no gates or baseline: {' and '.join(what)} {verb} the run "
                                 f"(gates judge {what_gates_judge} instead: see --wam-thresholds)" +
                                 (f"; {others[0]}" if others else ""))
    if others:
        return RunVerdict(False, f"no gates or baseline: every episode solved; {others[0]}")
    return RunVerdict(True, "no gates or baseline: every episode solved")
