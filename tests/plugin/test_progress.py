"""A long run says how far it is and how long is left: per setting and overall, from the
episode rate it measured; on a line of its own between pytest's dots, `-q` or not; off
with --wam-progress=0."""

from __future__ import annotations

import re

from pytest_wamrobust.core.model.types import CaseKey
from pytest_wamrobust.plugin.progress import Progress

LIFT = ("--suite=tabletop", "--policy=scripted", "--tasks=lift_cube", "--axes=clean,camera")


def keys(setting: str, count: int) -> list[CaseKey]:
    level = 0 if setting == "clean" else 1
    return [CaseKey("tabletop", "lift_cube", setting, level, seed) for seed in range(count)]


def test_the_line_counts_per_setting_and_projects_the_measured_rate():
    now = [0.0]
    lines: list[str] = []
    progress = Progress(60.0, lines.append, clock=lambda: now[0])
    cases = keys("clean", 40) + keys("camera", 1400)
    progress.expect(cases)
    progress.expect(cases)  # every xdist worker reports the same list: counted once
    progress.record(cases[0], True, played=False)  # carried over by --wam-resume
    for minute, case in enumerate(cases[40:52]):  # then one episode a minute
        now[0] = 60.0 * (minute + 1)
        progress.record(case, minute % 3 != 0)
    assert lines[-1] == ("wamrobust progress: 13 of 1,440 episodes (1%), 69.2% solved; "
                         "1.0 episodes/min, about 23 h 47 min left; clean 1/40 100%, "
                         "camera 12/1400 67%")
    assert len(lines) == 12  # every 60 s: one per episode here
    off: list[str] = []
    silent = Progress(0.0, off.append, clock=lambda: now[0])  # --wam-progress=off
    silent.expect(cases)
    for case in cases[40:52]:
        now[0] += 600.0
        silent.record(case, True)
    assert off == []


def test_a_run_prints_progress_lines(run_plugin):
    shown = run_plugin(*LIFT, "-n", "2", "-q", "--wam-progress=0.001")
    assert shown.ret == 0, shown.stdout.str()
    lines = [line for line in shown.stdout.lines if line.startswith("wamrobust progress:")]
    assert lines and all(re.fullmatch(
        r"wamrobust progress: \d+ of 6 episodes \(\d+%\), [\d.]+% solved; .*; "
        r"clean \d/3( \d+%)?, camera \d/3( \d+%)?", line) for line in lines), lines


def test_a_bad_interval_is_one_line(run_plugin):
    result = run_plugin(*LIFT, "--wam-progress=soon", inprocess=True)
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--wam-progress takes seconds between progress lines (or 0 "
                                 "for none), got 'soon'"])
