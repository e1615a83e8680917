"""One model, batched, for all workers: `infer_batch` rows are each episode alone, bit for
bit; `wamrobust serve` builds the model once for every connection, keeps each
connection's episode its own, and a real run gives the same outcome per case batched,
unbatched and in-process."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import pytest
from policy_servers import serving, wamrobust_serve

from pytest_wamrobust.core.model import registry
from pytest_wamrobust.core.model.errors import EpisodeError
from pytest_wamrobust.core.model.protocols import BatchPolicy, CaseSelection, PolicyContext
from pytest_wamrobust.core.model.types import Observation
from pytest_wamrobust.policies.openpi.client import connect_policy

POLICIES = ("tiny-wam", "tiny-vla")


@pytest.fixture(scope="module")
def scenes(tabletop) -> list[Observation]:
    """First observations of four real scenes (two tasks, clean and camera-shifted)."""
    keys = list(tabletop.cases(CaseSelection(tasks=["lift_cube", "open_drawer"],
                                             settings=["clean", "camera"], levels=[3], seeds=1)))
    found = []
    for key in keys:
        env = tabletop.make_env(tabletop.episode_spec(key))
        try:
            found.append(env.reset())
        finally:
            env.close()
    return found


def alone(policy, observations: list[Observation], seed: int, steps: int = 2) -> list:
    """The chunks one episode gets in-process: reset, then `steps` calls per observation."""
    policy.reset("task", seed)
    return [policy.infer(o) for o in observations for _ in range(steps)]


@pytest.mark.parametrize("name", POLICIES)
def test_batch_rows_are_each_episode_alone_bit_for_bit(name, tabletop, scenes):
    policy = registry.make_policy(name, PolicyContext(tabletop.env_spec))
    assert isinstance(policy, BatchPolicy)
    largest = 9  # tiny-wam runs tiles of 8 rows: a batch of 9 spans two
    observations = [scenes[i % len(scenes)] for i in range(largest)]
    reference = [alone(policy, [scene], seed=10 + i) for i, scene in enumerate(observations)]
    for size in (2, 3, len(scenes), largest):
        episodes = [policy.new_episode("task", 10 + i) for i in range(size)]
        for step in range(2):  # the second call: each episode's generator moved on alone
            rows = policy.infer_batch(observations[:size], episodes)
            for i, row in enumerate(rows):
                assert row.dtype == np.float64 and np.array_equal(row, reference[i][step]), (
                    f"batch of {size}, row {i}, call {step + 1}")


def test_a_failed_batch_leaves_every_episode_as_it_was(tabletop, scenes):
    policy = registry.make_policy("tiny-wam", PolicyContext(tabletop.env_spec))
    broken = Observation({c: np.zeros((100, 100, 3), np.uint8) for c in scenes[0].images},
                         scenes[0].state, scenes[0].instruction)
    episodes = [policy.new_episode("task", 10 + i) for i in range(2)]
    with pytest.raises(EpisodeError, match="cannot be downsampled"):
        policy.infer_batch([scenes[0], broken], episodes)
    first = policy.infer_batch(scenes[:2], episodes)
    assert all(np.array_equal(first[i], alone(policy, [scenes[i]], 10 + i)[0]) for i in range(2))


def test_one_model_for_every_connection_and_each_keeps_its_own_episode(tabletop, scenes):
    """Three clients interleave episodes concurrently on a batching server: each gets
    exactly the chunks its episode gets alone, from a model built once."""
    built = []

    def factory():
        built.append(registry.make_policy("tiny-wam", PolicyContext(tabletop.env_spec)))
        return built[-1]

    reference = registry.make_policy("tiny-wam", PolicyContext(tabletop.env_spec))
    ctx = PolicyContext(tabletop.env_spec, {"connect_timeout": "5"})
    with serving(factory, tabletop.env_spec, max_batch=3, batch_wait_ms=2000) as (url, server):
        clients = [connect_policy(url, ctx) for _ in range(3)]
        got: dict[int, list] = {}

        def episodes(i: int) -> None:  # two episodes per client, seeds interleaved
            got[i] = []
            for seed in (20 + i, 30 + i):
                got[i] += alone(clients[i], scenes[i:i + 2], seed)

        threads = [threading.Thread(target=episodes, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for client in clients:
            client.close()
    assert len(built) == 1  # one model, three connections
    assert max(server.batcher.batch_sizes) > 1  # and they did share batches
    for i in range(3):
        expected = [c for seed in (20 + i, 30 + i) for c in alone(reference, scenes[i:i + 2], seed)]
        assert len(got[i]) == len(expected) == 8
        assert all(np.array_equal(a, b) for a, b in zip(got[i], expected, strict=True)), i


def test_a_policy_without_infer_batch_gets_an_instance_per_connection(tabletop):
    built = []

    def factory():
        built.append(registry.make_policy("random", PolicyContext(tabletop.env_spec)))
        return built[-1]

    ctx = PolicyContext(tabletop.env_spec, {"connect_timeout": "5"})
    with serving(factory, tabletop.env_spec, max_batch=4) as (url, server):
        assert server.shared is None and server.batcher.max_batch == 1
        clients = [connect_policy(url, ctx) for _ in range(2)]
        for client in clients:
            client.infer(Observation({c: np.zeros((128, 128, 3), np.uint8)
                                      for c in tabletop.env_spec.camera_names},
                                     np.zeros(8), "lift"))
            client.close()
    assert len(built) == 3  # the one that told the metadata, then one per connection


def stop(proc: subprocess.Popen, url: str) -> tuple[str, str]:
    """Interrupt the server as Ctrl-C would, once it serves; its stdout after the banner,
    and stderr."""
    health = url.replace("ws://", "http://") + "/healthz"
    for _ in range(100):
        try:
            with urllib.request.urlopen(health, timeout=5):
                break
        except OSError:
            time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=30)


SELECT = ("--suite=tabletop", "--tasks=lift_cube,open_drawer", "--axes=clean,camera",
          "--levels=3")


@pytest.mark.parametrize(("name", "seeds"), [
    ("tiny-wam", 1),  # the one that samples; ~40 s on this shared CPU, mostly start-ups
    pytest.param("tiny-wam", 2, marks=pytest.mark.slow),
    pytest.param("tiny-vla", 2, marks=pytest.mark.slow)])
def test_same_outcome_per_case_batched_unbatched_and_in_process(
        name, seeds, pytester, run_plugin, junit_episodes):
    """2 tasks x (clean, camera L3) x seeds: in-process, and with two workers against a
    plain server and a batching one - every case the same status and step count."""
    select = (*SELECT, f"--seeds={seeds}")
    run_plugin(f"--policy={name}", *select, "-p", "no:xdist", junit="local.xml")
    with wamrobust_serve(f"--policy={name}") as (url, proc):
        run_plugin(f"--policy={url}", *select, "-n", "2", junit="plain.xml")
        assert "one request at a time" in proc.stdout.readline()
        assert "(largest 1)" in stop(proc, url)[0]
    with wamrobust_serve(f"--policy={name}", "--max-batch=2", "--batch-wait-ms=200") as (url, proc):
        run_plugin(f"--policy={url}", *select, "-n", "2", junit="batched.xml")
        assert "batches of up to 2" in proc.stdout.readline()
        assert "(largest 2)" in stop(proc, url)[0]  # the workers' requests did share batches
    local, plain, batched = (
        {case: (props["wam.status"], props["wam.steps"]) for case, props in
         junit_episodes(pytester.path / xml).items()}
        for xml in ("local.xml", "plain.xml", "batched.xml"))
    assert len(local) == 4 * seeds and local == plain == batched


def test_serve_batch_options_are_checked_in_one_line():
    def serve(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pytest_wamrobust", "serve", *args],
                              capture_output=True, text=True, timeout=60)

    done = serve("--policy=tiny-wam", "--batch-wait-ms=5")
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].endswith(
        "--batch-wait-ms sets how long a batch waits; give --max-batch too")
    done = serve("--policy=tiny-wam", "--max-batch=0")
    assert done.returncode == 2 and "'0' is not a batch size; give an integer >= 1" in done.stderr


def test_serve_says_batching_is_off_for_a_policy_without_infer_batch():
    with wamrobust_serve("--policy=scripted", "--max-batch=8") as (url, proc):
        out, err = stop(proc, url)
    assert ("batching is off: 'scripted' has no infer_batch; each connection gets its own "
            "instance, one request at a time") in err
    assert "served 0 requests in 0 batches" in out
