"""`--policy=lerobot:PATH` on a real LeRobot 0.4.4 checkpoint: a small ACT policy with
no pretrained backbone, randomly initialised and saved with save_pretrained in the
test (no hub download). LeRobot lives in .venv-lerobot/ (scripts/install_lerobot.sh),
so those checks run in that interpreter; path errors need no LeRobot at all."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from junitparser import JUnitXml, Properties

from pytest_wamrobust.core.model import registry
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import PolicyContext

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv-lerobot" / "bin" / "python"

MAKE_CHECKPOINT = """
import sys, torch
from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.policies.act.configuration_act import ACTConfig
from lerobot.policies.act.modeling_act import ACTPolicy
from lerobot.policies.factory import make_pre_post_processors

torch.manual_seed(0)
images = {f"observation.images.{cam}": PolicyFeature(FeatureType.VISUAL, (3, 96, 96))
          for cam in ("front", "wrist")}  # "wrist" matches the suite's camera, "front" does not
config = ACTConfig(
    input_features={**images, "observation.state": PolicyFeature(FeatureType.STATE, (8,))},
    output_features={"action": PolicyFeature(FeatureType.ACTION, (7,))},
    chunk_size=10, n_action_steps=5, dim_model=64, n_heads=2, dim_feedforward=128,
    n_encoder_layers=1, n_decoder_layers=1, use_vae=False, pretrained_backbone_weights=None,
    device="cpu")
stats = {name: {"mean": torch.full((3, 1, 1), 0.5), "std": torch.full((3, 1, 1), 0.25)}
         for name in images}
stats["observation.state"] = {"mean": torch.zeros(8), "std": torch.ones(8)}
stats["action"] = {"mean": torch.zeros(7), "std": torch.full((7,), 0.3)}
preprocess, postprocess = make_pre_post_processors(config, dataset_stats=stats)
for part in (ACTPolicy(config), preprocess, postprocess):
    part.save_pretrained(sys.argv[1])
"""

#: In the venv: the adapter's chunk vs LeRobot's own select_action path, and bad shapes.
CHECK = """
import json, sys
import numpy as np, torch
from pytest_wamrobust.core.model import registry
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import BatchPolicy, PolicyContext
from pytest_wamrobust.core.model.types import Observation

checkpoint, broken = sys.argv[1], sys.argv[2:]
spec = registry.make_suite("tabletop").env_spec
policy = registry.make_policy("lerobot:" + checkpoint, PolicyContext(spec, {"threads": "1"}))
rng = np.random.default_rng(0)
images = {c: rng.integers(0, 255, (128, 128, 3), dtype=np.uint8) for c in spec.camera_names}
obs = Observation(images, rng.normal(size=8), "pick up the red cube")
policy.reset("lift_cube", 3)
chunk = policy.infer(obs)
# LeRobot's own path: select_action on the same batch, through the same processors
from lerobot.policies.act.modeling_act import ACTPolicy
from lerobot.policies.factory import make_pre_post_processors
model = ACTPolicy.from_pretrained(checkpoint)
pre, post = make_pre_post_processors(model.config, pretrained_path=checkpoint)
resize = lambda im: torch.nn.functional.interpolate(
    torch.from_numpy(im).permute(2, 0, 1).float()[None] / 255, size=(96, 96), mode="bilinear",
    align_corners=False)[0]
batch = {"observation.images.front": resize(obs.images["agentview"]),
         "observation.images.wrist": resize(obs.images["wrist"]),
         "observation.state": torch.as_tensor(obs.state, dtype=torch.float32),
         "task": obs.instruction}
model.reset()
with torch.inference_mode():
    reference = [post(model.select_action(pre(batch))).numpy()[0] for _ in range(5)]
# one forward pass for three episodes: each row is that episode's own chunk
others = [Observation({c: rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)
                       for c in spec.camera_names}, rng.normal(size=8), "open the drawer")
          for _ in range(2)]
batch = policy.infer_batch([obs, *others], [policy.new_episode("lift_cube", s) for s in range(3)])
alone = [chunk, *(policy.infer(o) for o in others)]
errors = []
for path in broken:
    try:
        registry.make_policy("lerobot:" + path, PolicyContext(spec))
    except UsageError as exc:
        errors.append(str(exc))
print(json.dumps({"meta": [policy.metadata.name, policy.metadata.chunk_length,
                           policy.metadata.replan_steps],
                  "shape": list(chunk.shape),
                  "max_diff": float(np.abs(chunk[:5] - np.array(reference)).max()),
                  "batched": isinstance(policy, BatchPolicy),
                  "batch_diff": max(float(np.abs(b - a).max()) for b, a in zip(batch, alone)),
                  "cameras": policy._cameras, "errors": errors}))
"""

#: In the venv: the same short episode at the checkpoint's replan_steps (its n_action_steps,
#: 5 of a chunk of 10) and at 2, and one its chunk cannot serve.
COUNT_CALLS = """
import dataclasses, json, sys
from pytest_wamrobust.core.model import registry
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import CaseSelection, PolicyContext
from pytest_wamrobust.core.running.episode import run_episode

