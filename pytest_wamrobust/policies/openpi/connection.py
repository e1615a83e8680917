"""One websocket to a policy server, with the reliability rules openpi's client lacks.

- Opening retries until a deadline, then fails with one line naming the URL.
- Keepalive pings are off: a server busy in inference cannot answer them in time.
- A request waits at most `request_timeout`; after a timeout, an error frame, a drop or
  a malformed reply the socket is closed and reopened on the next request, so a late
  reply to an old request is never read as the answer to a new one.
- The server is a peer, not trusted: replies are decoded by the checked codec and capped
  at `msgpack_numpy.MAX_MESSAGE_BYTES`; a rejected API key (HTTP 401/403) is a usage
  error at once, not something to retry until the deadline.
"""

from __future__ import annotations

import time
from typing import Any

from pytest_wamrobust.core.model.errors import (
    POLICY_ERROR,
    POLICY_TIMEOUT,
    EpisodeError,
    UsageError,
)
from pytest_wamrobust.policies.openpi import msgpack_numpy

#: Defaults of `--policy-arg connect_timeout` / `request_timeout`: workers may start a
#: few seconds before the server is up; a large model's chunk takes seconds, not minutes.
CONNECT_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 120.0
#: How long to wait between attempts while the server is not up yet.
_RETRY_S = 0.25
#: The shortest handshake attempt, when the connect deadline is (nearly) reached.
_MIN_ATTEMPT_S = 0.1


class Connection:
    def __init__(self, url: str, *, api_key: str = "",
                 connect_timeout: float = CONNECT_TIMEOUT_S,
                 request_timeout: float = REQUEST_TIMEOUT_S) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self._headers = {"Authorization": f"Api-Key {api_key}"} if api_key else None
        self._socket: Any = None
        self.metadata: dict[str, Any] = {}

    def open(self) -> dict[str, Any]:
        """Connect (retrying until the deadline) and return the server's metadata."""
        deadline = time.monotonic() + self.connect_timeout
        while True:
            try:
                return self._connect(max(deadline - time.monotonic(), _MIN_ATTEMPT_S))
            except UsageError:
                raise
            except Exception as exc:  # noqa: BLE001 - refused, DNS, TLS, HTTP status ...
                if time.monotonic() + _RETRY_S >= deadline:
                    raise UsageError(
                        f"cannot reach the policy server at {self.url} within "
                        f"{self.connect_timeout:g} s ({_reason(exc)}); start it (e.g. "
                        f"`wamrobust serve --policy=NAME --port 8000`) or point at it with "
                        f"--policy-arg server=ws://HOST:PORT") from None
                time.sleep(_RETRY_S)

    def request(self, payload: dict[str, Any]) -> Any:
        """Send one request and read its reply; any fault closes the socket."""
        from websockets.exceptions import ConnectionClosed

        if self._socket is None:
            self._reopen()
        try:
            self._socket.send(msgpack_numpy.packb(payload))
            reply = self._socket.recv(timeout=self.request_timeout)
        except TimeoutError:
            self.close()
            raise EpisodeError(
                POLICY_TIMEOUT,
                f"policy server {self.url} sent no reply within {self.request_timeout:g} s; "
                f"the connection was reset (raise it with --policy-arg request_timeout=SECONDS)"
            ) from None
        except ConnectionClosed as exc:
            self.close()
            raise EpisodeError(POLICY_ERROR, f"policy server {self.url} closed the "
                                             f"connection ({_reason(exc)})") from None
        if isinstance(reply, str):
            self.close()
            raise EpisodeError(POLICY_ERROR, f"policy server {self.url} failed: "
                                             f"{_last_line(reply)}")
        try:
            return msgpack_numpy.unpackb(reply)
        except msgpack_numpy.ProtocolError as exc:
            self.close()
            raise EpisodeError(POLICY_ERROR, f"policy server {self.url} sent a malformed "
                                             f"reply ({exc}); the connection was reset") from None

    def close(self) -> None:
        if self._socket is not None:
            socket, self._socket = self._socket, None
            socket.close()

    def _reopen(self) -> None:
        """One attempt, no retries: a server that went away fails the episode at once."""
        try:
            self._connect(self.connect_timeout)
        except UsageError as exc:  # key refused, malformed metadata: already one line
            raise EpisodeError(POLICY_ERROR, str(exc)) from None
        except Exception as exc:  # noqa: BLE001
            raise EpisodeError(POLICY_ERROR, f"policy server {self.url} is unreachable "
                                             f"({_reason(exc)})") from None

    def _connect(self, timeout: float) -> dict[str, Any]:
        from websockets.exceptions import InvalidStatus, InvalidURI
        from websockets.sync.client import connect

        try:
            # entered as a context manager, as websockets >= 16 asks; close() ends it
            socket = connect(self.url, open_timeout=timeout, ping_interval=None,
                             compression=None, max_size=msgpack_numpy.MAX_MESSAGE_BYTES,
                             additional_headers=self._headers).__enter__()
        except InvalidURI as exc:  # a malformed URL is not worth retrying
            raise UsageError(f"bad policy server URL {self.url!r}: {_reason(exc)}") from None
        except InvalidStatus as exc:  # neither is a refused key
            if exc.response.status_code not in (401, 403):
                raise
            what = "rejected the API key" if self._headers else "requires an API key"
            raise UsageError(f"policy server {self.url} {what} (HTTP "
                             f"{exc.response.status_code}); pass --policy-arg api_key=KEY or set "
                             f"WAMROBUST_POLICY_API_KEY") from None
        try:
            metadata = msgpack_numpy.unpackb(socket.recv(timeout=timeout))
        except msgpack_numpy.ProtocolError as exc:
            socket.close()
            raise UsageError(f"policy server {self.url} sent a malformed metadata frame "
                             f"({exc}); is it an openpi policy server?") from None
        except BaseException:
            socket.close()
            raise
        self._socket = socket
        self.metadata = metadata if isinstance(metadata, dict) else {}
        return self.metadata


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "empty error frame"
