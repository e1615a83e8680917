"""`wamrobust serve`: host one registered policy for many test workers or machines.

    wamrobust serve --policy=scripted --suite=tabletop --port 8000
    pytest --suite=tabletop --policy=ws://gpu-box:8000 -n 16

Top-level imports stay light; the policy, the suite and websockets load in `run`.
"""

from __future__ import annotations

import argparse

from ...options import key_value


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", required=True,
                        help="registered policy name or module:callable (as for pytest --policy)")
    parser.add_argument("--suite", default="tabletop",
                        help="suite whose observations and actions the clients use "
                             "(default: tabletop)")
    parser.add_argument("--host", default="0.0.0.0", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (0: any free port)")
    parser.add_argument("--policy-arg", dest="policy_args", action="append", default=[],
                        type=key_value,
                        metavar="KEY=VALUE", help="option for the policy factory (repeatable)")
    parser.add_argument("--device", default="cpu", help="torch device for learned policies")


def run(args: argparse.Namespace) -> int:
    from ...core import registry
    from ...core.errors import UsageError
    from ...core.protocols import PolicyContext
    from .server import PolicyServer

    if args.policy.startswith(("ws://", "wss://")):
        raise UsageError("wamrobust serve needs a local policy, not another server's URL")
    env_spec = registry.make_suite(args.suite).env_spec
    ctx = PolicyContext(env_spec=env_spec, options=dict(args.policy_args), device=args.device)
    try:
        server = PolicyServer(lambda: registry.make_policy(args.policy, ctx), env_spec,
                              host=args.host, port=args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
                         f"pick another --port") from None
    print(f"serving {args.policy!r} for suite {env_spec.suite!r} on "
          f"ws://{args.host}:{server.port} (health: http://{args.host}:{server.port}/healthz)",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.shutdown()
    return 0
