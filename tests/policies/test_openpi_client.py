"""The websocket client against the product's policy server over a real socket:
the same actions as in-process, privileged oracles served, and every fault of the
network path (unreachable, error frame, timeout, server gone) one line, never a hang."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time

import numpy as np
import pytest
from policy_servers import serving

from pytest_wamrobust.core.model import registry
from pytest_wamrobust.core.model.errors import EpisodeError, UsageError
from pytest_wamrobust.core.model.protocols import CaseSelection, PolicyContext
from pytest_wamrobust.core.model.results import EpisodeResult
from pytest_wamrobust.core.model.types import Observation, PolicyMetadata
from pytest_wamrobust.core.running.episode import run_episode
from pytest_wamrobust.core.running.player import PolicySlot, play_case
from pytest_wamrobust.policies.openpi.client import connect_policy, server_fingerprint


@pytest.fixture
def ctx(tabletop):
    return PolicyContext(tabletop.env_spec, options={"connect_timeout": "2"})


def play(suite, spec, policy) -> EpisodeResult:
    """One episode of `policy` as the plugin plays a case: in a fresh scene, closed at the
    end (its renderer's GL context freed then, not later by the garbage collector)."""
    return play_case(suite, PolicySlot(policy.metadata.name, suite, {}, build=lambda: policy),
                     spec)


def in_process(name: str, tabletop):
    """A policy built here (served or as the reference): the client's options are not its."""
    return registry.make_policy(name, PolicyContext(tabletop.env_spec))


def observation(instruction: str = "lift") -> Observation:
    images = {"agentview": np.zeros((128, 128, 3), np.uint8),
              "wrist": np.zeros((128, 128, 3), np.uint8)}
    return Observation(images, np.zeros(8), instruction)


class Scripted:
    """Misbehaves on request, by instruction: raise, sleep, bad shape, NaN."""

    def __init__(self) -> None:
        self.metadata = PolicyMetadata("faulty", chunk_length=4, replan_steps=4)
        self.calls = 0

    def reset(self, task: str, seed: int) -> None:
        pass

    def infer(self, obs: Observation) -> np.ndarray:
        self.calls += 1
        if obs.instruction == "explode":
            raise ValueError("boom: the model got a bad batch")
        if obs.instruction.startswith("sleep"):
            time.sleep(float(obs.instruction.split()[1]))
        if obs.instruction == "shape":
            return np.zeros((4, 6))
        if obs.instruction == "nan":
            return np.full((4, 7), np.nan)
        return np.full((4, 7), self.calls / 100.0)


def test_served_random_policy_gives_in_process_actions_to_interleaved_clients(tabletop, ctx):
    local = in_process("random", tabletop)
    with serving(lambda: in_process("random", tabletop), tabletop.env_spec) as (url, _):
        a, b = connect_policy(url, ctx), connect_policy(url, ctx)
        assert a.metadata == local.metadata  # name, chunking and family come from the server
        a.reset("lift_cube", 11)
        b.reset("lift_cube", 12)
        got_a = [a.infer(observation()), b.infer(observation()), a.infer(observation())]
        local.reset("lift_cube", 11)
        np.testing.assert_allclose(got_a[0], local.infer(observation()))
        np.testing.assert_allclose(got_a[2], local.infer(observation()))
        local.reset("lift_cube", 12)
        np.testing.assert_allclose(got_a[1], local.infer(observation()))
        props = a.episode_properties()
        assert float(props["server_infer_p50_ms"]) > 0 and len(eval(props["policy_infer_ms"])) == 2
        a.close()
        b.close()


def test_scripted_oracle_served_with_its_privileged_state_solves_like_in_process(tabletop, ctx):
    clean = CaseSelection(tasks=["lift_cube"], settings=["clean"], seeds=1)
    key = next(iter(tabletop.cases(clean)))
    spec = tabletop.episode_spec(key)
    local = play(tabletop, spec, in_process("scripted", tabletop))
    with serving(lambda: in_process("scripted", tabletop), tabletop.env_spec) as (url, _):
        remote_policy = connect_policy(url, ctx)
        assert remote_policy.metadata.privileged
        remote = play(tabletop, spec, remote_policy)
    assert local.status == remote.status == "success"
    assert remote.steps == local.steps and len(remote.chunk_latencies_ms) == len(
        local.chunk_latencies_ms)
    assert float(remote.extra["server_infer_p50_ms"]) > 0  # the server's timing, kept
    props = dict(remote.to_properties())
    assert "wam.policy_infer_p50_ms" in props and "wam.server_infer_ms" in props


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_bad_urls_and_mismatched_suites_are_one_line(tabletop, ctx):
    url = f"ws://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(UsageError) as info:
        connect_policy(url, PolicyContext(tabletop.env_spec, {"connect_timeout": "0.6"}))
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert "\n" not in message and url in message and "within 0.6 s" in message
    assert "wamrobust serve" in message
    with pytest.raises(UsageError, match="bad policy server URL 'ws://'"):
        connect_policy("ws://", ctx)
    with pytest.raises(UsageError, match="connect_timeout=soon must be a positive number"):
        connect_policy(url, PolicyContext(tabletop.env_spec, {"connect_timeout": "soon"}))
    robotwin_like = PolicyContext(registry.make_suite("robotwin_plus").env_spec)
    with serving(lambda: in_process("random", tabletop), tabletop.env_spec) as (url, _), \
            pytest.raises(UsageError, match=r"serves 'random' for suite 'tabletop'.*this run "
                                            r"is --suite=robotwin_plus"):
        connect_policy(url, robotwin_like)
    with pytest.raises(UsageError, match="unknown policy 'pi06'.*pi0-fast, pi05"):
        registry.policy_factory("pi06")


def test_preset_reads_its_server_from_the_policy_args_and_names_it_when_down(tabletop):
    url = f"ws://127.0.0.1:{free_port()}"
    ctx = PolicyContext(tabletop.env_spec, {"server": url, "connect_timeout": "0.3"})
    with pytest.raises(UsageError, match=f"cannot reach the policy server at {url}"):
        registry.make_policy("pi05", ctx)


def test_server_error_frame_is_one_line_and_the_next_request_reconnects(tabletop, ctx):
    with serving(Scripted, tabletop.env_spec) as (url, _):
        policy = connect_policy(url, ctx)
        with pytest.raises(EpisodeError) as info:
            policy.infer(observation("explode"))
        assert str(info.value) == (f"policy server {url} failed: "
                                   f"ValueError: boom: the model got a bad batch")
        assert policy.infer(observation()).shape == (4, 7)  # a fresh connection


def test_request_timeout_resets_the_connection_and_never_reads_a_stale_reply(tabletop):
    ctx = PolicyContext(tabletop.env_spec, {"request_timeout": "0.3"})
    with serving(Scripted, tabletop.env_spec) as (url, _):
        policy = connect_policy(url, ctx)
        with pytest.raises(EpisodeError, match=r"sent no reply within 0.3 s; the connection "
                                               r"was reset") as info:
            policy.infer(observation("sleep 1.0"))
        assert info.value.kind == "policy_timeout"
        time.sleep(1.0)  # the late reply has been sent by now - to the old socket
        fresh = policy.infer(observation())
        assert fresh[0, 0] == pytest.approx(0.01)  # call 1 of a new connection's policy


def test_bad_actions_from_a_server_fail_the_episode_not_the_run(tabletop, ctx):
    clean = CaseSelection(tasks=["lift_cube"], settings=["clean"], seeds=1)
    key = next(iter(tabletop.cases(clean)))
    spec = tabletop.episode_spec(key)

    class Env:  # the real scene, with the instruction swapped to steer the fault
        def __init__(self, instruction):
            self.inner, self.instruction = tabletop.make_env(spec), instruction
            self.spec = self.inner.spec

        def reset(self):
            obs = self.inner.reset()
            obs.instruction = self.instruction
            return obs

        def __getattr__(self, name):
            return getattr(self.inner, name)

    with serving(Scripted, tabletop.env_spec) as (url, _):
        policy = connect_policy(url, ctx)
        shape = run_episode(Env("shape"), policy, spec)
        nan = run_episode(Env("nan"), policy, spec)
    assert shape.status == nan.status == "error"
    assert "returned actions of shape (4, 6); this suite expects (chunk_length, 7)" in shape.error
    assert "returned 28 NaN/inf values" in nan.error


def test_a_server_gone_mid_run_errors_the_remaining_episodes_quickly(tabletop, ctx):
    clean = CaseSelection(tasks=["lift_cube"], settings=["clean"], seeds=1)
    key = next(iter(tabletop.cases(clean)))
    spec = tabletop.episode_spec(key)
    with serving(lambda: in_process("scripted", tabletop), tabletop.env_spec) as (url, srv):
        policy = connect_policy(url, ctx)
        first = play(tabletop, spec, policy)
        srv.shutdown()  # closes the open connection too
        second = play(tabletop, spec, policy)
    started = time.monotonic()
    third = play(tabletop, spec, policy)
    assert first.status == "success"
    assert second.status == third.status == "error"
    assert second.error.startswith(f"policy server {url} ")  # closed, or already unreachable
    assert third.error.startswith(f"policy server {url} is unreachable (")
    assert time.monotonic() - started < 5


def test_api_key_goes_in_openpis_header_and_a_plain_openpi_server_gets_its_layout(tabletop):
    """A server that is not ours (metadata without `wamrobust`) gets the openpi layout."""
    from websockets.sync.server import serve

    from pytest_wamrobust.policies.openpi import msgpack_numpy

    seen = {}

    def handler(websocket):
        seen["auth"] = websocket.request.headers.get("Authorization")
        websocket.send(msgpack_numpy.packb({}))
        request = msgpack_numpy.unpackb(websocket.recv())
        seen["keys"] = sorted(request)
        seen["image"] = request["observation/image"].shape
        websocket.send(msgpack_numpy.packb({"actions": np.zeros((10, 7), np.float32)}))

    with serve(handler, "127.0.0.1", 0, compression=None) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}"
        policy = connect_policy(url, PolicyContext(tabletop.env_spec, {"api_key": "s3cret"}))
        assert (policy.metadata.name, policy.metadata.replan_steps) == (
            f"openpi@127.0.0.1:{url.rsplit(':', 1)[1]}", 5)
        policy.reset("lift_cube", 0)
        assert policy.infer(observation()).shape == (10, 7)
        server.shutdown()
    assert seen == {"auth": "Api-Key s3cret", "image": (224, 224, 3),
                    "keys": ["observation/image", "observation/state",
                             "observation/wrist_image", "prompt"]}


