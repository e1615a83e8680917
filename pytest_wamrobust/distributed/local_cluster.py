"""A throwaway Ray cluster on this machine: a `ray start` head and, optionally, a second
node, one CPU each, for the tests and benchmarks that need real nodes to kill.

It keeps to a directory and a token of its own, and `stop()` ends only its own
processes by pattern: `ray stop` would end every Ray runtime on the machine.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

#: Seconds one `ray start` may take on a loaded machine.
START_TIMEOUT_S = 180


class LocalCluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port, self.node_port, client_port = free_port(), free_port(), free_port()
        self.address = f"127.0.0.1:{self.port}"
        #: the head's Ray Client server: a session outside the cluster (`--wam-ray=ray://`)
        self.client_address = f"ray://127.0.0.1:{client_port}"
        #: what the head, the second node and a session reaching them all run with
        self.env = {**os.environ, "RAY_AUTH_MODE": "token",
                    "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_TMPDIR": str(root),
                    "RAY_USAGE_STATS_ENABLED": "0"}

    def start(self, second_node: bool = True) -> LocalCluster:
        self._ray("start", "--head", f"--port={self.port}", "--num-cpus=1",
                  "--include-dashboard=false", f"--temp-dir={self.root}",
                  f"--ray-client-server-port={self.client_address.rsplit(':', 1)[1]}")
        if second_node:
            self._ray("start", f"--address={self.address}", "--num-cpus=1",
                      f"--node-manager-port={self.node_port}")
        return self

    def kill_second_node(self) -> None:
        _kill(f"--node_manager_port={self.node_port}")

    def stop(self) -> None:
        """Every process of this cluster, the head's Ray Client server included (its
        command line names neither the directory nor the GCS port's flag)."""
        for pattern in (str(self.root), f"--gcs_server_port={self.port}",
                        f"--node_manager_port={self.node_port}",
                        f"ray.util.client.server --address=[^ ]*:{self.port} "):
            _kill(pattern)

    def _ray(self, *args: str) -> None:
        done = subprocess.run(
            [sys.executable, "-c", "from ray.scripts.scripts import main; main()", *args],
            env=self.env, capture_output=True, text=True, timeout=START_TIMEOUT_S)
        if done.returncode:
            raise RuntimeError(f"ray {' '.join(args)} failed:\n{done.stdout[-2000:]}"
                               f"{done.stderr[-2000:]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _kill(pattern: str) -> None:
    subprocess.run(["pkill", "-9", "-f", "--", pattern], check=False)
