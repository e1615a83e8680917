"""docs/suites.md's code holds: its manifest parses, its sampler snippet draws what
GridSuite draws, and its error lines are the ones printed."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from pytest_wamrobust.core.cases.grid_suite import GridSuite
from pytest_wamrobust.core.cases.manifest import SuiteManifest
from pytest_wamrobust.core.model import registry
from pytest_wamrobust.core.model.errors import UsageError
from pytest_wamrobust.core.model.protocols import CaseSelection, PolicyContext
from pytest_wamrobust.core.model.types import CameraSpec, CaseKey, EnvSpec, EpisodeSpec
from pytest_wamrobust.policies import scripted

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "suites.md").read_text()
EXAMPLE_SRC = REPO / "examples" / "wamrobust-example-suite" / "src"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.DOTALL)


def manifest() -> SuiteManifest:
    return SuiteManifest.from_dict(tomllib.loads(blocks("toml")[0]), source="docs/suites.md")


def test_the_manifest_of_the_doc_parses_with_its_defaults():
    m = manifest()
    assert m.name == "reach2d" and m.default_levels == (1, 3, 5) and m.default_seeds == 2
    assert m.thresholds == {"clean": 0.9, "overall": 0.5}
    assert m.axis_ranges["layout"].jitter_m.end == 0.3


def test_the_sampler_snippet_draws_what_grid_suite_draws():
    suite = GridSuite(manifest())
    snippet = next(b for b in blocks("python") if "sampling.draw" in b)
    for key in (CaseKey("reach2d", "reach_red", "layout", 3, 1),
                CaseKey("reach2d", "reach_red", "layout", 0, 0)):
        names = {"key": key, "task": suite.manifest.task(key.task), "EpisodeSpec": EpisodeSpec}
        exec(snippet, names)  # its overrides are the manifest's, so the draws must agree
        assert names["spec"] == suite.episode_spec(key)


def test_the_clean_rule_of_the_doc():
    suite = GridSuite(manifest())
    keys = list(suite.cases(CaseSelection(tasks=["reach_red"], settings=["clean", "camera"])))
    clean = [k for k in keys if k.setting == "clean"]
    assert {k.level for k in clean} == {0} and len(clean) == 2 * 3  # seeds x levels
    camera = {k: suite.episode_spec(k).episode_seed for k in keys if k.setting == "camera"}
    for key, seed in camera.items():
        assert seed == suite.episode_spec(CaseKey("reach2d", "reach_red", "clean", 0,
                                                  key.seed_index)).episode_seed


def test_the_error_lines_of_the_doc_are_the_printed_ones():
    lines = [line.removeprefix("ERROR: ") for b in blocks("text") for line in b.splitlines()]
    spec = EnvSpec("reach2d", (CameraSpec("top", 64, 64),), state_dim=2, action_dim=2,
                   control_hz=10.0)
    with pytest.raises(UsageError) as no_oracle:
        scripted.check_oracle(PolicyContext(spec))
    assert str(no_oracle.value) in lines
    with pytest.MonkeyPatch.context() as patch:  # the example's source, not installed
        patch.syspath_prepend(str(EXAMPLE_SRC))
        for options in ({"size": "32"}, {"image_size": "8"}):
            with pytest.raises(UsageError) as refused:
                registry.make_suite("wamrobust_example_suite:make_suite", options)
            assert str(refused.value) in lines
