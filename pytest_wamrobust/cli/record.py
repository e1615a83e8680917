"""`wamrobust record`: demonstrations of the scripted oracle on a suite's clean scenes."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from pytest_wamrobust.cli.arguments import argument_type
from pytest_wamrobust.core.model.parsing import parse_suite_arg
from pytest_wamrobust.core.model.types import TaskSpec

DEFAULT_OUT = Path(".cache/demos")


def add_parser(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--suite", default="tabletop", help="registered suite (default: tabletop)")
    sub.add_argument("--suite-arg", dest="suite_args", action="append", default=[],
                     type=argument_type(parse_suite_arg), metavar="KEY=VALUE",
                     help="option for the suite factory, as for pytest (repeatable)")
    sub.add_argument("--episodes", type=int, default=60,
                     help="successful demos per task (default: 60)")
    sub.add_argument("--tasks", nargs="*",
                     help="tasks or task groups (a LIBERO sub-suite) to record "
                          "(default: all of the suite)")
    sub.add_argument("--image-size", type=int,
                     help="stored image width in pixels, a divisor of the cameras' width; "
                          "the aspect ratio is kept (default: 64 for square cameras, else "
                          "half the width)")
    sub.add_argument("--start", type=int, default=0,
                     help="first demo scene index, to add demos to a folder (default: 0)")
    sub.add_argument("--every", type=int, default=1,
                     help="store one step in N and every replanning step, rendering only "
                          "those (default: 1, every step; LIBERO renders slowly: use 5)")
    sub.add_argument("--out", type=Path, help=f"output folder (default: {DEFAULT_OUT}/<suite>)")


def run(args: argparse.Namespace) -> int:
    from pytest_wamrobust.core.model.errors import UsageError
    from pytest_wamrobust.core.model.protocols import PolicyContext
    from pytest_wamrobust.core.model.registry import make_policy, make_suite
    from pytest_wamrobust.policies.tiny.demos import record

    if args.episodes < 1 or args.start < 0 or args.every < 1:
        raise UsageError("--episodes and --every must be at least 1 and --start at least 0")
    suite = make_suite(args.suite, dict(args.suite_args))
    first = suite.env_spec.cameras[0]
    image_size = args.image_size or (64 if first.height == first.width else first.width // 2)
    oracle = make_policy("scripted", PolicyContext(env_spec=suite.env_spec))
    tasks = _tasks(suite.tasks(), args.tasks)
    out = args.out or DEFAULT_OUT / suite.name
    started = time.perf_counter()
    counts = record(suite, oracle, out, tasks, args.episodes, image_size, start=args.start,
                    every=args.every)
    seconds = time.perf_counter() - started
    print(f"recorded {sum(counts.values())} demos in {seconds:.0f} s -> {out}")
    return 0


def _tasks(specs: Sequence[TaskSpec], wanted: Sequence[str] | None) -> list[str]:
    """The suite's tasks named in `wanted` or in a group named there, in suite order."""
    if not wanted:
        return [t.name for t in specs]
    known = {t.name for t in specs} | {t.group for t in specs if t.group}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        from pytest_wamrobust.core.model.errors import UsageError

        raise UsageError(f"--tasks: no task or task group {unknown[0]!r} in this suite")
    return [t.name for t in specs if t.name in wanted or t.group in wanted]
