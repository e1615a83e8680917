"""How often a run calls its policy: the effective `chunk_length` and `replan_steps`, and
which side set each, for the header line at start-up (each episode's JUnit carries the
values too).

A `--policy-arg` that changes them is applied or refused before any episode, never
dropped (docs/policies.md): a run that reads `replan_steps 1 (--policy-arg)` called its
policy after every step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.results import EpisodeResult

#: Who set a value: the policy's own default, the user's --policy-arg, a policy server.
DEFAULT = "default"
POLICY_ARG = "--policy-arg"
SERVER = "server"
KEYS = ("chunk_length", "replan_steps")


@dataclass(frozen=True)
class Chunking:
    """A policy's chunking as it will run, each value with who set it."""

    chunk_length: int
    replan_steps: int
    chunk_set_by: str = DEFAULT
    replan_set_by: str = DEFAULT
    #: the name a policy server gives the policy it serves ("" when not served): known
    #: only once the server answered, it names the run's latency case and report row
    served_name: str = ""

    @classmethod
    def of(cls, chunk_length: int, replan_steps: int, options: Mapping[str, str], *,
           served: bool = False) -> Chunking:
        """The values a policy runs with; `served`: a policy server decided the chunk, and
        the replanning unless a --policy-arg set it."""
        fallback = SERVER if served else DEFAULT
        chunk_by = SERVER if served else (POLICY_ARG if "chunk_length" in options else DEFAULT)
        replan_by = POLICY_ARG if "replan_steps" in options else fallback
        return cls(chunk_length, replan_steps, chunk_by, replan_by)

    def text(self) -> str:
        return (f"chunk_length {self.chunk_length} ({self.chunk_set_by}), "
                f"replan_steps {self.replan_steps} ({self.replan_set_by})")


def unknown_text(policy: str, options: Mapping[str, str]) -> str:
    """The header's words when only building the policy would tell (its factory offers no
    start-up check): what the user set, and where the rest is recorded."""
    given = [f"{key} {options[key]} ({POLICY_ARG})" for key in KEYS if key in options]
    rest = [key for key in KEYS if key not in options]
    own = (f"{' and '.join(rest)}: {policy}'s own, known once it is built (each episode's "
           f"{', '.join('wam.' + key for key in rest)} in JUnit)") if rest else ""
    return ", ".join([*given, own] if own else given)


def check_replanning(replan_steps: int, chunk_length: int, where: str) -> None:
    """One wording for a replan_steps no chunk can serve: each call returns
    `chunk_length` actions, so at most that many run before the next call."""
    if not 1 <= replan_steps <= chunk_length:
        raise UsageError(
            f"--policy-arg replan_steps={replan_steps} cannot apply: {where} returns "
            f"{chunk_length} actions per call, so replan_steps must be 1..{chunk_length}")


def protocol_difference(baseline: Iterable[EpisodeResult],
                        candidate: Iterable[EpisodeResult]) -> str:
    """A line for a comparison whose two runs called their policies differently (from
    each episode's wam.chunk_length / wam.replan_steps); "" when they did not, or when a
    file predates those properties."""

    def used(results: Iterable[EpisodeResult]) -> list[tuple[int, int]]:
        return sorted({(r.chunk_length, r.replan_steps) for r in results if r.chunk_length})

    def text(pairs: list[tuple[int, int]]) -> str:
        return " and ".join(f"chunk_length {c} / replan_steps {r}" for c, r in pairs)

    base, cand = used(baseline), used(candidate)
    if not base or not cand or base == cand:
        return ""
    return (f"Protocols differ: the baseline ran {text(base)}, the candidate {text(cand)}; "
            f"part of any difference is how often the policy was called.")
