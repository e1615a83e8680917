"""The core's parsers as argparse types of the `wamrobust` command."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

from pytest_wamrobust.core.model.parsing import raising

Value = TypeVar("Value")


def argument_type(parse: Callable[[str], Value]) -> Callable[[str], Value]:
    """`parse` as an argparse `type=`: its UsageError is argparse's one error line."""
    return raising(argparse.ArgumentTypeError, parse)
