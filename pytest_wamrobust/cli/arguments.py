"""The core's parsers as argparse types: they raise UsageError, argparse wants
ArgumentTypeError to print the line as its usage error. The pytest options' twin is
`plugin.options.argument_type` (the plugin does not import the command line, nor the
core argparse)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

from pytest_wamrobust.core.model.errors import UsageError

Value = TypeVar("Value")


def argument_type(parse: Callable[[str], Value]) -> Callable[[str], Value]:
    """`parse` as an argparse `type=`: its UsageError becomes argparse's one error line."""

    def convert(text: str) -> Value:
        try:
            return parse(text)
        except UsageError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = getattr(parse, "__name__", "value")  # argparse's "invalid <name> value"
    return convert
