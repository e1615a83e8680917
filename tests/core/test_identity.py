"""A run's identity (what --wam-resume compares) and the results log a killed run leaves."""

from __future__ import annotations

import json

import pytest

from pytest_wamrobust.core.model import identity
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.identity import RunIdentity, files_digest
from pytest_wamrobust.core.model.results import EpisodeResult
from pytest_wamrobust.core.model.types import CaseKey
from pytest_wamrobust.records.results_log import ResultsLog, read_log

RUN = RunIdentity("tiny-vla", "sha256:0123", "tabletop", "0.1.0")


def test_only_policy_fingerprint_suite_and_version_must_match():
    assert RUN.mismatch(RunIdentity("tiny-vla", "sha256:0123", "tabletop", "0.1.0")) == ""
    assert RUN.mismatch(RunIdentity("tiny-vla", "sha256:9999", "libero_plus", "0.1.0")) == (
        "policy fingerprint 'sha256:9999' there, 'sha256:0123' here; "
        "suite 'libero_plus' there, 'tabletop' here")
    assert RunIdentity.from_properties(RUN.properties()) == RUN
    assert RunIdentity.from_properties([("wam.run.policy", "x")]) is None


def test_a_digest_sees_any_change_of_a_small_file_and_any_block_of_a_large_one(
        tmp_path, monkeypatch):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(bytes(4096))
    before = files_digest([weights])
    weights.write_bytes(bytes(4095) + b"\x01")
    assert files_digest([weights]) != before

    monkeypatch.setattr(identity, "WHOLE_FILE_BYTES", 1024)
    monkeypatch.setattr(identity, "_BLOCK_BYTES", 64)
    monkeypatch.setattr(identity, "_BLOCKS", 64)  # 64 x 64 bytes cover all 4096
    sampled = files_digest([weights])
    weights.write_bytes(bytes(2000) + b"\x02" + bytes(2095))
    assert files_digest([weights]) != sampled


def result(seed: int) -> EpisodeResult:
    return EpisodeResult(CaseKey("tabletop", "lift_cube", "clean", 0, seed), "success", 40)


def test_a_log_cut_short_by_a_kill_reads_to_its_last_whole_line(tmp_path):
    path = tmp_path / "report.xml.wamlog.jsonl"
    path.write_text("an older run's log\n")
    log = ResultsLog(path)
    assert path.read_text() == "an older run's log\n"  # kept until the session starts
    log.begin(RUN)
    for seed in range(3):
        log.append(f"wamrobust::test_episode[{result(seed).key.case_id}]",
                   result(seed).to_properties())
    log.close()
    with path.open("a") as file:
        file.write('{"case": "wamrobust::test_episode[tabl')  # the kill, mid-write
    run, results = read_log(path)
    assert run == RUN and run.run_id == RUN.run_id
    assert [r.key.seed_index for r in results] == [0, 1, 2]


def test_a_broken_line_inside_the_log_is_one_line(tmp_path):
    path = tmp_path / "report.xml.wamlog.jsonl"
    head = json.dumps({"wamrobust_results_log": 1, "run": RUN.values()})
    path.write_text(head + '\n{"case": "x"}\n')  # the identity, then a line of no case
    with pytest.raises(UsageError, match=r"line 2: KeyError: 'properties'\); delete it"):
        read_log(path)
