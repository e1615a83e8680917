"""A deadline on every call into the policy (building it, `reset`, `infer`, the latency
case), so a policy that never returns ends one episode as an error instead of hanging
the whole run (and CI) with no report at all.

The call runs where it always ran, in the calling (main) thread: a policy's thread
settings (torch's intra-op threads are per thread) and so its numbers and speed stay
exactly what they are without a deadline. A real-time alarm (SIGALRM) interrupts it at
the deadline: a sleep, a blocked lock or socket, a busy Python loop. The policy instance
may be left half-way through a call, so the caller must not use it again (the plugin
builds a fresh one). A native call that holds the interpreter forever cannot be
interrupted from Python: inside an xdist worker or a Ray actor (processes someone
replaces) a second, C-level watchdog (faulthandler) ends the process a little later,
and xdist or the Ray executor records the case as a worker crash and replaces it.
Without SIGALRM (Windows) or off the main thread the call runs on
a helper thread that is abandoned at the deadline.

The deadline cannot be swallowed: the alarm raises a BaseException, raises it again
every REARM_S while the call has not returned (a retry loop that catches everything
gets it again), and a call that returns after its deadline is still a timeout.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pytest_wamrobust.core.model.errors import POLICY_TIMEOUT, EpisodeError

#: Default of --wam-infer-timeout: far above any healthy model's chunk (the study's
#: slowest, LingBot-VA, takes 5.2 s per chunk on a GPU), far below a CI job's limit.
DEFAULT_INFER_TIMEOUT_S = 120.0
#: How long after the deadline the watchdog of a replaceable process ends it when its
#: call could not be interrupted: as long as the deadline itself, within these bounds.
WATCHDOG_GRACE_S = (5.0, 30.0)
#: How often the alarm raises again in a call that swallowed it.
REARM_S = 0.5
#: Set in a process that someone replaces when it dies (a Ray actor): arms the watchdog,
#: as xdist's own PYTEST_XDIST_WORKER does in its workers.
WATCHDOG_ENV = "WAMROBUST_INFER_WATCHDOG"

T = TypeVar("T")


class InferTimeout(EpisodeError):
    """A call into the policy did not return in time; its instance is now unusable."""

    def __init__(self, policy: str, timeout_s: float, call: str = "infer") -> None:
        what = "return a chunk" if call == "infer" else f"return from {call}"
        super().__init__(POLICY_TIMEOUT,
                         f"policy {policy!r} did not {what} within {timeout_s:g} s "
                         f"(raise --wam-infer-timeout if it is just slow)")


class _Expired(BaseException):
    """Raised by the alarm inside the policy's code: a BaseException, so a policy's own
    `except Exception` cannot swallow the deadline."""


def call_with_deadline(function: Callable[[], T], timeout_s: float | None, policy: str,
                       call: str = "infer") -> T:
    """`function()` or InferTimeout after `timeout_s` (None: no deadline, a direct call).
    `call` names the policy's method in the timeout's line."""
    if timeout_s is None:
        return function()
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
        return _with_alarm(function, timeout_s, policy, call)
    return _on_helper_thread(function, timeout_s, policy, call)


def watchdog_grace_s(timeout_s: float) -> float:
    low, high = WATCHDOG_GRACE_S
    return min(high, max(low, timeout_s))


def _with_alarm(function: Callable[[], T], timeout_s: float, policy: str, call: str) -> T:
    expired = disarming = False

    def expire(signum: int, frame: Any) -> None:
        nonlocal expired
        if not disarming:
            expired = True
            raise _Expired

    previous = signal.signal(signal.SIGALRM, expire)
    watchdog = "PYTEST_XDIST_WORKER" in os.environ or WATCHDOG_ENV in os.environ
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout_s, REARM_S)
            if watchdog:
                faulthandler.dump_traceback_later(timeout_s + watchdog_grace_s(timeout_s),
                                                  exit=True)
            value = function()
        finally:
            disarming = True  # from here the alarm no longer raises
            signal.setitimer(signal.ITIMER_REAL, 0)
            if watchdog:
                faulthandler.cancel_dump_traceback_later()
            signal.signal(signal.SIGALRM, previous)
    except _Expired:
        pass
    if expired:  # also when the policy caught the alarm and returned anyway
        raise InferTimeout(policy, timeout_s, call) from None
    return value


def _on_helper_thread(function: Callable[[], T], timeout_s: float, policy: str,
                      call: str) -> T:
    outcome: list[tuple[bool, Any]] = []

    def target() -> None:
        try:
            outcome.append((True, function()))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome.append((False, exc))

    worker = threading.Thread(target=target, name=f"wamrobust-{call}-{policy}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if not outcome:
        raise InferTimeout(policy, timeout_s, call)
    returned, value = outcome[0]
    if returned:
        return value
    raise value
