"""A `PolicyServer` for tests that talk to one over a real websocket."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pytest_wamrobust.core.model.types import EnvSpec
from pytest_wamrobust.policies.openpi.server import PolicyServer


@contextmanager
def serving(factory: Callable, env_spec: EnvSpec,
            **options: Any) -> Iterator[tuple[str, PolicyServer]]:
    """The server on a free port of 127.0.0.1, serving from a thread; yields its URL and
    the server, and shuts it down after."""
    server = PolicyServer(factory, env_spec, host="127.0.0.1", port=0, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{server.port}", server
    finally:
        server.shutdown()
        thread.join(5)
