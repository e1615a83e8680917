"""The values users type (options, ini keys, `wamrobust` arguments), read by pure
functions that raise UsageError with one line. The pytest options and the `wamrobust`
command turn that line into their own usage error (`raising`); nothing here knows
argparse or pytest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.types import LEVELS, SETTINGS

#: More seeds per (task, setting, level) than anyone runs: a typo, not a plan.
MAX_SEEDS = 10_000

Number = TypeVar("Number", int, float)
Value = TypeVar("Value")


def raising(error: Callable[[str], Exception],
            parse: Callable[[str], Value]) -> Callable[[str], Value]:
    """`parse` with its UsageError re-raised as `error(line)`: a front end's own usage
    error (argparse prints an ArgumentTypeError as its one error line)."""

    def converted(text: str) -> Value:
        try:
            return parse(text)
        except UsageError as exc:
            raise error(str(exc)) from None

    converted.__name__ = getattr(parse, "__name__", "value")  # "invalid <name> value"
    return converted


def parse_number(text: object, convert: Callable[[str], Number]) -> Number | None:
    """`convert(text)` (int or float), None when the text is no such number: the caller
    words the mistake together with its range check."""
    try:
        return convert(str(text).strip())
    except ValueError:
        return None


def parse_seconds_or_off(text: str, flag: str, what: str) -> float:
    """A positive number of seconds, or 0 (`0`, `off`, `none`) for none."""
    value = str(text).strip().lower()
    if value in ("0", "off", "none"):
        return 0.0
    seconds = parse_number(value, float)
    if seconds is None or not 0 < seconds < float("inf"):
        raise UsageError(f"{flag} takes {what} (or 0 for none), got {text!r}")
    return seconds


def parse_key_value(text: str, flag: str) -> tuple[str, str]:
    """`KEY=VALUE` of a repeatable option (`--policy-arg`, `--suite-arg`)."""
    key, sep, value = str(text).partition("=")
    if not sep or not key.strip():
        raise UsageError(f"{flag} takes KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def parse_policy_arg(text: str) -> tuple[str, str]:
    """`--policy-arg KEY=VALUE`, for pytest and `wamrobust serve` alike."""
    return parse_key_value(text, "--policy-arg")


def parse_suite_arg(text: str) -> tuple[str, str]:
    """`--suite-arg KEY=VALUE`, passed to the suite factory (like --policy-arg)."""
    return parse_key_value(text, "--suite-arg")


def parse_list(text: str) -> tuple[str, ...]:
    """A comma list with blanks dropped: `a, b,` -> ("a", "b")."""
    items = tuple(part.strip() for part in str(text).split(",") if part.strip())
    if not items:
        raise UsageError(f"expected a comma-separated list, got {text!r}")
    return items


def parse_settings(text: str) -> tuple[str, ...]:
    """`clean,camera,light`; names are checked so a typo does not silently run nothing."""
    settings = parse_list(text)
    unknown = [s for s in settings if s not in SETTINGS]
    if unknown:
        raise UsageError(f"unknown setting {', '.join(map(repr, unknown))}; "
                         f"choose from {','.join(SETTINGS)}")
    return tuple(dict.fromkeys(settings))


def parse_levels(text: str) -> tuple[int, ...]:
    """`1,3,5`, `1-5` or a mix (`1,3-5`)."""
    levels: list[int] = []
    for part in parse_list(text):
        match = re.fullmatch(r"(\d+)\s*-\s*(\d+)|(\d+)", part)
        if not match:
            raise UsageError(f"invalid level {part!r}: use e.g. 1,3,5 or 1-5")
        lo, hi = (int(match[1]), int(match[2])) if match[1] else (int(match[3]),) * 2
        if lo > hi or lo < LEVELS[0] or hi > LEVELS[-1]:
            raise UsageError(f"invalid level {part!r}: levels run {LEVELS[0]}-{LEVELS[-1]}")
        levels += range(lo, hi + 1)
    return tuple(sorted(set(levels)))


def parse_seed_count(text: str) -> int:
    """`--seeds N`: seeds per (task, setting, level)."""
    seeds = parse_number(text, int)
    if seeds is None:
        raise UsageError(f"--seeds takes a whole number of seeds, got {text!r}")
    if not 1 <= seeds <= MAX_SEEDS:
        raise UsageError(f"--seeds must be 1-{MAX_SEEDS}, got {seeds}")
    return seeds
