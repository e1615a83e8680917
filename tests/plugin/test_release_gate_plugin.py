"""The release-gate options of the plugin, end to end with the real tabletop suite:
`--wam-shard` (CI jobs split one matrix), `--wam-video` (MP4s linked from JUnit),
`--wam-baseline` (gate against the last release in the same command) and cases a
machine cannot build (skipped, counted, never dropped)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from junitparser import JUnitXml, Properties, Skipped

from pytest_wamrobust.records.junit import read_results

GOLDEN_SCRIPTED = Path(__file__).resolve().parents[2] / "fixtures/junit/tabletop_scripted.xml"
SMALL = ("--suite=tabletop", "--tasks=lift_cube,open_drawer", "--axes=clean,camera,layout",
         "--levels=1,5", "--seeds=1")


def outcome_of(paths) -> dict[str, tuple[str, int, str]]:
    return {r.key.case_id: (r.status, r.steps, json.dumps(r.params, sort_keys=True))
            for r in read_results(paths)}


def test_shards_split_the_matrix_and_merge_into_the_unsharded_run(pytester, run_plugin):
    whole = run_plugin("--policy=scripted", *SMALL, "-p", "no:xdist", junit="whole.xml")
    assert whole.ret == 0, whole.stdout.str()
    shards = []
    for index in (1, 2, 3):
        result = run_plugin("--policy=scripted", *SMALL, f"--wam-shard={index}/3", "-n", "2",
                            junit=f"shard-{index}.xml")
        assert result.ret == 0, result.stdout.str()
        result.stdout.fnmatch_lines([f"*12 cases (shard {index}/3 runs about 1/3)*"])
        shards.append(outcome_of([pytester.path / f"shard-{index}.xml"]))

    assert [len(s) for s in shards] == [4, 4, 4]  # 12 cases, dealt evenly
    ids = [case for shard in shards for case in shard]
    assert len(ids) == len(set(ids))  # no case in two shards
    assert {c: o for s in shards for c, o in s.items()} == outcome_of([pytester.path / "whole.xml"])
    # the latency case (no episode) runs once, in shard 1
    latency = [i for i in (1, 2, 3)
               if "test_latency" in (pytester.path / f"shard-{i}.xml").read_text()]
    assert latency == [1]


def test_a_malformed_shard_is_one_line(run_plugin):
    result = run_plugin("--policy=scripted", *SMALL, "--wam-shard=4/3")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid shard '4/3': need 1 <= i <= N*"])


def test_failure_videos_are_written_and_linked_from_junit(pytester, run_plugin):
    result = run_plugin("--policy=random", "--suite=tabletop", "--tasks=lift_cube",
                        "--axes=clean", "--levels=1", "--seeds=1", "--wam-video=failures",
                        "--wam-artifacts=videos", "-p", "no:xdist")
    assert result.ret == 1  # random does not lift the cube
    video = pytester.path / "videos/random/tabletop__lift_cube__clean__L0__s00.mp4"
    assert video.is_file() and video.read_bytes()[4:8] == b"ftyp"  # an MP4 container
    xml = JUnitXml.fromfile(str(pytester.path / "report.xml"))
    case = next(c for s in xml for c in s if c.name.startswith("test_episode["))
    props = {p.name: p.value for p in case.child(Properties)}
    assert Path(props["wam.video"]).resolve() == video
    assert f"[[ATTACHMENT|{props['wam.video']}]]" in case.system_out

    solved = run_plugin("--policy=scripted", "--suite=tabletop", "--tasks=lift_cube",
                        "--axes=clean", "--levels=1", "--seeds=1", "--wam-video=failures",
                        "--wam-artifacts=solved", "-p", "no:xdist")
    assert solved.ret == 0
    assert not (pytester.path / "solved").exists()  # nothing failed, nothing written


@pytest.mark.slow  # three runs of 24 full-length episodes; test_verdict.py keeps the
# baseline deciding the exit status in the fast selection
def test_baseline_regression_sets_the_exit_status_even_when_the_gates_hold(pytester, run_plugin):
    pytester.makefile(".toml", gates="[thresholds]\noverall = 0.0\n")
    common = ("--suite=tabletop", "--tasks=lift_cube", "-n", "2", "--wam-thresholds=gates.toml")

    gates_only = run_plugin("--policy=random", *common)
    assert gates_only.ret == 0, gates_only.stdout.str()

    regressed = run_plugin("--policy=random", *common, f"--wam-baseline={GOLDEN_SCRIPTED}")
    assert regressed.ret == 1
    regressed.stdout.fnmatch_lines([
        f"baseline {GOLDEN_SCRIPTED}:",
        "*Candidate 'random' vs baseline 'scripted'*",
        "| Total * | 21 * | 100.0 * | 0.0 * | -100.0 * | 21/0 *| regressed *",
        "baseline comparison: REGRESSED (overall); the exit status is 1",
    ])
    xml = JUnitXml.fromfile(str(pytester.path / "report.xml"))
    gate = next(c for s in xml if s.name == "wamrobust.gates" for c in s if c.name == "baseline")
    assert "regressed against" in gate.result[0].message and "overall" in gate.result[0].message
    props = {p.name: p.value for p in gate.child(Properties)}
    assert props["wam.baseline.overall"].startswith("pairs=21 baseline=1.0000 candidate=0.0000")

    same = run_plugin("--policy=scripted", *common, f"--wam-baseline={GOLDEN_SCRIPTED}")
    assert same.ret == 0, same.stdout.str()
    same.stdout.fnmatch_lines(["baseline comparison: no regression"])


@pytest.mark.parametrize("make_file, message", [
    (lambda p: p / "missing.xml", "*missing.xml: no such file*"),
    (lambda p: p.joinpath("notes.xml").write_text("<coverage/>") and p / "notes.xml",
     "*notes.xml is not a JUnit report*"),
    (lambda p: GOLDEN_SCRIPTED, "*shares no case with this run*"),
])
def test_a_bad_baseline_is_one_line_before_any_episode(pytester, run_plugin, make_file, message):
    baseline = make_file(pytester.path)
    result = run_plugin("--policy=scripted", "--suite=tabletop", "--tasks=lift_cube",
                        "--levels=2", "--axes=camera",  # golden: 1,3,5
                        f"--wam-baseline={baseline}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "test_episode" not in result.stdout.str()


PARTLY_INSTALLED = '''
from pytest_wamrobust.core.model.errors import CaseUnavailableError
from pytest_wamrobust.sims.tabletop.suite import make_suite as make_tabletop


class PartlyInstalled:
    """The tabletop suite on a machine that lacks the light scenes' asset archive."""

    def __init__(self):
        self._tabletop = make_tabletop()

    def __getattr__(self, name):
        return getattr(self._tabletop, name)

    def make_env(self, spec):
        if spec.key.setting == "light":
            raise CaseUnavailableError(
                "light scenes need assets/scenes/lights/key.xml; unpack the asset archive")
        return self._tabletop.make_env(spec)


def make_suite():
    return PartlyInstalled()
'''


def test_a_case_this_machine_cannot_build_is_skipped_and_counted(pytester, run_plugin):
    pytester.makepyfile(partly_installed=PARTLY_INSTALLED)
    result = run_plugin("--policy=scripted", "--suite=partly_installed:make_suite",
                        "--tasks=lift_cube", "--axes=clean,light", "--levels=1,5", "-n", "2")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([
        "skipped 2 episodes (not run, not in the rates):",
        "  2 x light scenes need assets/scenes/lights/key.xml; unpack the asset archive",
    ])
    result.assert_outcomes(passed=2, skipped=3)  # 2 clean, 2 light + the latency case (xdist)
    xml = JUnitXml.fromfile(str(pytester.path / "report.xml"))
    light = [c for s in xml for c in s if "/light/" in c.name]
    assert len(light) == 2
    assert all(isinstance(c.result[0], Skipped)
               and "unpack the asset archive" in c.result[0].message for c in light)
