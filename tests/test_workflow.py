"""The release-gate workflow users copy: every flag it passes exists, so a copied file
does not die on a usage error in its first job."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from pytest_wamrobust.cli import build_parser

WORKFLOW = Path(__file__).resolve().parents[1] / ".github/workflows/robustness-gate.yml"


def commands(program: str) -> list[str]:
    """The workflow's `program ...` command lines, continuation lines joined."""
    text = WORKFLOW.read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip().startswith(program + " ")]


def flags(line: str) -> set[str]:
    return {match.split("=")[0] for match in re.findall(r"(?<![\w-])--[a-z][\w-]*(?:=)?", line)}


def test_every_pytest_flag_of_the_workflow_exists():
    help_text = subprocess.run([sys.executable, "-m", "pytest", "--help"], capture_output=True,
                               text=True, check=True).stdout
    used = set().union(*map(flags, commands("pytest")))
    assert {"--wam-shard", "--wam-video", "--benchmark-json", "--suite", "--policy"} <= used
    # pytest's help names --junit-xml; --junitxml is its documented alias
    assert not {f for f in used if f.replace("junitxml", "junit-xml") not in help_text}


def test_every_wamrobust_flag_of_the_workflow_exists():
    lines = commands("wamrobust")
    assert {line.split()[1] for line in lines} == {"report", "compare"}
    for line in lines:
        command = line.split()[1]
        subcommands = build_parser(command)._subparsers._group_actions[0]
        help_text = subcommands.choices[command].format_help()
        assert not {f for f in flags(line) if f not in help_text}, line
