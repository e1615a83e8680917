"""The breaking-point search: Hypothesis' own engine looks for the smallest perturbation
magnitude m at which the policy fails one axis of one task.

Each example is (m, the axis' other parameters, a scene index); one example is one real
rollout, deterministic per example (its episode seed is the grid's seed of that scene),
so Hypothesis' shrinking minimises m and its flakiness report can only mean that the
policy or the simulator is nondeterministic. Passing rollouts steer generation toward
failure with `hypothesis.target()` on how slowly the task progressed, when the Env has
a `progress()` score in [0, 1]; suites without one, and language (whose rewrites are
unordered choices, nothing to climb), search on success alone.

Failing examples go to an example database keyed by (suite, task, axis), not by
policy, and the next search replays them first (Hypothesis' reuse phase).

Pure (no pytest): `run_search` takes the rollout as a function.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_wamrobust.core.judging.gates import BREAKING_GATE, Thresholds, Verdict
from pytest_wamrobust.core.model.errors import UsageError, one_line
from pytest_wamrobust.core.model.parsing import parse_number
from pytest_wamrobust.core.model.protocols import CaseSelection, Suite
from pytest_wamrobust.core.model.results import PREFIX, EpisodeResult
from pytest_wamrobust.core.model.types import AXES, CaseKey, EpisodeSpec, TaskSpec, level_of

if TYPE_CHECKING:  # Hypothesis loads with the search: `wamrobust report` runs without it
    from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

    from pytest_wamrobust.core.model.protocols import Env
    from pytest_wamrobust.core.running.player import PolicySlot

#: Where failing perturbations are kept unless --wam-examples says otherwise.
DEFAULT_EXAMPLES_DIR = ".wamrobust/examples"
#: The property that marks a JUnit test case as a search (episodes have `wam.status`).
MARKER = "search"


@dataclass(frozen=True, order=True)
class SearchKey:
    """One search case: an axis of a task of a suite; id `tabletop/lift_cube/light`."""

    suite: str
    task: str
    axis: str

    @property
    def case_id(self) -> str:
        return f"{self.suite}/{self.task}/{self.axis}"

    @classmethod
    def parse(cls, case_id: str) -> SearchKey | None:
        suite, _, rest = case_id.partition("/")
        task, _, axis = rest.rpartition("/")
        if not suite or not task or axis not in AXES:
            return None
        return cls(suite, task, axis)

    def digest(self, purpose: str) -> bytes:
        return hashlib.sha256(f"{self.case_id}|{purpose}".encode()).digest()


@dataclass(frozen=True)
class Example:
    """One point of the search: magnitude, the axis' parameters, the scene index."""

    magnitude: float
    params: Mapping[str, Any]
    scene: int

    def spec(self, key: SearchKey, task: TaskSpec) -> EpisodeSpec:
        """The episode: level from m; scene `s<scene>` of the grid (same episode seed)."""
        from pytest_wamrobust.core.cases.seeding import episode_seed

        case = CaseKey(key.suite, key.task, key.axis, level_of(self.magnitude), self.scene)
        return EpisodeSpec(key=case, task=task, params=dict(self.params),
                           episode_seed=episode_seed(case))


@dataclass(frozen=True)
class Rollout:
    """What the search learns from one example: the episode and, where the Env has a
    `progress()`, the mean progress over its steps (a slow solve is near failure)."""

    result: EpisodeResult
    mean_progress: float | None = None


def play_example(suite: Suite, slot: PolicySlot, spec: EpisodeSpec,
                 infer_timeout_s: float | None = None) -> Rollout:
    """One search example, played as every case is (`core.running.player.play_case`: the scene
    built and closed, the per-call deadline), sampling the Env's `progress()` after
    every action where it has one."""
    from pytest_wamrobust.core.running.player import play_case

    samples: list[float] = []

    def sample(env: Env) -> None:
        progress = getattr(env, "progress", None)
        if callable(progress):
            samples.append(float(progress()))

    result = play_case(suite, slot, spec, step_hook=sample, infer_timeout_s=infer_timeout_s)
    return Rollout(result, statistics.fmean(samples) if samples else None)