def short_episode(tabletop, steps: int = 24):
    """A lift_cube case cut to `steps` steps: noop never solves it, so it runs them all."""
    clean = CaseSelection(tasks=["lift_cube"], settings=["clean"], seeds=1)
    key = next(iter(tabletop.cases(clean)))
    spec = tabletop.episode_spec(key)
    return dataclasses.replace(spec, task=dataclasses.replace(spec.task, max_steps=steps))


def test_replanning_sooner_than_the_servers_chunk_is_applied_by_the_client(tabletop):
    """noop is served with chunks of 8 run in full; the client's replan_steps=2 makes it
    call the server after every 2 steps, and the run's header and JUnit say who set what."""
    spec = short_episode(tabletop)
    with serving(lambda: in_process("noop", tabletop), tabletop.env_spec) as (url, _):
        calls = {}
        for options in ({}, {"replan_steps": "2"}, {"replan_steps": "8", "chunk_length": "8"}):
            ctx = PolicyContext(tabletop.env_spec, options)
            chunking = registry.preflight(url, ctx)
            result = play(tabletop, spec, connect_policy(url, ctx))
            props = dict(result.to_properties())
            assert (props["wam.steps"], props["wam.chunk_length"]) == ("24", "8")
            calls[chunking.text()] = (props["wam.chunks"], props["wam.replan_steps"])
    assert calls == {
        "chunk_length 8 (server), replan_steps 8 (server)": ("3", "8"),
        "chunk_length 8 (server), replan_steps 2 (--policy-arg)": ("12", "2"),
        "chunk_length 8 (server), replan_steps 8 (--policy-arg)": ("3", "8"),
    }


