"""Can whoever reaches `wamrobust serve`'s port stop it or crowd out the workers? (issue 22)

    python benchmarks/bench_server_flood.py [--policy tiny-vla] [--nofile 1024]
                                            [--connections 1000] [--frames 8]
                                            [--frame-mb 60] [--hold 5]

Starts `python -m pytest_wamrobust serve --policy tiny-vla --api-key KEY --port 0` with its
default limits under a file-handle limit of `--nofile` (soft and hard), then floods it
from this process:
1. `--connections` plain TCP connections that never say a word, held `--hold` seconds;
2. with those still open, `--frames` connections sending one `--frame-mb` MB request each
   at once (a well-formed request whose state is that many bytes of float32), until each
   is answered, then `--hold` seconds more;
while a keyed client (a fresh connection each time: handshake, metadata, reset and one
chunk for a real tabletop observation) measures its round trip every 100 ms throughout,
before the flood included. Printed: the keyed client's round trips (median, max, any
that failed), the server's peak RSS growth over its RSS before the flood (VmHWM, reset
through /proc/PID/clear_refs where allowed, else since start-up) and after, whether it
still serves, and "held" or "NOT held" against the goal: the keyed client served in
under 1 s throughout, and the server still up.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import msgpack

KEY = "bench-flood-key"
GOAL_S = 1.0


def rss_mb(pid: int) -> tuple[float, float] | None:
    """(VmRSS, VmHWM) of `pid`, in MB; None once it has exited."""
    try:
        fields = dict(line.split(":", 1) for line in
                      Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    except (OSError, KeyError):
        return None


class Memory(threading.Thread):
    """The server's last (VmRSS, VmHWM) seen, every 50 ms while it runs."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.last = rss_mb(pid) or (float("nan"), float("nan"))

    def run(self) -> None:
        while (now := rss_mb(self.pid)) is not None:
            self.last = now
            time.sleep(0.05)


def reset_peak(pid: int) -> bool:
    """Start VmHWM afresh from VmRSS (Linux >= 4.0, where this process may)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def tabletop_observation():
    from pytest_wamrobust.core.model import registry
    from pytest_wamrobust.core.model.protocols import CaseSelection

    suite = registry.make_suite("tabletop")
    key = next(iter(suite.cases(CaseSelection(settings=["clean"], seeds=1))))
    env = suite.make_env(suite.episode_spec(key))
    try:
        return suite.env_spec, env.reset()
    finally:
        env.close()


class Probe(threading.Thread):
    """A keyed client's round trip on a fresh connection, every 100 ms until stopped."""

    def __init__(self, url: str, env_spec, observation) -> None:
        super().__init__(daemon=True)
        self.url, self.env_spec, self.observation = url, env_spec, observation
        self.times: list[tuple[float, float, str]] = []  # (when, seconds, phase)
        self.failures: list[str] = []
        self.phase = "before"
        self._done = threading.Event()

    def round_trip(self) -> float:
        from pytest_wamrobust.core.model.protocols import PolicyContext
        from pytest_wamrobust.policies.openpi.client import connect_policy

        started = time.monotonic()
        policy = connect_policy(self.url, PolicyContext(self.env_spec, {
            "api_key": KEY, "connect_timeout": "10", "request_timeout": "10"}))
        try:
            policy.reset("lift_cube", 0)
            policy.infer(self.observation)
        finally:
            policy.close()
        return time.monotonic() - started

    def run(self) -> None:
        while not self._done.is_set():
            phase, when = self.phase, time.monotonic()
            try:
                self.times.append((when, self.round_trip(), phase))
            except Exception as exc:  # noqa: BLE001 - a failure is a figure here
                self.times.append((when, time.monotonic() - when, phase))
                self.failures.append(f"{phase}: {type(exc).__name__}: {exc}"[:200])
            self._done.wait(0.1)

    def stop(self) -> None:
        self._done.set()
        self.join(30)


