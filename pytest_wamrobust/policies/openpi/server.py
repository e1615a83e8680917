"""A policy server speaking openpi's protocol, for any registered policy.

Wire-compatible with openpi's WebsocketPolicyServer (metadata frame on connect, one
msgpack reply per request, an error text frame + close 1011 when the policy fails,
GET /healthz), plus what the harness needs to stay reproducible through it: every
connection has its own episode, reset from the request's `wamrobust/reset` entry, so a
case gives the same actions whichever worker sends it and whatever else the server is
doing. A `BatchPolicy` is built once for all connections, each keeping its episode state
(`new_episode`) apart from the model; with `max_batch` > 1 concurrent requests run as
one `infer_batch` (core/running/batcher.py), each row as it would alone. Any other policy keeps
its state in itself, so each connection gets its own instance. Inference is serialised
either way, like a single GPU.

Peers are not trusted: a malformed request is answered with one "bad request: ..." text
frame and the connection goes on; a policy error is one line unless `debug` (the
traceback is always logged here); with an API key, a handshake without it gets HTTP 401.

Nor can they stop it or crowd the workers out (issue 22). The accept loop is ours, not
websockets':
- At most `max_connections` sockets at once, lowered to fit the file-handle limit (a
  connection holds FDS_PER_CONNECTION handles). A new socket waits in the loop's
  selector for its first byte (no thread, one handle) and is closed if it says nothing
  for `handshake_timeout` s; once it speaks, websockets' handshake has `handshake_timeout`
  more (its `open_timeout`). At the limit a new connection takes the place of the
  oldest one not yet past its handshake (and the API key); when there is none, it is
  refused, closed at once. One log line says so (at most one per 5 s, counting the rest).
- accept() out of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM) backs off (10 ms, doubling
  to 1 s) and goes on, with one log line; out of file handles, the connection limit is
  first refitted to what is left and the oldest unfinished handshakes are dropped. A
  thread that cannot start refuses that one connection. Any other failure of the
  listening socket makes `serve_forever` raise `ServerDied`, never return as if shut down.
- Request bytes in flight (received and not yet answered, counted from each frame's
  header, before its payload is read) are capped at `max_inflight_bytes` across
  connections and at one message (64 MiB) per connection. A frame that does not fit
  waits with its socket unread (TCP pushes back on the sender); after `budget_wait_s` its
  connection is closed with 1013 (try again later) and a one-line reason. Messages under
  BUDGET_THRESHOLD are not counted: websockets' `max_queue` bounds them per connection.
- What a request held is let go of once it is answered: websockets' parser keeps the
  last frame it read until the next one comes (`_Ledger.delivered`), a failed request's
  traceback holds it through the batcher's future (`_drop_tracebacks`), the batcher's
  loop keeps its last batch (`_Request.forget`); glibc's free memory is trimmed once the
  budget has drained after a flood.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import hmac
import http
import logging
import os
import selectors
import socket
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from pytest_wamrobust.core.model.errors import one_line
from pytest_wamrobust.core.model.protocols import BatchPolicy, Policy
from pytest_wamrobust.core.model.types import EnvSpec, Observation
from pytest_wamrobust.core.running.batcher import Batcher
from pytest_wamrobust.policies.openpi import msgpack_numpy, wire
from pytest_wamrobust.policies.openpi.client import WAMROBUST_METADATA
from pytest_wamrobust.policies.openpi.connection import REQUEST_TIMEOUT_S

log = logging.getLogger(__name__)

#: Defaults of `wamrobust serve --max-connections / --handshake-timeout / --max-inflight-mb`.
DEFAULT_MAX_CONNECTIONS = 256
DEFAULT_HANDSHAKE_TIMEOUT_S = 5.0
DEFAULT_MAX_INFLIGHT_MB = 128
#: How long a frame waits for room in the in-flight budget before its connection is
#: closed with 1013 (try again later): as long as our client waits for a reply, so that
#: the budget never refuses a request the client would still have waited for.
DEFAULT_BUDGET_WAIT_S = REQUEST_TIMEOUT_S
#: Messages smaller than this are not counted in the budget (max_queue bounds them).
BUDGET_THRESHOLD = 64 * 2**10
#: Frames websockets may queue per connection before it stops reading that socket.
MAX_QUEUE = 4
#: File handles one connection holds: its socket, websockets' wake-up socket pair and
#: the selector of its reader thread.
FDS_PER_CONNECTION = 4
#: Handles kept free for everything else (the model, logs, /healthz, a refused socket).
SPARE_FDS = 32
#: Connections dropped at the limit whose threads have not exited yet: they still hold
#: their handles, so at most this many are in flight before new ones are refused.
MAX_EVICTING = 16
#: accept() errors that mean "out of resources for now": back off and go on.
_TRANSIENT_ACCEPT_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM,
                                      errno.ECONNABORTED, errno.EPROTO, errno.EPERM})
_BACKOFF_S = (0.01, 1.0)
#: Connections accepted per wake-up of the accept loop; the listen() backlog.
_ACCEPT_BURST = 64
_BACKLOG = 1024


class ServerDied(RuntimeError):
    """The accept loop stopped without `shutdown()`: the listening socket failed."""


def open_files() -> int:
    """File handles this process holds now (a guess of 64 where /proc is missing)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 64


