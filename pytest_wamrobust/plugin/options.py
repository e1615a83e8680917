"""The plugin's command-line and ini options, and the typed functions that parse them.

Each parser raises the core's UsageError with one line: on the command line
`argument_type` makes it argparse's usage error, for an ini key `_from_ini` names the
key in front of it.
"""

from __future__ import annotations

import argparse
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.parsing import (
    parse_levels,
    parse_list,
    parse_number,
    parse_policy_arg,
    parse_seconds_or_off,
    parse_seed_count,
    parse_settings,
    parse_suite_arg,
    raising,
)
from pytest_wamrobust.core.model.types import SETTINGS
from pytest_wamrobust.core.running.deadline import DEFAULT_INFER_TIMEOUT_S

if TYPE_CHECKING:
    from pytest_wamrobust.core.cases.sharding import Shard

GROUP = "wamrobust"
#: The naming rule, stated where users look for it (`pytest --help`).
DESCRIPTION = ("robustness evaluation of robot policies (pytest-wamrobust). Bare options "
               "select what runs (--policy, --suite, --tasks, --axes, --levels, --seeds, "
               "--policy-arg); --wam-* options set how it runs and reports; each has an ini "
               "key of the same name with wamrobust_ (e.g. wamrobust_suite, "
               "wamrobust_thresholds). A setting is clean or one of the seven axes")
#: `--wam-ray` given without an address: start a Ray runtime in this process.
RAY_LOCAL = "local"
#: --wam-ray-policy's values; the first is the default.
RAY_POLICY_PLACEMENTS = ("per-actor", "shared")
#: More CPUs per Ray actor than any node has: a typo.
MAX_CPUS_PER_ACTOR = 1024
#: Where --wam-video writes, relative to the directory pytest runs in.
DEFAULT_ARTIFACTS = "wamrobust-artifacts"


def deferred(path: str) -> Callable[[str], Any]:
    """A parser imported when an option is given: installed, the plugin loads in every
    pytest run of the environment, which should not pay for numpy (or anything else)
    unless it evaluates a policy."""
    module, _, name = path.partition(":")

    def parse(text: str) -> Any:
        return getattr(importlib.import_module(module), name)(text)

    parse.__name__ = name  # argparse names the type in "invalid <name> value"
    return parse


def argument_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """`parse` as the type of a pytest option (pytest's parser is argparse): its
    UsageError is the one-line usage error, as in cli/arguments.py."""
    return raising(argparse.ArgumentTypeError, parse)


parse_alpha = deferred("pytest_wamrobust.core.judging.compare:parse_alpha")
parse_min_effect = deferred("pytest_wamrobust.core.judging.compare:parse_min_effect")
parse_inconclusive_rule = deferred(
    "pytest_wamrobust.core.judging.compare:parse_inconclusive_rule")
parse_shard = deferred("pytest_wamrobust.core.cases.sharding:parse_shard")
parse_sample_size = deferred("pytest_wamrobust.core.cases.sharding:parse_sample_size")
parse_video_selection = deferred("pytest_wamrobust.records.video:parse_video_selection")
parse_search_count = deferred(
    "pytest_wamrobust.core.search.breaking_point:parse_search_count")


def parse_infer_timeout(text: str) -> float:
    """Seconds one `policy.infer` may take; 0 (or `off`) lifts the deadline."""
    return parse_seconds_or_off(text, "--wam-infer-timeout", "a positive number of seconds")


def parse_progress_interval(text: str) -> float:
    """Seconds between two --wam-progress lines; 0 (or `off`) for none."""
    return parse_seconds_or_off(text, "--wam-progress", "seconds between progress lines")


def parse_ray_address(text: str) -> str:
    """`--wam-ray` alone (`local`): a Ray runtime of this process; `auto`: the cluster
    `ray start` runs on this machine; `ray://HOST:PORT` or `HOST:PORT`: that cluster."""
    value = str(text).strip()
    if value in (RAY_LOCAL, "auto") or re.fullmatch(r"(ray://)?[\w.-]+:\d+", value):
        return value
    raise UsageError(
        f"--wam-ray takes nothing (a local runtime), auto, ray://HOST:PORT or HOST:PORT, got "
        f"{text!r} (a path after a bare --wam-ray is read as its address: write "
        f"--wam-ray=ADDRESS or put --wam-ray last)")


