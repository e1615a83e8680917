"""Errors the harness reports to users as one line each.

`UsageError` is bad input the user can fix before any episode runs (unknown policy,
malformed thresholds file, missing asset). `EpisodeError` is a fault inside one
episode (policy raised, NaN action, wrong shape); it is recorded against the case and
its seed, and the run goes on.
"""

from __future__ import annotations


class WamrobustError(Exception):
    """Base class: the message is a complete, single-line explanation with a fix."""


class UsageError(WamrobustError):
    """Bad configuration or input, detected before or outside an episode."""


class MissingAssetError(UsageError):
    """A file the simulator needs is not on this machine; the message says how to get it."""


class CaseUnavailableError(MissingAssetError):
    """One case needs an optional asset archive this machine lacks (LIBERO-Plus' light,
    background and added-object variants without the upstream archive). The case is
    skipped with this message and counted as skipped in the summary; a broken setup
    that hits every case (no OpenGL, no Vulkan) stays a MissingAssetError, an error."""


#: The kinds of error an episode ends in: `EpisodeError.kind`, written to JUnit as
#: `wam.error_kind` (users' reports and baselines read these strings).
POLICY_ERROR = "policy_error"        # the policy raised, or its server failed
INVALID_ACTION = "invalid_action"    # a chunk of the wrong shape, dtype or NaN
POLICY_TIMEOUT = "policy_timeout"    # a call into the policy missed its deadline
ENV_ERROR = "env_error"              # the simulator failed (building or stepping)
WORKER_CRASH = "worker_crash"        # the process playing the case died
HARNESS_ERROR = "harness_error"      # the harness could not play the case


class EpisodeError(WamrobustError):
    """A fault during one episode; `kind` (one of the kinds above) classifies it."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def one_line(exc: BaseException) -> str:
    """The first line of an exception message, prefixed by its type when it is not ours."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, WamrobustError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
