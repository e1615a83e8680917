"""`module:callable` suites shaped like a third party's, for the start-up tests: the
tabletop scenes under another suite name (so no oracle is registered for it), and a
factory that reads `--suite-arg`s."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.sims.tabletop.suite import TabletopSuite, make_suite


def renamed_tabletop(name: str = "my_tabletop") -> TabletopSuite:
    """The tabletop suite as `name`: a suite no oracle is registered for."""
    suite = TabletopSuite(dataclasses.replace(make_suite().manifest, name=name))
    suite.env_spec = dataclasses.replace(suite.env_spec, suite=name)
    return suite


def no_oracle() -> TabletopSuite:
    return renamed_tabletop()


def with_options(options: Mapping[str, str]) -> TabletopSuite:
    """Reads `--suite-arg name=...`; refuses any other key in one line."""
    unknown = sorted(set(options) - {"name"})
    if unknown:
        raise UsageError(f"suite with_options does not take --suite-arg {', '.join(unknown)}; "
                         f"it takes: name")
    return renamed_tabletop(options.get("name", "my_tabletop"))
