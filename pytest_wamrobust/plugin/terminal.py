"""The robustness table and gate verdicts as terminal lines (plain text, no colour codes,
so CI logs and copy-paste keep them readable)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from pytest_wamrobust import RUN_PACKAGES, versions_text
from pytest_wamrobust.core.judging import gates
from pytest_wamrobust.core.model.chunking import Chunking, unknown_text
from pytest_wamrobust.core.model.results import ERROR, FAILURE, EpisodeResult
from pytest_wamrobust.core.model.types import SETTINGS, TaskSpec
from pytest_wamrobust.plugin.run import WamRun

#: Errored cases listed by name before the rest are only counted.
MAX_LISTED_ERRORS = 10
#: Characters of task names the header lists without -v; a longer list is counted.
MAX_TASK_LIST_CHARS = 120


def header_lines(run: WamRun, verbose: bool = False) -> list[str]:
    """What pytest-randomly-style headers give: enough to repeat the run exactly, about
    the cases actually selected; a long task list is counted per group unless -v."""
    cases = run.cases
    levels = sorted({k.level for k in cases if k.level}) or [0]
    seeds = len({k.seed_index for k in cases if k.level}) or len({k.seed_index for k in cases})
    settings = [s for s in SETTINGS if any(k.setting == s for k in cases)]
    selected = {k.task for k in cases}
    tasks = [t for t in run.suite.tasks() if t.name in selected]
    gates_from = "; ".join(run.thresholds.sources) if run.thresholds.configured else ""
    subset = ""
    if run.options.shard:
        subset += f" (shard {run.options.shard} runs about 1/{run.options.shard.count})"
    if run.options.sample:
        subset += f" (a sample of {run.options.sample} per setting and level)"
    if run.replays:
        subset += " (--wam-replay: the stored failures, each with its own scene)"
    seeds_text = "" if run.options.sample or run.replays else f"; seeds {seeds}"
    return [
        (f"wamrobust: suite {run.suite.name}, policy {run.policy_spec}, "
         f"{len(cases)} cases{subset}: tasks {_task_list(tasks, verbose)}; settings "
         f"{','.join(settings)}; levels {_number_list(levels)}{seeds_text}"),
        f"wamrobust: gates {'from ' + gates_from if gates_from else 'none'}",
        _versions_line(run),
    ]


def _versions_line(run: WamRun) -> str:
    """The versions that decide what an episode does: those of the Python that plays
    the episodes when that is not this one."""
    if run.simulator is not None:
        return f"wamrobust: episodes' Python {run.simulator.python}: {run.simulator.versions_text}"
    return f"wamrobust: {versions_text(RUN_PACKAGES)}"


def _task_list(tasks: Sequence[TaskSpec], verbose: bool) -> str:
    """`lift_cube,stack_cubes`, or `20 (10 of libero_spatial, 10 of libero_object; -v
    lists them)` when the names would not fit a line."""
    names = ",".join(t.name for t in tasks)
    if verbose or len(names) <= MAX_TASK_LIST_CHARS:
        return names
    groups = Counter(t.group or "the suite" for t in tasks)
    return (f"{len(tasks)} ({', '.join(f'{n} of {g}' for g, n in groups.items())}; -v lists "
            f"them)")


def _number_list(numbers: Sequence[int]) -> str:
    """`1-5` for a run of consecutive numbers, else `1,3,5`."""
    if len(numbers) > 2 and list(numbers) == list(range(numbers[0], numbers[-1] + 1)):
        return f"{numbers[0]}-{numbers[-1]}"
    return ",".join(map(str, numbers))


def chunking_line(run: WamRun, chunking: Chunking | None) -> str:
    """How often the policy is called, and who set it: a rerun that changed the protocol
    reads differently here."""
    if chunking is not None:
        return f"wamrobust: policy calls: {chunking.text()}"
    return f"wamrobust: policy calls: {unknown_text(run.policy_spec, run.options.policy_args)}"


def summary_lines(run: WamRun, results: Sequence[EpisodeResult], rows: Sequence[gates.Row],
                  verdicts: Sequence[gates.Verdict]) -> list[str]:
    by_gate = {v.name: v for v in verdicts}
    lines = [f"suite {run.suite.name}, policy {policy_heading(run, results)}: "
             f"{len(results)} episodes",
             f"{'setting':<12}{'n':>5}{'succ':>6}{'err':>5}{'success':>9}  {'95% CI':<18}gate"]
    for row in rows:
        low, high = row.ci
        ci = f"[{_pct(low)}, {_pct(high)}]"
        lines.append(f"{row.setting:<12}{row.n:>5}{row.successes:>6}{row.errors:>5}"
                     f"{_pct(row.rate):>9}  {ci:<18}{_gate(by_gate.get(row.setting))}".rstrip())
    lines.append(_latency_line(results, by_gate.get(gates.LATENCY),
                               run.thresholds.latency_statistic))
    for verdict in verdicts:
        if verdict.passed is None:
            lines.append(f"gate {verdict.name}: not judged ({verdict.detail})")
        elif verdict.unresolved:
            lines.append(f"gate {verdict.name}: {'held' if verdict.passed else 'failed'} on "
                         f"too few episodes to tell ({verdict.unresolved} holds the threshold "
                         f"{_pct(verdict.threshold)}): more seeds decide it, or judge = "
                         f"\"wilson_lower\" holds it only when the interval clears it")
    lines += _clipping_lines(results)
    lines += _error_lines(results)
    if run.thresholds.configured:
        failed = [v.name for v in verdicts if v.passed is False]
        judged = [v for v in verdicts if v.passed is not None]
        outcome = f"FAILED ({', '.join(failed)})" if failed else "all held"
        lines.append(f"gates ({run.thresholds.judged_by}): {len(judged) - len(failed)}/"
                     f"{len(judged)} held, {outcome}")
    return lines


def policy_heading(run: WamRun, results: Sequence[EpisodeResult]) -> str:
    """The policy as the summary's first line names it: the name the policy gives
    itself (as JUnit and reports show it), with the spec beside it when they differ (a
    server URL, a module:callable)."""
    names = sorted({r.policy for r in results if r.policy})
    if len(names) != 1 or names[0] == run.policy_spec:
        return run.policy_spec
    return f"{names[0]} ({run.policy_spec})"


def skipped_lines(skipped: dict[str, str]) -> list[str]:
    """Cases this machine could not build: not in the rates, but never out of sight."""
    if not skipped:
        return []
    reasons = Counter(skipped.values())  # first-seen order, like the error lines
    lines = [f"skipped {len(skipped)} episodes (not run, not in the rates):"]
    lines += [f"  {count} x {reason}"
              for reason, count in list(reasons.items())[:MAX_LISTED_ERRORS]]
    if len(reasons) > MAX_LISTED_ERRORS:
        lines.append(f"  ... and {len(reasons) - MAX_LISTED_ERRORS} more reasons")
    return lines


def not_run_lines(not_run: Sequence[EpisodeResult], total: int) -> list[str]:
    """Cases that were collected and never ran: errors in the table, and said aloud."""
    if not not_run:
        return []
    reasons = Counter(r.error for r in not_run)
    lines = [f"{len(not_run)} of {total} collected episodes never ran: counted as errors, "
             f"so this run is incomplete and cannot exit 0"]
    lines += [f"  {count} x {reason}" for reason, count in reasons.items()]
    lines += [f"  not run: {r.key.case_id} (episode_seed {r.episode_seed})"
              for r in not_run[:MAX_LISTED_ERRORS]]
    if len(not_run) > MAX_LISTED_ERRORS:
        lines.append(f"  ... and {len(not_run) - MAX_LISTED_ERRORS} more")
    return lines


def hidden_lines(results: Sequence[EpisodeResult], hidden: dict[str, list]) -> list[str]:
    """What pytest's short summary would have listed case by case, one line per setting."""
    if not hidden.get("failed"):
        return []
    unsolved = Counter(r.key.setting for r in results if r.status == FAILURE)
    parts = [f"{setting} {unsolved[setting]}" for setting in SETTINGS if unsolved[setting]]
    return [f"unsolved episodes: {', '.join(parts)} ({len(hidden['failed'])} FAILED lines "
            f"folded; -rf lists them)"]


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.1f}%"


