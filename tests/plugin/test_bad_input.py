"""A user breaks every option in turn: each mistake is one line before any episode runs.

Everything below fails in `pytest_configure` or in argparse, so the runs are in-process
(a fresh interpreter costs 1-2 s each); a few representative ones also run as a real
subprocess, as in CI. Then the pieces: PolicyContext's accessors, the keys each built-in
policy declares, a real policy on `device=cpu` and refusing a GPU this machine lacks, and
`wamrobust report` on episodes whose properties cannot be counted.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

# Imported before any pytester exists: an in-process run unloads the modules it imported,
# and torch (loaded by the device checks) cannot be imported twice in one process.
import torch
from report_data import grid_results

from pytest_wamrobust.cli import main
from pytest_wamrobust.core.model import policy_args, registry
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.types import CameraSpec, EnvSpec, Observation
from pytest_wamrobust.records.junit import read_results, write_results

SUITE = ("--suite=tabletop", "--tasks=lift_cube", "--axes=clean", "--levels=1")
NOOP = ("--policy=noop", *SUITE)
VIDEO = (*NOOP, "--wam-video=all")
SPEC = EnvSpec("tabletop", (CameraSpec("agentview", 64, 64), CameraSpec("wrist", 64, 64)),
               state_dim=8, action_dim=7, control_hz=20.0)
#: Needs a free port on this machine; nothing listens on the discard port.
NOBODY = "ws://127.0.0.1:9"
ARGPARSE = "argparse"


def cuda_available() -> bool:
    return torch.cuda.is_available()


def root() -> bool:
    return os.geteuid() == 0


def case(name: str, args: tuple[str, ...], message: str, kind: str = "usage", *,
         subprocess: bool = False, unless: str | None = None):
    """One bad input; `unless` names a condition of this machine under which it is not bad."""
    marks = [pytest.mark.skipif(unless, reason=f"not an error when {unless}")] if unless else []
    return pytest.param(args, message, kind, subprocess, id=name, marks=marks)


BAD_INPUTS = [
    # --policy: what it names
    case("http-url", ("--policy=http://localhost:8000", *SUITE),
         "--policy 'http://localhost:8000': a policy server URL starts with ws:// or wss://",
         subprocess=True),
    case("https-url", ("--policy=https://gpu-box/pi05", *SUITE),
         "a policy server URL starts with ws:// or wss://"),
    case("tcp-url", ("--policy=tcp://gpu-box:8000", *SUITE),
         "a policy server URL starts with ws:// or wss://"),
    case("ws-without-host", ("--policy=ws://", *SUITE), "bad policy server URL 'ws://': no host"),
    case("unknown-policy", ("--policy=nope", *SUITE),
         "unknown policy 'nope' for --policy (searched the entry points of "),
    case("policy-typo", ("--policy=tiny-vl", *SUITE), "did you mean 'tiny-vla'?"),
    case("policy-without-suite", ("--policy=noop",),
         "--policy needs --suite, the suite whose cases to run", subprocess=True),
    case("suite-without-policy", SUITE, "--suite needs --policy"),
    case("lerobot-no-folder", ("--policy=lerobot:nowhere", *SUITE),
         "'nowhere' is not a LeRobot checkpoint (no such folder); pass the pretrained_model "
         "folder save_pretrained wrote"),
    case("lerobot-a-file", ("--policy=lerobot:a_file", *SUITE),
         "'a_file' is not a LeRobot checkpoint (a file, not a folder)"),
    case("lerobot-empty-folder", ("--policy=lerobot:empty", *SUITE),
         "(no config.json / model.safetensors there)"),
    case("lerobot-config-only", ("--policy=lerobot:config_only", *SUITE),
         "(no model.safetensors there)"),
    # --policy-arg: keys and values
    case("policy-arg-without-equals", (*NOOP, "--policy-arg", "noequals"),
         "--policy-arg takes KEY=VALUE, got 'noequals'", ARGPARSE),
    case("unknown-policy-arg", ("--policy=tiny-vla", *SUITE, "--policy-arg", "foo=1"),
         "policy 'tiny-vla' does not take --policy-arg foo; it takes: device, threads, weights"),
    case("policy-arg-typo", ("--policy=tiny-wam", *SUITE, "--policy-arg", "thread=2"),
         "it takes: device, threads, weights; did you mean 'threads'?"),
    case("device-on-the-oracle", ("--policy=scripted", *SUITE, "--policy-arg", "device=cpu"),
         "policy 'scripted' does not take --policy-arg device; it takes: chunk_length, "
         "replan_steps"),
    case("device-on-a-server", (f"--policy={NOBODY}", *SUITE, "--policy-arg", "device=cuda"),
         f"policy '{NOBODY}' does not take --policy-arg device; it takes: api_key, "
         f"connect_timeout, request_timeout, chunk_length, replan_steps"),
    case("cuda-without-cuda", ("--policy=tiny-vla", *SUITE, "--policy-arg", "device=cuda:0"),
         "device cuda:0 is not available (torch.cuda.is_available() is False); use "
         "--policy-arg device=cpu", subprocess=True, unless="cuda_available()"),
    case("device-not-a-device", ("--policy=tiny-vla", *SUITE, "--policy-arg", "device=gpu"),
         "--policy-arg device=gpu must be a torch device, e.g. cpu, cuda or cuda:0"),
    case("threads-zero", ("--policy=tiny-wam", *SUITE, "--policy-arg", "threads=0"),
         "--policy-arg threads=0 must be an integer >= 1"),
    case("chunk-length-word", ("--policy=random", *SUITE, "--policy-arg", "chunk_length=many"),
         "--policy-arg chunk_length=many must be an integer >= 1"),
    case("connect-timeout-negative", ("--policy=pi05", *SUITE, "--policy-arg",
                                      "connect_timeout=-1"),
         "--policy-arg connect_timeout=-1 must be a positive number of seconds"),
    case("connect-timeout-word", (f"--policy={NOBODY}", *SUITE, "--policy-arg",
                                  "connect_timeout=abc"),
         "--policy-arg connect_timeout=abc must be a positive number of seconds"),
    case("ini-policy-arg-without-equals", (*NOOP, "-o", "wamrobust_policy_args=noequals"),
         "ini option wamrobust_policy_args: --policy-arg takes KEY=VALUE"),
    # the case matrix
    case("suite-unknown", ("--policy=noop", "--suite=nope"), "unknown suite 'nope' for --suite"),
    case("suite-typo", ("--policy=noop", "--suite=tabletp"), "did you mean 'tabletop'?"),
    case("tasks-unknown", ("--policy=noop", "--suite=tabletop", "--tasks=nope"),
         "unknown task 'nope' in suite 'tabletop'; tasks: lift_cube, "),
    case("axes-unknown", (*NOOP, "--axes=bogus"), "unknown setting 'bogus'; choose from clean,",
         ARGPARSE),
    case("level-9", (*NOOP, "--levels=9"), "invalid level '9': levels run 1-5", ARGPARSE),
    case("seeds-huge", (*NOOP, "--seeds=99999999999999999999"),
         "--seeds must be 1-10000, got 99999999999999999999", ARGPARSE, subprocess=True),
    case("seeds-zero", (*NOOP, "--seeds=0"), "--seeds must be 1-10000, got 0", ARGPARSE),
    case("ini-seeds-huge", (*NOOP, "-o", "wamrobust_seeds=1000000"),
         "ini option wamrobust_seeds: --seeds must be 1-10000, got 1000000"),
    case("too-many-cases", ("--policy=noop", "--suite=tabletop", "--seeds=10000"),
         "--suite=tabletop selects 1,920,000 cases (tasks x settings x levels x seeds), more "
         "than the 1,000,000 one session lists (MAX_CASES)"),
    case("shard-3-of-2", (*NOOP, "--wam-shard=3/2"), "invalid shard '3/2'", ARGPARSE),
    case("sample-0", (*NOOP, "--wam-sample=0"), "invalid sample size '0'", ARGPARSE),
    # files
    case("thresholds-missing", (*NOOP, "--wam-thresholds=nowhere.toml"),
         "cannot read thresholds file nowhere.toml"),
    case("thresholds-not-toml", (*NOOP, "--wam-thresholds=not_toml.toml"),
         "thresholds file not_toml.toml is not valid TOML"),
    case("thresholds-unknown-key", (*NOOP, "--wam-thresholds=typo.toml"),
         "typo.toml: unknown threshold 'camra'; keys are clean, camera, "),
    case("thresholds-stat-a-list", (*NOOP, "--wam-thresholds=stat_list.toml"),
         "stat_list.toml: latency_stat = ['p95']; use one of p95, p99, max"),
    case("thresholds-tool-a-string", (*NOOP, "--wam-thresholds=tool_string.toml"),
         "tool_string.toml: tool = 'x' is not a table; write the gates at top level, under "
         "[thresholds] or under [tool.wamrobust.thresholds]"),
    case("thresholds-tool-wamrobust-a-number", (*NOOP, "--wam-thresholds=tool_number.toml"),
         "tool_number.toml: tool.wamrobust = 5 is not a table"),
    case("thresholds-error-rate-above-1", (*NOOP, "--wam-thresholds=error_rate.toml"),
         "error_rate.toml: max_error_rate = 1.5 must be a share of episodes in [0, 1]"),
    case("replay-hand-edited", ("--policy=noop", "--suite=tabletop", "--wam-examples=edited",
                                "--wam-replay"),
         "--wam-replay: edited/replay/tabletop/lift_cube/light/0123456789.json: params.tint = "
         "[0.5, 0.5] must be a list of 3 values; fix that entry or delete the file"),
    case("artifacts-a-file", (*VIDEO, "--wam-artifacts=a_file"),
         "--wam-artifacts a_file cannot hold the videos (it is a file); pass a folder this "
         "user can write"),
    case("artifacts-below-a-file", (*VIDEO, "--wam-artifacts=a_file/videos"),
         "--wam-artifacts a_file/videos cannot hold the videos (Not a directory)"),
    case("artifacts-read-only", (*VIDEO, "--wam-artifacts=read_only/videos"),
         "--wam-artifacts read_only/videos cannot hold the videos (Permission denied)",
         unless="root()"),
    case("video-unknown", (*NOOP, "--wam-video=some"), "invalid --wam-video 'some'", ARGPARSE),
    # gates that could judge nothing, or are of the wrong kind
    case("gate-without-its-setting", (*NOOP, "--wam-thresholds=gate_camera.toml"),
         "gate_camera.toml: the gate camera = 0.5 has no camera case to judge in this run; "
         "select camera with --axes (a setting list) or drop the gate"),
    case("overall-gate-without-an-axis", (*NOOP, "--wam-thresholds=gate_overall.toml"),
         "the gate overall = 0.5 has no perturbed-axis case to judge in this run"),
    case("error-rate-negative", (*NOOP, "--wam-thresholds=error_rate_negative.toml"),
         "max_error_rate = -0.1 must be a share of episodes in [0, 1]"),
    case("error-rate-a-list", (*NOOP, "--wam-thresholds=error_rate_list.toml"),
         "max_error_rate = [0.1] is not a number"),
    case("judge-a-list", (*NOOP, "--wam-thresholds=judge_list.toml"),
         "judge = ['point']; use one of point, wilson_lower"),
    # --wam-decide and --wam-in-process
    case("decide-without-gates", (*NOOP, "--wam-decide"),
         "--wam-decide stops the run once every rate gate is decided, and this run has none"),
    case("decide-with-a-shard", (*NOOP, "--wam-decide", "--wam-thresholds=gate_clean.toml",
                                 "--wam-shard=1/2"),
         "--wam-decide cannot be used with --wam-shard: a shard sees only its part of each "
         "gate's population; drop one of them"),
    case("decide-with-a-baseline", (*NOOP, "--wam-decide", "--wam-thresholds=gate_clean.toml",
                                    "--wam-baseline=a_file"),
         "--wam-decide cannot be used with --wam-baseline"),
    case("decide-a-word", (*NOOP, "--wam-decide=maybe"),
         "--wam-decide takes no value (or true/false), got 'maybe'", ARGPARSE),
    case("ini-decide-a-word", (*NOOP, "-o", "wamrobust_decide=perhaps"),
         "--wam-decide takes no value (or true/false), got 'perhaps'"),
    case("in-process-a-word", (*NOOP, "--wam-in-process=sometimes"),
         "--wam-in-process takes no value (or true/false), got 'sometimes'", ARGPARSE),
    case("infer-timeout-a-word", (*NOOP, "--wam-infer-timeout=soon"),
         "--wam-infer-timeout takes a positive number of seconds (or 0 for none), got 'soon'",
         ARGPARSE),
    case("alpha-zero-for-decide", (*NOOP, "--wam-decide", "--wam-thresholds=gate_clean.toml",
                                   "--wam-alpha=0"),
         "--wam-alpha", ARGPARSE),
]


@pytest.fixture
def files(pytester: pytest.Pytester) -> pytest.Pytester:
    """What the bad inputs point at, in the folder the runs start in."""
    path = pytester.path
    (path / "a_file").write_text("not a folder\n")
    (path / "empty").mkdir()
    (path / "config_only").mkdir()
    (path / "config_only" / "config.json").write_text("{}")
    (path / "not_toml.toml").write_text("clean = = 1\n")
    (path / "typo.toml").write_text("camra = 0.5\n")
    (path / "stat_list.toml").write_text('latency_stat = ["p95"]\n')
    (path / "tool_string.toml").write_text('tool = "x"\n')
    (path / "tool_number.toml").write_text("[tool]\nwamrobust = 5\n")
    (path / "error_rate.toml").write_text("max_error_rate = 1.5\n")
    (path / "error_rate_negative.toml").write_text("max_error_rate = -0.1\n")
    (path / "error_rate_list.toml").write_text("max_error_rate = [0.1]\n")
    (path / "judge_list.toml").write_text('judge = ["point"]\n')
    (path / "gate_camera.toml").write_text("camera = 0.5\n")
    (path / "gate_overall.toml").write_text("overall = 0.5\n")
    (path / "gate_clean.toml").write_text("clean = 0.5\n")
    stored = path / "edited" / "replay" / "tabletop" / "lift_cube" / "light"
    stored.mkdir(parents=True)
    (stored / "0123456789.json").write_text(json.dumps({  # a channel of tint deleted
        "suite": "tabletop", "task": "lift_cube", "axis": "light", "magnitude": 0.23,
        "params": {"intensity_log2": -0.3, "tint": [0.5, 0.5], "ambient": 0.07,
                   "azimuth_deg": -20.7, "elevation_deg": -6.9},
        "scene": 0, "episode_seed": 1657306580}))
    (path / "read_only").mkdir(mode=0o500)
    return pytester


@pytest.mark.parametrize("args, message, kind, subprocess", BAD_INPUTS)
def test_bad_input_is_one_line_before_any_episode(files, args, message, kind, subprocess):
    runner = files.runpytest_subprocess if subprocess else files.runpytest_inprocess
    assert_one_line(runner("-p", "no:cacheprovider", "-p", "no:xdist", *args), message, kind)


def assert_one_line(result: pytest.RunResult, message: str, kind: str = "usage") -> None:
    """The session stopped at start-up with exactly one error line, holding `message`."""
    out, err = result.stdout.str(), result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, out + err
    if kind == ARGPARSE:  # pytest prints the usage line, then argparse's one error line
        errors = [line for line in err.splitlines() if re.search(r"error: argument ", line)]
    else:
        errors = [line for line in err.splitlines() if line.strip()]
        assert errors and errors[0].startswith("ERROR: ")
    assert len(errors) == 1, err
    assert message in errors[0]
    assert "Traceback" not in out + err and "During handling" not in out + err
    assert "test_episode" not in out and "collected" not in out


@pytest.mark.parametrize("pyproject, message", [
    pytest.param("[tool]\nwamrobust = 5\n",
                 "pyproject.toml: tool.wamrobust = 5 is not a table; gates go under "
                 "[tool.wamrobust.thresholds], options under [tool.pytest.ini_options]",
                 id="tool-wamrobust-a-number"),
    pytest.param('[tool.wamrobust.thresholds]\nlatency_stat = ["p95"]\n',
                 "pyproject.toml [tool.wamrobust.thresholds]: latency_stat = ['p95']; use one "
                 "of p95, p99, max", id="latency-stat-a-list"),
    pytest.param('[tool.wamrobust.thresholds]\nmax_error_rate = "some"\n',
                 "max_error_rate = 'some' is not a number", id="error-rate-a-word"),
    # [tool.pytest.ini_options] hands TOML lists over as they are
    pytest.param("[tool.pytest.ini_options]\nwamrobust_seeds = [1, 2]\n",
                 'ini option wamrobust_seeds takes one value, got the list [1, 2]; write '
                 'wamrobust_seeds = "N"', id="ini-options-seeds-a-list"),
    # [tool.pytest] (pytest 9's TOML mode): pytest checks each key's TOML type itself;
    # from 9.2 on in a line of its own before any plugin reads the value, before 9.2
    # through our reader, which adds the form to write
    pytest.param('[tool.pytest]\nwamrobust_axes = ["camera"]\n',
                 "config option 'wamrobust_axes' expects a string, got list: ['camera']",
                 id="toml-mode-axes-a-list"),
    pytest.param('[tool.pytest]\nwamrobust_policy_args = "chunk_length=4"\n',
                 "config option 'wamrobust_policy_args' expects a list for type 'linelist', "
                 "got str: 'chunk_length=4'", id="toml-mode-policy-args-a-string"),
])
def test_a_bad_pyproject_is_one_line_before_any_episode(pytester, pyproject, message):
    pytester.makepyprojecttoml(pyproject)  # the command line leaves every list to it
    assert_one_line(pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:xdist",
                                                 "--policy=noop", "--suite=tabletop"), message)


def test_list_ini_keys_take_toml_lists(pytester):
    """pytest 9 hands a TOML list in [tool.pytest.ini_options] over as a list: each key
    that takes a comma list (or KEY=VALUE lines) takes it."""
    pytester.makepyprojecttoml("""
        [tool.pytest.ini_options]
        wamrobust_tasks = ["lift_cube"]
        wamrobust_axes = ["camera", "light"]
        wamrobust_levels = [1, 3]
        wamrobust_policy_args = ["chunk_length=4"]
        wamrobust_suite_args = []
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:xdist",
                                          "--policy=noop", "--suite=tabletop", "--seeds=1",
                                          "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    cases = re.findall(r"test_episode\[tabletop/(.*)\]", result.stdout.str())
    assert cases == ["lift_cube/camera/L1/s00", "lift_cube/camera/L3/s00",
                     "lift_cube/light/L1/s00", "lift_cube/light/L3/s00"]


