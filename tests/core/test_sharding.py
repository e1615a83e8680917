"""`--wam-shard=i/N`: every case in exactly one shard, evenly, whatever the input order."""

from __future__ import annotations

import argparse
import collections
import copy
import random

import pytest

from pytest_wamrobust.cli.arguments import argument_type
from pytest_wamrobust.core.cases.grid_suite import GridSuite
from pytest_wamrobust.core.cases.manifest import SuiteManifest
from pytest_wamrobust.core.cases.sharding import Shard, parse_shard, shard_cases, split_items
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import CaseSelection

REWRITES = {k: [f"{k} one"] for k in
            ("paraphrase", "synonyms", "distractor", "constraint", "reasoning")}


def grid(tasks=3, levels=(1, 3, 5), seeds=2):
    """The case matrix of a real suite manifest (the grid the plugin collects)."""
    manifest = SuiteManifest.from_dict({
        "suite": {"name": "mini", "default_levels": list(levels), "default_seeds": seeds},
        "tasks": [{"name": f"t{i}", "instruction": f"do {i}", "max_steps": 10 * (i + 1),
                   "rewrites": copy.deepcopy(REWRITES)} for i in range(tasks)],
    })
    return list(GridSuite(manifest).cases(CaseSelection()))


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])
def test_shards_partition_the_matrix_evenly(count):
    cases = grid()
    shards = [shard_cases(cases, Shard(i, count)) for i in range(1, count + 1)]
    flat = [key for shard in shards for key in shard]
    assert sorted(flat) == sorted(cases) and len(flat) == len(set(flat))
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1
    # each (task, setting) block is spread: no shard gets more than its fair share + 1
    for shard in shards:
        per_block = collections.Counter((k.task, k.setting) for k in shard)
        blocks = collections.Counter((k.task, k.setting) for k in cases)
        for block, n in per_block.items():
            assert n <= -(-blocks[block] // count)


def test_split_does_not_depend_on_input_order():
    cases = grid()
    shuffled = cases[:]
    random.Random(3).shuffle(shuffled)
    for i in (1, 2, 3):
        assert shard_cases(cases, Shard(i, 3)) == shard_cases(shuffled, Shard(i, 3))


def test_each_shard_mixes_tasks_and_axes():
    """A shard of a 4-way split holds every task and every setting, so shard costs match."""
    cases = grid()
    for i in range(1, 5):
        shard = shard_cases(cases, Shard(i, 4))
        assert {k.task for k in shard} == {"t0", "t1", "t2"}
        assert {k.setting for k in shard} == {k.setting for k in cases}


def test_parse_shard():
    assert parse_shard("2/4") == Shard(2, 4)
    assert parse_shard(" 1 / 1 ") == Shard(1, 1)
    assert str(parse_shard("3/8")) == "3/8"


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "2", "a/b", "1/2/3", "-1/2", ""])
def test_bad_shard_is_one_clear_line(text):
    with pytest.raises(UsageError, match="invalid shard") as info:
        parse_shard(text)
    assert "\n" not in str(info.value)


def test_bad_shard_as_argparse_type_is_a_usage_message(capsys):
    parser = argparse.ArgumentParser(prog="x")
    parser.add_argument("--wam-shard", type=argument_type(parse_shard))
    with pytest.raises(SystemExit):
        parser.parse_args(["--wam-shard=5/4"])
    assert "need 1 <= i <= N" in capsys.readouterr().err


def test_split_items_keeps_order_and_runs_other_tests_once():
    """What the plugin's collection hook does with its items (episodes and other tests)."""
    cases = grid(tasks=2)
    items = [f"test_episode[{k.case_id}]" for k in cases] + ["test_latency[scripted]"]
    by_id = {f"test_episode[{k.case_id}]": k for k in cases}
    parts = [split_items(items, by_id.get, Shard(i, 3)) for i in (1, 2, 3)]
    kept = [p[0] for p in parts]
    assert sorted(x for k in kept for x in k) == sorted(items)
    assert all(k == [x for x in items if x in k] for k in kept)  # original order
    assert ["test_latency[scripted]" in k for k in kept] == [True, False, False]
    for i, (keep, drop) in enumerate(parts, start=1):
        assert set(keep) | set(drop) == set(items) and not set(keep) & set(drop)
        assert {by_id[x] for x in keep if x in by_id} == set(shard_cases(cases, Shard(i, 3)))
