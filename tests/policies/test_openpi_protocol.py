"""The openpi wire format without a network: the codec is byte-compatible with openpi's,
and each suite's observation is laid out the way openpi's LIBERO client lays it out."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest

from pytest_wamrobust.core.model.errors import EpisodeError, UsageError
from pytest_wamrobust.core.model.types import CameraSpec, EnvSpec, Observation
from pytest_wamrobust.policies.openpi import msgpack_numpy, wire
from pytest_wamrobust.policies.openpi.conventions import (
    CONVENTIONS,
    ZERO_ONE_CLOSED,
    convention_for,
)


def spec(suite: str, size: int, wrist: bool = True) -> EnvSpec:
    cameras = [CameraSpec("agentview", size, size, "third_person")]
    if wrist:
        cameras.append(CameraSpec("hand", size, size, "wrist"))
    return EnvSpec(suite=suite, cameras=tuple(cameras), state_dim=8, action_dim=7, control_hz=20)


def test_codec_writes_openpis_exact_layout_and_round_trips():
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    payload = {"actions": array, "n": np.int64(7), "nested": {"prompt": "pick", "x": [1, 2]}}
    raw = msgpack.unpackb(msgpack_numpy.packb(payload))  # what openpi's unpacker sees
    assert raw["actions"] == {b"__ndarray__": True, b"data": array.tobytes(),
                              b"dtype": "<f4", b"shape": [2, 3]}
    assert raw["n"] == {b"__npgeneric__": True, b"data": 7, b"dtype": "<i8"}
    back = msgpack_numpy.unpackb(msgpack_numpy.packb(payload))
    np.testing.assert_array_equal(back["actions"], array)
    assert back["actions"].dtype == np.float32 and back["n"] == 7 and type(back["n"]) is np.int64
    assert back["nested"] == {"prompt": "pick", "x": [1, 2]}
    # non-contiguous views travel as their values
    np.testing.assert_array_equal(msgpack_numpy.unpackb(msgpack_numpy.packb(array.T)), array.T)
    with pytest.raises(ValueError, match="dtype object"):
        msgpack_numpy.packb(np.array([object()]))


def test_libero_layout_rotates_pads_to_224_and_keeps_the_state():
    image = np.zeros((256, 256, 3), np.uint8)
    image[:32, :32] = (255, 0, 0)  # marker top-left
    wrist = np.full((256, 256, 3), 7, np.uint8)
    obs = Observation({"agentview": image, "hand": wrist}, np.arange(8.0), "put the bowl away")
    request = wire.openpi_request(obs, spec("libero_plus", 256), CONVENTIONS["libero_plus"])
    assert sorted(request) == ["observation/image", "observation/state",
                               "observation/wrist_image", "prompt"]
    main = request["observation/image"]
    assert main.shape == (224, 224, 3) and main.dtype == np.uint8
    assert main[-5, -5, 0] == 255 and main[5, 5, 0] == 0  # rotated by 180 degrees
    assert (request["observation/wrist_image"] == 7).all()
    assert request["observation/state"].dtype == np.float32
    np.testing.assert_array_equal(request["observation/state"], np.arange(8.0))
    assert request["prompt"] == "put the bowl away"


def test_tabletop_layout_is_upright_and_padding_keeps_the_aspect_ratio():
    tall = np.full((128, 64, 3), 200, np.uint8)
    tall[:8] = 10  # marker at the top
    obs = Observation({"agentview": tall, "hand": tall}, np.zeros(8), "lift")
    request = wire.openpi_request(obs, spec("tabletop", 128), CONVENTIONS["tabletop"])
    image = request["observation/image"]
    assert image.shape == (224, 224, 3)
    assert image[2, 112, 0] == 10  # not rotated
    assert (image[:, :50] == 0).all() and (image[:, -50:] == 0).all()  # black side bars
    assert image[112, 112, 0] == 200


def test_conventions_refuse_suites_they_cannot_feed_in_one_line():
    with pytest.raises(UsageError, match=r"no openpi observation convention for suite "
                                         r"'robotwin_plus' \(known: libero_plus, tabletop\)"):
        convention_for(spec("robotwin_plus", 128), "pi05")
    with pytest.raises(UsageError, match="has no wrist camera, which policy 'pi05' needs"):
        convention_for(spec("tabletop", 128, wrist=False), "pi05")


def test_native_layout_round_trips_images_state_and_privileged_state():
    obs = Observation({"agentview": np.ones((4, 4, 3), np.uint8)}, np.arange(3.0), "go",
                      privileged={"cube_pos": np.ones(3), "task": "lift"})
    back = wire.observation_from_native(
        msgpack_numpy.unpackb(msgpack_numpy.packb(wire.native_request(obs, privileged=True))))
    assert back.instruction == "go" and list(back.images) == ["agentview"]
    np.testing.assert_array_equal(back.state, obs.state)
    assert back.privileged["task"] == "lift"
    lean = wire.native_request(obs, privileged=False)
    assert wire.PRIVILEGED_KEY not in lean


def test_replies_become_chunks_in_the_suites_gripper_convention():
    chunk = wire.actions_from_reply({"actions": np.array([[0.1, 1.0], [0.2, 0.0]])}, "ws://x")
    assert chunk.shape == (2, 2)
    droid = wire.actions_from_reply({"actions": np.array([[0.1, 1.0], [0.2, 0.0]])}, "ws://x",
                                    ZERO_ONE_CLOSED)
    assert droid[:, -1].tolist() == [1.0, -1.0]
    with pytest.raises(EpisodeError, match=r"ws://x replied without 'actions' \(got \['oops'\]\)"):
        wire.actions_from_reply({"oops": 1}, "ws://x")