def test_accessors_read_typed_values_and_word_every_bad_one_alike():
    ctx = PolicyContext(SPEC, {"n": "3", "x": "0.25", "t": "1.5", "word": "many", "neg": "-1",
                               "inf": "inf", "name": "pi05"})
    assert ctx.text("name") == "pi05" and ctx.text("absent", "d") == "d"
    assert ctx.integer("n", 1, minimum=1) == 3 and ctx.integer("absent", None) is None
    assert ctx.number("x", 0.0, minimum=0) == 0.25 and ctx.number("absent", 2.0) == 2.0
    assert ctx.seconds("t", 10.0) == 1.5 and ctx.seconds("absent", 10.0) == 10.0
    for read, wording in [
        (lambda: ctx.integer("word", 1), "--policy-arg word=many must be an integer"),
        (lambda: ctx.integer("x", 1), "--policy-arg x=0.25 must be an integer"),
        (lambda: ctx.integer("neg", 1, minimum=1), "--policy-arg neg=-1 must be an integer >= 1"),
        (lambda: ctx.number("word", 1.0), "--policy-arg word=many must be a number"),
        (lambda: ctx.number("inf", 1.0), "--policy-arg inf=inf must be a number"),
        (lambda: ctx.number("neg", 1.0, minimum=0), "--policy-arg neg=-1 must be a number >= 0"),
        (lambda: ctx.seconds("neg", 1.0),
         "--policy-arg neg=-1 must be a positive number of seconds"),
        (lambda: ctx.seconds("word", 1.0),
         "--policy-arg word=many must be a positive number of seconds"),
    ]:
        with pytest.raises(UsageError) as info:
            read()
        assert str(info.value) == wording


