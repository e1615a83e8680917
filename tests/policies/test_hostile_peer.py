"""A broken or hostile peer on either end of the policy socket, over real sockets on
127.0.0.1: the server answers a malformed frame with one line and keeps serving, a
malicious reply costs the client one episode (never the process), keys and ports are
checked at the edge, and a run whose server is down stops at start-up with one line."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sysconfig
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
from test_openpi_client import Scripted, observation
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.sync.server import serve

from pytest_wamrobust.cli import build_parser
from pytest_wamrobust.core.model.errors import EpisodeError, UsageError
from pytest_wamrobust.core.model.protocols import CaseSelection, PolicyContext
from pytest_wamrobust.core.running.episode import run_episode
from pytest_wamrobust.policies.openpi import msgpack_numpy, wire
from pytest_wamrobust.policies.openpi.client import connect_policy
from pytest_wamrobust.policies.openpi.server import PolicyServer

LIMIT = msgpack_numpy.MAX_MESSAGE_BYTES
WAMROBUST = Path(sysconfig.get_path("scripts")) / "wamrobust"


@contextmanager
def serving(env_spec, factory: Callable = Scripted, **options: Any) -> Iterator[str]:
    """`PolicyServer` on a free port of its default host, in a thread; yields its URL."""
    server = PolicyServer(factory, env_spec, port=0, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "ws://{}:{}".format(*server._server.socket.getsockname()[:2])
    finally:
        server.shutdown()
        thread.join(5)


@contextmanager
def hostile_server(replies: Callable[[int], Any], metadata: Any = None) -> Iterator[list[int]]:
    """A server that sends `metadata` (packed raw) on connect, then `replies(connection
    number)` to every request; yields the list of connections it has seen."""
    seen: list[int] = []

    def handler(websocket) -> None:
        seen.append(len(seen) + 1)
        number = seen[-1]
        websocket.send(msgpack.packb({} if metadata is None else metadata))
        try:
            for _ in websocket:
                websocket.send(replies(number))
        except ConnectionClosed:  # the client hung up on a reply it refused
            pass

    with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}", seen
        server.shutdown()


def ndarray(dtype: Any, shape: Any, data: Any) -> dict:
    """An array as openpi's codec writes it, with any field a peer might forge."""
    return {b"__ndarray__": True, b"data": data, b"dtype": dtype, b"shape": shape}


def with_state(state: Any) -> bytes:
    """A native request whose state is `state`, packed raw: our own packer refuses fakes."""
    return msgpack.packb({"observation/state": state, "prompt": "lift"})


def valid_request() -> bytes:
    return msgpack_numpy.packb(wire.native_request(observation(), privileged=False))


def healthz(url: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=5)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status
    finally:
        connection.close()


