"""The `--policy-arg` keys a policy factory reads, declared once next to the factory.

For a declared factory the registry rejects keys it does not read ("policy 'tiny-vla'
does not take --policy-arg foo; it takes: device, threads, weights") and parses the
values of those it does at start-up: a typo or a bad value is one line before any
episode, not an error in every case. Values are read through
PolicyContext's accessors, so every bad value is worded the same way.

    THREADS = policy_args.integer("threads", 1)

    @policy_args.declare(policy_args.DEVICE, THREADS)
    def make(ctx):
        return MyPolicy(threads=THREADS.read(ctx), device=policy_args.DEVICE.read(ctx))

A factory that declares nothing (a third party's module:callable) gets every option
unchecked, as it always has.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pytest_wamrobust.core.model.protocols import PolicyContext

#: The attribute `declare` sets on a factory.
ATTRIBUTE = "policy_args"

Factory = TypeVar("Factory")


@dataclass(frozen=True)
class PolicyArg:
    """One key: its name and how its value is read (default and bounds included)."""

    name: str
    read: Callable[[PolicyContext], Any]


def text(name: str, default: str | None = None) -> PolicyArg:
    return PolicyArg(name, lambda ctx: ctx.text(name, default))


def integer(name: str, default: int | None = None, *, minimum: int | None = 1) -> PolicyArg:
    return PolicyArg(name, lambda ctx: ctx.integer(name, default, minimum=minimum))


def number(name: str, default: float | None = None, *,
           minimum: float | None = None) -> PolicyArg:
    return PolicyArg(name, lambda ctx: ctx.number(name, default, minimum=minimum))


def seconds(name: str, default: float) -> PolicyArg:
    return PolicyArg(name, lambda ctx: ctx.seconds(name, default))


#: The torch device of an in-process model, checked to exist on this machine.
DEVICE = PolicyArg("device", lambda ctx: ctx.torch_device())


def declare(*args: PolicyArg) -> Callable[[Factory], Factory]:
    """Mark a factory (or adapter) with the keys it reads; returns the same object."""

    def mark(factory: Factory) -> Factory:
        setattr(factory, ATTRIBUTE, args)
        return factory

    return mark


def declared(factory: object) -> tuple[PolicyArg, ...] | None:
    """The keys a factory declared, or None if it declared none."""
    return getattr(factory, ATTRIBUTE, None)