def parse_cpus_per_actor(text: str) -> float:
    cpus = parse_number(text, float)
    if cpus is None or not 0 < cpus <= MAX_CPUS_PER_ACTOR:
        raise UsageError(f"--wam-ray-cpus takes a number of CPUs per actor above 0 (e.g. 1 "
                         f"or 0.5), got {text!r}")
    return cpus


def parse_ray_policy_placement(text: str) -> str:
    value = str(text).strip()
    if value not in RAY_POLICY_PLACEMENTS:
        choices = " or ".join(RAY_POLICY_PLACEMENTS)
        raise UsageError(f"--wam-ray-policy takes {choices}, got {text!r}")
    return value


def switch(flag: str) -> Callable[[str], bool]:
    """The parser of an on/off flag: alone it is true; its ini value is true or false."""

    def parse(text: str) -> bool:
        value = str(text).strip().lower()
        if value not in ("true", "false", "yes", "no", "1", "0", "on", "off"):
            raise UsageError(f"{flag} takes no value (or true/false), got {text!r} (a test "
                             f"path after it? put {flag} last)")
        return value in ("true", "yes", "1", "on")

    parse.__name__ = flag.lstrip("-").replace("-", "_")
    return parse


@dataclass(frozen=True)
class _Option:
    flag: str
    ini: str
    parse: Callable[[str], Any] | None
    help: str
    metavar: str
    #: the value of a flag given without one (`--wam-ray`); None: a value is required
    bare: str | None = None
    #: a comma list, so its ini value may also be a TOML list (`["camera", "light"]`)
    listed: bool = False
    #: its RunOptions field, when the flag's name is not it (`--axes` selects settings)
    name: str = ""