def test_declared_keys_are_checked_and_undeclared_factories_take_anything():
    threads = policy_args.integer("threads", 1)

    @policy_args.declare(policy_args.DEVICE, threads)
    def declared(ctx):
        return threads.read(ctx)

    def free_form(ctx):  # a third party's module:callable, e.g. tests/faulty_policies.py
        return dict(ctx.options)

    assert policy_args.declared(declared) == (policy_args.DEVICE, threads)
    assert policy_args.declared(free_form) is None
    anything = PolicyContext(SPEC, {"close_drawer": "nan", "whatever": "1"})
    registry.check_policy_args("mine:free_form", free_form, anything)
    registry.check_policy_args("mine:declared", declared, PolicyContext(SPEC, {"threads": "2"}))
    with pytest.raises(UsageError, match=r"^policy 'mine:declared' does not take --policy-arg "
                                         r"close_drawer, whatever; it takes: device, threads$"):
        registry.check_policy_args("mine:declared", declared, anything)
    with pytest.raises(UsageError, match="threads=0 must be an integer >= 1"):
        registry.check_policy_args("mine:declared", declared,
                                   PolicyContext(SPEC, {"threads": "0"}))


@pytest.mark.parametrize("spec, keys", [
    ("scripted", {"chunk_length", "replan_steps"}),
    ("random", {"chunk_length", "replan_steps"}),
    ("noop", {"chunk_length", "replan_steps"}),
    ("tiny-vla", {"device", "threads", "weights"}),
    ("tiny-wam", {"device", "threads", "weights"}),
    ("pi0", {"api_key", "connect_timeout", "request_timeout", "chunk_length", "replan_steps",
             "server"}),
    ("pi05", {"api_key", "connect_timeout", "request_timeout", "chunk_length", "replan_steps",
              "server"}),
    ("pi0-fast", {"api_key", "connect_timeout", "request_timeout", "chunk_length",
                  "replan_steps", "server"}),
    ("ws://gpu-box:8000", {"api_key", "connect_timeout", "request_timeout", "chunk_length",
                           "replan_steps"}),
])
def test_every_builtin_policy_declares_the_keys_it_reads(spec, keys):
    declared = policy_args.declared(registry.policy_factory(spec))
    assert {arg.name for arg in declared} == keys


