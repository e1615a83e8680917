"""tiny-vla / tiny-wam building blocks: tokenizer, features, networks, checkpoints, Policy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pytest_wamrobust.core.model.errors import EpisodeError, MissingAssetError, UsageError
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.types import CameraSpec, EnvSpec, Observation
from pytest_wamrobust.policies.tiny.checkpoint import Checkpoint
from pytest_wamrobust.policies.tiny.features import downsample, state_features
from pytest_wamrobust.policies.tiny.model import ModelConfig, TinyWAM, build
from pytest_wamrobust.policies.tiny.policy import load_policy
from pytest_wamrobust.policies.tiny.vocab import MAX_TOKENS, Vocabulary

INSTRUCTIONS = ["pick up the red cube", "open the drawer", "put the red cube on the plate"]
SPEC = EnvSpec("tabletop",
               (CameraSpec("agentview", 128, 128), CameraSpec("wrist", 128, 128, "wrist")),
               state_dim=8, action_dim=7, control_hz=20.0)


def test_vocabulary_maps_unseen_words_to_unk_and_pads():
    vocab = Vocabulary.build(INSTRUCTIONS)
    ids = vocab.encode("Pick up the CRIMSON cube, please!")
    assert ids.shape == (MAX_TOKENS,)
    assert [vocab.tokens[i] for i in ids[:6]] == ["pick", "up", "the", "<unk>", "cube", "<unk>"]
    assert not ids[6:].any()
    assert vocab.encode("x " * 40).shape == (MAX_TOKENS,)
    assert vocab.encode("").sum() == 0


def test_downsample_averages_blocks_and_rejects_odd_sizes():
    image = np.zeros((128, 128, 3), np.uint8)
    image[:2, :2] = [200, 100, 0]
    small = downsample(image, 64)
    assert small.shape == (64, 64, 3) and small.dtype == np.uint8
    assert small[0, 0].tolist() == [200, 100, 0] and small[1:, 1:].max() == 0
    with pytest.raises(EpisodeError, match="multiple of 64"):
        downsample(np.zeros((100, 100, 3), np.uint8), 64)


@pytest.mark.parametrize("factor", [2, 3, 4, 5, 8])
def test_downsample_of_uint8_is_the_float32_block_mean_bit_for_bit(factor):
    """The integer fast path must not move a pixel the recorded demos were trained on."""
    rng = np.random.default_rng(factor)
    for image in (rng.integers(0, 256, (16 * factor, 24 * factor, 4), dtype=np.uint8),
                  rng.choice(np.array([0, 1, 254, 255], np.uint8), (16 * factor, 24 * factor, 3))):
        blocks = image[..., :3].reshape(16, factor, 24, factor, 3).astype(np.float32)
        mean = np.rint(blocks.mean(axis=(1, 3))).astype(np.uint8)
        assert np.array_equal(downsample(image, 24, 16), mean)
        assert np.array_equal(downsample(image.astype(np.float64), 24, 16), mean)


def test_state_features_are_continuous_across_the_axis_angle_flip():
    # two hand poses 2e-4 rad apart whose axis-angles point in opposite directions
    a = np.r_[0.1, 0.2, 0.3, np.pi - 1e-4, 0, 0, 0.04, 0.04]
    b = np.r_[0.1, 0.2, 0.3, -(np.pi - 1e-4), 0, 0, 0.04, 0.04]
    assert np.abs(a[3:6] - b[3:6]).max() > 6  # raw state jumps by 2 pi
    assert np.abs(state_features(a) - state_features(b)).max() < 1e-3
    rot = state_features(a)[3:12].reshape(3, 3)
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-5)


def _inputs(cfg: ModelConfig, batch: int = 2):
    g = torch.Generator().manual_seed(1)
    images = [torch.rand(batch, 3, cfg.image_size, cfg.image_size, generator=g) - 0.5
              for _ in cfg.cameras]
    tokens = torch.tensor([[2, 3, 0, 0]] * batch)
    return images, tokens, torch.randn(batch, 14, generator=g)


def test_vla_outputs_one_chunk_per_observation():
    cfg = ModelConfig("vla", ("agentview", "wrist"), vocab_size=10)
    out = build(cfg)(*_inputs(cfg, 3))
    assert out.shape == (3, cfg.chunk_length, cfg.action_dim)


def test_wam_refines_its_future_frame_once_per_denoise_step():
    torch.manual_seed(0)
    cfg = ModelConfig("wam", ("agentview", "wrist"), vocab_size=10, denoise_steps=6)
    model: TinyWAM = build(cfg)
    calls = []
    model.denoiser.register_forward_hook(lambda *_: calls.append(1))
    noise = torch.randn(2, model.frame_dim, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        actions, future = model(*_inputs(cfg), noise)
        again, _ = model(*_inputs(cfg), noise)
        other, _ = model(*_inputs(cfg), torch.randn(2, model.frame_dim))
    assert len(calls) == 3 * cfg.denoise_steps
    assert actions.shape == (2, cfg.chunk_length, 7) and future.shape == (2, 3 * 16 * 16)
    assert torch.equal(actions, again)  # the noise, not hidden state, drives the sampling
    assert not torch.equal(actions, other)  # and the action really depends on the imagined future


def _checkpoint(kind: str) -> Checkpoint:
    torch.manual_seed(0)
    vocab = Vocabulary.build(INSTRUCTIONS)
    cfg = ModelConfig(kind, ("agentview", "wrist"), vocab_size=len(vocab))
    weights = build(cfg).state_dict()
    return Checkpoint(cfg, vocab, np.zeros(14, np.float32), np.ones(14, np.float32), weights,
                      {"seed": 0})


def _observation(seed: int = 0) -> Observation:
    rng = np.random.default_rng(seed)
    images = {c: rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
              for c in ("agentview", "wrist")}
    state = np.r_[0.0, 0.0, 0.2, np.pi, 0, 0, 0.04, 0.04]
    return Observation(images, state, "pick up the blue thing")


@pytest.mark.parametrize("name,kind", [("tiny-vla", "vla"), ("tiny-wam", "wam")])
def test_policy_from_a_saved_checkpoint_is_reproducible_per_seed(tmp_path, name, kind):
    _checkpoint(kind).save(tmp_path, name)
    policy = load_policy(name, PolicyContext(SPEC, {"weights": str(tmp_path)}))
    assert policy.metadata.family == kind and policy.metadata.chunk_length == 10
    policy.reset("lift_cube", 7)
    first = policy.infer(_observation())
    policy.reset("lift_cube", 7)
    assert np.array_equal(first, policy.infer(_observation()))
    assert first.shape == (10, 7) and np.abs(first).max() <= 1.0
    policy.reset("lift_cube", 8)
    assert np.array_equal(first, policy.infer(_observation())) == (kind == "vla")


def test_missing_weights_and_wrong_suites_fail_in_one_line(tmp_path):
    with pytest.raises(MissingAssetError, match="wamrobust train tiny-vla"):
        load_policy("tiny-vla", PolicyContext(SPEC, {"weights": str(tmp_path)}))
    _checkpoint("vla").save(tmp_path, "tiny-vla")
    dual = EnvSpec("robotwin_plus", (CameraSpec("head", 128, 128),), state_dim=14, action_dim=14,
                   control_hz=20)
    with pytest.raises(UsageError, match="robotwin_plus"):
        load_policy("tiny-vla", PolicyContext(dual, {"weights": str(tmp_path)}))
    with pytest.raises(UsageError, match="threads"):
        load_policy("tiny-vla", PolicyContext(SPEC, {"weights": str(tmp_path), "threads": "two"}))
