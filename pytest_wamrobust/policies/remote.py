"""The openpi client's registered factories (`ws://`, pi0, pi05, pi0-fast) with the
`--policy-arg` keys they read declared, so the registry refuses any other key and bad
values at start-up. The same objects as in openpi/client.py, marked, not wrapped: what
else they carry (the presets' `preflight`) still reaches the registry."""

from __future__ import annotations

from pytest_wamrobust.core.model import policy_args
from pytest_wamrobust.policies.openpi import client
from pytest_wamrobust.policies.openpi.connection import CONNECT_TIMEOUT_S, REQUEST_TIMEOUT_S

CONNECTION = (
    policy_args.text("api_key"),
    policy_args.seconds("connect_timeout", CONNECT_TIMEOUT_S),
    policy_args.seconds("request_timeout", REQUEST_TIMEOUT_S),
    policy_args.integer("chunk_length"),
    policy_args.integer("replan_steps"),
)
#: Where a preset's server is (the ws:// adapter has it in its URL).
SERVER = policy_args.text("server")

connect_policy = policy_args.declare(*CONNECTION)(client.connect_policy)
make_pi0 = policy_args.declare(*CONNECTION, SERVER)(client.make_pi0)
make_pi05 = policy_args.declare(*CONNECTION, SERVER)(client.make_pi05)
make_pi0_fast = policy_args.declare(*CONNECTION, SERVER)(client.make_pi0_fast)
