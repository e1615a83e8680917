"""The outcome of one episode, and its one serialised form: JUnit test-case properties.

The same `wam.*` property names are written by the pytest plugin (into the test's
`user_properties`, which xdist ships to the controller), read back by the controller to
build the robustness table, and read by `wamrobust report` / `compare` from any JUnit file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pytest_wamrobust.core.model.types import CaseKey

SUCCESS = "success"
FAILURE = "failure"
ERROR = "error"
#: A collected case that never produced a result (its worker was gone, the session
#: stopped early): an error in every count, so a partial run cannot look complete.
NOT_RUN = "not_run"
STATUSES = (SUCCESS, FAILURE, ERROR, NOT_RUN)

#: Prefix of every property we write, so foreign properties never collide with ours.
PREFIX = "wam."


@dataclass
class EpisodeResult:
    """Success, length, per-chunk latency and, if the episode crashed, a one-line error.

    `status` is "success", "failure" (ran to the step limit without solving the task),
    "error" (the policy or simulator faulted; `error` says why, `error_kind` how) or
    "not_run" (collected, never ran; counted as an error).
    """

    key: CaseKey
    status: str
    steps: int
    chunk_latencies_ms: list[float] = field(default_factory=list)
    params: Mapping[str, Any] = field(default_factory=dict)
    episode_seed: int = 0
    policy: str = ""
    instruction: str = ""
    error: str = ""
    error_kind: str = ""
    wall_time_s: float = 0.0
    clipped_values: int = 0
    video: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    #: How the policy was called (0: not known, e.g. a case that never ran): two runs
    #: that differ here measured two protocols.
    chunk_length: int = 0
    replan_steps: int = 0

    @property
    def success(self) -> bool:
        return self.status == SUCCESS

    @property
    def errored(self) -> bool:
        return self.status in (ERROR, NOT_RUN)

    def describe(self) -> str:
        """Task, setting, level, seed and steps: enough to re-run and read the case."""
        key = self.key
        return (f"task={key.task} setting={key.setting} level={key.level} "
                f"seed=s{key.seed_index:02d} episode_seed={self.episode_seed} steps={self.steps}")

    def latency_percentile(self, q: float) -> float:
        """Latency percentile in ms over this episode's chunks (NaN if none ran)."""
        if not self.chunk_latencies_ms:
            return float("nan")
        return float(np.percentile(self.chunk_latencies_ms, q))

    def to_properties(self) -> list[tuple[str, str]]:
        """Name/value pairs for JUnit `<property>` elements, in a stable order."""
        props = [
            ("suite", self.key.suite),
            ("task", self.key.task),
            ("setting", self.key.setting),
            ("level", str(self.key.level)),
            ("seed", str(self.key.seed_index)),
            ("episode_seed", str(self.episode_seed)),
            ("policy", self.policy),
            ("status", self.status),
            ("success", "true" if self.success else "false"),
            ("steps", str(self.steps)),
            ("chunks", str(len(self.chunk_latencies_ms))),
            *((("chunk_length", str(self.chunk_length)), ("replan_steps", str(self.replan_steps)))
              if self.chunk_length else ()),
            ("latency_p50_ms", _fmt(self.latency_percentile(50))),
            ("latency_p95_ms", _fmt(self.latency_percentile(95))),
            ("latency_p99_ms", _fmt(self.latency_percentile(99))),
            ("latency_max_ms", _fmt(self.latency_percentile(100))),
            ("latency_ms", json.dumps([round(x, 3) for x in self.chunk_latencies_ms])),
            ("params", json.dumps(self.params, sort_keys=True)),
            ("instruction", self.instruction),
            ("wall_time_s", _fmt(self.wall_time_s)),
            ("clipped_values", str(self.clipped_values)),
        ]
        if self.error:
            props += [("error", self.error), ("error_kind", self.error_kind)]
        if self.key.replay:
            props.append(("replay", self.key.replay))
        if self.video:
            props.append(("video", self.video))
        props += sorted(self.extra.items())
        return [(PREFIX + name, value) for name, value in props]

    @classmethod
    def from_properties(cls, properties: Iterable[tuple[str, Any]]) -> EpisodeResult:
        """Inverse of `to_properties`; raises KeyError if a required property is absent."""
        known = {
            "suite", "task", "setting", "level", "seed", "episode_seed", "policy", "status",
            "success", "steps", "chunks", "latency_p50_ms", "latency_p95_ms",
            "latency_p99_ms", "latency_max_ms", "latency_ms", "params", "instruction",
            "wall_time_s", "clipped_values", "error", "error_kind", "video", "replay",
            "chunk_length", "replan_steps",
        }
        values = result_values(properties)
        key = CaseKey(
            suite=values["suite"],
            task=values["task"],
            setting=values["setting"],
            level=int(values["level"]),
            seed_index=int(values["seed"]),
            replay=values.get("replay", ""),
        )
        return cls(
            key=key,
            status=values["status"],
            steps=int(values.get("steps", "0")),
            chunk_latencies_ms=[float(x) for x in json.loads(values.get("latency_ms", "[]"))],
            params=json.loads(values.get("params", "{}")),
            episode_seed=int(values.get("episode_seed", "0")),
            policy=values.get("policy", ""),
            instruction=values.get("instruction", ""),
            error=values.get("error", ""),
            error_kind=values.get("error_kind", ""),
            wall_time_s=float(values.get("wall_time_s", "0") or 0),
            clipped_values=int(values.get("clipped_values", "0") or 0),
            video=values.get("video", ""),
            chunk_length=int(values.get("chunk_length", "0") or 0),
            replan_steps=int(values.get("replan_steps", "0") or 0),
            extra={k: v for k, v in values.items() if k not in known},
        )


def has_result_properties(properties: Iterable[tuple[str, Any]]) -> bool:
    """True if a test case carries the properties of a wamrobust episode."""
    return {"suite", "status", "setting"} <= result_values(properties).keys()


#: Property names files written by earlier versions used, and what they are now.
_RENAMED = {"axis": "setting"}


def result_values(properties: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """The `wam.*` properties without their prefix, under today's names, so JUnit files
    written before a rename (`wam.axis` in 0.1.0) still read."""
    values = {name[len(PREFIX):]: str(value) for name, value in properties
              if name.startswith(PREFIX)}
    for old, new in _RENAMED.items():
        if old in values:
            values.setdefault(new, values.pop(old))
    return values


def _fmt(value: float) -> str:
    return "nan" if value != value else f"{value:.3f}"
