"""Which run produced a result: the policy (its name and a fingerprint of what it
computes with), the suite and the package version.

`--wam-resume` carries an earlier run's outcomes over only when its identity is this
run's: an outcome of other weights, another suite or another version of the episode
runner says nothing about this run. Every run writes its identity (as `wam.run.*`
properties of the JUnit test suite, and as the first line of its results log), so any
earlier run can be resumed.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

#: Prefix of the run's identity among the test suite's properties.
PREFIX = "wam.run."
#: Beside the identity, not part of it: the versions of the run's environment (a torch
#: upgrade does not stop a resume), which the HTML report shows as the run recorded them.
VERSIONS = PREFIX + "versions"
#: Attribute of a policy factory that fingerprints what it would build (see `fingerprinted`).
ATTRIBUTE = "wamrobust_fingerprint"
#: Files up to this size are hashed whole; larger ones (multi-GB checkpoints) by their
#: size and evenly spaced blocks, which any retraining or fine-tuning changes, at a
#: fixed cost per run.
WHOLE_FILE_BYTES = 64 * 2**20
_BLOCK_BYTES = 2**20
_BLOCKS = 64

Factory = TypeVar("Factory", bound=Callable[..., Any])


@dataclass(frozen=True)
class RunIdentity:
    """`run_id` tells this run's files apart from an older run's at the same path; it is
    not part of the identity that must match."""

    policy: str
    fingerprint: str
    suite: str
    version: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex, compare=False)

    def values(self) -> dict[str, str]:
        return {"policy": self.policy, "fingerprint": self.fingerprint, "suite": self.suite,
                "version": self.version, "id": self.run_id}

    def properties(self) -> list[tuple[str, str]]:
        return [(PREFIX + name, value) for name, value in self.values().items()]

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> RunIdentity:
        """Inverse of `values`; KeyError if one is missing."""
        return cls(str(values["policy"]), str(values["fingerprint"]), str(values["suite"]),
                   str(values["version"]), str(values.get("id", "")))

    @classmethod
    def from_properties(cls, properties: Iterable[tuple[str, str]]) -> RunIdentity | None:
        """The identity among a test suite's properties; None for a file written before
        runs recorded one."""
        values = {name[len(PREFIX):]: value for name, value in properties
                  if name.startswith(PREFIX)}
        try:
            return cls.from_values(values)
        except KeyError:
            return None

    def mismatch(self, earlier: RunIdentity) -> str:
        """What differs from an earlier run, in words ("" when it is the same run)."""
        differences = [f"{what} {theirs!r} there, {ours!r} here" for what, ours, theirs in (
            ("policy", self.policy, earlier.policy),
            ("policy fingerprint", self.fingerprint, earlier.fingerprint),
            ("suite", self.suite, earlier.suite),
            ("pytest-wamrobust", self.version, earlier.version)) if ours != theirs]
        return "; ".join(differences)


def fingerprinted(fingerprint: Callable[..., str]) -> Callable[[Factory], Factory]:
    """Mark a policy factory with `fingerprint(ctx) -> str`, the digest of what the policy
    it builds computes with (its weights), read without building it."""

    def mark(factory: Factory) -> Factory:
        setattr(factory, ATTRIBUTE, fingerprint)
        return factory

    return mark


def policy_fingerprint(factory: Callable[..., Any], ctx: Any) -> str:
    """What the factory's `fingerprinted` mark computes; "" for a policy of code alone
    (scripted, random, noop), which the package version identifies."""
    fingerprint = getattr(factory, ATTRIBUTE, None)
    return str(fingerprint(ctx)) if callable(fingerprint) else ""


def files_digest(paths: Iterable[Path]) -> str:
    """A digest of the files' names and contents (large files sampled, see WHOLE_FILE_BYTES)."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        size = path.stat().st_size
        digest.update(f"{path.name}\0{size}\0".encode())
        with path.open("rb") as file:
            if size <= WHOLE_FILE_BYTES:
                digest.update(file.read())
                continue
            for block in range(_BLOCKS):
                file.seek((size - _BLOCK_BYTES) * block // (_BLOCKS - 1))
                digest.update(file.read(_BLOCK_BYTES))
    return "sha256:" + digest.hexdigest()[:16]


def data_digest(data: Any) -> str:
    """A digest of JSON-like data (a policy server's metadata), independent of key order."""
    text = json.dumps(data, sort_keys=True, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]
