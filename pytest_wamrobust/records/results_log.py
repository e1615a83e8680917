"""The append-only results log beside a JUnit file (`report.xml.wamlog.jsonl`).

pytest writes its JUnit file once, when the session ends; a run killed with SIGKILL (an
out-of-memory kill, a pre-empted node, a CI job cancelled hard) leaves none. The log
is written as each case reports: the first line is the run's identity, then one JSON
line per episode with its `wam.*` properties, each flushed and fsynced, so what a run
had finished survives however it ends and `--wam-resume` carries it over.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.identity import RunIdentity
from pytest_wamrobust.core.model.results import EpisodeResult

SUFFIX = ".wamlog.jsonl"
#: The first line's key: what the file is, and its format's version.
FORMAT = "wamrobust_results_log"


def log_path(junit_path: str | Path) -> Path:
    """The log of the run given `--junitxml=junit_path`."""
    return Path(f"{junit_path}{SUFFIX}")


class ResultsLog:
    """This run's log. Opened (and so checked writable) at start-up without touching what
    an older run left at the path; `begin` replaces that once the session starts, so a
    run refused at start-up never costs the log a resume needs."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] | None = path.open("a", encoding="utf-8")

    def begin(self, identity: RunIdentity) -> None:
        if self._file is not None:
            self._file.truncate(0)
        self._write({FORMAT: 1, "run": identity.values()})

    def append(self, nodeid: str, properties: Iterable[tuple[str, str]]) -> None:
        self._write({"case": nodeid, "properties": [list(pair) for pair in properties]})

    def _write(self, entry: dict[str, object]) -> None:
        if self._file is None:
            return
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_log(path: Path) -> tuple[RunIdentity, list[EpisodeResult]]:
    """The run's identity and the episodes it logged. A last line cut short (the run was
    killed while writing it) is dropped, that case plays again; anything else that does
    not read is one UsageError line."""
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1]:  # no newline at the end: a torn last write
        lines = lines[:-1]
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise _corrupt(path, 1, "it is empty")
    try:
        head = json.loads(lines[0])
        identity = RunIdentity.from_values(head["run"]) if FORMAT in head else None
    except (ValueError, KeyError, TypeError):
        identity = None
    if identity is None:
        raise _corrupt(path, 1, "its first line is not a run's identity")
    results = []
    for number, line in enumerate(lines[1:], start=2):
        try:
            entry = json.loads(line)
            results.append(EpisodeResult.from_properties(
                (str(name), str(value)) for name, value in entry["properties"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise _corrupt(path, number, f"{type(exc).__name__}: {exc}") from None
    return identity, results


def _corrupt(path: Path, line: int, problem: str) -> UsageError:
    return UsageError(f"{path} is not a readable wamrobust results log (line {line}: "
                      f"{problem}); delete it to play every case again")
