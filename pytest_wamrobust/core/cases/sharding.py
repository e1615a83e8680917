"""Subsets of the case matrix: `--wam-shard=i/N` keeps the i-th of N parts (CI jobs),
`--wam-sample=k` keeps k cases per (setting, level) (a smoke run).

Every job computes the split on its own, so it must depend only on the set of cases,
never on their order or on the machine. Cases are sorted by their key and dealt
round-robin: shard sizes differ by at most one, and each (task, setting) block is
spread over all shards, so a slow task or an expensive axis does not pile up in one
job. Merging the shards' JUnit files gives exactly the cases of one unsharded run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.parsing import parse_number
from pytest_wamrobust.core.model.types import SETTINGS, CaseKey

T = TypeVar("T")

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """The `index`-th (1-based, like CI matrix values) of `count` shards."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """Parse `i/N` with 1 <= i <= N."""
    match = _SHARD.match(str(text))
    if not match:
        raise UsageError(
            f"invalid shard {text!r}: expected i/N, e.g. --wam-shard=2/4 for the second of four")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise UsageError(
            f"invalid shard {text!r}: need 1 <= i <= N (shards are numbered from 1)")
    return Shard(index, count)


def _order(key: CaseKey) -> tuple:
    """Task-major, then the study's setting order, so round-robin dealing interleaves
    every (task, setting) block across shards."""
    setting = SETTINGS.index(key.setting) if key.setting in SETTINGS else len(SETTINGS)
    return (key.suite, key.task, setting, key.setting, key.level, key.seed_index, key.replay)


def shard_cases(cases: Iterable[CaseKey], shard: Shard) -> list[CaseKey]:
    """The cases of `shard`, in canonical order; duplicates count once."""
    ordered = sorted(set(cases), key=_order)
    return ordered[shard.index - 1::shard.count]


def split_items(items: Sequence[T], key_of: Callable[[T], CaseKey | None],
                shard: Shard) -> tuple[list[T], list[T]]:
    """(kept, deselected) test items, in their original order.

    Items that are no episode case (`key_of` gives None: the latency benchmark, a user's
    own tests) run in shard 1 only, so a merged run holds each exactly once.
    """
    keys = {item_key for item_key in map(key_of, items) if item_key is not None}
    chosen = set(shard_cases(keys, shard))
    kept: list[T] = []
    deselected: list[T] = []
    for item in items:
        key = key_of(item)
        keep = key in chosen if key is not None else shard.index == 1
        (kept if keep else deselected).append(item)
    return kept, deselected


def parse_sample_size(text: str) -> int:
    k = parse_number(text, int)
    if k is None or k < 1:
        raise UsageError(f"invalid sample size {text!r}: expected a whole number >= 1 "
                         f"of cases per (setting, level), e.g. --wam-sample=1")
    return k


def stratified_sample(cases: Sequence[CaseKey], k: int) -> list[CaseKey]:
    """k cases per (setting, level), the same on every machine and worker: within a
    stratum, the cases whose ids hash lowest, so a sample spreads over tasks (and
    LIBERO-Plus' sub-suites) instead of taking the first ones. Keeps the input order."""
    strata: dict[tuple[str, int], list[CaseKey]] = {}
    for key in cases:
        strata.setdefault((key.setting, key.level), []).append(key)
    keep: set[CaseKey] = set()
    for members in strata.values():
        keep.update(sorted(members, key=_digest)[:k])
    return [key for key in cases if key in keep]


def _digest(key: CaseKey) -> bytes:
    return hashlib.sha256(key.case_id.encode()).digest()
