"""`wamrobust serve`: host one registered policy for many test workers or machines.

    wamrobust serve --policy=scripted --suite=tabletop --port 8000
    pytest --suite=tabletop --policy=ws://127.0.0.1:8000 -n 16

    export WAMROBUST_POLICY_API_KEY=...     # for other machines: both ends read it
    wamrobust serve --policy=tiny-vla --suite=tabletop --host 0.0.0.0 --port 8000
    pytest --suite=tabletop --policy=ws://gpu-box:8000 -n 16

    wamrobust serve --policy=tiny-wam --max-batch 16 --batch-wait-ms 5   # one batched model

A policy with `infer_batch` (tiny-vla, tiny-wam, LeRobot ACT) is built once for every
connection; `--max-batch` runs concurrent requests as one batch. Others get one instance
per connection (their episode state lives in them), one call at a time.

It listens on 127.0.0.1 unless told otherwise: whoever reaches the port can run the
policy (and load the server), so exposing it is an explicit `--host`, best with a key.
Nobody who reaches it can stop it: `--max-connections`, `--handshake-timeout` and
`--max-inflight-mb` bound what peers hold (see policies/openpi/server.py), and a serve
loop that dies is exit status 1 with one line, never 0.
Top-level imports stay light; the policy, the suite and websockets load in `run`.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import logging
import os
import signal
import sys
from collections.abc import Callable

from pytest_wamrobust.cli.arguments import argument_type
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.identity import policy_fingerprint
from pytest_wamrobust.core.model.parsing import (
    Number,
    parse_number,
    parse_policy_arg,
    parse_suite_arg,
)
from pytest_wamrobust.policies.openpi.client import API_KEY_ENV

#: How long a batch waits for more requests unless told (ms).
DEFAULT_WAIT_MS = 5.0
#: Defaults of --max-connections, --handshake-timeout and --max-inflight-mb (the
#: server's own, repeated here to keep websockets and numpy out of `--help`).
DEFAULT_MAX_CONNECTIONS = 256
DEFAULT_HANDSHAKE_TIMEOUT_S = 5.0
DEFAULT_MAX_INFLIGHT_MB = 128


def _checked(text: str, convert: Callable[[str], Number], ok: Callable[[Number], bool],
             what: str) -> Number:
    """`text` as a number `ok` accepts, else one usage line: "'x' is not <what>"."""
    value = parse_number(text, convert)
    if value is None or not ok(value):
        raise UsageError(f"{text!r} is not {what}")
    return value


def parse_port(text: str) -> int:
    """A TCP port to listen on, 0 meaning any free one."""
    return _checked(text, int, lambda port: 0 <= port <= 65535,
                    "a TCP port; give 1-65535 (or 0 for any free port)")


def parse_max_batch(text: str) -> int:
    """How many requests one batch may hold."""
    return _checked(text, int, lambda size: size >= 1, "a batch size; give an integer >= 1")


def parse_wait_ms(text: str) -> float:
    """How long a batch waits for more requests, in ms."""
    return _checked(text, float, lambda ms: 0 <= ms < float("inf"),
                    "a wait in milliseconds; give a number >= 0")


def parse_positive_int(text: str) -> int:
    return _checked(text, int, lambda value: value >= 1, "an integer >= 1")


def parse_seconds(text: str) -> float:
    return _checked(text, float, lambda seconds: 0 < seconds < float("inf"),
                    "a number of seconds > 0")


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", required=True,
                        help="registered policy name or module:callable (as for pytest --policy)")
    parser.add_argument("--suite", default="tabletop",
                        help="suite whose observations and actions the clients use "
                             "(default: tabletop)")
    parser.add_argument("--suite-arg", dest="suite_args", action="append", default=[],
                        type=argument_type(parse_suite_arg), metavar="KEY=VALUE",
                        help="option for the suite factory, as the clients' pytest gets it "
                             "(repeatable)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to listen on (default: 127.0.0.1, this machine only; "
                             "0.0.0.0 for every interface)")
    parser.add_argument("--port", type=argument_type(parse_port), default=8000,
                        help="TCP port (0: any free port)")
    parser.add_argument("--api-key", default=os.environ.get(API_KEY_ENV, ""),
                        help=f"require clients to send this key (openpi's `Authorization: "
                             f"Api-Key` header; default: ${API_KEY_ENV})")
    parser.add_argument("--debug", action="store_true",
                        help="send a policy error's full traceback to the client (it is "
                             "always logged here); by default the client gets one line")
    parser.add_argument("--policy-arg", dest="policy_args", action="append", default=[],
                        type=argument_type(parse_policy_arg),
                        metavar="KEY=VALUE", help="option for the policy factory (repeatable)")
    parser.add_argument("--device", default="cpu", help="torch device for learned policies")
    parser.add_argument("--max-batch", type=argument_type(parse_max_batch), default=None,
                        metavar="N",
                        help="run up to N concurrent requests as one batch (policies with "
                             "infer_batch; default: one request at a time)")
    parser.add_argument("--batch-wait-ms", type=argument_type(parse_wait_ms), default=None,
                        metavar="T",
                        help=f"with --max-batch: how long a batch waits for more requests "
                             f"(default {DEFAULT_WAIT_MS:g}; it runs at once when every "
                             f"connection has a request waiting)")
    parser.add_argument("--max-connections", type=argument_type(parse_positive_int),
                        default=DEFAULT_MAX_CONNECTIONS, metavar="N",
                        help=f"at most N sockets at once (default {DEFAULT_MAX_CONNECTIONS}; "
                             f"fewer if the file-handle limit cannot hold them); at the "
                             f"limit a new one replaces the oldest still in its handshake, "
                             f"else it is refused")
    parser.add_argument("--handshake-timeout", type=argument_type(parse_seconds),
                        default=DEFAULT_HANDSHAKE_TIMEOUT_S, metavar="S",
                        help=f"close a connection that has not finished its opening "
                             f"handshake within S seconds (default "
                             f"{DEFAULT_HANDSHAKE_TIMEOUT_S:g})")
    parser.add_argument("--max-inflight-mb", type=argument_type(parse_positive_int),
                        default=DEFAULT_MAX_INFLIGHT_MB, metavar="MB",
                        help=f"request bytes received and not yet answered, across "
                             f"connections, in MiB (default {DEFAULT_MAX_INFLIGHT_MB}); a "
                             f"frame that does not fit waits unread; after 120 s its "
                             f"connection is closed (1013, try again later)")


def run(args: argparse.Namespace) -> int:
    from pytest_wamrobust.core.model import registry
    from pytest_wamrobust.core.model.protocols import PolicyContext
    from pytest_wamrobust.policies.openpi.server import PolicyServer, raise_file_limit

    if args.policy.startswith(("ws://", "wss://")):
        raise UsageError("wamrobust serve needs a local policy, not another server's URL")
    if args.batch_wait_ms is not None and args.max_batch is None:
        raise UsageError("--batch-wait-ms sets how long a batch waits; give --max-batch too")
    wait = DEFAULT_WAIT_MS if args.batch_wait_ms is None else args.batch_wait_ms
    env_spec = registry.make_suite(args.suite, dict(args.suite_args)).env_spec
    ctx = PolicyContext(env_spec=env_spec, options=dict(args.policy_args), device=args.device)
    # one line per connection (opened; closed with what it was served) and every warning:
    # what an operator reads to match a client's run to the server
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("websockets").setLevel(logging.WARNING)  # its own open/close twins
    raise_file_limit(args.max_connections)
    # Ctrl-C / SIGINT stops it cleanly even when started where SIGINT is ignored (a
    # background job of a non-interactive shell inherits SIG_IGN)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server = PolicyServer(lambda: registry.make_policy(args.policy, ctx), env_spec,
                              host=args.host, port=args.port, api_key=args.api_key,
                              debug=args.debug, max_batch=args.max_batch or 1,
                              batch_wait_ms=wait, max_connections=args.max_connections,
                              handshake_timeout=args.handshake_timeout,
                              max_inflight_bytes=args.max_inflight_mb * 2**20,
                              fingerprint=policy_fingerprint(
                                  registry.policy_factory(args.policy), ctx))
    except OSError as exc:  # socket.create_server appends "(while attempting to bind ...)"
        reason = str(exc.strerror or exc).split(" (while attempting")[0]
        fix = "pick another --port" if exc.errno == errno.EADDRINUSE else "check --host"
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {reason}; {fix}") from None
    if not args.api_key and not _loopback(args.host):
        print(f"wamrobust serve: warning: listening on {args.host}: anyone who can reach port "
              f"{server.port} can use the policy; set --api-key or ${API_KEY_ENV}",
              file=sys.stderr, flush=True)
    if args.max_batch and server.shared is None:
        print(f"wamrobust serve: batching is off: {args.policy!r} has no infer_batch; each "
              f"connection gets its own instance, one request at a time", file=sys.stderr,
              flush=True)
    if server.max_connections < args.max_connections:
        print(f"wamrobust serve: warning: at most {server.max_connections} connections, not "
              f"{args.max_connections}: the file-handle limit (ulimit -n) holds no more; "
              f"raise it for more", file=sys.stderr, flush=True)
    print(f"serving {args.policy!r} for suite {env_spec.suite!r} on "
          f"ws://{args.host}:{server.port} (health: http://{args.host}:{server.port}/healthz)",
          flush=True)
    if server.shared is not None:
        batching = (f"batches of up to {args.max_batch} (waiting at most {wait:g} ms)"
                    if (args.max_batch or 1) > 1 else "one request at a time")
        print(f"one {server.shared.metadata.name} instance for all connections, "
              f"{batching}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.shutdown()
        sizes = server.batcher.batch_sizes
        print(f"served {sum(n * count for n, count in sizes.items())} requests in "
              f"{sum(sizes.values())} batches (largest {max(sizes, default=0)})", flush=True)
        return 0
    except Exception as exc:  # noqa: BLE001 - the loop died: say so, never exit 0
        from pytest_wamrobust.core.model.errors import one_line
        from pytest_wamrobust.policies.openpi.server import ServerDied

        reason = str(exc) if isinstance(exc, ServerDied) else one_line(exc)
        print(f"wamrobust serve: error: the server stopped: {reason}", file=sys.stderr,
              flush=True)
        server.shutdown()
        return 1
    print("wamrobust serve: error: the server stopped without being asked to",
          file=sys.stderr, flush=True)
    server.shutdown()
    return 1


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False
