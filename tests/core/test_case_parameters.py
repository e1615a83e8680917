"""Same (suite, task, setting, level, seed) => same perturbation, on any machine and with
any installed version: the parameters drawn today equal those recorded in the golden
run of the whole default grid (fixtures/junit/, written by a real pytest run). A
dependency upgrade that changes how Hypothesis draws fails here, not silently in a
user's comparison with last month's baseline."""

from pathlib import Path

from pytest_wamrobust.core.model.registry import make_suite
from pytest_wamrobust.records.junit import read_results

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures/junit/tabletop_scripted.xml"


def test_every_case_of_the_default_grid_draws_its_recorded_parameters():
    suite = make_suite("tabletop")
    recorded = read_results([GOLDEN])
    assert len(recorded) == 192
    for result in recorded:
        spec = suite.episode_spec(result.key)
        assert (dict(spec.params), spec.episode_seed) == (result.params, result.episode_seed), \
            result.key.case_id
