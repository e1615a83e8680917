"""Whoever reaches the policy server's port cannot stop it (issue 22), over real sockets on
127.0.0.1 and real `wamrobust serve` processes: a flood of idle connections past the
file-handle limit, handshakes that never finish, accept() out of file handles, large
frames from many connections at once, and a listening socket that fails under the
serve loop (exit status 1 and one line, never 0)."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import http.client
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest
from policy_servers import serving
from test_openpi_client import Scripted, observation
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from pytest_wamrobust.cli import build_parser
from pytest_wamrobust.cli import serve as serve_cli
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.policies.openpi import msgpack_numpy, server
from pytest_wamrobust.policies.openpi.client import connect_policy

KEY = "s3cret"
HEADERS = {"Authorization": f"Api-Key {KEY}"}
MiB = 2**20


class Served:
    """A `wamrobust serve` process: its URL, port and (once stopped) stderr and status."""

    def __init__(self, proc: subprocess.Popen, port: int, log: Path) -> None:
        self.proc, self.port, self._log = proc, port, log
        self.url = f"ws://127.0.0.1:{port}"
        self._final: str | None = None

    @property
    def stderr(self) -> str:
        return self._log.read_text() if self._final is None else self._final

    def stopped(self) -> None:
        self._final = self._log.read_text()

    def rss_mb(self) -> tuple[float, float]:
        """(VmRSS, VmHWM) of the server, in MB."""
        fields = dict(line.split(":", 1) for line in
                      Path(f"/proc/{self.proc.pid}/status").read_text().splitlines())
        return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


@contextlib.contextmanager
def wamrobust_serve(*args: str, nofile: int | None = None,
                    policy: str = "random") -> Iterator[Served]:
    """`python -m pytest_wamrobust serve` on a free port with KEY, under `nofile` file
    handles (soft and hard) if given; killed after unless it has exited."""
    def limit() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "stderr"
        with log.open("w") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "pytest_wamrobust", "serve", f"--policy={policy}",
                 "--port=0", f"--api-key={KEY}", *args],
                stdout=subprocess.PIPE, stderr=stderr, text=True, preexec_fn=limit)
        served = None
        try:
            banner = proc.stdout.readline()
            assert "serving" in banner, f"no banner: {banner!r}, {log.read_text()[-2000:]}"
            served = Served(proc, int(banner.split("ws://127.0.0.1:")[1].split()[0]), log)
            yield served
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)
            if served is not None:
                served.stopped()


def round_trip(url: str, env_spec, timeout: float = 2.0) -> float:
    """Seconds for a keyed client to connect, get the metadata and one chunk of actions."""
    started = time.monotonic()
    policy = connect_policy(url, PolicyContext(env_spec, {
        "api_key": KEY, "connect_timeout": str(timeout), "request_timeout": str(timeout)}))
    try:
        policy.reset("lift_cube", 0)
        assert policy.infer(observation()).shape[1] == 7
    finally:
        policy.close()
    return time.monotonic() - started


def healthz(port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status
    finally:
        connection.close()


def idle_connections(port: int, count: int) -> list[socket.socket]:
    """`count` plain TCP connections that never say a word (connecting in the background)."""
    socks = []
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        socks.append(sock)
    return socks


@contextlib.contextmanager
def file_handles(want: int) -> Iterator[int]:
    """This process's soft file-handle limit raised towards `want`; yields what it got."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, target), hard))
    try:
        yield max(soft, target)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_flood_past_the_file_handle_limit_leaves_keyed_clients_served(tabletop):
    """Before: accept() hit EMFILE after ~200 sockets, the loop ended, the server exited 0."""
    with file_handles(1400) as ours, wamrobust_serve(nofile=256) as served:
        flood = idle_connections(served.port, min(1000, ours - 200))
        try:
            assert len(flood) > 256  # more than the server has file handles
            times = []
            for _ in range(5):
                times.append(round_trip(served.url, tabletop.env_spec))
                time.sleep(0.2)
            assert max(times) < 1.0, times
            assert served.proc.poll() is None
            assert healthz(served.port) == 200
        finally:
            for sock in flood:
                sock.close()
        assert round_trip(served.url, tabletop.env_spec) < 1.0
        assert served.proc.poll() is None
    stderr = served.stderr
    assert "Traceback" not in stderr
    assert "the file-handle limit (ulimit -n) holds no more" in stderr
    assert "still in its handshake after" in stderr  # the oldest idle ones made room


