"""The release-gate workflows users copy (.github/workflows/): every command their steps
run is classified, as the docs' commands are (tests/docs/doc_commands.py reads both the
same way), and checked, so a copied file does not die on a usage error in its first job.
Every flag a `pytest` or `wamrobust` command passes exists; the LIBERO-Plus workflow's
episode step, run as written with pytest only collecting, lists its cases from the
project's own environment in each situation it meets (a pull request, a shard of a tag,
a re-run that resumes)."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from docs.doc_commands import is_command, logical_lines, strip_comment

from pytest_wamrobust.cli import build_parser

yaml = pytest.importorskip("yaml", reason="PyYAML reads the workflows (the ray extra has it)")

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
TABLETOP = "robustness-gate.yml"
LIBERO = "robustness-gate-libero.yml"
LIBERO_PYTHON = REPO / ".venv-libero" / "bin" / "python"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass(frozen=True)
class Step:
    """A `run:` step: its script and the `env:` GitHub gives it (the workflow's, the
    job's and its own, `${{ }}` expressions unresolved)."""

    workflow: str
    job: str
    name: str
    script: str
    env: dict[str, str]


def run_steps(workflow: str) -> list[Step]:
    data = yaml.safe_load((WORKFLOWS / workflow).read_text())
    steps = []
    for job_name, job in data["jobs"].items():
        for step in job["steps"]:
            if "run" in step:
                env = {**data.get("env", {}), **job.get("env", {}), **step.get("env", {})}
                steps.append(Step(workflow, job_name, step.get("name", ""), step["run"],
                                  {key: str(value) for key, value in env.items()}))
    return steps


def step_commands(step: Step) -> list[str]:
    """The step's commands as the docs' are read: a line that starts with a program,
    continuation lines joined, the comment dropped, `a && b` two, whitespace collapsed."""
    found = []
    for _, text in logical_lines(step.script.splitlines()):
        body = strip_comment(text.strip())
        if is_command(body):
            found += [" ".join(part.split()) for part in body.split(" && ")]
    return found


STEPS = run_steps(TABLETOP) + run_steps(LIBERO)
FOUND = {command: step for step in STEPS for command in step_commands(step)}


@dataclass(frozen=True)
class Flags:
    """Every `--flag` it passes is in the help of its program (pytest with this plugin,
    or the `wamrobust` subcommand)."""


@dataclass(frozen=True)
class Collects:
    """Its step runs as written, with `pytest` only collecting, in every SITUATIONS."""


@dataclass(frozen=True)
class Elsewhere:
    """Not run here: installs from the network, with root."""

    reason: str


PIP_SELF = Elsewhere("upgrades pip (network)")
REPORT_TOOLS = Elsewhere("the gate job's report tools from PyPI (network); "
                         "wamrobust report/compare run here without more")

# The classification, reviewed. Keys are the commands exactly as step_commands() reads
# them (a new or changed command fails test_every_workflow_command_is_classified).
CHECKS: dict[str, Flags | Collects | Elsewhere] = {
    # --- robustness-gate.yml: tabletop on CPU ---
    "python -m pip install --upgrade pip": PIP_SELF,
    "pip install torch --index-url https://download.pytorch.org/whl/cpu": Elsewhere(
        "the CPU torch wheel (network)"),
    'pytest -o junit_family=xunit1 -n auto --suite="$SUITE" --policy="$POLICY" '
    "--wam-shard=${{ matrix.shard }}/$SHARDS --wam-video=failures "
    "--junitxml=wamrobust-out/results/shard-${{ matrix.shard }}.xml": Flags(),
    'pytest -o junit_family=xunit1 -p no:xdist --suite="$SUITE" --policy="$POLICY" '
    "-k test_latency --benchmark-json=wamrobust-out/benchmark.json": Flags(),
    'wamrobust report shards/results/shard-*.xml "${args[@]}" --title "Robustness of $POLICY '
    'on $SUITE (${GITHUB_SHA::8})" --markdown report/report.md --html report/report.html '
    "--png report/heatmap.png --merged-xml report/results.xml || code=$?": Flags(),
    "wamrobust compare baseline/results.xml report/results.xml --alpha 0.05 --min-effect 5 "
    "--markdown report/compare.md": Flags(),
    "pip install junitparser numpy matplotlib": REPORT_TOOLS,
    'wamrobust report --history "${args[@]}" --label "this run=report/results.xml" --title '
    '"Robustness of $POLICY on $SUITE, run by run" --markdown report/history.md '
    "--html report/history.html --png report/trend.png": Flags(),
    # --- robustness-gate-libero.yml: LIBERO-Plus against a served policy ---
    "bash scripts/install.sh": Elsewhere(
        "apt packages and torch (root, network); .ci/run runs it"),
    "bash scripts/install_libero_plus.sh": Elsewhere(
        "builds .venv-libero from PyPI (network); .ci/run runs it, and the collection "
        "below checks what it built: imageio-ffmpeg for --wam-video included"),
    'pytest -n auto --suite=libero_plus --suite-arg variants="$VARIANTS" --policy="$POLICY" '
    '"${args[@]}" --wam-video=failures --wam-artifacts=wamrobust-out/videos '
    '--junitxml="$out"': Collects(),
    'wamrobust report wamrobust-out/results/*.xml --title "$title" '
    "--markdown wamrobust-out/report.md": Flags(),
    'wamrobust report "${files[@]}" "${args[@]}" --title "LIBERO-Plus robustness of $POLICY '
    '(${GITHUB_REF_NAME})" --markdown report/report.md --html report/report.html '
    "--png report/heatmap.png --merged-xml report/results.xml || code=$?": Flags(),
    "wamrobust compare baseline/results.xml report/results.xml --alpha 0.05 --min-effect 5 "
    "--inconclusive fail --markdown report/compare.md": Flags(),
}


def test_every_workflow_command_is_classified():
    unclassified = [f"{command!r} ({step.workflow}, job {step.job}, step {step.name!r})"
                    for command, step in FOUND.items() if command not in CHECKS]
    assert not unclassified, ("workflow commands nobody checks; classify each in CHECKS of "
                              "tests/test_workflow.py:\n  " + "\n  ".join(unclassified))
    stale = sorted(set(CHECKS) - set(FOUND))
    assert not stale, f"CHECKS lists commands no workflow has any more: {stale}"


def flags(command: str) -> set[str]:
    return {match.rstrip("=") for match in re.findall(r"(?<![\w-])--[a-z][\w-]*=?", command)}


@functools.cache
def pytest_help() -> str:
    return subprocess.run([sys.executable, "-m", "pytest", "--help"], capture_output=True,
                          text=True, check=True).stdout


def help_of(command: str) -> str:
    program, subcommand = command.split()[:2]
    if program == "pytest":
        return pytest_help().replace("--junit-xml", "--junitxml")  # its documented alias
    parser = build_parser(subcommand)._subparsers._group_actions[0]
    return parser.choices[subcommand].format_help()


@pytest.mark.parametrize("command", [c for c, check in CHECKS.items() if check == Flags()])
def test_every_flag_of_a_workflow_command_exists(command):
    assert flags(command), command
    assert not {flag for flag in flags(command) if flag not in help_of(command)}, command


@dataclass(frozen=True)
class Situation:
    """A run of the LIBERO-Plus episode step: the repository's settings, the matrix
    entry, files already in the workspace, what pytest must be given, and its count."""

    shard: int
    settings: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    passes: tuple[str, ...] = ()
    #: SAMPLE=2: 2 cases per axis x level of the 25 the PyPI assets can build, and the
    #: latency case
    collected: str = r"51 tests collected"


#: a shard of the 6,983 runnable variants and the latency case
SHARD_OF_ALL = r"\d+/6984 tests collected \(\d+ deselected\)"
SERVED_PI05 = {"POLICY": "pi05", "POLICY_ARGS": "server=ws://gpu-box:8000 replan_steps=5",
               "WAMROBUST_POLICY_API_KEY": "not-a-real-key"}
SITUATIONS = {
    "pull request, scripted oracle, no gates file": Situation(
        0, passes=("--wam-sample=2", "--suite-arg", "variants=runnable")),
    "pull request, pi05 served, gates": Situation(
        0, SERVED_PI05, {"wamrobust-gates-libero.toml": "overall = 0.5\n"},
        passes=("--policy=pi05", "--policy-arg", "server=ws://gpu-box:8000", "replan_steps=5",
                "--wam-thresholds=wamrobust-gates-libero.toml", "--wam-decide")),
    "tag, shard 1 of 16, pi05 served": Situation(
        1, SERVED_PI05, passes=("--wam-shard=1/16",), collected=SHARD_OF_ALL),
    "re-run of a cancelled shard 3": Situation(
        3, files={"wamrobust-out/results/shard-3.xml.wamlog.jsonl": ""},
        passes=("--wam-shard=3/16", "--wam-resume=wamrobust-out/results/shard-3.xml"),
        collected=SHARD_OF_ALL),
}


def resolve(value: str, context: dict[str, dict[str, str]]) -> str:
    """`${{ scope.NAME }}` and `${{ scope.NAME || 'default' }}` as GitHub fills them in."""
    def one(match: re.Match[str]) -> str:
        name, _, default = (part.strip() for part in match.group(1).partition("||"))
        scope, _, key = name.partition(".")
        return context[scope].get(key, "") or default.strip("'")
    return EXPRESSION.sub(one, value)


@pytest.mark.skipif(not LIBERO_PYTHON.exists(), reason=(
    "no .venv-libero here: bash scripts/install_libero_plus.sh builds it"))
@pytest.mark.parametrize("situation", list(SITUATIONS))
def test_the_libero_episode_step_collects_its_cases_from_the_main_environment(situation,
                                                                             tmp_path):
    given = SITUATIONS[situation]
    [step] = [s for s in run_steps(LIBERO) if any(
        isinstance(CHECKS.get(c), Collects) for c in step_commands(s))]
    context = {"vars": given.settings, "secrets": given.settings,
               "matrix": {"shard": str(given.shard)}}
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "pytest").write_text(  # this environment's pytest, collecting only
        f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path}/argv"\n'
        f'exec "{sys.executable}" -m pytest -p no:cacheprovider --collect-only -q "$@"\n')
    (shim / "pytest").chmod(0o755)
    workspace = tmp_path / "workspace"
    for name, text in given.files.items():
        (workspace / name).parent.mkdir(parents=True, exist_ok=True)
        (workspace / name).write_text(text)
    workspace.mkdir(exist_ok=True)
    env = {**os.environ, **{k: resolve(v, context) for k, v in step.env.items()},
           "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}",
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    script = tmp_path / "step.sh"
    script.write_text(step.script)
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                          cwd=workspace, env=env, capture_output=True, text=True, timeout=300)

    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert re.search(rf"^{given.collected} in ", output, re.M), output
    argv = (tmp_path / "argv").read_text().splitlines()
    assert not [word for word in given.passes if word not in argv], argv
    if "--wam-decide" not in given.passes:
        assert "--wam-decide" not in argv