suite = registry.make_suite("tabletop")
key = next(iter(suite.cases(CaseSelection(tasks=["lift_cube"], settings=["clean"], seeds=1))))
spec = suite.episode_spec(key)
spec = dataclasses.replace(spec, task=dataclasses.replace(spec.task, max_steps=20))
policy = "lerobot:" + sys.argv[1]
out = {}
for options in ({}, {"replan_steps": "2"}, {"replan_steps": "11"}):
    ctx = PolicyContext(suite.env_spec, {"threads": "1", **options})
    try:
        chunking = registry.preflight(policy, ctx)
    except UsageError as exc:
        out["refused"] = str(exc)
        continue
    result = dict(run_episode(suite.make_env(spec), registry.make_policy(policy, ctx),
                              spec).to_properties())
    out[chunking.text()] = [int(result[f"wam.{name}"]) for name in ("steps", "chunks",
                                                                    "replan_steps")]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    if not PYTHON.exists():
        pytest.skip("LeRobot is not installed: run scripts/install_lerobot.sh (.venv-lerobot/)")
    out = tmp_path_factory.mktemp("act") / "pretrained_model"
    subprocess.run([str(PYTHON), "-c", MAKE_CHECKPOINT, str(out)], check=True, timeout=300,
                   capture_output=True)
    return out


def test_not_a_checkpoint_is_one_line_without_lerobot(tmp_path):
    ctx = PolicyContext(registry.make_suite("tabletop").env_spec)
    (tmp_path / "config.json").write_text("{}")
    for path, problem in ((tmp_path / "nope", "no such folder"),
                          (tmp_path / "config.json", "a file, not a folder"),
                          (tmp_path, "no model.safetensors there")):
        with pytest.raises(UsageError) as info:
            registry.make_policy(f"lerobot:{path}", ctx)
        assert str(info.value) == (
            f"{str(path)!r} is not a LeRobot checkpoint ({problem}); pass the "
            f"pretrained_model folder save_pretrained wrote, e.g. "
            f"outputs/train/RUN/checkpoints/last/pretrained_model")


def test_act_checkpoint_chunks_match_lerobots_own_path_batched_or_not_and_bad_shapes_are_one_line(
        checkpoint, tmp_path):
    broken = tmp_path / "six_dof"
    shutil.copytree(checkpoint, broken)
    config = json.loads((broken / "config.json").read_text())
    config["output_features"]["action"]["shape"] = [6]
    (broken / "config.json").write_text(json.dumps(config))
    two_arms = tmp_path / "two_arms"  # trained on robotwin_plus's cameras, state and actions
    shutil.copytree(checkpoint, two_arms)
    image = config["input_features"]["observation.images.front"]
    config["input_features"] = {
        **{f"observation.images.{cam}": image for cam in ("head", "left_wrist", "right_wrist")},
        "observation.state": {**config["input_features"]["observation.state"], "shape": [20]}}
    config["output_features"]["action"]["shape"] = [10]
    (two_arms / "config.json").write_text(json.dumps(config))
    done = subprocess.run([str(PYTHON), "-c", CHECK, str(checkpoint), str(broken),
                           str(two_arms)],
                          check=False, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["meta"] == ["lerobot-act", 10, 5]
    assert report["shape"] == [10, 7]
    assert report["max_diff"] < 1e-5  # the harness' chunk is what LeRobot itself would run
    assert report["batched"] and report["batch_diff"] < 1e-5  # ACT: one pass, same chunks
    assert report["cameras"] == {"observation.images.wrist": "wrist",
                                 "observation.images.front": "agentview"}
    assert report["errors"] == [(
        f"checkpoint {broken} outputs actions of shape (6,) but suite 'tabletop' takes (7,): "
        "delta_eef_pos_xyz(3, x0.05 m) delta_eef_axis_angle(3, x0.5 rad) gripper(1, -1 open "
        "+1 close); LIBERO OSC_POSE convention"), (
        f"checkpoint {two_arms} reads 3 cameras (observation.images.head, "
        f"observation.images.left_wrist, observation.images.right_wrist) but suite 'tabletop' "
        f"has 2 (agentview, wrist); pass --suite=robotwin_plus, whose observations it reads")]


def test_replan_steps_sets_how_often_the_checkpoint_is_called_or_is_refused_at_start_up(
        checkpoint):
    done = subprocess.run([str(PYTHON), "-c", COUNT_CALLS, str(checkpoint)], check=False,
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report.pop("refused") == (
        f"--policy-arg replan_steps=11 cannot apply: checkpoint {checkpoint} returns 10 "
        f"actions per call, so replan_steps must be 1..10")
    default = report["chunk_length 10 (default), replan_steps 5 (default)"]
    every_two = report["chunk_length 10 (default), replan_steps 2 (--policy-arg)"]
    for (steps, chunks, replan), expected in ((default, 5), (every_two, 2)):
        assert replan == expected and chunks == -(-steps // expected), report


@pytest.mark.slow
def test_pytest_runs_a_lerobot_checkpoint_on_the_tabletop(checkpoint, tmp_path):
    report = tmp_path / "report.xml"
    done = subprocess.run(
        [str(PYTHON), "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
         "-o", "junit_family=xunit1", f"--junitxml={report}", "--suite=tabletop",
         f"--policy=lerobot:{checkpoint}", "--policy-arg", "threads=1", "--tasks=lift_cube",
         "--axes=clean", "--seeds=1", "--rootdir", str(tmp_path)],
        check=False, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-2000:]  # 1: unsolved
    cases = [case for suite in JUnitXml.fromfile(str(report)) for case in suite
             if case.name.startswith("test_episode[")]
    props = {p.name: p.value for p in cases[0].child(Properties)}
    assert props["wam.policy"] == "lerobot-act"
    assert props["wam.status"] in ("success", "failure"), props.get("wam.error")
    assert int(props["wam.chunks"]) >= 2 and float(props["wam.latency_p50_ms"]) > 0