def connections_that_fit(requested: int, in_use: int | None = None) -> int:
    """`requested`, lowered so that that many connections fit the file-handle limit
    beside the `in_use` handles (default: all this process holds now)."""
    try:
        import resource
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return requested
    if soft == resource.RLIM_INFINITY:
        return requested
    in_use = open_files() if in_use is None else in_use
    fit = (soft - in_use - SPARE_FDS) // FDS_PER_CONNECTION - MAX_EVICTING
    return max(1, min(requested, fit))


def raise_file_limit(connections: int) -> None:
    """Raise the soft file-handle limit (up to the hard one) so `connections` fit."""
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = open_files() + SPARE_FDS + FDS_PER_CONNECTION * (connections + MAX_EVICTING)
        if soft != resource.RLIM_INFINITY and soft < need:
            target = need if hard == resource.RLIM_INFINITY else min(need, hard)
            if target > soft:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ImportError, OSError, ValueError):
        pass


class PolicyServer:
    """Serve `factory()` policies for one suite on host:port (port 0: any free port).

    `api_key`: clients must send `Authorization: Api-Key <key>` (openpi's header);
    `debug`: a policy error sends its whole traceback to the client, not one line;
    `max_batch` / `batch_wait_ms`: gather up to that many concurrent requests, waiting
    at most that long for them, into one `infer_batch` (a BatchPolicy only);
    `max_connections`, `handshake_timeout`, `max_inflight_bytes`, `budget_wait_s`: the
    limits in the module's docstring (`max_connections` is lowered to fit the
    file-handle limit: see `self.max_connections`);
    `fingerprint`: what the policy computes with (its weights' digest), sent in the
    metadata so that a client's identity changes when the weights do.
    """

    def __init__(self, factory: Callable[[], Policy], env_spec: EnvSpec,
                 host: str = "127.0.0.1", port: int = 8000, *, api_key: str = "",
                 debug: bool = False, max_batch: int = 1, batch_wait_ms: float = 0.0,
                 max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT_S,
                 max_inflight_bytes: int = DEFAULT_MAX_INFLIGHT_MB * 2**20,
                 budget_wait_s: float = DEFAULT_BUDGET_WAIT_S, fingerprint: str = "") -> None:
        from websockets.sync.server import serve

        if max_connections < 1 or not handshake_timeout > 0 or max_inflight_bytes < 1:
            raise ValueError(f"max_connections, handshake_timeout and max_inflight_bytes must "
                             f"be positive, got {max_connections}, {handshake_timeout}, "
                             f"{max_inflight_bytes}")
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
            # what it computes with (core/model/identity.py): a client's --wam-resume tells
            # retrained weights served under the same name from the ones it ran before
            "fingerprint": fingerprint,
        }}
        #: The connection limit in force: `max_connections`, or fewer where the
        #: file-handle limit (ulimit -n) cannot hold that many.
        self.max_connections = connections_that_fit(max_connections)
        max_size = min(msgpack_numpy.MAX_MESSAGE_BYTES, max_inflight_bytes)
        #: Request bytes in flight across connections (see `InFlightBudget`).
        self.budget = InFlightBudget(max_inflight_bytes, per_connection=max_size,
                                     wait_s=budget_wait_s)
        self._slots: dict[socket.socket, _Slot] = {}  # every accepted socket not yet closed
        self._slots_lock = threading.Lock()
        self._idle: dict[socket.socket, _Slot] = {}  # those waiting for their first byte
        self._poller = selectors.DefaultSelector()  # the accept loop's
        self._handshake_timeout = handshake_timeout
        self._stopping = threading.Event()
        self._refusals = _Throttled(5.0)
        self._accept_errors = _Throttled(5.0)
        connection = functools.partial(_connection_class(), budget=self.budget)
        self._server = serve(self._handle, host, port, compression=None,
                             max_size=max_size, max_queue=MAX_QUEUE, ping_interval=None,
                             open_timeout=handshake_timeout, backlog=_BACKLOG,
                             process_request=self._check_request,
                             create_connection=cast(Any, connection))

    @property
    def port(self) -> int:
        return int(self._server.socket.getsockname()[1])

    def serve_forever(self) -> None:
        """Accept connections until `shutdown()`; raises `ServerDied` if the listening
        socket fails (a loop that dies never looks like a clean stop)."""
        try:
            self._accept_loop()
        except OSError as exc:
            if self._stopping.is_set():
                return
            raise ServerDied(f"accepting connections failed ({one_line(exc)})") from exc
        if not self._stopping.is_set():
            raise ServerDied("the accept loop stopped without a shutdown")

    def shutdown(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self.batcher.close()

    def _accept_loop(self) -> None:
        """websockets' `Server.serve_forever`, plus the limits: a socket waits here, in
        this thread's selector, until its first byte (no thread, one file handle), and
        accept() running out of resources backs off instead of ending the loop."""
        server = self._server
        listening = server.socket
        watcher = getattr(server, "shutdown_watcher", None)
        poller = self._poller
        backoff = 0.0
        try:
            if watcher is not None:
                poller.register(watcher, selectors.EVENT_READ)
            try:
                poller.register(listening, selectors.EVENT_READ)
                listening.setblocking(False)  # drain a burst of connections per wake-up
            except (OSError, ValueError):  # shutdown() ran first
                if self._stopping.is_set():
                    return
                raise
            while not self._stopping.is_set():
                events = poller.select(self._next_expiry())
                if self._stopping.is_set():
                    break
                for key, _ in events:
                    if isinstance(key.data, _Slot):
                        self._first_byte(key.data)
                    elif key.fileobj is listening:
                        backoff = self._accept_burst(listening, backoff)
                self._expire_idle()
        finally:
            for slot in list(self._idle.values()):
                self._close_idle(slot)
            poller.close()
            closed = getattr(server, "socket_closed", None)
            if closed is not None:
                closed.set()
            if watcher is not None:
                watcher.close()

    def _accept_burst(self, listening: socket.socket, backoff: float) -> float:
        """Accept what is waiting (up to a burst); the backoff to use from now on."""
        for _ in range(_ACCEPT_BURST):
            try:
                sock, addr = listening.accept()
            except (BlockingIOError, InterruptedError):
                return backoff  # 0.0 once one was accepted
            except OSError as exc:
                if self._stopping.is_set() or exc.errno not in _TRANSIENT_ACCEPT_ERRORS:
                    raise
                backoff = min(max(backoff * 2, _BACKOFF_S[0]), _BACKOFF_S[1])
                open_now = len(self._slots)
                if exc.errno in (errno.EMFILE, errno.ENFILE):
                    # out of file handles all the same (the limit was lowered, or the
                    # policy holds more): fit the limit to what is left, drop the oldest
                    # unfinished handshakes down to it
                    self.max_connections = min(self.max_connections, self._refit())
                    self._shed()
                self._accept_errors.warning(
                    "policy server: cannot accept a connection (%s) with %d connections "
                    "open; at most %d from now on; retrying in %g s", one_line(exc),
                    open_now, self.max_connections, backoff)
                self._stopping.wait(backoff)
                return backoff
            backoff = 0.0
            self._admit(sock, addr)
        return backoff

    def _admit(self, sock: socket.socket, addr: Any) -> None:
        """Hold `sock` until its first byte, making room at the limit, or refuse it."""
        evict: _Slot | None = None
        refused = 0
        with self._slots_lock:
            evicting = sum(slot.evicted for slot in self._slots.values())
            if len(self._slots) - evicting >= self.max_connections:
                evict = self._evict_oldest_pending(locked=True)
                if evict is None:
                    refused = len(self._slots)
            if not refused:
                slot = self._slots[sock] = _Slot(sock, addr, time.monotonic())
        if refused:
            _close(sock)
            self._refusals.warning(
                "policy server: refused a connection from %s: %d connections open, none "
                "left in its handshake to drop (--max-connections %d)", _peer(addr), refused,
                self.max_connections)
            return
        if evict is not None:
            self._refusals.warning(
                "policy server: dropped %s, still in its handshake after %.1f s, for a new "
                "connection: %d connections open (--max-connections %d)", _peer(evict.addr),
                time.monotonic() - evict.since, len(self._slots), self.max_connections)
            self._drop(evict)
        try:
            self._poller.register(sock, selectors.EVENT_READ, data=slot)
        except (OSError, ValueError) as exc:  # ENOMEM, ENOSPC from epoll
            self._forget(slot)
            _close(sock)
            self._accept_errors.warning("policy server: refused a connection from %s: %s",
                                        _peer(addr), one_line(exc))
            return
        self._idle[sock] = slot

    def _first_byte(self, slot: _Slot) -> None:
        """An idle socket is readable: the peer said something (a thread takes it from
        here, to websockets' handshake) or hung up (closed here)."""
        try:
            said = slot.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            said = b""
        if not said:
            self._close_idle(slot)
            return
        self._poller.unregister(slot.sock)
        del self._idle[slot.sock]
        thread = threading.Thread(target=self._connection_thread, args=(slot,),
                                  name=f"policy-connection-{_peer(slot.addr)}")
        lock = getattr(self._server, "lock", None)
        threads = getattr(self._server, "handler_threads", None)
        if lock is not None and threads is not None:
            with lock:  # registered before it starts, as websockets does: shutdown waits
                threads.add(thread)
        slot.thread = thread
        try:
            thread.start()
        except RuntimeError as exc:  # can't start new thread
            if lock is not None and threads is not None:
                with lock:
                    threads.discard(thread)
            self._forget(slot)
            _close(slot.sock)
            self._accept_errors.warning("policy server: refused a connection from %s: %s",
                                        _peer(slot.addr), one_line(exc))
            self._stopping.wait(_BACKOFF_S[0])

    def _next_expiry(self) -> float | None:
        """Seconds until the oldest idle socket's handshake time is up (None: no idle one)."""
        if not self._idle:
            return None
        oldest = min(slot.since for slot in self._idle.values())
        return max(0.0, oldest + self._handshake_timeout - time.monotonic())

    def _expire_idle(self) -> None:
        """Close idle sockets that have said nothing for the handshake timeout."""
        now = time.monotonic()
        for slot in [slot for slot in self._idle.values()
                     if now - slot.since >= self._handshake_timeout]:
            self._close_idle(slot)

    def _close_idle(self, slot: _Slot) -> None:
        """Close a socket still waiting here for its first byte (this thread only)."""
        if self._idle.pop(slot.sock, None) is not None:
            try:
                self._poller.unregister(slot.sock)
            except (KeyError, ValueError, OSError):
                pass
        self._forget(slot)
        _close(slot.sock)

    def _drop(self, slot: _Slot) -> None:
        """Drop a connection still in its handshake: closed here if it is idle, else its
        threads are woken (the handshake sees the end of the stream and closes)."""
        if slot.thread is None:
            self._close_idle(slot)
        else:
            slot.drop()

    def _refit(self) -> int:
        """The connections the file-handle limit holds now, besides what the connections
        themselves hold (1 handle while idle, FDS_PER_CONNECTION with their threads)."""
        with self._slots_lock:
            held = sum(1 if slot.thread is None else FDS_PER_CONNECTION
                       for slot in self._slots.values())
        return connections_that_fit(self.max_connections, in_use=open_files() - held)

    def _shed(self) -> None:
        """Drop the oldest unfinished handshakes until the connections fit the limit."""
        while True:
            with self._slots_lock:
                evicting = sum(slot.evicted for slot in self._slots.values())
                over = len(self._slots) - evicting > self.max_connections
                victim = self._evict_oldest_pending(locked=True) if over else None
            if victim is None:
                return
            self._drop(victim)

    def _forget(self, slot: _Slot) -> None:
        with self._slots_lock:
            if self._slots.get(slot.sock) is slot:
                del self._slots[slot.sock]

    def _evict_oldest_pending(self, locked: bool = False) -> _Slot | None:
        """Mark the oldest connection still in its handshake as dropped and return it
        (the caller calls `_drop` on it); None if there is none, or too many dropped
        connections have not let go of their handles yet."""
        if not locked:
            with self._slots_lock:
                return self._evict_oldest_pending(locked=True)
        slots = self._slots.values()
        if sum(slot.evicted for slot in slots) >= MAX_EVICTING:
            return None
        oldest = min((slot for slot in slots if slot.pending and not slot.evicted),
                     key=lambda slot: slot.since, default=None)
        if oldest is not None:
            oldest.evicted = True
        return oldest

    def _connection_thread(self, slot: _Slot) -> None:
        try:
            self._server.handler(slot.sock, slot.addr)  # websockets' handshake, then _handle
        finally:
            self._forget(slot)
            self.budget.trim()  # what the connection held is freed by now

    def _handle(self, websocket: Any) -> None:
        with self.batcher.caller():
            self._serve_connection(websocket)

    def _serve_connection(self, websocket: Any) -> None:
        from websockets.exceptions import ConnectionClosed
        from websockets.frames import CloseCode

        ledger: _Ledger | None = getattr(websocket, "ledger", None)
        peer = _peer(getattr(websocket, "remote_address", None))
        served = _Served()
        log.info("policy server: %s connected", peer)
        try:
            policy: Policy = self.shared or self._factory()
            episode = self.shared.new_episode("", 0) if self.shared is not None else None
            websocket.send(msgpack_numpy.packb(self.metadata))
            previous_total_ms = None
            while True:
                try:  # the frame's only reference is _answer's: it drops it once parsed
                    previous_total_ms, episode = self._answer(
                        websocket, _receive(websocket, ledger), policy, episode,
                        previous_total_ms, served)
                finally:
                    if ledger is not None:
                        ledger.answered()
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
            finally:  # the batcher's frames in the traceback hold the request: free it now
                _drop_tracebacks(exc)
        finally:
            log.info("policy server: %s closed: %d episodes, %d chunks served", peer,
                     served.episodes, served.chunks)

    def _answer(self, websocket: Any, request: Any, policy: Policy, episode: Any,
                previous_total_ms: float | None, served: _Served) -> tuple[float | None, Any]:
        """Reply to one request; the reply's total time and the episode state after it."""
        started = time.monotonic()
        try:
            reset, observation = _parse_request(request)
        except msgpack_numpy.ProtocolError as exc:
            log.warning("policy server: bad request from %s: %s",
                        websocket.remote_address, exc)
            websocket.send(f"bad request: {exc}")
            return previous_total_ms, episode
        del request
        if reset is not None:
            served.episodes += 1
            if self.shared is not None:
                episode = self.shared.new_episode(*reset)
            else:
                policy.reset(*reset)
        item = _Request(policy, observation, episode)
        del observation
        try:
            actions, infer_ms, batch = self.batcher.call(item)
        finally:  # the batcher's loop keeps its last batch until the next one comes
            item.forget()
        server_timing = {"infer_ms": (time.monotonic() - started) * 1000.0}
        if previous_total_ms is not None:
            server_timing["prev_total_ms"] = previous_total_ms
        reply = {"actions": actions, "server_timing": server_timing,
                 "policy_timing": {"infer_ms": infer_ms, "batch_size": batch}}
        websocket.send(msgpack_numpy.packb(reply))
        served.chunks += 1
        return (time.monotonic() - started) * 1000.0, episode

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
        with self._slots_lock:  # past the key: no longer dropped to make room
            slot = self._slots.get(connection.socket)
            if slot is not None:
                slot.pending = False
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


class InFlightBudget:
    """Request bytes received and not yet answered, across connections: at most `limit`
    in all and `per_connection` for one connection. `wait_s`: how long a frame waits
    for room before its connection is refused."""

    def __init__(self, limit: int, *, per_connection: int, wait_s: float) -> None:
        self.limit = limit
        self.per_connection = per_connection
        self.wait_s = wait_s
        #: Bytes held now, and the most ever held at once.
        self.used = 0
        self.peak = 0
        self._cond = threading.Condition()
        self._released = 0  # bytes given back since the last malloc_trim

    def try_take(self, ledger: _Ledger, n: int) -> bool:
        with self._cond:
            return self._take(ledger, n)

    def take(self, ledger: _Ledger, n: int, alive: Callable[[], bool]) -> bool:
        """Wait up to `wait_s` for room for `n` more bytes of `ledger`'s connection."""
        deadline = time.monotonic() + self.wait_s
        with self._cond:
            while not self._take(ledger, n):
                left = deadline - time.monotonic()
                if left <= 0 or not alive():
                    return False
                self._cond.wait(min(left, 0.5))
        return True

    def _take(self, ledger: _Ledger, n: int) -> bool:
        if self.used + n > self.limit or ledger.held + n > self.per_connection:
            return False
        self.used += n
        ledger.held += n
        self.peak = max(self.peak, self.used)
        return True

    def give(self, ledger: _Ledger, n: int) -> None:
        with self._cond:
            n = min(n, ledger.held)
            if n <= 0:
                return
            ledger.held -= n
            self.used -= n
            self._released += n
            self._cond.notify_all()
        self.trim()

    def trim(self) -> None:
        """Once the budget has drained after a flood, hand the freed memory back to the
        system (glibc keeps it in its arenas otherwise)."""
        with self._cond:
            if self.used or self._released < _TRIM_AFTER:
                return
            self._released = 0
        _malloc_trim()


class _Ledger:
    """One connection's share of the budget: what its data frames reserved, message by
    message, until the handler has answered each (`answered`) or the connection ends."""

    def __init__(self, budget: InFlightBudget) -> None:
        self.budget = budget
        self.held = 0  # bytes reserved (changed under the budget's lock)
        self._messages: deque[int] = deque()  # reserved bytes of each complete message
        self._current = 0  # bytes of the message being received
        self._reserved = 0  # ... of which reserved
        self.waiting = 0  # bytes of the frame being received that found no room yet
        self.closed = False
        self._frames: deque[Any] = deque()  # data frames received, not yet delivered

    def frame(self, size: int, fin: bool) -> None:
        """A data frame of `size` bytes is about to be read (its header is parsed)."""
        self._current += size
        if self._current >= BUDGET_THRESHOLD and not self.closed:
            need = self._current - self._reserved
            self._reserved = self._current
            if not self.budget.try_take(self, need):
                self.waiting += need  # the reader thread waits for it before reading on
        if fin:
            self._messages.append(self._reserved)
            self._current = self._reserved = 0

    def received(self, frame: Any) -> None:
        """A data frame is complete (the reader thread)."""
        self._frames.append(frame)

    def delivered(self) -> None:
        """The handler has the oldest message: its frames' payloads are no longer needed
        there. websockets' parser keeps the last frame it read until the next one comes,
        which on an idle connection is for ever: 60 MB frames on 8 idle connections
        would keep 480 MB."""
        while self._frames:
            frame = self._frames.popleft()
            frame.data = b""
            if frame.fin:
                return

    def answered(self) -> None:
        """The handler is done with the oldest message it received."""
        if self._messages:
            self.budget.give(self, self._messages.popleft())

    def close(self) -> None:
        """The connection's reader has stopped: give back everything it holds."""
        self.closed = True
        self.waiting = 0
        self.budget.give(self, self.held)


@functools.lru_cache(maxsize=1)
@dataclass
class _Served:
    """What one connection was served, for its closing log line."""

    episodes: int = 0
    chunks: int = 0


def _connection_class() -> type:
    """websockets' ServerConnection, counting data frames against an `InFlightBudget` and
    reading no further while a frame waits for room (built on first use: websockets is
    imported lazily)."""
    from websockets.frames import DATA_OPCODES, CloseCode, Frame
    from websockets.sync.server import ServerConnection

    class LimitedConnection(ServerConnection):
        def __init__(self, *args: Any, budget: InFlightBudget, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.ledger = _Ledger(budget)
            reader = self.protocol.reader
            reader.read_exact = _counting_reader(  # type: ignore[method-assign,assignment]
                reader.read_exact, self.ledger)
            # recv_events() enters this before each read of the socket: websockets' own
            # flow control (a lock the message queue holds while full), then the budget
            # (a websockets without that lock: frames are counted, not held back)
            if hasattr(self, "recv_flow_control"):
                self.recv_flow_control = _FlowControl(  # type: ignore[assignment]
                    self.recv_flow_control, self._wait_for_room)

        def process_event(self, event: Any) -> None:
            if isinstance(event, Frame) and event.opcode in DATA_OPCODES:
                self.ledger.received(event)
            super().process_event(event)

        def recv_events(self) -> None:
            try:
                super().recv_events()
            except OSError as exc:  # no handle for its selector (EMFILE): drop it
                _RESOURCE_ERRORS.warning("policy server: dropped a connection: %s",
                                         one_line(exc))
                self.close_socket()
                self.shutdown_watcher.close()
            finally:
                self.ledger.close()

        def _wait_for_room(self) -> None:
            ledger = self.ledger
            if not ledger.waiting:
                return
            need, budget = ledger.waiting, ledger.budget
            if budget.take(ledger, need, alive=lambda: not ledger.closed
                           and self.socket.fileno() != -1):
                ledger.waiting = 0
                return
            ledger.waiting = 0
            ledger.closed = True  # nothing more is counted: the rest is discarded
            reason = (f"server busy: {budget.used / 2**20:.0f} MiB of requests in flight "
                      f"(limit {budget.limit / 2**20:.0f} MiB); try again later")
            log.warning("policy server: closed %s: a %d-byte frame waited %g s for room: %s",
                        self.remote_address, need, budget.wait_s, reason)
            with self.protocol_mutex:
                self.protocol.fail(CloseCode.TRY_AGAIN_LATER, reason)
                try:
                    self.send_data()
                except Exception:  # noqa: BLE001 - the peer is gone: so is the frame
                    pass

    return LimitedConnection


class _FlowControl:
    """A context manager standing in for websockets' `recv_flow_control` lock: enter and
    leave the lock as websockets does, then wait for room in the budget."""

    def __init__(self, lock: Any, wait: Callable[[], None]) -> None:
        self._lock = lock
        self._wait = wait

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
        self._wait()

    def acquire(self, *args: Any) -> bool:  # for anything else that takes the lock
        return bool(self._lock.acquire(*args))

    def release(self) -> None:
        self._lock.release()


def _counting_reader(read_exact: Callable[[int], Any], ledger: _Ledger) -> Callable[[int], Any]:
    """`read_exact` as `Frame.parse` calls it after the handshake: 2 header bytes, 2 or 8
    of extended length, 4 of mask, then the payload. Tell `ledger` of each data frame's
    payload before it is read."""
    left = 0  # header reads left before the payload
    opcode = 0
    fin = False

    def counted(n: int) -> Iterator[Any]:
        nonlocal left, opcode, fin
        if left == 0:  # a frame's first 2 bytes
            data = yield from read_exact(n)
            opcode, fin = data[0] & 0x0F, bool(data[0] & 0x80)
            left = 3 if data[1] & 0x7F >= 126 else 2
            return data
        left -= 1
        if left == 0 and opcode in (0, 1, 2):  # continuation, text, binary
            ledger.frame(n, fin)
        return (yield from read_exact(n))

    return counted


@dataclass
class _Slot:
    """An accepted socket: from where, since when, whether it is still in its opening
    handshake (and so may be dropped to make room) and whether it was."""

    sock: socket.socket
    addr: Any
    since: float
    pending: bool = True
    evicted: bool = False
    thread: threading.Thread | None = None  # None while it waits for its first byte

    def drop(self) -> None:
        """Wake its threads: the handshake sees the end of the stream and closes."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # closed meanwhile
            pass


class _Throttled:
    """A warning at most once per `seconds`, the next one counting those left out."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._next = 0.0
        self._skipped = 0
        self._lock = threading.Lock()

    def warning(self, message: str, *args: Any) -> None:
        with self._lock:
            now = time.monotonic()
            if now < self._next:
                self._skipped += 1
                return
            skipped, self._skipped, self._next = self._skipped, 0, now + self.seconds
        if skipped:
            message += f" ({skipped} more like it in the last {self.seconds:g} s)"
        log.warning(message, *args)


def _receive(websocket: Any, ledger: _Ledger | None) -> Any:
    """The next message; its frames let go of it (see `_Ledger.delivered`)."""
    message = websocket.recv()
    if ledger is not None:
        ledger.delivered()
    return message


def _drop_tracebacks(exc: BaseException | None) -> None:
    """Cut `exc` (and its causes) from its traceback. The batcher's future holds the
    exception and the traceback's frames hold the future: a cycle that would keep a
    failed request's arrays until the next full garbage collection."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc.__traceback__ = None
        exc = exc.__cause__ or exc.__context__


#: Connections dropped for lack of resources inside websockets, at most a line per 5 s.
_RESOURCE_ERRORS = _Throttled(5.0)


def _peer(addr: Any) -> str:
    return f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) and len(addr) >= 2 else str(addr)


def _close(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass


#: Give freed memory back to the system once a flood has drained (glibc only).
_TRIM_AFTER = 32 * 2**20


@functools.lru_cache(maxsize=1)
def _libc_malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return cast(Callable[[int], int], ctypes.CDLL(name).malloc_trim) if name else None
    except (OSError, AttributeError):
        return None


def _malloc_trim() -> None:
    trim = _libc_malloc_trim()
    if trim is not None:
        trim(0)


@dataclass(frozen=True)
class _Request:
    """One connection's request: its policy (the shared one or its own), observation and
    episode state (None for a policy that keeps it in itself)."""

    policy: Policy
    observation: Observation
    episode: Any

    def forget(self) -> None:
        """Let go of the observation (it may be 64 MiB) once the request is answered."""
        object.__setattr__(self, "observation", None)


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
