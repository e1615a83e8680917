"""A policy server speaking openpi's protocol, for any registered policy.

Wire-compatible with openpi's WebsocketPolicyServer (metadata frame on connect, one
msgpack reply per request, an error text frame + close 1011 when the policy fails,
GET /healthz), plus what the harness needs to stay reproducible through it: every
connection has its own episode, reset from the request's `wamrobust/reset` entry, so a
case gives the same actions whichever worker sends it and whatever else the server is
doing. A `BatchPolicy` is built once for all connections, each keeping its episode state
(`new_episode`) apart from the model; with `max_batch` > 1 concurrent requests run as
one `infer_batch` (core/batcher.py), each row as it would alone. Any other policy keeps
its state in itself, so each connection gets its own instance. Inference is serialised
either way, like a single GPU.

Peers are not trusted: a malformed request is answered with one "bad request: ..." text
frame and the connection goes on; a policy error is one line unless `debug` (the
traceback is always logged here); with an API key, a handshake without it gets HTTP 401.
"""

from __future__ import annotations

import hmac
import http
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytest_wamrobust.core.batcher import Batcher
from pytest_wamrobust.core.errors import one_line
from pytest_wamrobust.core.protocols import BatchPolicy, Policy
from pytest_wamrobust.core.types import EnvSpec, Observation
from pytest_wamrobust.policies.openpi import msgpack_numpy, wire
from pytest_wamrobust.policies.openpi.client import WAMROBUST_METADATA

log = logging.getLogger(__name__)


