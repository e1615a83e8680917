"""`--policy=ws://host:port` and the presets pi0 / pi05 / pi0-fast: a Policy whose
`infer` is one round trip to an openpi-protocol server.

The runner times `infer`, so the reported latency is the client's round trip per
chunk; the server's own `server_timing` / `policy_timing` are kept as extra JUnit
properties. Each process (xdist worker) builds its policy once, hence one connection
per worker. A `wamrobust serve` server announces itself in its metadata; the client
then sends the suite's native observation (and simulator state if the served policy
is privileged); any other server gets the openpi layout of conventions.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from pytest_wamrobust.core.model.chunking import Chunking, check_replanning
from pytest_wamrobust.core.model.errors import POLICY_ERROR, EpisodeError, UsageError, one_line
from pytest_wamrobust.core.model.identity import data_digest, fingerprinted
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.types import Observation, PolicyMetadata
from pytest_wamrobust.policies.openpi import wire
from pytest_wamrobust.policies.openpi.connection import (
    CONNECT_TIMEOUT_S,
    REQUEST_TIMEOUT_S,
    Connection,
)
from pytest_wamrobust.policies.openpi.conventions import MINUS_ONE_OPEN, PRESETS, convention_for

#: Environment fallbacks for `--policy-arg server=...` / `api_key=...`.
SERVER_ENV = "WAMROBUST_POLICY_SERVER"
API_KEY_ENV = "WAMROBUST_POLICY_API_KEY"
DEFAULT_SERVER = "ws://127.0.0.1:8000"
#: Key of the metadata a `wamrobust serve` server sends on connect.
WAMROBUST_METADATA = "wamrobust"


class WebsocketPolicy:
    """A remote policy; `reset` is local unless the server is a `wamrobust serve`."""

    #: a digest of the metadata the server sent on connect (core/model/identity.py)
    fingerprint = ""

    def __init__(self, connection: Connection, metadata: PolicyMetadata,
                 encode: Callable[[Observation], dict[str, Any]], *, native: bool,
                 gripper: str = MINUS_ONE_OPEN) -> None:
        self.metadata = metadata
        self._connection = connection
        self._encode = encode
        self.native = native
        self._gripper = gripper
        self._pending_reset: dict[str, Any] | None = None
        self._server_ms: list[float] = []
        self._policy_ms: list[float] = []

    def reset(self, task: str, seed: int) -> None:
        self._server_ms, self._policy_ms = [], []
        if self.native:
            self._pending_reset = {"task": task, "seed": int(seed)}

    def infer(self, observation: Observation) -> np.ndarray:
        request = self._encode(observation)
        if self._pending_reset is not None:
            request[wire.RESET_KEY] = self._pending_reset
        reply = self._connection.request(request)
        self._pending_reset = None
        if isinstance(reply, dict):
            self._server_ms += _timing(reply, "server_timing")
            self._policy_ms += _timing(reply, "policy_timing")
        actions = wire.actions_from_reply(reply, self._connection.url, self._gripper)
        if 0 < len(actions) < self.metadata.replan_steps:  # would replan early, unsaid
            raise EpisodeError(POLICY_ERROR, (
                f"policy server {self._connection.url} sent {len(actions)} actions, fewer than "
                f"replan_steps={self.metadata.replan_steps}; give --policy-arg replan_steps "
                f"(and chunk_length) of at most {len(actions)}"))
        return actions

    def episode_properties(self) -> dict[str, str]:
        """The server's own timings of this episode's chunks (ms), for the JUnit report."""
        out: dict[str, str] = {}
        for name, values in (("server_infer", self._server_ms), ("policy_infer", self._policy_ms)):
            if values:
                out[f"{name}_p50_ms"] = f"{np.percentile(values, 50):.3f}"
                out[f"{name}_ms"] = json.dumps([round(v, 3) for v in values])
        return out

    def close(self) -> None:
        self._connection.close()


def connect_policy(url: str, ctx: PolicyContext, preset: str | None = None) -> WebsocketPolicy:
    """The registry's adapter for `--policy=ws://...` / `wss://...`."""
    _check_url(url)
    options = ctx.options
    connection = Connection(
        url,
        api_key=options.get("api_key") or os.environ.get(API_KEY_ENV, ""),
        connect_timeout=_seconds(options, "connect_timeout", CONNECT_TIMEOUT_S),
        request_timeout=_seconds(options, "request_timeout", REQUEST_TIMEOUT_S),
    )
    server = connection.open()
    if WAMROBUST_METADATA in server:
        policy = _native_policy(connection, server[WAMROBUST_METADATA], ctx)
    else:
        policy = _openpi_policy(connection, ctx, preset)
    policy.fingerprint = data_digest(server)
    return policy


