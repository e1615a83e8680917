"""--wam-search in pytest: the `search_result` fixture behind `test_search[...]`, and the
controller's ledger of search cases (collected vs recorded, gates, the table).

A search case is an ordinary pytest item (xdist distributes it like an episode); it
runs core.search.breaking_point with the session's policy slot, suite and per-call
deadline, and hands its outcome to the controller as `wam.*` user properties, which survive xdist.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_wamrobust.plugin.episode_fixtures import current_policy

if TYPE_CHECKING:
    from pytest_wamrobust.core.judging import gates
    from pytest_wamrobust.core.running.player import PolicySlot
    from pytest_wamrobust.core.search.breaking_point import SearchKey, SearchResult
    from pytest_wamrobust.plugin.run import WamRun


@pytest.fixture
def search_result(request: pytest.FixtureRequest, wam_run: WamRun,
                  policy_slot: PolicySlot) -> SearchResult:
    """The search of this `test_search[suite/task/axis]` case, its properties recorded,
    its smallest failure kept for `--wam-replay`.
    A search that cannot be judged (flaky, an errored minimal example) errors the case."""
    from pytest_wamrobust.core.search.breaking_point import (
        axis_ranges,
        example_database,
        play_example,
        run_search,
        scene_count,
    )
    from pytest_wamrobust.core.search.replay import save_failure

    key: SearchKey = request.param
    run = wam_run
    task = next(t for t in run.suite.tasks() if t.name == key.task)
    examples = run.options.examples_dir
    result = run_search(
        key, task, axis_ranges(run.suite, key.axis), scene_count(run.suite, run.options.seeds),
        lambda spec: play_example(run.suite, policy_slot, spec, run.options.infer_deadline_s),
        max_examples=run.options.search_examples, database=example_database(examples),
        policy=current_policy(policy_slot).metadata.name)
    save_failure(examples, result)  # for --wam-replay
    request.node.user_properties.extend(result.to_properties())
    if result.errored:
        pytest.fail(result.summary(), pytrace=False)
    return result


class SearchLedger:
    """The controller's record of search cases: which were collected, which reported."""

    def __init__(self, run: WamRun) -> None:
        self.run = run
        self.collected: set[str] = set()
        self.results: dict[str, SearchResult] = {}
        self.unrecorded: dict[str, str] = {}

    def collect(self, nodeids: list[str]) -> None:
        from pytest_wamrobust.records.node_ids import search_case_key

        self.collected.update(n for n in nodeids if search_case_key(n) is not None)

    def record(self, report: pytest.TestReport) -> bool:
        """Take a search case's report; False for any other test."""
        from pytest_wamrobust.core.search.breaking_point import SearchResult, is_search
        from pytest_wamrobust.records.node_ids import search_case_key

        if search_case_key(report.nodeid) is None:
            return False
        if is_search(report.user_properties):
            found = SearchResult.from_properties(report.user_properties)
            if found is not None:
                self.results[report.nodeid] = found
                if not found.errored:
                    self.unrecorded.pop(report.nodeid, None)
                    return True
        if report.failed and report.nodeid not in self.unrecorded:
            crash = getattr(report.longrepr, "reprcrash", None)
            text = crash.message if crash is not None else str(report.longrepr or "")
            self.unrecorded[report.nodeid] = (text.strip().splitlines() or ["failed"])[0]
        return True

    def finish(self, never_ran: str) -> None:
        """Every collected search case is accounted for: not run ones as errors."""
        for nodeid in sorted(self.collected - set(self.results) - set(self.unrecorded)):
            self.unrecorded[nodeid] = never_ran

    @property
    def incomplete(self) -> int:
        """Search cases without a judged outcome (errored, never ran)."""
        return len(self.unrecorded)

    @property
    def broken(self) -> int:
        """Judged searches that fail their case (see `breaking_failure`)."""
        from pytest_wamrobust.core.search.breaking_point import breaking_failure

        return sum(bool(breaking_failure(r, self.run.thresholds)) for r in self.judged())

    def judged(self) -> list[SearchResult]:
        return sorted((r for n, r in self.results.items() if n not in self.unrecorded),
                      key=lambda r: r.key)

    def verdicts(self) -> list[gates.Verdict]:
        from pytest_wamrobust.core.search.breaking_point import breaking_verdicts

        return breaking_verdicts(self.judged(), self.run.thresholds)

    def lines(self) -> list[str]:
        from pytest_wamrobust.plugin.terminal import MAX_LISTED_ERRORS
        from pytest_wamrobust.records.node_ids import search_case_key
        from pytest_wamrobust.report.breaking import breaking_lines

        errors = {}
        for nodeid, reason in self.unrecorded.items():
            key = search_case_key(nodeid)
            if key is not None:
                errors[key] = reason
        return breaking_lines(self.judged(), errors, self.run.options.search_examples,
                              MAX_LISTED_ERRORS)