@dataclass
class SearchResult:
    """A search case's outcome: the smallest failing perturbation found, or none.

    `breaking_magnitude` is 1.0 when no failure was found in `examples` rollouts. An
    `error` (a flaky search, a policy that cannot be built) means it could not be judged.
    """

    key: SearchKey
    policy: str
    examples: int
    max_examples: int
    found: bool
    breaking_magnitude: float = 1.0
    params: Mapping[str, Any] = field(default_factory=dict)
    scene: int = 0
    episode_seed: int = 0
    instruction: str = ""
    status: str = ""
    error: str = ""
    wall_time_s: float = 0.0

    @property
    def level(self) -> int:
        return level_of(self.breaking_magnitude) if self.found else 0

    @property
    def errored(self) -> bool:
        return bool(self.error)

    def summary(self) -> str:
        """One line: what broke the policy, or that nothing did."""
        if self.error:
            return f"search {self.key.case_id} could not be judged: {self.error}"
        if not self.found:
            return f"no failure in {self.examples} examples (breaking magnitude 1)"
        said = f", instruction {self.instruction!r}" if self.key.axis == "language" else ""
        return (f"breaks at m={self.breaking_magnitude:.2f} (level {self.level}, scene "
                f"s{self.scene:02d}{said}) after {self.examples} examples: "
                f"{json.dumps(self.params, sort_keys=True)}")

    def to_properties(self) -> list[tuple[str, str]]:
        props = [
            (MARKER, self.key.case_id),
            ("policy", self.policy),
            ("breaking_magnitude", f"{self.breaking_magnitude:.2f}"),
            ("breaking_level", str(self.level)),
            ("breaking_params", json.dumps(self.params, sort_keys=True)),
            ("breaking_scene", str(self.scene)),
            ("search_examples", str(self.examples)),
            ("search_max_examples", str(self.max_examples)),
            ("search_found", "true" if self.found else "false"),
            ("search_summary", self.summary()),
            ("wall_time_s", f"{self.wall_time_s:.3f}"),
        ]
        if self.found:
            props += [("breaking_status", self.status),
                      ("breaking_episode_seed", str(self.episode_seed)),
                      ("breaking_instruction", self.instruction)]
        if self.error:
            props.append(("search_error", self.error))
        return [(PREFIX + name, value) for name, value in props]

    @classmethod
    def from_properties(cls, properties: Iterable[tuple[str, Any]]) -> SearchResult | None:
        """Inverse of `to_properties`; None for a test case that is no search."""
        values = {n[len(PREFIX):]: str(v) for n, v in properties if n.startswith(PREFIX)}
        key = SearchKey.parse(values.get(MARKER, ""))
        if key is None:
            return None
        return cls(
            key=key, policy=values.get("policy", ""),
            examples=int(values.get("search_examples", "0")),
            max_examples=int(values.get("search_max_examples", "0")),
            found=values.get("search_found") == "true",
            breaking_magnitude=float(values.get("breaking_magnitude", "1")),
            params=json.loads(values.get("breaking_params", "{}")),
            scene=int(values.get("breaking_scene", "0")),
            episode_seed=int(values.get("breaking_episode_seed", "0")),
            instruction=values.get("breaking_instruction", ""),
            status=values.get("breaking_status", ""),
            error=values.get("search_error", ""),
            wall_time_s=float(values.get("wall_time_s", "0") or 0),
        )


def is_search(properties: Iterable[tuple[str, Any]]) -> bool:
    return any(name == PREFIX + MARKER for name, _ in properties)