#: (frame, what the one-line answer must say): each one a request a peer could forge.
BAD_REQUESTS = [
    pytest.param(with_state(ndarray("|O", [4], b"A" * 32)),
                 "dtype '|O' is not allowed; arrays must be numeric or bool", id="object-dtype"),
    pytest.param(with_state(ndarray("|V8", [1], b"x" * 8)), "dtype '|V8' is not allowed",
                 id="void-dtype"),
    pytest.param(with_state(ndarray("f4,i4", [1], b"x" * 8)), "dtype 'f4,i4' is not allowed",
                 id="structured-dtype"),
    pytest.param(with_state(ndarray("<U3", [1], b"x" * 12)), "dtype '<U3' is not allowed",
                 id="string-dtype"),
    pytest.param(with_state(ndarray("<c8", [1], b"x" * 8)), "dtype '<c8' is not allowed",
                 id="complex-dtype"),
    pytest.param(with_state(ndarray("<M8[s]", [1], b"x" * 8)), "dtype '<M8[s]' is not allowed",
                 id="datetime-dtype"),
    pytest.param(with_state(ndarray("nope", [1], b"x")), "dtype 'nope' is not a numpy dtype",
                 id="unknown-dtype"),
    pytest.param(with_state(ndarray("<f4", [4], b"x" * 15)),
                 "array of shape [4] and dtype '<f4' needs 16 bytes of data, got 15",
                 id="truncated-data"),
    pytest.param(with_state(ndarray("<f4", [4], b"x" * 17)), "needs 16 bytes of data, got 17",
                 id="data-longer-than-shape"),
    pytest.param(with_state(ndarray("<f4", [-1], b"")),
                 "shape must be a list of at most 32 non-negative integers, got [-1]",
                 id="negative-shape"),
    pytest.param(with_state(ndarray("<f8", [2**40, 2**40], b"")),
                 f"exceeds the message limit of {LIMIT} bytes", id="huge-shape"),
    pytest.param(with_state(ndarray("<f8", [1] * 40, b"x" * 8)),
                 "shape must be a list of at most 32", id="too-many-dims"),
    pytest.param(with_state(ndarray("<f4", [1], "abcd")), "array data must be bytes, got str",
                 id="data-not-bytes"),
    pytest.param(with_state({b"__npgeneric__": True, b"data": 1, b"dtype": "|O"}),
                 "dtype '|O' is not allowed", id="object-scalar"),
    pytest.param(with_state({b"__npgeneric__": True, b"data": 1000, b"dtype": "|u1"}),
                 "1000 is out of range for a '|u1' scalar", id="scalar-overflow"),
    pytest.param(b"\xc1\x00\x01", "not a msgpack message (FormatError)", id="not-msgpack"),
    pytest.param(b"\x93\x01", "not a msgpack message", id="truncated-msgpack"),
    pytest.param(b"\x91" * 5000 + b"\x00", "not a msgpack message (StackError)",
                 id="nested-too-deep"),
    pytest.param("hello", "expected a binary msgpack frame, got a text frame", id="text-frame"),
    pytest.param(msgpack.packb([1, 2]), "a request is a map of observation keys, got a list",
                 id="not-a-map"),
    pytest.param(msgpack.packb({"prompt": "lift"}), "request lacks 'observation/state'",
                 id="missing-state"),
    pytest.param(msgpack.packb({"observation/state": [0.0], "wamrobust/reset": {"task": 1}}),
                 "wamrobust/reset must be {'task': str, 'seed': int}", id="bad-reset"),
]


@pytest.fixture(scope="module")
def server(tabletop) -> Iterator[str]:
    with serving(tabletop.env_spec) as url:
        yield url


@pytest.mark.parametrize(("frame", "says"), BAD_REQUESTS)
def test_a_malformed_request_gets_one_line_and_the_server_keeps_serving(server, frame, says):
    with connect(server, open_timeout=5) as websocket:
        websocket.recv(timeout=5)  # metadata
        websocket.send(frame)
        answer = websocket.recv(timeout=5)
        assert isinstance(answer, str) and "\n" not in answer
        assert answer.startswith("bad request: ") and says in answer
        websocket.send(valid_request())  # the same connection still works
        reply = msgpack_numpy.unpackb(websocket.recv(timeout=5))
        assert reply["actions"].shape == (4, 7)
    assert healthz(server) == 200


def test_an_oversize_frame_closes_that_connection_only(server):
    with connect(server, open_timeout=5, max_size=None) as websocket:
        websocket.recv(timeout=5)
        websocket.send(b"\x00" * (LIMIT + 1))
        with pytest.raises(ConnectionClosed) as info:
            websocket.recv(timeout=5)
    assert info.value.rcvd.code == 1009  # message too big
    assert healthz(server) == 200
    with connect(server, open_timeout=5) as websocket:
        websocket.recv(timeout=5)
        websocket.send(valid_request())
        assert msgpack_numpy.unpackb(websocket.recv(timeout=5))["actions"].shape == (4, 7)


def test_a_policy_error_is_one_line_unless_debug(tabletop):
    def failing_reply(url: str) -> str:
        with connect(url, open_timeout=5) as websocket:
            websocket.recv(timeout=5)
            websocket.send(msgpack_numpy.packb(
                wire.native_request(observation("explode"), privileged=False)))
            answer = websocket.recv(timeout=5)
            with pytest.raises(ConnectionClosed) as info:
                websocket.recv(timeout=5)
        assert info.value.rcvd.code == 1011  # as openpi's server closes
        return answer

    with serving(tabletop.env_spec) as url:
        assert failing_reply(url) == "ValueError: boom: the model got a bad batch"
        assert healthz(url) == 200
    with serving(tabletop.env_spec, debug=True) as url:
        answer = failing_reply(url)
    assert answer.startswith("Traceback (most recent call last):")
    assert 'in infer\n    raise ValueError("boom' in answer
    assert answer.rstrip().endswith("ValueError: boom: the model got a bad batch")