def test_lerobot_declares_its_keys_and_checks_the_folder_without_lerobot(tmp_path):
    for name in ("config.json", "model.safetensors"):
        (tmp_path / name).write_text("{}")
    factory = registry.policy_factory(f"lerobot:{tmp_path}")
    assert {a.name for a in policy_args.declared(factory)} == {"device", "threads",
                                                                 "replan_steps"}


def test_a_real_policy_runs_on_the_cpu_it_was_told_and_refuses_a_missing_gpu():
    obs = Observation({c: np.zeros((64, 64, 3), np.uint8) for c in ("agentview", "wrist")},
                      np.zeros(8), "lift the cube")
    policy = registry.make_policy("tiny-wam", PolicyContext.from_options(SPEC, {"device": "cpu"}))
    assert {p.device for p in policy.model.parameters()} == {torch.device("cpu")}
    policy.reset("lift_cube", 3)
    assert policy.infer(obs).shape == (policy.metadata.chunk_length, 7)
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal is for machines without it")
    with pytest.raises(UsageError) as info:
        registry.make_policy("tiny-vla", PolicyContext.from_options(SPEC, {"device": "cuda:0"}))
    assert str(info.value) == ("device cuda:0 is not available (torch.cuda.is_available() is "
                               "False); use --policy-arg device=cpu")