def test_the_gate_job_puts_the_trend_of_the_last_baselines_into_the_job_summary(tmp_path):
    """The trend step as written, with `gh` answering from two stored baselines (the
    golden scripted run twice) and this run the golden random one: three rows oldest
    first, this run's drop marked, the chart in report/."""
    [step] = [s for s in run_steps(TABLETOP) if s.name.startswith("Trend")]
    fixtures = REPO / "fixtures" / "junit"
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "gh").write_text(  # `run list` after its --jq (newest first, reversed), `run download`
        '#!/bin/bash\nif [ "$1 $2" = "run list" ]; then\n'
        '  printf "11 7 aaaaaaaaaa\\n12 8 bbbbbbbbbb\\n"\n'
        f'elif [ "$1 $2" = "run download" ]; then mkdir -p "${{@: -1}}" && '
        f'cp "{fixtures}/tabletop_scripted.xml" "${{@: -1}}/results.xml"\nelse exit 1; fi\n')
    (shim / "gh").chmod(0o755)
    workspace = tmp_path / "workspace"
    (workspace / "report").mkdir(parents=True)
    (workspace / "report" / "results.xml").write_bytes(
        (fixtures / "tabletop_random.xml").read_bytes())
    summary = tmp_path / "summary.md"
    context = {"github": {"event.repository.default_branch": "main", "token": "-"}}
    env = {**os.environ, **{k: resolve(v, context) for k, v in step.env.items()},
           "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}", "GITHUB_REPOSITORY": "o/r",
           "GITHUB_STEP_SUMMARY": str(summary)}
    script = tmp_path / "step.sh"
    script.write_text(resolve(step.script, context))
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                          cwd=workspace, env=env, capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split("|")[1].strip() for line in summary.read_text().splitlines()
            if line.startswith("| ")]
    assert rows == ["Run", "#7 aaaaaaaa", "#8 bbbbbbbb", "this run"]
    assert "| 0.0 ▼ " in summary.read_text() and "### Success rate" not in summary.read_text()
    assert (workspace / "report" / "trend.png").stat().st_size > 10_000
