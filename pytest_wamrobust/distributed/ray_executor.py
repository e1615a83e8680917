"""The pytest session's handle on Ray: a separate driver process runs the actor pool.

Ray ends a driver process whose cluster is gone (its core worker exits a minute after
the head stops answering), which would take the pytest session, its JUnit file and its
verdict with it. So the session never connects to Ray itself: a child process does
(`ray_pool.RayPool`), and sends back one Outcome per case through a pipe. If that child
exits early, for whatever reason, every case still owed becomes a `worker_crash` error
and the session ends normally.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import tempfile
from collections.abc import Generator, Sequence
from multiprocessing.connection import Connection
from typing import Any

from pytest_wamrobust.core.model.errors import WORKER_CRASH, UsageError, one_line
from pytest_wamrobust.core.model.types import CaseKey
from pytest_wamrobust.distributed.episodes import EpisodeJob, Outcome, error_result

INSTALL_HINT = "pip install 'pytest-wamrobust[ray]'"
#: How long the driver process may take to reach the cluster (a remote one retries).
CONNECT_TIMEOUT_S = 120.0
#: How long the driver process gets to stop its actors and leave the cluster.
STOP_TIMEOUT_S = 30.0
#: How long the driver process waits for a head that stopped answering before Ray
#: ends it: a lost cluster ends the run this long after it went.
GCS_RECONNECT_TIMEOUT_S = 20.0
#: How often the session looks up from waiting, to notice a driver that died.
POLL_S = 1.0


class RayExecutor:
    """Start the driver process, play case lists on the cluster, stop."""

    def __init__(self, job: EpisodeJob, address: str | None = None, cpus_per_actor: float = 1.0,
                 runtime_env: dict[str, Any] | None = None) -> None:
        if importlib.util.find_spec("ray") is None:
            raise UsageError(f"--wam-ray needs Ray: {INSTALL_HINT}")
        self.job = job
        log = tempfile.NamedTemporaryFile(prefix="wamrobust-ray-", suffix=".log", delete=False)
        log.close()
        self.log_path = log.name
        context = multiprocessing.get_context("spawn")  # no fork of the session's threads
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=drive, name="wamrobust-ray-driver", daemon=True,
            args=(child, job, address, cpus_per_actor, runtime_env, self.log_path))
        self._process.start()
        child.close()
        reply = self._receive(CONNECT_TIMEOUT_S)
        if reply is not None and reply[0] == "usage":
            self.close()
            raise UsageError(reply[1])
        if reply is None or reply[0] != "ready":
            reason = reply[1] if reply else last_line(self.log_path)
            self.close()
            raise UsageError(f"--wam-ray could not reach the Ray cluster at "
                             f"{address or 'a new local runtime'}: {reason}; start one with "
                             f"`ray start --head`, or pass --wam-ray alone for a local runtime")
        self.description: str = reply[1]

    def outcomes(self, keys: Sequence[CaseKey]) -> Generator[Outcome, None, None]:
        """One Outcome per key, each exactly once, in the order the episodes finish."""
        owed = dict.fromkeys(keys)
        try:
            self._conn.send(("run", list(keys)))
            while owed:
                message = self._receive(None)
                if message is None:
                    break
                if message[0] == "outcome":
                    owed.pop(message[1].key, None)
                    yield message[1]
        except (OSError, EOFError):
            pass
        reason = f"the Ray driver process ended: {self._exit_reason()}"
        for key in list(owed):
            yield Outcome(key, error_result(self.job, key, WORKER_CRASH, reason))

    def _receive(self, timeout_s: float | None) -> tuple[Any, ...] | None:
        """The next message, or None once the driver process is gone (or timed out)."""
        waited = 0.0
        while timeout_s is None or waited < timeout_s:
            try:
                if self._conn.poll(POLL_S):
                    message: tuple[Any, ...] = self._conn.recv()
                    return message
            except (OSError, EOFError):
                return None
            if not self._process.is_alive():
                return None
            waited += POLL_S
        return None

    def _exit_reason(self) -> str:
        self._process.join(timeout=POLL_S)
        code = self._process.exitcode
        status = "still running" if code is None else f"exit code {code}"
        return f"{status}; the cluster was lost or the driver failed ({last_line(self.log_path)})"

    def close(self) -> None:
        try:
            self._conn.send(("stop",))
        except (OSError, EOFError):
            pass
        self._process.join(timeout=STOP_TIMEOUT_S)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()


def drive(conn: Connection, job: EpisodeJob, address: str | None, cpus_per_actor: float,
          runtime_env: dict[str, Any] | None, log_path: str) -> None:
    """The driver process: connect, then play each case list it is sent, until "stop"."""
    with open(log_path, "ab", buffering=0) as log:  # Ray's own chatter, not the session's
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    # Ray ends a driver whose cluster stopped answering after 60 s by default; sooner
    # here, so the session hears of a lost cluster sooner (an explicit setting wins).
    os.environ.setdefault("RAY_gcs_rpc_server_reconnect_timeout_s",
                          str(int(GCS_RECONNECT_TIMEOUT_S)))
    from pytest_wamrobust.distributed.ray_pool import RayPool

    try:
        pool = RayPool(job, address, cpus_per_actor, runtime_env)
        conn.send(("ready", pool.describe()))
    except UsageError as exc:  # the run's own mistake (a policy that cannot be shared)
        conn.send(("usage", str(exc)))
        return
    except Exception as exc:  # noqa: BLE001 - the reason goes back as one line
        conn.send(("error", one_line(exc)))
        return
    try:
        while True:
            message = conn.recv()
            if message[0] != "run":
                break
            for outcome in pool.outcomes(message[1]):
                conn.send(("outcome", outcome))
    except (EOFError, OSError):
        pass
    finally:
        pool.close()


def last_line(path: str) -> str:
    """The last non-empty line of the driver's log: usually what went wrong."""
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 4096))
            lines = [ln.strip() for ln in log.read().decode(errors="replace").splitlines()]
    except OSError:
        return f"no log at {path}"
    tail = next((ln for ln in reversed(lines) if ln), "empty log")
    return f"{tail[:200]}; log: {path}"
