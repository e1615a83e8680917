"""A policy server speaking openpi's protocol, for any registered policy.

Wire-compatible with openpi's WebsocketPolicyServer (metadata frame on connect, one
msgpack reply per request, traceback text frame + close 1011 on error, GET /healthz),
plus what the harness needs to stay reproducible through it: every connection gets its
own policy instance, reset from the request's `wamrobust/reset` entry, so a case gives
the same actions whichever worker sends it and whatever else the server is doing.
Inference is serialised under one lock, like a single GPU.
"""

from __future__ import annotations

import http
import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from ...core.protocols import Policy
from ...core.types import EnvSpec
from . import msgpack_numpy, wire
from .client import WAMROBUST_METADATA

log = logging.getLogger(__name__)


class PolicyServer:
    """Serve `factory()` policies for one suite on host:port (port 0: any free port)."""

    def __init__(self, factory: Callable[[], Policy], env_spec: EnvSpec,
                 host: str = "0.0.0.0", port: int = 8000) -> None:
        from websockets.sync.server import serve

        self._factory = factory
        self._lock = threading.Lock()
        meta = factory().metadata
        self.metadata = {WAMROBUST_METADATA: {
            "policy": meta.name, "family": meta.family, "suite": env_spec.suite,
            "action_dim": env_spec.action_dim, "chunk_length": meta.chunk_length,
            "replan_steps": meta.replan_steps, "privileged": meta.privileged,
        }}
        self._server = serve(self._handle, host, port, compression=None, max_size=None,
                             ping_interval=None, process_request=_health_check)

    @property
    def port(self) -> int:
        return int(self._server.socket.getsockname()[1])

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def shutdown(self) -> None:
        self._server.shutdown()

    def _handle(self, websocket: Any) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.frames import CloseCode

        try:
            policy = self._factory()
            websocket.send(msgpack_numpy.packb(self.metadata))
            previous_total_ms = None
            while True:
                request = websocket.recv()
                started = time.monotonic()
                reply = self._infer(policy, msgpack_numpy.unpackb(request))
                reply["server_timing"]["infer_ms"] = (time.monotonic() - started) * 1000.0
                if previous_total_ms is not None:
                    reply["server_timing"]["prev_total_ms"] = previous_total_ms
                websocket.send(msgpack_numpy.packb(reply))
                previous_total_ms = (time.monotonic() - started) * 1000.0
        except ConnectionClosed:
            return
        except Exception:  # reported to the client, as openpi's server does
            log.exception("policy server: request failed")
            try:
                websocket.send(traceback.format_exc())
                websocket.close(CloseCode.INTERNAL_ERROR,
                                "Internal server error. Traceback included in previous frame.")
            except ConnectionClosed:
                pass

    def _infer(self, policy: Policy, request: dict[str, Any]) -> dict[str, Any]:
        reset = request.pop(wire.RESET_KEY, None)
        if reset:
            policy.reset(str(reset["task"]), int(reset["seed"]))
        observation = wire.observation_from_native(request)
        with self._lock:
            started = time.monotonic()
            actions = np.asarray(policy.infer(observation), dtype=np.float64)
            infer_ms = (time.monotonic() - started) * 1000.0
        return {"actions": actions, "policy_timing": {"infer_ms": infer_ms}, "server_timing": {}}


def _health_check(connection: Any, request: Any) -> Any:
    if request.path == "/healthz":
        return connection.respond(http.HTTPStatus.OK, "OK\n")
    return None