def server_fingerprint(url: str, ctx: PolicyContext, preset: str | None = None) -> str:
    """The served policy's identity for --wam-resume: a digest of the metadata the server
    sends on connect (connects once and hangs up)."""
    policy = connect_policy(url, ctx, preset)
    policy.close()
    return policy.fingerprint


def preflight(url: str, ctx: PolicyContext, preset: str | None = None) -> Chunking:
    """Connect once and hang up, on the controller before any case: a server that is down,
    refuses the key, serves another suite or cannot honour a --policy-arg fails the run in
    one line, not every case. Returns the chunking the run will use, for its header."""
    policy = connect_policy(url, ctx, preset)
    policy.close()
    meta = policy.metadata
    return dataclasses.replace(
        Chunking.of(meta.chunk_length, meta.replan_steps, ctx.options, served=policy.native),
        served_name=meta.name)


def _check_url(url: str) -> None:
    """One UsageError line for a URL websockets would refuse with a traceback (or, for
    port 0, quietly read as port 80)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # a malformed [IPv6] host
        raise UsageError(f"bad policy server URL {url!r}: {exc}") from None
    if parts.scheme not in ("ws", "wss"):
        raise UsageError(f"bad policy server URL {url!r}: the scheme must be ws:// or wss://, "
                         f"e.g. ws://HOST:PORT")
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise UsageError(f"bad policy server URL {url!r}: port must be 1-65535")
    if not parts.hostname:
        raise UsageError(f"bad policy server URL {url!r}: no host; expected ws://HOST:PORT or "
                         f"wss://HOST[:PORT][/PATH]")


def _native_policy(connection: Connection, served: Any, ctx: PolicyContext) -> WebsocketPolicy:
    spec = ctx.env_spec
    if not isinstance(served, dict):
        connection.close()
        raise UsageError(f"the policy server at {connection.url} sent malformed "
                         f"{WAMROBUST_METADATA!r} metadata; is it a wamrobust serve server?")
    if served.get("suite") != spec.suite or served.get("action_dim") != spec.action_dim:
        connection.close()
        raise UsageError(
            f"the policy server at {connection.url} serves {served.get('policy')!r} for suite "
            f"{served.get('suite')!r} ({served.get('action_dim')}-dim actions) but this run is "
            f"--suite={spec.suite} ({spec.action_dim}-dim); restart it with --suite={spec.suite}")
    try:
        metadata = PolicyMetadata(
            name=str(served.get("policy", "remote")),
            chunk_length=int(served["chunk_length"]),
            replan_steps=int(served["replan_steps"]),
            family=str(served.get("family", "vla")),
            privileged=bool(served.get("privileged", False)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        connection.close()
        raise UsageError(f"the policy server at {connection.url} sent unusable metadata "
                         f"({one_line(exc)}); is it a wamrobust serve server?") from None
    try:
        metadata = _replanned_here(metadata, ctx.options, connection.url)
    except UsageError:
        connection.close()
        raise
    privileged = metadata.privileged
    return WebsocketPolicy(connection, metadata,
                           lambda obs: wire.native_request(obs, privileged), native=True)


def _replanned_here(served: PolicyMetadata, options: Any, url: str) -> PolicyMetadata:
    """A `wamrobust serve` server decides the chunk; the client decides how much of it runs,
    so it applies any replan_steps the chunk covers and refuses the rest, naming the side
    that can set them."""
    chunk = options.get("chunk_length")
    if chunk is not None and _int(options, "chunk_length", 0) != served.chunk_length:
        raise UsageError(
            f"--policy-arg chunk_length={chunk} cannot apply: the policy server at {url} "
            f"decides the chunk ({served.chunk_length} actions per call); set it where the "
            f"server starts: `wamrobust serve ... --policy-arg chunk_length={chunk}`")
    if "replan_steps" not in options:
        return served
    replan = _int(options, "replan_steps", served.replan_steps)
    if replan > served.chunk_length:
        raise UsageError(
            f"--policy-arg replan_steps={replan} cannot apply: the policy server at {url} "
            f"sends {served.chunk_length} actions per call; serve a longer chunk: `wamrobust "
            f"serve ... --policy-arg chunk_length={replan} --policy-arg replan_steps={replan}`")
    check_replanning(replan, served.chunk_length, f"the policy server at {url}")
    return dataclasses.replace(served, replan_steps=replan)


def _openpi_policy(connection: Connection, ctx: PolicyContext,
                   preset: str | None) -> WebsocketPolicy:
    name = preset or f"openpi@{urlsplit(connection.url).netloc}"
    try:
        convention = convention_for(ctx.env_spec, name)
    except UsageError:
        connection.close()
        raise
    default_chunk = PRESETS[preset].chunk_length if preset else 10
    chunk = _int(ctx.options, "chunk_length", default_chunk)
    replan = _int(ctx.options, "replan_steps", min(convention.replan_steps, chunk))
    try:
        check_replanning(replan, chunk, f"policy {name!r} with chunk_length={chunk}")
        metadata = PolicyMetadata(name, chunk, replan,
                                  family=PRESETS[preset].family if preset else "vla")
    except UsageError:
        connection.close()
        raise
    except ValueError as exc:
        connection.close()
        raise UsageError(str(exc)) from None
    spec = ctx.env_spec
    return WebsocketPolicy(connection, metadata,
                           lambda obs: wire.openpi_request(obs, spec, convention),
                           native=False, gripper=convention.gripper)


def server_url(ctx: PolicyContext) -> str:
    """Where a preset's server is: --policy-arg server=..., $WAMROBUST_POLICY_SERVER, default."""
    return ctx.options.get("server") or os.environ.get(SERVER_ENV) or DEFAULT_SERVER