#: (reply a hostile server sends, what the client's one line says)
BAD_REPLIES = [
    pytest.param(msgpack.packb({"actions": ndarray("|O", [10, 7], b"A" * 560)}),
                 "dtype '|O' is not allowed", id="object-dtype"),
    pytest.param(msgpack.packb({"actions": ndarray("<f4", [10, 7], b"x" * 100)}),
                 "needs 280 bytes of data, got 100", id="truncated-data"),
    pytest.param(msgpack.packb({"actions": ndarray("<U8", [10], b"x" * 320)}),
                 "dtype '<U8' is not allowed", id="string-dtype"),
    pytest.param(msgpack.packb({"actions": ndarray("<f4", [-10, 7], b"")}),
                 "non-negative integers", id="negative-shape"),
    pytest.param(b"\xc1not msgpack", "not a msgpack message", id="not-msgpack"),
    pytest.param(b"\x00" * (LIMIT + 1), f"1009 (message too big) frame with {LIMIT + 1} bytes "
                                        f"exceeds limit of {LIMIT} bytes", id="oversize"),
]


@pytest.mark.parametrize(("reply", "says"), BAD_REPLIES)
def test_a_malicious_reply_fails_one_episode_and_the_next_one_reconnects(tabletop, reply, says):
    valid = msgpack_numpy.packb({"actions": np.zeros((10, 7), np.float32)})
    with hostile_server(lambda n: reply if n == 1 else valid) as (url, seen):
        policy = connect_policy(url, PolicyContext(tabletop.env_spec, {"connect_timeout": "2"}))
        policy.reset("lift_cube", 0)
        with pytest.raises(EpisodeError) as info:
            policy.infer(observation())
        assert info.value.kind == "policy_error"
        assert str(info.value).startswith(f"policy server {url} ")
        assert says in str(info.value) and "\n" not in str(info.value)
        assert policy.infer(observation()).shape == (10, 7)  # a fresh connection
        assert seen == [1, 2]
        policy.close()


def test_a_malicious_reply_mid_episode_is_that_episodes_error(tabletop):
    clean = CaseSelection(tasks=["lift_cube"], settings=["clean"], seeds=1)
    key = next(iter(tabletop.cases(clean)))
    spec = tabletop.episode_spec(key)
    poison = msgpack.packb({"actions": ndarray("|O", [10, 7], b"A" * 560)})
    with hostile_server(lambda n: poison) as (url, _):
        policy = connect_policy(url, PolicyContext(tabletop.env_spec, {"connect_timeout": "2"}))
        result = run_episode(tabletop.make_env(spec), policy, spec)
    assert (result.status, result.error_kind) == ("error", "policy_error")
    assert "dtype '|O' is not allowed" in result.error and "\n" not in result.error


@pytest.mark.parametrize(("metadata", "says"), [
    pytest.param({"model": ndarray("|O", [1], b"A" * 8)},
                 "sent a malformed metadata frame (dtype '|O' is not allowed", id="object-dtype"),
    pytest.param({"wamrobust": {"suite": "tabletop", "action_dim": 7}},
                 "sent unusable metadata (KeyError: 'chunk_length')", id="missing-chunking"),
    pytest.param({"wamrobust": [1, 2]}, "sent malformed 'wamrobust' metadata", id="not-a-map"),
])
def test_malformed_metadata_is_one_line_at_connect_not_retried(tabletop, metadata, says):
    with hostile_server(lambda n: b"", metadata) as (url, _):
        started = time.monotonic()
        with pytest.raises(UsageError) as info:
            connect_policy(url, PolicyContext(tabletop.env_spec, {"connect_timeout": "10"}))
    assert time.monotonic() - started < 3
    assert says in str(info.value) and "\n" not in str(info.value)


def test_the_server_listens_on_localhost_and_takes_its_key_from_the_environment(
        tabletop, monkeypatch):
    with serving(tabletop.env_spec) as url:
        assert url.startswith("ws://127.0.0.1:")
    args = build_parser("serve").parse_args(["serve", "--policy=scripted"])
    assert (args.host, args.api_key, args.debug) == ("127.0.0.1", "", False)
    monkeypatch.setenv("WAMROBUST_POLICY_API_KEY", "from-env")
    assert build_parser("serve").parse_args(["serve", "--policy=scripted"]).api_key == "from-env"