def parse_search_count(text: str) -> int:
    """`--wam-search N`: examples (rollouts before shrinking) per (task, axis)."""
    count = parse_number(text, int)
    if count is None:
        raise UsageError(
            f"--wam-search takes a whole number of examples per (task, axis), got {text!r}")
    if count < 1:
        raise UsageError(
            f"--wam-search takes a positive number of examples per (task, axis), got {count}")
    return count


def example_database(directory: str | Path) -> DirectoryBasedExampleDatabase:
    """The failure store: plain files under `directory`, created (and checked writable)
    before the first episode so a bad path costs one line."""
    from hypothesis.database import DirectoryBasedExampleDatabase

    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".wamrobust-write-check"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"--wam-examples {directory}: cannot write there "
                         f"({exc.strerror or one_line(exc)}); pass a writable folder") from None
    return DirectoryBasedExampleDatabase(str(path))


def search_keys(suite: Suite, selection: CaseSelection,
                examples_dir: str | Path) -> list[SearchKey]:
    """One search per selected (task, axis), in table order; the example folder is
    checked writable here, before the first episode."""
    names = [t.name for t in suite.tasks()]
    unknown = [t for t in selection.tasks or () if t not in names]
    if unknown:
        raise UsageError(f"--tasks: suite {suite.name} has no task {unknown[0]!r}; it has "
                         f"{', '.join(names)}")
    axes = [a for a in AXES if selection.settings is None or a in selection.settings]
    if not axes:
        raise UsageError("--wam-search explores perturbation axes; --axes selects only clean "
                         f"(add one of {', '.join(AXES)})")
    example_database(examples_dir)
    tasks = [t for t in names if not selection.tasks or t in selection.tasks]
    return [SearchKey(suite.name, task, axis) for task in tasks for axis in axes]


def axis_ranges(suite: Suite, axis: str) -> Any:
    """The suite's ranges of `axis` (its manifest's overrides), or the axis' defaults."""
    ranges = getattr(getattr(suite, "manifest", None), "axis_ranges", None) or {}
    from pytest_wamrobust.core.cases.axes import get_axis

    return ranges.get(axis) or get_axis(axis).default_ranges


def scene_count(suite: Suite, seeds: int | None) -> int:
    """How many scenes the search may pick from: the grid's seeds per (task, level)."""
    if seeds is not None:
        return seeds
    return int(getattr(getattr(suite, "manifest", None), "default_seeds", 1) or 1)


def _episode_identity(axis: str, task: TaskSpec, example: Example) -> str:
    """What an example's episode is: its level, scene and parameters. m within a level
    matters only through the parameters, and on language only through the instruction
    the policy reads (two rewrite indices can name one rewrite), so an example that
    keeps them is played once."""
    from pytest_wamrobust.core.cases.axes import rewrite_instruction

    shown: Mapping[str, Any] = example.params
    if axis == "language":
        try:
            shown = {"instruction": rewrite_instruction(task.instruction, task.rewrites,
                                                        example.params)}
        except UsageError:  # no such rewrite: the rollout says so, as an error
            pass
    return json.dumps([level_of(example.magnitude), shown, example.scene], sort_keys=True)


class _Failed(Exception):  # noqa: N818 - a signal to Hypothesis, not an error
    """Raised inside the Hypothesis test for a failing example (the task not solved)."""