def test_report_leaves_out_episodes_it_cannot_count_with_one_warning_each(tmp_path, capsys):
    results = grid_results("pi05")
    xml = write_results(results, tmp_path / "r.xml").read_text()
    broken = {"camera/L1/s00": ('name="wam.setting" value="camera"',
                                'name="wam.setting" value="camra"', "unknown setting 'camra'"),
              "light/L3/s01": ('name="wam.status" value="', 'name="wam.status" value="passed',
                               "unknown status 'passed"),
              "noise/L5/s00": ('name="wam.level" value="5"', 'name="wam.level" value="7"',
                               "unknown level '7' for setting noise"),
              "layout/L1/s01": ('<property name="wam.suite" value="mini"/>', "",
                                "has no wam.suite")}
    cases = re.split(r"(?=<testcase )", xml)
    for i, text in enumerate(cases):
        for case_id, (old, new, _) in broken.items():
            if f"mini/task0/{case_id}]" in text:
                cases[i] = text.replace(old, new, 1)
    (tmp_path / "r.xml").write_text("".join(cases))
    warnings: list[str] = []
    kept = read_results([tmp_path / "r.xml"], warn=warnings.append)
    assert len(kept) == len(results) - len(broken) and len(warnings) == len(broken)
    code = main(["report", str(tmp_path / "r.xml")])
    err = capsys.readouterr().err.splitlines()
    assert code == 0 and len(err) == len(broken)
    for line, (case_id, (_, _, bad)) in zip(err, broken.items(), strict=True):
        assert line.startswith("wamrobust: warning: ") and line.endswith("left out of the rates")
        assert f"test_episode[mini/task0/{case_id}]" in line and bad in line