def test_the_api_key_is_checked_at_the_handshake(tabletop):
    with serving(tabletop.env_spec, api_key="s3cret") as url:
        right = connect_policy(url, PolicyContext(tabletop.env_spec, {"api_key": "s3cret"}))
        assert right.infer(observation()).shape == (4, 7)
        right.close()
        assert healthz(url) == 200  # the health check needs no key
        for options, what in (({"api_key": "guess"}, "rejected the API key"),
                              ({}, "requires an API key")):
            started = time.monotonic()
            with pytest.raises(UsageError) as info:
                connect_policy(url, PolicyContext(tabletop.env_spec,
                                                  {"connect_timeout": "10", **options}))
            assert time.monotonic() - started < 3  # refused at once, not retried
            assert str(info.value) == (
                f"policy server {url} {what} (HTTP 401); pass --policy-arg api_key=KEY or "
                f"set WAMROBUST_POLICY_API_KEY")
        doubled = [("Authorization", "Api-Key guess"), ("Authorization", "Api-Key s3cret")]
        with pytest.raises(InvalidStatus, match="HTTP 401"):
            connect(url, open_timeout=5, additional_headers=doubled)


@pytest.mark.parametrize(("url", "says"), [
    ("ws://host:99999", "port must be 1-65535"),
    ("ws://:abc", "port must be 1-65535"),
    ("ws://127.0.0.1:abc", "port must be 1-65535"),
    ("ws://127.0.0.1:0", "port must be 1-65535"),
    ("http://127.0.0.1:8000", "the scheme must be ws:// or wss://"),
    ("ws://[::1", "Invalid IPv6 URL"),
    ("ws://", "no host"),
])
def test_bad_urls_are_one_usage_line_before_connecting(tabletop, url, says):
    with pytest.raises(UsageError) as info:
        connect_policy(url, PolicyContext(tabletop.env_spec, {"connect_timeout": "10"}))
    message = str(info.value)
    assert message.startswith(f"bad policy server URL {url!r}: ") and says in message
    assert "\n" not in message


def serve_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(WAMROBUST), "serve", "--policy=random", *args],
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("port", ["99999", "-1", "abc"])
def test_serve_refuses_a_bad_port_in_one_argparse_line(port):
    done = serve_command(f"--port={port}")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"wamrobust serve: error: argument --port: '{port}' is not a TCP port; give 1-65535 "
        f"(or 0 for any free port)")


def test_serve_on_a_port_in_use_is_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve_command(f"--port={port}")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (f"wamrobust serve: error: cannot listen on 127.0.0.1:{port}: "
                                   f"Address already in use; pick another --port")


def test_serve_warns_when_exposed_without_a_key():
    proc = subprocess.Popen([str(WAMROBUST), "serve", "--policy=random", "--host=0.0.0.0",
                             "--port=0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        banner = proc.stdout.readline()
    finally:
        proc.kill()
    _, stderr = proc.communicate(timeout=10)
    assert "serving 'random'" in banner
    port = banner.split("ws://0.0.0.0:")[1].split()[0]
    assert stderr.strip() == (f"wamrobust serve: warning: listening on 0.0.0.0: anyone who can "
                              f"reach port {port} can use the policy; set --api-key or "
                              f"$WAMROBUST_POLICY_API_KEY")


def test_a_run_whose_server_is_down_stops_at_start_up_in_one_line(run_plugin):
    started = time.monotonic()
    result = run_plugin("--suite=tabletop", "--policy=ws://127.0.0.1:9", "--policy-arg",
                        "connect_timeout=1", junit=None, timeout=60)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert time.monotonic() - started < 20
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output and "test_episode" not in output
    errors = [line for line in result.stderr.lines if line.strip()]
    assert len(errors) == 1 and errors[0].startswith(
        "ERROR: cannot reach the policy server at ws://127.0.0.1:9 within 1 s "
        "(ConnectionRefusedError: ")


def test_a_preset_whose_server_wants_a_key_stops_at_start_up(run_plugin, tabletop):
    with serving(tabletop.env_spec, api_key="s3cret") as url:
        result = run_plugin("--suite=tabletop", "--policy=pi05", "--policy-arg", f"server={url}",
                            junit=None, timeout=60)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    errors = [line for line in result.stderr.lines if line.strip()]
    assert errors == [(f"ERROR: policy server {url} requires an API key (HTTP 401); pass "
                       f"--policy-arg api_key=KEY or set WAMROBUST_POLICY_API_KEY")]

