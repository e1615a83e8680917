"""Resolve the `--policy` and `--suite` strings users type into objects.

Policies and suites register factories under the entry point groups
`pytest_wamrobust.policies` / `pytest_wamrobust.suites` (the built-ins too), so a third
party adds one without touching this package. `--policy` also takes a
`module:callable` factory, an openpi server `ws://host:port` and `lerobot:/path`;
their adapters are imported only when chosen. Every failure is one UsageError line.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import re
import sys
from collections.abc import Callable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pytest_wamrobust.core.model.errors import UsageError, one_line
from pytest_wamrobust.core.model.policy_args import declared
from pytest_wamrobust.core.model.protocols import Policy, PolicyContext, PolicyFactory, Suite
from pytest_wamrobust.core.model.types import PolicyMetadata

POLICY_GROUP = "pytest_wamrobust.policies"
SUITE_GROUP = "pytest_wamrobust.suites"

#: URL-like policy specs -> (adapter module, function(spec_rest, ctx) -> Policy);
#: "ws-preflight": the ws adapter's function(url, ctx) -> None that checks a server;
#: "lerobot-checkpoint": function(path) that checks the folder without importing LeRobot.
_ADAPTERS: dict[str, tuple[str, str]] = {
    "ws": ("pytest_wamrobust.policies.remote", "connect_policy"),
    "ws-preflight": ("pytest_wamrobust.policies.openpi.client", "preflight"),
    "lerobot": ("pytest_wamrobust.policies.lerobot", "load_lerobot_policy"),
    "lerobot-checkpoint": ("pytest_wamrobust.policies.lerobot", "checkpoint_dir"),
}
#: `scheme://...`: a URL, which only the ws adapter serves.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def available(group: str) -> list[str]:
    """Registered names of one entry point group, sorted."""
    return sorted({ep.name for ep in entry_points(group=group)})


def registered(group: str, name: str) -> EntryPoint | None:
    """The entry point `name` of `group` (None if absent): the one place the plugin's
    entry point groups (policies, suites, oracles) are looked up."""
    return next((ep for ep in entry_points(group=group) if ep.name == name), None)


def policy_factory(spec: str) -> PolicyFactory:
    """The factory a `--policy` value names; imports it but builds nothing yet.

    Resolving first lets a typo fail at start-up, on the controller, before any episode.
    """
    spec = spec.strip()
    if not spec:
        raise UsageError("--policy is empty; give a registered name, module:callable, "
                         "ws://host:port or lerobot:/path")
    if spec.startswith(("ws://", "wss://")):
        return _bound(_adapter("ws", spec), spec)
    if _URL.match(spec):
        raise UsageError(f"--policy {spec!r}: a policy server URL starts with ws:// or wss:// "
                         f"(openpi's websocket protocol), e.g. ws://HOST:8000")
    if spec.startswith("lerobot:"):
        path = spec[len("lerobot:"):]
        _adapter("lerobot-checkpoint", spec)(path)
        return _bound(_adapter("lerobot", spec), path)
    return _named_or_dotted(spec, POLICY_GROUP, "policy", "--policy")


def check_policy_args(spec: str, factory: Callable[..., Any], ctx: PolicyContext) -> None:
    """The --policy-arg keys a factory declared (core/model/policy_args.py), and nothing else,
    with values it can read; a factory that declares nothing is not checked."""
    args = declared(factory)
    if args is None:
        return
    names = [arg.name for arg in args]
    unknown = [key for key in ctx.options if key not in names]
    if unknown:
        raise UsageError(f"policy {spec!r} does not take --policy-arg {', '.join(unknown)}; "
                         f"it takes: {', '.join(names) or 'none'}"
                         f"{_did_you_mean(unknown[0], names)}")
    for arg in args:
        if arg.name in ctx.options:
            arg.read(ctx)


def make_policy(spec: str, ctx: PolicyContext) -> Policy:
    """Build the policy and check it honours the Policy protocol."""
    factory = policy_factory(spec)
    check_policy_args(spec, factory, ctx)
    try:
        policy = factory(ctx)
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - any factory fault becomes one line
        raise UsageError(f"policy {spec!r} could not be created: {one_line(exc)}") from None
    check_policy(policy, spec)
    return policy


def preflight(spec: str, ctx: PolicyContext) -> None:
    """Check a remote policy once, before any episode: a server that is down or refuses
    the key is one UsageError at start-up, not a traceback in every case. Specs served
    in-process need no check; a factory may offer one as a `preflight(ctx)` attribute
    (the pi0 / pi05 / pi0-fast presets do)."""
    spec = spec.strip()
    if spec.startswith(("ws://", "wss://")):
        _adapter("ws-preflight", spec)(spec, ctx)
        return
    check = getattr(policy_factory(spec), "preflight", None)
    if callable(check):
        check(ctx)


def check_policy(policy: Any, spec: str) -> None:
    """One line saying what a returned object lacks to be a Policy."""
    missing = [name for name in ("metadata", "reset", "infer") if not hasattr(policy, name)]
    if missing:
        raise UsageError(
            f"policy {spec!r}: the factory returned {type(policy).__name__}, which lacks "
            f"{', '.join(missing)}; a Policy needs metadata, reset(task, seed) and infer(obs)")
    if not callable(policy.reset) or not callable(policy.infer):
        raise UsageError(f"policy {spec!r}: reset and infer must be methods")
    if not isinstance(policy.metadata, PolicyMetadata):
        raise UsageError(
            f"policy {spec!r}: metadata must be a PolicyMetadata, got "
            f"{type(policy.metadata).__name__}")


def make_suite(spec: str, options: Mapping[str, str] | None = None) -> Suite:
    """Build the suite a `--suite` value names (a registered name or module:callable).

    `options` are the `--suite-arg KEY=VALUE`s. A factory with a parameter named
    `options` receives them (a mapping, empty when none were given) and refuses the keys
    it does not read; a factory without one is called with no argument, as always, and
    any `--suite-arg` given to it is refused here, in one line.
    """
    factory = _named_or_dotted(spec.strip(), SUITE_GROUP, "suite", "--suite")
    kwargs = {"options": dict(options or {})} if takes_suite_args(factory) else {}
    if options and not kwargs:
        raise UsageError(f"suite {spec.strip()!r} does not take --suite-arg (got "
                         f"{', '.join(options)}): its factory {_name_of(factory)}() has no "
                         f"'options' parameter")
    try:
        suite = factory(**kwargs)
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise UsageError(f"suite {spec!r} could not be created: {one_line(exc)}") from None
    missing = [n for n in ("name", "env_spec", "tasks", "cases", "episode_spec", "make_env")
               if not hasattr(suite, n)]
    if missing:
        raise UsageError(f"suite {spec!r}: the factory returned {type(suite).__name__}, "
                         f"which lacks {', '.join(missing)} of the Suite protocol")
    return suite


def takes_suite_args(factory: Callable[..., Any]) -> bool:
    """Whether a suite factory has a parameter named `options` (the --suite-args)."""
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin or C callable: no signature to read
        return False
    option = parameters.get("options")
    return option is not None and option.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _name_of(factory: Callable[..., Any]) -> str:
    module = getattr(factory, "__module__", None)
    name = getattr(factory, "__qualname__", None) or type(factory).__name__
    return f"{module}:{name}" if module else name


def _named_or_dotted(spec: str, group: str, what: str, option: str) -> Callable[..., Any]:
    if ":" in spec:
        return _load_dotted(spec, what)
    found = registered(group, spec)
    if found is None:
        names = ", ".join(available(group)) or "none installed"
        raise UsageError(f"unknown {what} {spec!r} for {option} (searched the entry points "
                         f"of {sys.executable}); available: {names} (or module:callable)"
                         f"{_did_you_mean(spec, available(group))}")
    try:
        loaded: Callable[..., Any] = found.load()
    except Exception as exc:  # noqa: BLE001 - a broken plugin package is the user's to fix
        raise UsageError(f"{what} {spec!r} is registered as {found.value} but could "
                         f"not be imported: {one_line(exc)}") from None
    return loaded


def _load_dotted(spec: str, what: str) -> Callable[..., Any]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise UsageError(f"{what} {spec!r}: expected module:callable, e.g. mypkg.policies:make")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"{what} {spec!r}: cannot import {module_name!r} ({one_line(exc)}); "
                         f"is it installed or on PYTHONPATH?") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"{what} {spec!r}: module {module_name!r} has no {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise UsageError(f"{what} {spec!r}: {attr!r} is not callable")
    return obj


def _adapter(kind: str, spec: str) -> Callable[..., Any]:
    module_name, attr = _ADAPTERS[kind]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"--policy {spec!r} needs {module_name}, which cannot be imported "
                         f"({one_line(exc)})") from None
    factory = getattr(module, attr, None)
    if factory is None:
        raise UsageError(f"--policy {spec!r}: {module_name} has no {attr}()")
    return factory


def _bound(adapter: Callable[..., Any], target: str) -> PolicyFactory:
    """`adapter(target, ctx)` as a factory of ctx alone, keeping what the adapter
    declares (its --policy-arg keys)."""
    return functools.wraps(adapter)(lambda ctx: adapter(target, ctx))


def _did_you_mean(word: str, names: list[str]) -> str:
    """Gymnasium's answer to a typo: the registered name closest to it, if any is close."""
    close = difflib.get_close_matches(word, names, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