def run_search(key: SearchKey, task: TaskSpec, ranges: Any, scenes: int,
               rollout: Callable[[EpisodeSpec], Rollout], *, max_examples: int,
               database: ExampleDatabase | None, shrink_rollouts: int | None = None,
               policy: str = "") -> SearchResult:
    """Search `key`'s axis for the smallest failing m with Hypothesis.

    At most `max_examples` examples are generated; shrinking then plays at most
    `shrink_rollouts` (default `max_examples`) more episodes, after which the candidates it
    still tries count as passing without a rollout, so it keeps the smallest failure
    found. An example that is an episode already played (Hypothesis repeats some) is not
    played again. The final replay of the failure always rolls out, so nondeterminism
    shows."""
    import time

    from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings, target
    from hypothesis import strategies as st
    from hypothesis.control import current_build_context
    from hypothesis.errors import Flaky

    started = time.perf_counter()
    budget = max_examples + (max_examples if shrink_rollouts is None else shrink_rollouts)
    seen: dict[str, Rollout] = {}
    runs = [0]
    failures: list[tuple[Example, Rollout]] = []
    from pytest_wamrobust.core.cases.axes import get_axis

    axis = get_axis(key.axis)
    strategy = st.tuples(axis.magnitude_strategy(ranges), st.integers(0, max(0, scenes - 1)))

    @settings(max_examples=max_examples, database=database, deadline=None,
              phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
              verbosity=Verbosity.quiet, print_blob=False, derandomize=False)
    @seed(int.from_bytes(key.digest("search")[:8], "little"))
    @given(strategy)
    def probe(drawn: tuple[tuple[float, dict], int]) -> None:
        (magnitude, params), scene = drawn
        example = Example(magnitude, params, scene)
        name = _episode_identity(key.axis, task, example)
        outcome = seen.get(name)
        final = current_build_context().is_final  # always played: nondeterminism shows
        if outcome is None or final:
            if runs[0] >= budget and not final:
                return  # past the budget: pass, so shrinking keeps what it has
            runs[0] += 1
            outcome = rollout(example.spec(key, task))
            seen[name] = outcome
        if axis.graded and outcome.mean_progress is not None and outcome.result.success:
            target(1.0 - outcome.mean_progress, label="slowness of a solved episode")
        if not outcome.result.success:
            failures.append((example, outcome))
            raise _Failed(example)

    probe._hypothesis_internal_database_key = key.digest("examples")  # type: ignore[attr-defined]
    result = SearchResult(key, policy, 0, max_examples, found=False)
    try:
        probe()
    except _Failed:
        example, outcome = failures[-1]  # the final replay is of the minimal example
        episode = outcome.result
        result = SearchResult(key, policy or episode.policy, 0, max_examples, found=True,
                              breaking_magnitude=example.magnitude, params=example.params,
                              scene=example.scene, episode_seed=episode.episode_seed,
                              instruction=episode.instruction, status=episode.status)
    except Flaky:
        result.error = ("the policy or the simulator is nondeterministic: the same "
                        "perturbation failed once and was solved on replay")
    result.examples = runs[0]
    result.wall_time_s = time.perf_counter() - started
    return result


def breaking_failure(result: SearchResult, thresholds: Thresholds) -> str:
    """Why one search case fails ("" when it passes): below its axis' gate, or, with no
    gate, any failure found (as an unsolved episode fails a run without gates)."""
    minimum = thresholds.min_breaking_magnitude(result.key.axis)
    if minimum is None:
        return f"{result.summary()}; no min_breaking_magnitude gate" if result.found else ""
    if result.breaking_magnitude < minimum:
        return f"{result.summary()}; below min_breaking_magnitude {minimum:g}"
    return ""


def breaking_verdicts(results: Sequence[SearchResult],
                      thresholds: Thresholds) -> list[Verdict]:
    """One gate per searched axis that has a `min_breaking_magnitude`: the smallest
    breaking m over its tasks against it."""
    verdicts = []
    for axis in AXES:
        minimum = thresholds.min_breaking_magnitude(axis)
        mine = [r for r in results if r.key.axis == axis]
        if minimum is None or not mine:
            continue
        worst = min(mine, key=lambda r: r.breaking_magnitude)
        passed = worst.breaking_magnitude >= minimum
        where = (f"{worst.key.task} breaks at m={worst.breaking_magnitude:.2f}" if worst.found
                 else f"no failure in {len(mine)} searches")
        verdicts.append(Verdict(
            f"{BREAKING_GATE}[{axis}]", worst.breaking_magnitude, minimum, passed,
            f"{where} {'>=' if passed else '<'} {minimum:g}"))
    return verdicts