def test_accept_out_of_file_handles_backs_off_and_keeps_serving(tabletop):
    """The limit lowered under a running server (so its connection cap no longer fits):
    accept() fails with EMFILE; the server drops unfinished handshakes, backs off and
    serves the keyed client. Before: the accept loop ended at the first EMFILE."""
    with wamrobust_serve("--handshake-timeout=2") as served:
        opened = len(os.listdir(f"/proc/{served.proc.pid}/fd"))
        hard = resource.prlimit(served.proc.pid, resource.RLIMIT_NOFILE)[1]
        resource.prlimit(served.proc.pid, resource.RLIMIT_NOFILE, (opened + 14, hard))
        flood = idle_connections(served.port, 60)
        try:
            assert wait_for(lambda: "Too many open files" in served.stderr)
            assert round_trip(served.url, tabletop.env_spec, timeout=5) < 3.0
            assert served.proc.poll() is None
        finally:
            for sock in flood:
                sock.close()
    lines = [line for line in served.stderr.splitlines() if "cannot accept" in line]
    assert lines and lines[0].startswith(
        "policy server: cannot accept a connection (OSError: [Errno 24] Too many open files)")


@pytest.mark.parametrize("sends", [b"", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"],
                         ids=["silent", "half-a-request"])
def test_a_handshake_that_never_finishes_is_closed_after_the_timeout(sends):
    with wamrobust_serve("--handshake-timeout=1") as served:
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
            sock.sendall(sends)
            started = time.monotonic()
            assert sock.recv(1024) == b""  # closed by the server, nothing said
            assert 0.8 < time.monotonic() - started < 4
        assert served.proc.poll() is None and healthz(served.port) == 200
    assert "Traceback" not in served.stderr


def test_the_limits_have_defaults_and_the_cli_passes_them():
    args = build_parser("serve").parse_args(["serve", "--policy=random"])
    assert (args.max_connections, args.handshake_timeout, args.max_inflight_mb) == (256, 5.0, 128)
    assert (serve_cli.DEFAULT_MAX_CONNECTIONS, serve_cli.DEFAULT_HANDSHAKE_TIMEOUT_S,
            serve_cli.DEFAULT_MAX_INFLIGHT_MB) == (
        server.DEFAULT_MAX_CONNECTIONS, server.DEFAULT_HANDSHAKE_TIMEOUT_S,
        server.DEFAULT_MAX_INFLIGHT_MB)
    for option, value in (("--max-connections", "0"), ("--handshake-timeout", "-1"),
                          ("--max-inflight-mb", "x")):
        with pytest.raises(SystemExit):
            build_parser("serve").parse_args(["serve", "--policy=random", f"{option}={value}"])


def test_at_the_connection_limit_a_new_connection_is_refused_in_one_line(tabletop):
    with wamrobust_serve("--max-connections=2") as served:
        ctx = PolicyContext(tabletop.env_spec, {"api_key": KEY, "connect_timeout": "2"})
        first, second = connect_policy(served.url, ctx), connect_policy(served.url, ctx)
        try:
            with pytest.raises(UsageError, match="cannot reach the policy server"):
                connect_policy(served.url, ctx)
            first.reset("lift_cube", 0)
            assert first.infer(observation()).shape[1] == 7  # the two open ones go on
        finally:
            first.close()
            second.close()
        assert wait_for(lambda: round_trip(served.url, tabletop.env_spec) < 1.0)
    refused = [line for line in served.stderr.splitlines() if "refused" in line]
    assert refused and refused[0].startswith("policy server: refused a connection from "
                                             "127.0.0.1:")
    assert refused[0].endswith("2 connections open, none left in its handshake to drop "
                               "(--max-connections 2)")


def big_request(size: int) -> bytes:
    """A well-formed request whose state is `size` bytes of float32: decoded, then refused
    by the policy or answered, it is memory the server must hold while in flight."""
    return msgpack.packb({"observation/state": {b"__ndarray__": True, b"data": b"\x01" * size,
                                                b"dtype": "<f4", b"shape": [size // 4]},
                          "prompt": "lift"})


def test_concurrent_large_frames_stay_within_the_budget_and_others_are_served(tabletop):
    """Eight 60 MB frames at once: before, the server grew by ~1 GB (and kept most of it);
    now at most 128 MiB of requests are in flight, the rest wait unread."""
    frame = big_request(60 * 10**6)
    with wamrobust_serve() as served:
        round_trip(served.url, tabletop.env_spec)
        baseline = served.rss_mb()[0]
        peers = [raw_websocket(served.port) for _ in range(8)]
        for peer in peers:
            assert read_frame(peer)[0] == 2  # the metadata
        answers: list[int] = []

        def send_one(peer: socket.socket) -> None:
            peer.sendall(frame_header(len(frame)) + frame)  # masked with zeros: no copy
            answers.append(read_frame(peer, timeout=30)[0])

        senders = [threading.Thread(target=send_one, args=(peer,)) for peer in peers]
        for sender in senders:
            sender.start()
        times = [round_trip(served.url, tabletop.env_spec, timeout=10)]
        for sender in senders:
            sender.join(60)
        times.append(round_trip(served.url, tabletop.env_spec))
        growth = served.rss_mb()[1] - baseline
        assert served.proc.poll() is None
        for peer in peers:
            peer.close()
    assert answers == [2] * 8  # each one answered (the random policy ignores the state)
    assert max(times) < 5.0, times
    assert growth < 500, f"peak RSS grew by {growth:.0f} MB"
    assert "Traceback" not in served.stderr


def read_frame(sock: socket.socket, timeout: float = 10) -> tuple[int, bytes]:
    """One frame from the server (unmasked): its opcode and payload."""
    sock.settimeout(timeout)

    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    head = exactly(2)
    length = head[1] & 0x7F
    if length >= 126:
        length = int.from_bytes(exactly(2 if length == 126 else 8), "big")
    return head[0] & 0x0F, exactly(length)


def raw_websocket(port: int) -> socket.socket:
    """A keyed websocket opened by hand, so that a test can send half a frame."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.settimeout(None)
    sock.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 f"Sec-WebSocket-Version: 13\r\nAuthorization: Api-Key {KEY}\r\n\r\n".encode())
    response = b""
    while not response.endswith(b"\r\n\r\n"):  # byte by byte: a frame may follow
        chunk = sock.recv(1)
        assert chunk, f"closed during the handshake: {response!r}"
        response += chunk
    assert response.startswith(b"HTTP/1.1 101 ")
    return sock


def frame_header(length: int) -> bytes:
    """A final binary frame of `length` bytes, masked with zeros (the payload as is)."""
    return bytes([0x82, 0x80 | 127]) + length.to_bytes(8, "big") + b"\x00" * 4


def test_a_frame_that_finds_no_room_waits_then_gets_a_one_line_close(tabletop):
    with serving(Scripted, tabletop.env_spec, api_key=KEY, max_inflight_bytes=8 * MiB,
                 budget_wait_s=1.0) as (url, policy_server):
        stalled = raw_websocket(policy_server.port)  # announces 6 MiB, sends 1, stalls
        stalled.sendall(frame_header(6 * MiB) + b"\x00" * MiB)
        assert wait_for(lambda: policy_server.budget.used == 6 * MiB)
        with connect(url, open_timeout=5, max_size=None, additional_headers=HEADERS) as other:
            other.recv(timeout=5)
            started = time.monotonic()
            other.send(b"\x00" * 6 * MiB)
            with pytest.raises(ConnectionClosed) as info:
                other.recv(timeout=10)
            waited = time.monotonic() - started
        assert info.value.rcvd.code == 1013  # try again later
        assert info.value.rcvd.reason == ("server busy: 6 MiB of requests in flight "
                                          "(limit 8 MiB); try again later")
        assert 0.9 < waited < 5
        assert round_trip(url, tabletop.env_spec) < 1.0  # small requests are not held up
        stalled.close()
        assert wait_for(lambda: policy_server.budget.used == 0)
        with connect(url, open_timeout=5, max_size=None, additional_headers=HEADERS) as again:
            again.recv(timeout=5)
            again.send(b"\x00" * 6 * MiB)
            assert again.recv(timeout=10).startswith("bad request: ")  # room again
        assert policy_server.budget.used == 0


def test_one_connection_holds_at_most_one_large_message(tabletop):
    """Pipelined large messages from one peer wait for the previous one's answer."""
    with serving(Scripted, tabletop.env_spec, api_key=KEY) as (url, policy_server):
        with connect(url, open_timeout=5, max_size=None, additional_headers=HEADERS) as peer:
            peer.recv(timeout=5)
            for _ in range(3):
                peer.send(b"\x00" * 40 * MiB)
            for _ in range(3):
                assert peer.recv(timeout=20).startswith("bad request: ")
        assert policy_server.budget.peak <= msgpack_numpy.MAX_MESSAGE_BYTES
        assert wait_for(lambda: policy_server.budget.used == 0)


def listening_socket_of(pid: int, port: int) -> socket.socket:
    """A duplicate of the server's listening socket, taken with pidfd_getfd(2)."""
    syscall = ctypes.CDLL(None, use_errno=True).syscall
    pidfd = os.pidfd_open(pid)
    try:
        for name in os.listdir(f"/proc/{pid}/fd"):
            fd = syscall(438, pidfd, int(name), 0)  # SYS_pidfd_getfd
            if fd < 0:
                code = ctypes.get_errno()
                if code in (errno.ENOSYS, errno.EPERM):
                    pytest.skip(f"pidfd_getfd is not allowed here ({os.strerror(code)})")
                continue
            try:
                sock = socket.socket(fileno=fd)
            except OSError:
                os.close(fd)
                continue
            if (sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                    and sock.getsockname()[1] == port):
                return sock
            sock.close()
    finally:
        os.close(pidfd)
    raise AssertionError("no listening socket found")


def test_a_serve_loop_that_dies_exits_non_zero_with_one_line(tabletop):
    """The listening socket shut down under the server (as by `ss -K`): accept() fails
    with EINVAL. Before: websockets' loop ended quietly and `wamrobust serve` exited 0."""
    with wamrobust_serve() as served:
        assert round_trip(served.url, tabletop.env_spec) < 1.0
        with listening_socket_of(served.proc.pid, served.port) as listening:
            listening.shutdown(socket.SHUT_RDWR)
        assert served.proc.wait(timeout=15) == 1
    errors = [line for line in served.stderr.splitlines() if "error" in line]
    assert errors == ["wamrobust serve: error: the server stopped: accepting connections "
                      "failed (OSError: [Errno 22] Invalid argument)"]  # among the log lines
    assert "Traceback" not in served.stderr


def test_each_connection_is_one_line_when_it_opens_and_one_when_it_closes(tabletop):
    """What an operator reads to match a client's run to the server: the peer, and the
    episodes and chunks it was served."""
    ctx = PolicyContext(tabletop.env_spec, {"api_key": KEY})
    with wamrobust_serve() as served:
        client = connect_policy(served.url, ctx)
        try:
            for seed in (0, 1):
                client.reset("lift_cube", seed)
                for _ in range(3):
                    client.infer(observation())
        finally:
            client.close()
        assert wait_for(lambda: "chunks served" in served.stderr)
    lines = served.stderr.splitlines()
    assert len(lines) == 2, served.stderr  # nothing else: websockets' own lines are off
    assert lines[0].startswith("policy server: 127.0.0.1:") and lines[0].endswith(" connected")
    assert lines[1].endswith(" closed: 2 episodes, 6 chunks served")
    assert lines[0].split()[2] == lines[1].split()[2].rstrip(":")  # the same peer