def raw_websocket(port: int) -> socket.socket:
    """A keyed websocket opened by hand, so a 60 MB frame goes out without a masking copy."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 f"Sec-WebSocket-Version: 13\r\nAuthorization: Api-Key {KEY}\r\n\r\n".encode())
    response = b""
    while not response.endswith(b"\r\n\r\n"):  # byte by byte: the metadata follows
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("closed during the handshake")
        response += chunk
    if not response.startswith(b"HTTP/1.1 101 "):
        raise ConnectionError(response.split(b"\r\n")[0].decode(errors="replace"))
    read_frame(sock)  # the metadata
    return sock


def read_frame(sock: socket.socket) -> int:
    """Read one frame from the server; its opcode (1 text, 2 binary, 8 close)."""
    def exactly(n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = sock.recv(min(n - len(data), 2**20))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return bytes(data)

    head = exactly(2)
    length = head[1] & 0x7F
    if length >= 126:
        length = int.from_bytes(exactly(2 if length == 126 else 8), "big")
    exactly(length)
    return head[0] & 0x0F


def large_frames(port: int, count: int, size: int) -> list[str]:
    """`count` connections sending one `size`-byte request at once; how each ended."""
    payload = msgpack.packb({"observation/state": {b"__ndarray__": True, b"data": b"\x01" * size,
                                                   b"dtype": "<f4", b"shape": [size // 4]},
                             "prompt": "lift"})
    frame = (bytes([0x82, 0x80 | 127]) + len(payload).to_bytes(8, "big") + b"\x00" * 4
             + payload)  # masked with zeros: the payload as is
    outcomes: list[str] = []
    kinds = {1: "error frame", 2: "reply", 8: "closed"}

    def one() -> None:
        try:
            with contextlib.closing(raw_websocket(port)) as sock:
                sock.sendall(frame)
                outcomes.append(kinds.get(read_frame(sock), "other"))
        except OSError as exc:
            outcomes.append(f"{type(exc).__name__}")

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="tiny-vla")
    parser.add_argument("--nofile", type=int, default=1024)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--frame-mb", type=int, default=60)
    parser.add_argument("--hold", type=float, default=5.0)
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # ours must hold the flood
    want = args.connections + 256
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (
            want if hard == resource.RLIM_INFINITY else min(want, hard), hard))

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (args.nofile, args.nofile))

    env_spec, observation = tabletop_observation()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "stderr"
        with log.open("w") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "pytest_wamrobust", "serve", f"--policy={args.policy}",
                 "--port=0", f"--api-key={KEY}"],
                stdout=subprocess.PIPE, stderr=stderr, text=True, preexec_fn=limit)
        try:
            banner = proc.stdout.readline()
            if "serving" not in banner:
                sys.exit(f"the server did not start: {banner!r}\n{log.read_text()[-2000:]}")
            port = int(banner.split("ws://127.0.0.1:")[1].split()[0])
            url = f"ws://127.0.0.1:{port}"
            probe = Probe(url, env_spec, observation)
            probe.round_trip()  # warm: the model's first call
            time.sleep(1.0)
            fresh_peak = reset_peak(proc.pid)
            memory = Memory(proc.pid)
            before = memory.last[0]
            memory.start()
            probe.start()
            time.sleep(2.0)

            probe.phase = "idle flood"
            flood = []
            for _ in range(args.connections):
                sock = socket.socket()
                sock.setblocking(False)
                sock.connect_ex(("127.0.0.1", port))
                flood.append(sock)
            time.sleep(args.hold)

            probe.phase = "large frames"
            started = time.monotonic()
            outcomes = large_frames(port, args.frames, args.frame_mb * 10**6)
            frames_s = time.monotonic() - started
            time.sleep(args.hold)
            peak = memory.last[1]
            for sock in flood:
                sock.close()
            probe.phase = "after"
            time.sleep(2.0)
            probe.stop()
            after = memory.last[0]
            alive = proc.poll() is None
        finally:
            if proc.poll() is None:
                proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.communicate(timeout=30)
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        server_log = log.read_text().splitlines()

    times = [seconds for _, seconds, _ in probe.times]
    by_phase = {}
    for _, seconds, phase in probe.times:
        by_phase.setdefault(phase, []).append(seconds)
    warnings = [line for line in server_log if line.startswith(("wamrobust serve: warning",
                                                                "policy server:"))]
    held = bool(times) and max(times) < GOAL_S and not probe.failures and alive
    answered = {kind: outcomes.count(kind) for kind in sorted(set(outcomes))}
    print(f"server: {args.policy} under ulimit -n {args.nofile}, default limits "
          f"(--max-connections 256, --handshake-timeout 5, --max-inflight-mb 128)")
    print(f"flood: {args.connections} idle TCP connections held {args.hold:g} s, then, with "
          f"them open, {args.frames} concurrent {args.frame_mb} MB frames "
          f"(done in {frames_s:.1f} s: {answered}), then {args.hold:g} s more")
    print(f"keyed client (fresh connection, metadata, one chunk), {len(times)} round trips:")
    for phase, values in by_phase.items():
        print(f"  {phase:13s} n={len(values):3d}  median {statistics.median(values) * 1000:7.1f} ms"
              f"  max {max(values) * 1000:7.1f} ms")
    print(f"  all           max {max(times) * 1000:.1f} ms, failed {len(probe.failures)}"
          + (f" (first: {probe.failures[0]})" if probe.failures else ""))
    print(f"server RSS: {before:.0f} MB before the flood, peak {peak:.0f} MB "
          f"(VmHWM{'' if fresh_peak else ' since start-up'}): growth {peak - before:.0f} MB; "
          f"{after:.0f} MB after it{'' if alive else ' (last seen)'}")
    print(f"server still serving after the flood: "
          f"{'yes' if alive else f'NO (exit status {proc.returncode})'}; "
          f"{len(warnings)} warning lines, first ones:")
    for line in warnings[:4]:
        print(f"  {line}")
    tracebacks = sum("Traceback" in line for line in server_log)
    policy_errors = sum("the policy failed" in line for line in server_log)
    if tracebacks > policy_errors:  # the policy's own errors are logged with theirs
        print(f"  the server printed {tracebacks - policy_errors} other traceback(s)")
    print(f"goal: keyed client served in < {GOAL_S:g} s throughout, server up: "
          f"{'held' if held else 'NOT held'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