class PolicyServer:
    """Serve `factory()` policies for one suite on host:port (port 0: any free port).

    `api_key`: clients must send `Authorization: Api-Key <key>` (openpi's header);
    `debug`: a policy error sends its whole traceback to the client, not one line;
    `max_batch` / `batch_wait_ms`: gather up to that many concurrent requests, waiting
    at most that long for them, into one `infer_batch` (a BatchPolicy only).
    """

    def __init__(self, factory: Callable[[], Policy], env_spec: EnvSpec,
                 host: str = "127.0.0.1", port: int = 8000, *, api_key: str = "",
                 debug: bool = False, max_batch: int = 1, batch_wait_ms: float = 0.0) -> None:
        from websockets.sync.server import serve

        self._factory = factory
        self._authorization = f"Api-Key {api_key}".encode() if api_key else b""
        self._debug = debug
        first = factory()
        #: The one instance every connection shares, or None: one per connection.
        self.shared: BatchPolicy | None = first if isinstance(first, BatchPolicy) else None
        self.batcher: Batcher[_Request, tuple[np.ndarray, float, int]] = Batcher(
            self._run, max_batch=max_batch if self.shared else 1,
            wait_ms=batch_wait_ms if self.shared else 0.0, name="policy-batcher")
        meta = first.metadata
        self.metadata = {WAMROBUST_METADATA: {
            "policy": meta.name, "family": meta.family, "suite": env_spec.suite,
            "action_dim": env_spec.action_dim, "chunk_length": meta.chunk_length,
            "replan_steps": meta.replan_steps, "privileged": meta.privileged,
        }}
        self._server = serve(self._handle, host, port, compression=None,
                             max_size=msgpack_numpy.MAX_MESSAGE_BYTES, ping_interval=None,
                             process_request=self._check_request)

    @property
    def port(self) -> int:
        return int(self._server.socket.getsockname()[1])

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def shutdown(self) -> None:
        self._server.shutdown()
        self.batcher.close()

    def _handle(self, websocket: Any) -> None:
        with self.batcher.caller():
            self._serve_connection(websocket)

    def _serve_connection(self, websocket: Any) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.frames import CloseCode

        try:
            policy: Policy = self.shared or self._factory()
            episode = self.shared.new_episode("", 0) if self.shared is not None else None
            websocket.send(msgpack_numpy.packb(self.metadata))
            previous_total_ms = None
            while True:
                request = websocket.recv()
                started = time.monotonic()
                try:
                    reset, observation = _parse_request(request)
                except msgpack_numpy.ProtocolError as exc:
                    log.warning("policy server: bad request from %s: %s",
                                websocket.remote_address, exc)
                    websocket.send(f"bad request: {exc}")
                    continue
                if reset is not None:
                    if self.shared is not None:
                        episode = self.shared.new_episode(*reset)
                    else:
                        policy.reset(*reset)
                actions, infer_ms, batch = self.batcher.call(_Request(policy, observation,
                                                                      episode))
                server_timing = {"infer_ms": (time.monotonic() - started) * 1000.0}
                if previous_total_ms is not None:
                    server_timing["prev_total_ms"] = previous_total_ms
                reply = {"actions": actions, "server_timing": server_timing,
                         "policy_timing": {"infer_ms": infer_ms, "batch_size": batch}}
                websocket.send(msgpack_numpy.packb(reply))
                previous_total_ms = (time.monotonic() - started) * 1000.0
        except ConnectionClosed:
            return
        except Exception as exc:  # reported to the client, as openpi's server does
            log.exception("policy server: the policy failed")
            try:
                websocket.send(traceback.format_exc() if self._debug else one_line(exc))
                websocket.close(CloseCode.INTERNAL_ERROR,
                                "the policy failed; the error is in the previous frame")
            except ConnectionClosed:
                pass

    def _check_request(self, connection: Any, request: Any) -> Any:
        """Answer /healthz without a key; refuse a handshake without the right key (401)."""
        if request.path == "/healthz":
            return connection.respond(http.HTTPStatus.OK, "OK\n")
        if self._authorization:
            sent = request.headers.get_all("Authorization")  # exactly one, or refused
            given = sent[0].encode("utf-8", "replace") if len(sent) == 1 else b""
            if not hmac.compare_digest(given, self._authorization):
                log.warning("policy server: refused %s: missing or wrong API key",
                            connection.remote_address)
                return connection.respond(http.HTTPStatus.UNAUTHORIZED,
                                          "missing or wrong API key\n")
        return None

    def _run(self, requests: list[_Request]) -> list[tuple[np.ndarray, float, int]]:
        """One batch (the batcher's thread): each request's chunk, the batch's time and size."""
        started = time.monotonic()
        if self.shared is not None:
            chunks = self.shared.infer_batch([r.observation for r in requests],
                                             [r.episode for r in requests])
        else:
            chunks = [r.policy.infer(r.observation) for r in requests]
        infer_ms = (time.monotonic() - started) * 1000.0
        return [(np.asarray(chunk, dtype=np.float64), infer_ms, len(requests))
                for chunk in chunks]


@dataclass(frozen=True)
class _Request:
    """One connection's request: its policy (the shared one or its own), observation and
    episode state (None for a policy that keeps it in itself)."""

    policy: Policy
    observation: Observation
    episode: Any


def _parse_request(frame: Any) -> tuple[tuple[str, int] | None, Observation]:
    """The episode reset and observation a frame carries, or ProtocolError saying why not."""
    request = msgpack_numpy.unpackb(frame)
    if not isinstance(request, dict):
        raise msgpack_numpy.ProtocolError(
            f"a request is a map of observation keys, got a {type(request).__name__}")
    reset = request.pop(wire.RESET_KEY, None)
    if reset and not (isinstance(reset, dict) and isinstance(reset.get("task"), str)
                      and type(reset.get("seed")) is int):
        raise msgpack_numpy.ProtocolError(
            f"{wire.RESET_KEY} must be {{'task': str, 'seed': int}}, got {reset!r:.60}")
    try:
        observation = wire.observation_from_native(request)
    except (TypeError, ValueError) as exc:
        raise msgpack_numpy.ProtocolError(one_line(exc)) from None
    return ((reset["task"], reset["seed"]) if reset else None), observation