_OPTIONS = (
    _Option("--policy", "wamrobust_policy", None,
            "policy to evaluate: a registered name (scripted, random, noop ...), "
            "module:callable, ws://host:port (openpi server) or lerobot:/path", "POLICY"),
    _Option("--suite", "wamrobust_suite", None,
            "suite whose cases to generate, e.g. tabletop (or module:callable)", "SUITE"),
    _Option("--tasks", "wamrobust_tasks", parse_list, "comma list of tasks (default: all)", "T1,T2",
            listed=True),
    _Option("--axes", "wamrobust_axes", parse_settings,
            f"comma list of settings, clean and any of the seven axes (default: all): "
            f"{','.join(SETTINGS)}", "S1,S2", listed=True, name="settings"),
    _Option("--seeds", "wamrobust_seeds", parse_seed_count,
            "seeds per (task, setting, level) (default: the suite's)", "N"),
    _Option("--levels", "wamrobust_levels", parse_levels,
            "difficulty levels, e.g. 1,3,5 or 1-5 (default: the suite's)", "LEVELS",
            listed=True),
    _Option("--wam-thresholds", "wamrobust_thresholds", None,
            "TOML file of gates (overrides [tool.wamrobust.thresholds] and the suite's)", "FILE"),
    _Option("--wam-shard", "wamrobust_shard", parse_shard,
            "run only shard I of N of the case matrix (1-based, e.g. 2/4); merging the "
            "shards' JUnit files gives one run's results", "I/N"),
    _Option("--wam-sample", "wamrobust_sample", parse_sample_size,
            "keep K cases per (setting, level), chosen by a hash of the case id: a "
            "deterministic smoke sample of a large suite", "K"),
    _Option("--wam-video", "wamrobust_video", parse_video_selection,
            "write an MP4 of the cameras for these episodes: failures, all or none "
            "(default none)", "WHICH"),
    _Option("--wam-artifacts", "wamrobust_artifacts", None,
            f"folder for the videos (default {DEFAULT_ARTIFACTS})", "DIR"),
    _Option("--wam-infer-timeout", "wamrobust_infer_timeout", parse_infer_timeout,
            "seconds one policy.infer call may take before its episode is an error and "
            f"the policy instance is rebuilt (default {DEFAULT_INFER_TIMEOUT_S:g}; 0: none)",
            "SECONDS"),
    _Option("--wam-progress", "wamrobust_progress", parse_progress_interval,
            "every SECONDS, a line with the episodes done, the success rate so far and the "
            "time left, per setting and overall (default 30; 0 or off: none)", "SECONDS"),
    _Option("--wam-ray", "wamrobust_ray", parse_ray_address,
            "play the episodes on Ray actors instead of here: alone, a local Ray runtime; "
            "auto, the cluster `ray start` runs on this machine; ray://HOST:10001, a "
            "remote one (pip install 'pytest-wamrobust[ray]')", "ADDRESS", bare=RAY_LOCAL),
    _Option("--wam-ray-cpus", "wamrobust_ray_cpus", parse_cpus_per_actor,
            "CPUs each Ray actor (one simulator and its policy) reserves (default 1)", "N"),
    _Option("--wam-ray-policy", "wamrobust_ray_policy", parse_ray_policy_placement,
            "where the policy runs under --wam-ray: per-actor (default, an instance in "
            "each simulator actor) or shared (one batched instance per GPU of the "
            "cluster for all actors; needs a policy with infer_batch)", "PLACEMENT"),
    _Option("--wam-baseline", "wamrobust_baseline", None,
            "JUnit XML of a baseline run (e.g. the last release): pair the cases, exact "
            "McNemar per setting, exit status 1 on a regression", "FILE"),
    _Option("--wam-alpha", "wamrobust_alpha", parse_alpha,
            "family-wise significance level of --wam-baseline and --wam-decide (default "
            "0.05)", "ALPHA"),
    _Option("--wam-min-effect", "wamrobust_min_effect", parse_min_effect,
            "smallest change in percentage points --wam-baseline counts (default 5)", "PP"),
    _Option("--wam-inconclusive", "wamrobust_inconclusive", parse_inconclusive_rule,
            "what a --wam-baseline drop too few cases can judge does: pass (default; the "
            "verdict says INCONCLUSIVE) or fail (exit status 1, for a strict release gate)",
            "pass|fail"),
    _Option("--wam-search", "wamrobust_search", parse_search_count,
            "search each selected (task, axis) for its breaking point with Hypothesis: N "
            "examples (one rollout each), the first failure shrunk to its smallest "
            "magnitude; one test_search case per (task, axis)", "N"),
    _Option("--wam-examples", "wamrobust_examples", None,
            "folder of the failing perturbations --wam-search keeps and replays first, "
            "and --wam-replay runs (default .wamrobust/examples)", "DIR"),
    _Option("--wam-replay", "wamrobust_replay", switch("--wam-replay"),
            "run exactly the failing perturbations --wam-search kept under --wam-examples "
            "(ids like tabletop/lift_cube/light/m0.23/<hash>) instead of the level grid: "
            "the regression suite", "true|false", bare="true"),
    _Option("--wam-decide", "wamrobust_decide", switch("--wam-decide"),
            "early verdicts: play the cases in a seeded random order and stop taking new "
            "ones once every rate gate's verdict is decided by an anytime-valid confidence "
            "sequence (wrong with probability <= --wam-alpha); the rest are skipped with "
            "the reason", "true|false", bare="true"),
    _Option("--wam-resume", "wamrobust_resume", parse_list,
            "resume earlier runs: PATH is the --junitxml path a finished, interrupted or "
            "killed run was given (comma list: the shards of a job); cases it recorded as "
            "solved or not solved are carried over (wam.resumed_from), the rest play; "
            "refused unless policy, fingerprint, suite and version match", "PATH,...",
            listed=True),
    _Option("--wam-in-process", "wamrobust_in_process", switch("--wam-in-process"),
            "play the episodes in this pytest process when no -n is given (default: in "
            "one isolated xdist worker, so a policy that hangs or kills its process costs "
            "its case, not the run); for debugging", "true|false", bare="true"),
    _Option("--wam-sim-python", "wamrobust_sim_python", None,
            "the Python that plays the episodes when the suite's simulator cannot be "
            "imported here (default: the suite's, e.g. .venv-libero/bin/python for "
            "libero_plus, or WAMROBUST_LIBERO_PYTHON); the session stays here", "PATH"),
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, DESCRIPTION)
    for opt in _OPTIONS:
        bare = {} if opt.bare is None else {"nargs": "?", "const": opt.bare}
        parse = None if opt.parse is None else argument_type(opt.parse)
        group.addoption(opt.flag, dest=_dest(opt), type=parse, default=None,
                        metavar=opt.metavar, help=opt.help, **bare)
        parser.addini(opt.ini, f"default for {opt.flag}", default=None)
    group.addoption("--policy-arg", dest="wam_policy_args", type=argument_type(parse_policy_arg),
                    action="append", default=[], metavar="KEY=VALUE",
                    help="option passed to the policy factory (repeatable)")
    parser.addini("wamrobust_policy_args", "KEY=VALUE lines passed to the policy factory",
                  type="linelist", default=[])
    group.addoption("--suite-arg", dest="wam_suite_args", type=argument_type(parse_suite_arg),
                    action="append", default=[], metavar="KEY=VALUE",
                    help="option passed to the suite factory (repeatable); refused unless "
                         "the factory takes options")
    parser.addini("wamrobust_suite_args", "KEY=VALUE lines passed to the suite factory",
                  type="linelist", default=[])


