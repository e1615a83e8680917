"""`--wam-progress`: a line every so often with episodes done, the success rate so far
and the time left, per setting and overall, from the episode rate measured in this run.

A 10,030-episode LIBERO-Plus run shows dots for hours otherwise. The line is written on
the controller, on a line of its own between pytest's progress dots (as pytest's own
warnings are), so `-q`, `-n N` and `--wam-ray` read the same; `--wam-progress=0` turns it
off. Episodes carried over by `--wam-resume` count as done but not into the rate.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable

from pytest_wamrobust.core.model.types import SETTINGS, CaseKey

#: Seconds between two progress lines unless --wam-progress says otherwise.
DEFAULT_INTERVAL_S = 30.0


class Progress:
    """Counts per setting; `line()` is what the terminal shows."""

    def __init__(self, interval_s: float, write: Callable[[str], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self._write = write
        self._clock = clock
        self._total: Counter[str] = Counter()
        self._done: Counter[str] = Counter()
        self._solved: Counter[str] = Counter()
        self._played = 0
        self._first_played_at: float | None = None
        self._last_line_at = clock()

    def expect(self, keys: Iterable[CaseKey]) -> None:
        """The collected cases (called once per worker's identical list: kept once)."""
        if not self._total:
            self._total.update(key.setting for key in keys)

    def record(self, key: CaseKey, solved: bool, played: bool = True) -> None:
        """One case reported; `played` False for one carried over from an earlier run."""
        self._done[key.setting] += 1
        self._solved[key.setting] += solved
        now = self._clock()
        if played:
            self._played += 1
            if self._first_played_at is None:
                self._first_played_at = now
        remaining = sum(self._total.values()) - sum(self._done.values())
        if self.interval_s and remaining > 0 and now - self._last_line_at >= self.interval_s:
            self._last_line_at = now
            self._write(self.line(now))

    def line(self, now: float | None = None) -> str:
        now = self._clock() if now is None else now
        total, done = sum(self._total.values()), sum(self._done.values())
        solved = sum(self._solved.values())
        rate = f", {solved / done:.1%} solved" if done else ""
        settings = [f"{s} {self._done[s]}/{self._total[s]}"
                    + (f" {self._solved[s] / self._done[s]:.0%}" if self._done[s] else "")
                    for s in SETTINGS if self._total[s]]
        return (f"wamrobust progress: {done:,} of {total:,} episodes ({done / max(total, 1):.0%})"
                f"{rate}; {self._time_left(total - done, now)}; {', '.join(settings)}")

    def _time_left(self, remaining: int, now: float) -> str:
        """From the rate since the first played episode reported (worker start-up and
        carried-over cases left out)."""
        if self._first_played_at is None or self._played < 2 or now <= self._first_played_at:
            return "time left: not yet measured"
        per_minute = (self._played - 1) / (now - self._first_played_at) * 60.0
        return f"{per_minute:.1f} episodes/min, {_time_left_text(remaining / per_minute)}"


def _time_left_text(minutes: float) -> str:
    if minutes < 1:
        return "under a minute left"
    if minutes < 90:
        return f"about {minutes:.0f} min left"
    hours, rest = divmod(round(minutes), 60)
    return f"about {hours} h {rest:02d} min left"
