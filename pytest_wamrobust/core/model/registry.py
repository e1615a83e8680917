"""Resolve the `--policy` and `--suite` strings users type into objects.

Policies, suites and `--policy` schemes (`ws://host:port`, `lerobot:/path`) register
under entry point groups (core/model/entry_points.py), the built-ins too, so a third
party adds one without touching this package; `--policy` also takes a `module:callable`
factory. Nothing is imported until chosen. Every failure is one UsageError line.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

from pytest_wamrobust.core.model import entry_points
from pytest_wamrobust.core.model.chunking import Chunking
from pytest_wamrobust.core.model.errors import UsageError, one_line
from pytest_wamrobust.core.model.policy_args import declared
from pytest_wamrobust.core.model.protocols import Policy, PolicyContext, PolicyFactory, Suite
from pytest_wamrobust.core.model.types import EnvSpec, PolicyMetadata

#: `SCHEME:` at the start of a --policy value (a URL's scheme, or `lerobot:`)
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):")


def policy_factory(spec: str) -> PolicyFactory:
    """The factory a `--policy` value names; imports it but builds nothing yet.

    Resolving first lets a typo fail at start-up, on the controller, before any episode.
    """
    spec = spec.strip()
    if not spec:
        raise UsageError("--policy is empty; give a registered name, module:callable, "
                         "ws://host:port or lerobot:/path")
    scheme = _SCHEME.match(spec)
    if scheme:
        found = entry_points.registered(entry_points.POLICY_SCHEMES, scheme["scheme"].lower())
        if found is not None:
            return _resolved_by_scheme(found, spec)
        if spec[scheme.end():].startswith("//"):
            schemes = ", ".join(f"{name}:" for name in
                                entry_points.available(entry_points.POLICY_SCHEMES))
            raise UsageError(f"--policy {spec!r}: a policy server URL starts with ws:// or "
                             f"wss:// (openpi's websocket protocol), e.g. ws://HOST:8000 "
                             f"(registered schemes: {schemes or 'none'})")
    return _named_or_dotted(spec, entry_points.POLICIES, "policy", "--policy")


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


def preflight(spec: str, ctx: PolicyContext) -> Chunking | None:
    """Check a policy once, before any episode: a server that is down or refuses the key,
    or a --policy-arg the policy cannot honour, is one UsageError at start-up, not a
    traceback in every case. A factory may offer the check as a `preflight(ctx)` attribute
    (the ws:// and lerobot: schemes', the pi0 / pi05 / pi0-fast presets', the baselines'
    and the tiny policies' do); what it returns, if anything, is the chunking the run
    will use."""
    check = getattr(policy_factory(spec), "preflight", None)
    if not callable(check):
        return None
    found = check(ctx)
    return found if isinstance(found, Chunking) else None


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
    factory = _named_or_dotted(spec.strip(), entry_points.SUITES, "suite", "--suite")
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


def suites_fitting(fits: Callable[[EnvSpec], bool]) -> list[str]:
    """The registered suites whose observations and actions `fits` accepts. A suite
    that cannot be built here fits nothing."""
    fitting = []
    for name in entry_points.available(entry_points.SUITES):
        try:
            spec = make_suite(name).env_spec
        except Exception:  # noqa: BLE001 - a hint, never a new failure
            continue
        if fits(spec):
            fitting.append(name)
    return fitting


def suite_hint(fits: Callable[[EnvSpec], bool]) -> str:
    """How a policy's line refusing a suite ends: the `--suite` whose cameras, state and
    actions it reads (`; pass --suite=libero_plus, ...`), or nothing if none does."""
    fitting = suites_fitting(fits)
    return f"; pass --suite={fitting[0]}, whose observations it reads" if fitting else ""


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
    found = entry_points.registered(group, spec)
    if found is None:
        names = ", ".join(entry_points.available(group)) or "none installed"
        raise UsageError(f"unknown {what} {spec!r} for {option} (searched the entry points "
                         f"of {sys.executable}); available: {names} (or module:callable)"
                         f"{_did_you_mean(spec, entry_points.available(group))}")
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


def _resolved_by_scheme(found: entry_points.EntryPoint, spec: str) -> PolicyFactory:
    try:
        resolve = found.load()
    except Exception as exc:  # noqa: BLE001 - a broken plugin package is the user's to fix
        raise UsageError(f"--policy {spec!r} needs the {found.name}: scheme ({found.value}), "
                         f"which cannot be imported: {one_line(exc)}") from None
    try:
        factory: PolicyFactory = resolve(spec)
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise UsageError(f"--policy {spec!r}: the {found.name}: scheme ({found.value}) "
                         f"failed: {one_line(exc)}") from None
    return factory


def _did_you_mean(word: str, names: list[str]) -> str:
    """Gymnasium's answer to a typo: the registered name closest to it, if any is close."""
    close = difflib.get_close_matches(word, names, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