#: pytest-benchmark options that ask for its measurement: pytest-benchmark measures and
#: reports only in the process that runs pytest, so these keep the episodes here too.
_BENCHMARK_OUTPUTS = ("benchmark_json", "benchmark_save", "benchmark_autosave",
                      "benchmark_only", "benchmark_enable", "benchmark_compare",
                      "benchmark_histogram")


def plays_in_isolated_worker(config: pytest.Config) -> bool:
    """Whether a run without -n gets one xdist worker: it evaluates a suite, xdist is
    loaded, and nothing asks for this process (--wam-in-process, a debugger, Ray, a
    pytest-benchmark measurement of the latency case)."""
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return False
    if config.getoption("numprocesses", None) not in (None, 0, "0"):
        return False
    if any(config.getoption(name, False) for name in ("usepdb", "trace", "collectonly",
                                                      *_BENCHMARK_OUTPUTS)):
        return False
    if _switch(config, "wam_in_process", "wamrobust_in_process") or (
            config.getoption("wam_ray", None) or _raw_ini(config, "wamrobust_ray")):
        return False
    return bool(config.getoption("wam_suite", None) or _raw_ini(config, "wamrobust_suite"))


def _raw_ini(config: pytest.Config, name: str) -> Any:
    """An ini value before validation (RunOptions validates it, with its one line)."""
    try:
        return config.getini(name)
    except (TypeError, ValueError):
        return None


def _switch(config: pytest.Config, dest: str, ini: str) -> bool:
    value = config.getoption(dest, None)
    if value is None:
        value = _raw_ini(config, ini)
    return str(value).strip().lower() in ("true", "yes", "1", "on")


