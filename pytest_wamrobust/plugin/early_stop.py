"""--wam-decide: stop taking episodes once every rate gate's verdict is decided.

The controller feeds each outcome to `core.judging.sequential` in the seeded play order: only
the longest prefix of that order whose results are in, never in the order episodes
finish (a failing episode that runs to its step limit finishes last, and completion
order would bias what the gates see). Once every gate is decided it writes a stop
file with the reason; each process checks it before an episode and skips the rest with
that reason, so every collected case is still in JUnit and in the verdict line. Under
xdist the file's path travels to the workers in `workerinput`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from pytest_wamrobust.core.judging import gates
from pytest_wamrobust.core.judging.compare import DEFAULT_ALPHA
from pytest_wamrobust.core.judging.sequential import PASS, EarlyVerdicts
from pytest_wamrobust.core.model.types import CaseKey

#: workerinput key of the stop file's path.
STOP_FILE = "wamrobust_stop_file"
#: The controller's EarlyStop, where the episodes play in its own process.
EARLY_STOP_KEY = pytest.StashKey["EarlyStop"]()
#: How a skip for a decided run starts, so the controller tells it from a missing asset.
DECIDED = "gate verdict decided after"


class EarlyStop:
    """The controller's side: the play order, the sequential gates, the stop file."""

    def __init__(self, thresholds: gates.Thresholds, alpha: float | None) -> None:
        self.thresholds = thresholds
        self.alpha = DEFAULT_ALPHA if alpha is None else alpha
        self.folder = Path(tempfile.mkdtemp(prefix="wamrobust-decide-"))
        self.stop_file = self.folder / "stop"
        self.order: list[str] = []
        self.keys: dict[str, CaseKey] = {}
        self.outcomes: dict[str, bool] = {}
        self.verdicts: EarlyVerdicts | None = None
        self.fed = 0
        #: episodes in play order when every gate was decided (None: not decided)
        self.decided_after: int | None = None
        #: why early verdicts were switched off mid-run ("" while on)
        self.off = ""

    def start(self, ordered: list[tuple[str, CaseKey]]) -> None:
        """The collected episode cases, in play order (the same in every process)."""
        if self.order:
            return  # each xdist worker reports the same ids
        self.order = [nodeid for nodeid, _ in ordered]
        self.keys = dict(ordered)
        population = Counter(key.setting for _, key in ordered)
        self.verdicts = EarlyVerdicts.for_thresholds(self.thresholds, population, self.alpha)

    def record(self, nodeid: str, success: bool) -> None:
        """One case's outcome; feeds the play-order prefix, and stops the run when decided."""
        if nodeid not in self.keys or self.verdicts is None:
            return
        self.outcomes[nodeid] = success
        while self.fed < len(self.order) and self.order[self.fed] in self.outcomes:
            node = self.order[self.fed]
            if not self.off and self.decided_after is None:
                self.verdicts.record(self.keys[node].setting, self.outcomes[node])
            self.fed += 1
            if not self.off and self.decided_after is None and self.verdicts.decided:
                self.decided_after = self.fed
                self.stop_file.write_text(f"{DECIDED} {self.fed:,} of {len(self.order):,} "
                                          f"episodes (--wam-decide)")

    def unavailable(self, nodeid: str) -> None:
        """A case this machine cannot build leaves its gate's population: the sequence's
        population size no longer holds, so early verdicts stop (loudly) for this run."""
        if nodeid in self.keys and not self.off and self.decided_after is None:
            self.off = ("early verdicts off: a case could not be built on this machine, so "
                        "the gates' populations are not what was collected; every case runs")

    @property
    def stopped(self) -> bool:
        return self.decided_after is not None

    def gate_verdicts(self, played: list[gates.Verdict]) -> list[gates.Verdict]:
        """The rate gates as decided by the sequence (the latency gate as played)."""
        if not self.stopped or self.verdicts is None:
            return played
        decided = {}
        for name, gate in self.verdicts.gates.items():
            lo, hi = gate.interval
            judged = "success" if self.thresholds.judged_by == "point" else "95% lower bound"
            decided[name] = gates.Verdict(
                name, gate.k / gate.t if gate.t else float("nan"), self.thresholds.rates[name],
                gate.decision == PASS,
                f"decided early: the full run's {judged} of all {gate.n} is "
                f"{'>=' if gate.decision == PASS else '<'} {self.thresholds.rates[name]:.1%} "
                f"(anytime-valid {lo:.1%}-{hi:.1%} after {gate.t} in play order)")
        return [decided.get(v.name, v) for v in played]

    def lines(self) -> list[str]:
        if self.off:
            return [self.off]
        if not self.stopped or self.verdicts is None:
            return (["early verdicts: not decided before the last episode; the gates judge "
                     "the full run"] if self.verdicts is not None and self.order else [])
        played = self.decided_after or 0
        skipped = len(self.order) - played
        out = [f"early verdicts (--wam-decide, alpha {self.alpha:g}): every gate decided after "
               f"{played:,} of {len(self.order):,} episodes in play order; "
               f"{skipped:,} not played (skipped)"]
        for name, gate in self.verdicts.gates.items():
            lo, hi = gate.interval
            out.append(f"  {name:<12} {gate.decision:<4}  anytime-valid [{lo:.1%}, {hi:.1%}] "
                       f"for the rate over all {gate.n}, after {gate.t}")
        return out

    def reason(self) -> str:
        return (f"{self.decided_after:,} of {len(self.order):,} episodes played in play order"
                if self.stopped else "")

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def stop_reason(config: pytest.Config) -> str:
    """The reason to skip an episode because the run is decided; "" to play it."""
    path = getattr(config, "workerinput", {}).get(STOP_FILE)
    if path is None:
        early = config.stash.get(EARLY_STOP_KEY, None)
        path = early.stop_file if early is not None else None
    if path is None:
        return ""
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        return ""
