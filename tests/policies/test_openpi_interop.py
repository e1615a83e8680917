"""Our client against openpi's own server (`openpi-server` from PyPI, which pins numpy<2
through openpi-client, so it runs in .venv-openpi/): the pi05 preset's LIBERO layout
arrives as openpi expects it, and the actions and timings come back."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from policy_servers import wamrobust_serve

from pytest_wamrobust.core.model import registry
from pytest_wamrobust.core.model.errors import EpisodeError
from pytest_wamrobust.core.model.protocols import PolicyContext
from pytest_wamrobust.core.model.types import CameraSpec, EnvSpec, Observation

VENV = Path(__file__).resolve().parents[2] / ".venv-openpi"

#: Runs in the openpi venv: checks the request like openpi's LIBERO policy would read it
#: and answers with values that let the client check what arrived.
SERVER = """
import sys
import numpy as np
from openpi_server import WebsocketPolicyServer

class Probe:
    def infer(self, obs):
        image, wrist = obs["observation/image"], obs["observation/wrist_image"]
        state = obs["observation/state"]
        if obs["prompt"] == "raise":
            raise RuntimeError("checkpoint exploded")
        assert image.shape == wrist.shape == (224, 224, 3) and image.dtype == np.uint8, image.shape
        assert state.shape == (8,) and state.dtype == np.float32, state.dtype
        actions = np.zeros((10, 7), np.float32)
        actions[:, 0] = image[-5, -5, 0] / 255.0
        actions[:, 1] = image[5, 5, 0] / 255.0
        actions[:, 2] = state.sum() / 100.0
        actions[:, 3] = len(obs["prompt"]) / 100.0
        return {"actions": actions, "policy_timing": {"infer_ms": 1.5}}

WebsocketPolicyServer(Probe(), host="127.0.0.1", port=int(sys.argv[1]),
                      metadata={"model": "probe"}).serve_forever()
"""

LIBERO_LIKE = EnvSpec(
    suite="libero_plus",
    cameras=(CameraSpec("agentview", 256, 256, "third_person"),
             CameraSpec("robot0_eye_in_hand", 256, 256, "wrist")),
    state_dim=8, action_dim=7, control_hz=20)


@pytest.fixture(scope="module")
def openpi_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    ready = [str(python), "-c", "import openpi_server, openpi_client.websocket_client_policy"]
    if subprocess.run(ready, capture_output=True, check=False).returncode:
        # openpi-client imports typing_extensions without declaring it
        done = subprocess.run([str(python), "-m", "pip", "install", "-q", "openpi-server==0.1.0",
                               "typing-extensions"],
                              check=False, capture_output=True, text=True, timeout=600)
        if done.returncode:
            pytest.skip(f"openpi-server==0.1.0 could not be installed: {done.stderr[-300:]}")
    return python


@pytest.fixture
def openpi_server(openpi_python, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    script = tmp_path / "serve_probe.py"
    script.write_text(SERVER)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.Popen([str(openpi_python), str(script), str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    yield f"ws://127.0.0.1:{port}", proc
    proc.kill()
    proc.wait(10)


def test_pi05_preset_talks_to_openpis_own_server(openpi_server):
    url, proc = openpi_server
    ctx = PolicyContext(LIBERO_LIKE, {"server": url, "connect_timeout": "60"})
    policy = registry.make_policy("pi05", ctx)  # retries until the server is up
    assert (policy.metadata.name, policy.metadata.chunk_length,
            policy.metadata.replan_steps) == ("pi05", 10, 5)
    image = np.zeros((256, 256, 3), np.uint8)
    image[:32, :32, 0] = 255  # top-left in the simulator's (upside-down) frame
    obs = Observation({"agentview": image, "robot0_eye_in_hand": image}, np.full(8, 2.0),
                      "open the drawer")
    policy.reset("open_drawer", 0)
    chunk = policy.infer(obs)
    assert chunk.shape == (10, 7)
    assert chunk[0, 0] == pytest.approx(1.0) and chunk[0, 1] == 0.0  # rotated 180 degrees
    assert chunk[0, 2] == pytest.approx(0.16) and chunk[0, 3] == pytest.approx(0.15)
    props = policy.episode_properties()
    assert float(props["policy_infer_p50_ms"]) == 1.5 and float(props["server_infer_p50_ms"]) > 0

    obs.instruction = "raise"
    with pytest.raises(EpisodeError, match=rf"^policy server {url} failed: RuntimeError: "
                                           r"checkpoint exploded$"):
        policy.infer(obs)
    obs.instruction = "again"
    assert policy.infer(obs).shape == (10, 7)  # reconnected after openpi closed with 1011
    proc.kill()
    proc.wait(10)
    started = time.monotonic()
    with pytest.raises(EpisodeError, match=f"policy server {url} (closed the connection|is "
                                           f"unreachable)"):
        policy.infer(obs)
    assert time.monotonic() - started < 5


#: Runs in the openpi venv: openpi's own client asks `wamrobust serve` for one chunk.
CLIENT = """
import json, sys
import numpy as np
from openpi_client.websocket_client_policy import WebsocketClientPolicy

client = WebsocketClientPolicy(host="127.0.0.1", port=int(sys.argv[1]))
image = np.zeros((128, 128, 3), np.uint8)
image[40:60, 50:70] = (200, 30, 30)
reply = client.infer({"observation/images/agentview": image,
                      "observation/images/wrist": image,
                      "observation/state": np.array([0.5, 0.0, 1.1, 3.1, 0.0, 0.0, 0.04, -0.04]),
                      "prompt": "pick up the red cube",
                      "wamrobust/reset": {"task": "lift_cube", "seed": 7}})
actions = reply["actions"]
print(json.dumps({"metadata": client.get_server_metadata(), "shape": list(actions.shape),
                  "finite": bool(np.isfinite(actions).all()),
                  "bounded": bool(np.abs(actions).max() <= 1.0),
                  "server_ms": reply["server_timing"]["infer_ms"]}))
"""


def test_openpis_own_client_gets_chunks_from_wamrobust_serve(openpi_python, tmp_path):
    """The other direction: a learned policy served by `wamrobust serve` answers openpi's
    WebsocketClientPolicy (its msgpack codec, metadata frame, request/reply)."""
    import json

    with wamrobust_serve("--policy=tiny-vla", "--suite=tabletop") as (url, _):
        script = tmp_path / "ask_wamrobust_serve.py"
        script.write_text(CLIENT)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        done = subprocess.run([str(openpi_python), str(script), url.rsplit(":", 1)[1]],
                              env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        reply = json.loads(done.stdout.strip().splitlines()[-1])
    assert reply["metadata"]["wamrobust"]["policy"] == "tiny-vla"
    assert reply["shape"] == [10, 7] and reply["finite"] and reply["bounded"]
    assert reply["server_ms"] > 0
