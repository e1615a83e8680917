"""The reliability run: inject every fault of the catalogue through a real pytest run,
then feed every bad input of the catalogue to a fresh pytest, and count what held.

    python benchmarks/bench_reliability.py

Faults (tests/plugin/test_reliability.py's FAULTS): each is a real run of 4 cases with one
fault injected (a policy that raises, hangs, spins, segfaults its worker, a simulator
that fails mid-episode, a served policy that stalls or dies, a session cut short). It
survived when every case is in the JUnit file and the table, the faulty ones as errors
with one line and their seed, no traceback reached the user, and the exit status is
the one the gates call for. A case missing from the JUnit file counts as lost.

Bad inputs (tests/plugin/test_bad_input.py and tests/policies/test_hostile_peer.py): the
test modules run as they do in CI; each bad input is one test case asserting one line, no traceback
and no episode, so "one line" counts the cases that passed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from junitparser import JUnitXml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "plugin")]

# Importable only once tests/plugin is on sys.path (above).
from test_reliability import CASES, FAULTS, problems, run_fault  # noqa: E402

#: The hostile-peer tests that feed bad input (URLs, ports) rather than a faulty peer.
BAD_INPUT_TESTS = ("plugin/test_bad_input.py",
                   "policies/test_hostile_peer.py::test_bad_urls_are_one_usage_line_before_connecting",
                   "policies/test_hostile_peer.py::test_serve_refuses_a_bad_port_in_one_argparse_line",
                   "policies/test_hostile_peer.py::test_serve_on_a_port_in_use_is_one_line")


def run_faults() -> tuple[int, int, int]:
    survived = lost = 0
    for fault in FAULTS:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.monotonic()
            outcome = run_fault(fault, Path(tmp))
        found = problems(fault, outcome)
        lost += max(0, CASES - len(outcome.episodes))
        survived += not found
        verdict = "survived" if not found else "BROKE: " + "; ".join(found)
        print(f"  fault {fault.name:<45} {time.monotonic() - started:5.1f} s  {verdict}")
    return len(FAULTS), survived, lost


def run_bad_inputs() -> tuple[int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "bad_inputs.xml"
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "-p", "no:xdist", f"--junitxml={xml}",
                        *(f"tests/{t}" for t in BAD_INPUT_TESTS)],
                       cwd=ROOT, stdout=subprocess.DEVNULL, check=False)
        cases = [case for suite in JUnitXml.fromfile(str(xml)) for case in suite]
    ran = [case for case in cases if not case.is_skipped]
    return len(ran), sum(case.is_passed for case in ran)


def main() -> int:
    print("faults:")
    faults, survived, lost = run_faults()
    inputs, one_line = run_bad_inputs()
    print(f"faults injected {faults}, survived {survived}, cases lost {lost}; "
          f"bad inputs {inputs}, one line {one_line}")
    return 0 if survived == faults and lost == 0 and one_line == inputs else 1


if __name__ == "__main__":
    sys.exit(main())