class _Preset:
    """A preset's registered factory; `preflight` lets the registry check its server once."""

    def __init__(self, name: str) -> None:
        self.name = name
        fingerprinted(self.fingerprint)(self)

    def __call__(self, ctx: PolicyContext) -> WebsocketPolicy:
        return connect_policy(server_url(ctx), ctx, preset=self.name)

    def fingerprint(self, ctx: PolicyContext) -> str:
        return server_fingerprint(server_url(ctx), ctx, preset=self.name)

    def preflight(self, ctx: PolicyContext) -> Chunking:
        return preflight(server_url(ctx), ctx, preset=self.name)


make_pi0 = _Preset("pi0")
make_pi05 = _Preset("pi05")
make_pi0_fast = _Preset("pi0-fast")


def _timing(reply: dict[str, Any], key: str) -> list[float]:
    timing = reply.get(key)
    if isinstance(timing, dict) and "infer_ms" in timing:
        return [float(timing["infer_ms"])]
    return []


def _seconds(options: Any, name: str, default: float) -> float:
    try:
        value = float(options.get(name, default))
    except ValueError:
        value = -1.0
    if value <= 0:
        raise UsageError(f"--policy-arg {name}={options.get(name)} must be a positive number "
                         f"of seconds")
    return value


def _int(options: Any, name: str, default: int) -> int:
    try:
        return int(options.get(name, default))
    except ValueError:
        raise UsageError(f"--policy-arg {name}={options.get(name)} must be an integer") from None