@pytest.mark.parametrize(("options", "message"), [
    ({"replan_steps": "9"},
     "--policy-arg replan_steps=9 cannot apply: the policy server at {url} sends 8 actions per "
     "call; serve a longer chunk: `wamrobust serve ... --policy-arg chunk_length=9 "
     "--policy-arg replan_steps=9`"),
    ({"chunk_length": "4"},
     "--policy-arg chunk_length=4 cannot apply: the policy server at {url} decides the chunk "
     "(8 actions per call); set it where the server starts: `wamrobust serve ... "
     "--policy-arg chunk_length=4`"),
])
def test_what_only_the_server_decides_is_refused_naming_where_to_set_it(tabletop, options,
                                                                         message):
    with serving(lambda: in_process("noop", tabletop), tabletop.env_spec) as (url, _):
        with pytest.raises(UsageError) as info:
            registry.preflight(url, PolicyContext(tabletop.env_spec, options))
    assert str(info.value) == message.format(url=url)


def test_a_chunk_shorter_than_replan_steps_is_the_episodes_error_not_a_silent_early_call(
        tabletop):
    """An openpi server's chunk is the client's to declare; one that sends fewer actions
    than the client runs per call would replan sooner than the run says."""
    from websockets.sync.server import serve

    from pytest_wamrobust.policies.openpi import msgpack_numpy

    def handler(websocket):
        websocket.send(msgpack_numpy.packb({}))
        websocket.recv()
        websocket.send(msgpack_numpy.packb({"actions": np.zeros((3, 7), np.float32)}))

    with serve(handler, "127.0.0.1", 0, compression=None) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}"
        policy = connect_policy(url, PolicyContext(tabletop.env_spec, {"replan_steps": "4"}))
        policy.reset("lift_cube", 0)
        with pytest.raises(EpisodeError, match=r"sent 3 actions, fewer than replan_steps=4; "
                                               r"give --policy-arg replan_steps"):
            policy.infer(observation())
        policy.close()
        server.shutdown()


def test_the_servers_weights_fingerprint_is_part_of_the_served_policys_identity(tabletop):
    """Served under the same name, other weights are another policy for --wam-resume."""
    seen = []
    for weights in ("digest-a", "digest-b", "digest-a"):
        with serving(lambda: in_process("random", tabletop), tabletop.env_spec,
                     fingerprint=weights) as (url, _):
            seen.append(server_fingerprint(url, PolicyContext(tabletop.env_spec)))
    assert seen[0] == seen[2] != seen[1]
