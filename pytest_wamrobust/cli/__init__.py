"""The `wamrobust` command: one subcommand per module, each with `add_parser` and `run`.

A subcommand module is imported only when it is chosen, so `wamrobust --help` stays
fast and works without torch or a renderer.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pytest_wamrobust.core.model.errors import WamrobustError

#: subcommand -> (module implementing it, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "report": (".report", "Merge JUnit results into per-setting tables, HTML and a heatmap."),
    "compare": (".compare", "Gate a candidate against a baseline (paired McNemar per setting)."),
    "serve": (".serve", "Serve a registered policy over openpi's websocket protocol."),
    "record": (".record", "Record scripted-oracle demonstrations on a suite's clean scenes."),
    "train": (".train", "Train the built-in tiny-vla / tiny-wam policies from demonstrations."),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with the arguments of `command` only: the report job of a CI pipeline
    installs neither pytest nor torch, which `serve` and `train` import."""
    parser = argparse.ArgumentParser(
        prog="wamrobust",
        description="Robustness reports, comparisons and tools for pytest-wamrobust.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module_name)
        if name == command:
            _module(module_name).add_parser(sub)
    return parser


def _module(name: str):
    return importlib.import_module(name, package=__package__)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    args._argv = argv  # what the user typed, for reports that record their command
    try:
        return int(_module(args._module).run(args) or 0)
    except WamrobustError as exc:
        print(f"wamrobust {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