def _gate(verdict: gates.Verdict | None) -> str:
    if verdict is None:
        return ""
    if verdict.passed is None:
        return f">= {_pct(verdict.threshold)} not run"
    return f">= {_pct(verdict.threshold)} {'ok' if verdict.passed else 'FAIL'}"


def _latency_line(results: Sequence[EpisodeResult], verdict: gates.Verdict | None,
                  stat: str) -> str:
    latencies = [ms for r in results for ms in r.chunk_latencies_ms]
    if not latencies:
        return "latency per chunk: no chunk was inferred"
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    text = (f"latency per chunk: p50 {p50:.2f} ms, p95 {p95:.2f} ms, p99 {p99:.2f} ms, "
            f"max {max(latencies):.2f} ms over {len(latencies)} chunks")
    if verdict is not None and verdict.passed is not None:
        text += (f"; gate {stat} <= {verdict.threshold:g} ms "
                 f"{'ok' if verdict.passed else 'FAIL'}")
    return text


def _clipping_lines(results: Sequence[EpisodeResult]) -> list[str]:
    """A policy that relies on the clip acts differently than its numbers say."""
    clipped = [r for r in results if r.clipped_values]
    if not clipped:
        return []
    worst = max(clipped, key=lambda r: r.clipped_values)
    return [f"actions outside [-1, 1]: {sum(r.clipped_values for r in clipped)} values clipped "
            f"in {len(clipped)} of {len(results)} episodes (most: {worst.key.case_id}, "
            f"{worst.clipped_values}); see the wam.clipped_values property"]


def _error_lines(results: Sequence[EpisodeResult]) -> list[str]:
    errored = [r for r in results if r.status == ERROR]
    lines = [f"error {r.key.case_id} (episode_seed {r.episode_seed}): {r.error}"
             for r in errored[:MAX_LISTED_ERRORS]]
    if len(errored) > MAX_LISTED_ERRORS:
        lines.append(f"... and {len(errored) - MAX_LISTED_ERRORS} more errored episodes")
    return lines