@dataclass(frozen=True)
class RunOptions:
    """The options in force after the command line overrides the ini file."""

    policy: str | None = None
    suite: str | None = None
    tasks: tuple[str, ...] | None = None
    settings: tuple[str, ...] | None = None
    seeds: int | None = None
    levels: tuple[int, ...] | None = None
    thresholds: str | None = None
    shard: Shard | None = None
    sample: int | None = None
    video: str | None = None
    artifacts: str | None = None
    infer_timeout: float | None = None
    progress: float | None = None
    ray: str | None = None
    ray_cpus: float | None = None
    ray_policy: str | None = None
    baseline: str | None = None
    alpha: float | None = None
    min_effect: float | None = None
    inconclusive: bool | None = None
    search: int | None = None
    examples: str | None = None
    replay: bool | None = None
    in_process: bool | None = None
    decide: bool | None = None
    resume: tuple[str, ...] | None = None
    sim_python: str | None = None
    policy_args: dict[str, str] = field(default_factory=dict)
    suite_args: dict[str, str] = field(default_factory=dict)

    @property
    def infer_deadline_s(self) -> float | None:
        """The deadline in force: the default unless set; None when set to 0."""
        if self.infer_timeout is None:
            return DEFAULT_INFER_TIMEOUT_S
        return self.infer_timeout or None

    @property
    def search_examples(self) -> int:
        """--wam-search's examples per (task, axis); 0 without a search."""
        return self.search or 0

    @property
    def examples_dir(self) -> str:
        """The folder in force for --wam-search's failures and --wam-replay."""
        from pytest_wamrobust.core.search.breaking_point import DEFAULT_EXAMPLES_DIR

        return self.examples or DEFAULT_EXAMPLES_DIR

    @classmethod
    def from_config(cls, config: pytest.Config) -> RunOptions:
        values = {}
        for opt in _OPTIONS:
            value = config.getoption(_dest(opt))
            if value is None:
                value = _from_ini(config, opt)
            values[_dest(opt)[len("wam_"):]] = value
        args = dict(_from_ini_line(line) for line in _getini(config, "wamrobust_policy_args",
                                                              _LINES_HINT))
        args.update(config.getoption("wam_policy_args"))
        suite_args = dict(_from_ini_line(line, "wamrobust_suite_args", parse_suite_arg)
                          for line in _getini(config, "wamrobust_suite_args", _LINES_HINT))
        suite_args.update(config.getoption("wam_suite_args"))
        return cls(**values, policy_args=args, suite_args=suite_args)


#: File options whose ini value is relative to the ini file, not to where pytest runs.
_PATHS_RELATIVE_TO_INI = ("wamrobust_thresholds", "wamrobust_baseline", "wamrobust_artifacts",
                          "wamrobust_examples", "wamrobust_sim_python")


def _dest(opt: _Option) -> str:
    return "wam_" + (opt.name or opt.flag.lstrip("-").removeprefix("wam-").replace("-", "_"))


#: How a KEY=VALUE lines key is written under [tool.pytest], whose types pytest enforces.
_LINES_HINT = 'a list of strings, e.g. ["KEY=VALUE"]'


def _getini(config: pytest.Config, name: str, hint: str) -> Any:
    """The ini value; under [tool.pytest] (pytest 9's TOML mode) pytest raises TypeError
    for a value of another TOML type than the key's: one line with the fix instead."""
    try:
        return config.getini(name)
    except TypeError as exc:
        raise pytest.UsageError(f"{exc}; write {hint}") from None


def _from_ini(config: pytest.Config, opt: _Option) -> Any:
    raw = _getini(config, opt.ini, f'a string, e.g. {opt.ini} = "{opt.metavar}"')
    if isinstance(raw, list):  # [tool.pytest.ini_options] hands a TOML list over as is
        if not opt.listed:
            raise pytest.UsageError(f"ini option {opt.ini} takes one value, got the list "
                                    f"{raw!r}; write {opt.ini} = \"{opt.metavar}\"")
        raw = ",".join(map(str, raw))
    if raw in (None, ""):
        return None
    if opt.ini in _PATHS_RELATIVE_TO_INI and config.inipath is not None:
        return str(config.inipath.parent / str(raw).strip())
    if opt.parse is None:
        return str(raw).strip()
    try:
        return opt.parse(str(raw))
    except UsageError as exc:
        raise pytest.UsageError(f"ini option {opt.ini}: {exc}") from None


def _from_ini_line(line: str, ini: str = "wamrobust_policy_args",
                   parse: Callable[[str], tuple[str, str]] = parse_policy_arg
                   ) -> tuple[str, str]:
    try:
        return parse(line)
    except UsageError as exc:
        raise pytest.UsageError(f"ini option {ini}: {exc}") from None
