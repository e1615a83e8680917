"""A policy server for tests that talk to one over a real websocket: a `PolicyServer` in
a thread, or `wamrobust serve` in a process of its own."""

from __future__ import annotations

import subprocess
import sys
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


@contextmanager
def wamrobust_serve(*options: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """`wamrobust serve <options>` in a subprocess on a free port of 127.0.0.1; yields
    its URL and process (stdout after the banner is the test's to read), killed after."""
    proc = subprocess.Popen([sys.executable, "-m", "pytest_wamrobust", "serve", "--port=0",
                             "--host=127.0.0.1", *options],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = proc.stdout.readline()
        while banner and " on ws://127.0.0.1:" not in banner:  # torch may print first
            banner = proc.stdout.readline()
        assert banner, f"wamrobust serve did not start: {proc.stderr.read()}"
        yield banner.split(" on ")[1].split()[0], proc
    finally:
        proc.kill()
        proc.wait(10)
