"""The `--suite-arg` keys a suite reads, declared once next to its factory.

Every suite takes its options the same way: a declared key has a default, a grid suite's
manifest may set it (`[suite.options]`, for a project's copy of the manifest) and
`--suite-arg KEY=VALUE` overrides both for one run. One declaration checks them all, so
an unknown key or a bad value is the same one line in every suite:

    RENDER = suite_args.flag("render", True, "0 (physics only) or 1")

    def make_suite(options=None):
        render = suite_args.read("robotwin_plus", (RENDER,), options)["render"]

gives `suite robotwin_plus: --suite-arg render=maybe must be 0 (physics only) or 1`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_wamrobust.core.model.errors import UsageError


@dataclass(frozen=True)
class SuiteArg:
    """One key: its default, what it accepts (for the error line) and its parser, which
    takes a `--suite-arg` string or a manifest's TOML value and returns None if the value
    is not one it accepts."""

    name: str
    default: Any
    accepts: str
    parse: Callable[[Any], Any]


def integer(name: str, default: int, low: int, high: int, example: str = "") -> SuiteArg:
    def parse(value: Any) -> int | None:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            return None
        return value if low <= value <= high else None

    accepts = f"an integer from {low} to {high}" + (f" ({example})" if example else "")
    return SuiteArg(name, default, accepts, parse)


def choice(name: str, default: str, choices: Sequence[str]) -> SuiteArg:
    return SuiteArg(name, default, " or ".join(choices),
                    lambda value: value if value in choices else None)


def flag(name: str, default: bool, accepts: str = "0 or 1") -> SuiteArg:
    """On or off: `1`/`0` on the command line, `true`/`false` in a manifest."""
    words = {"1": True, "0": False, "true": True, "false": False}
    return SuiteArg(name, default, accepts, lambda value: value if isinstance(value, bool)
                    else words.get(str(value).strip().lower()))


def read(suite: str, declared: Sequence[SuiteArg], options: Mapping[str, str] | None,
         manifest_options: Mapping[str, Any] | None = None,
         manifest_source: str = "") -> dict[str, Any]:
    """Each declared key's value: `options` (the `--suite-arg`s) over `manifest_options`
    (a manifest's table, named by `manifest_source` in its errors) over the default."""
    names = [arg.name for arg in declared]
    unknown = sorted(set(manifest_options or {}) - set(names))
    if unknown:
        raise UsageError(f"{manifest_source}: unknown keys {unknown}; {suite} accepts {names}")
    unknown = sorted(set(options or {}) - set(names))
    if unknown:
        raise UsageError(f"suite {suite} does not take --suite-arg {', '.join(unknown)}; "
                         f"it takes: {', '.join(names) or 'none'}")
    values = {}
    for arg in declared:
        if options and arg.name in options:
            raw = options[arg.name]
            bad = f"suite {suite}: --suite-arg {arg.name}={raw} must be {arg.accepts}"
        elif manifest_options and arg.name in manifest_options:
            raw = manifest_options[arg.name]
            bad = f"{manifest_source} {arg.name} must be {arg.accepts}, got {raw!r}"
        else:
            values[arg.name] = arg.default
            continue
        value = arg.parse(raw)
        if value is None:
            raise UsageError(bad)
        values[arg.name] = value
    return values
