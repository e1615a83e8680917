"""A case id is the case: printed in every report, typed back with -k, parsed by the
controller and the reports. Its parser is the exact inverse of the printer."""

from __future__ import annotations

import pytest

from pytest_wamrobust.core.model.types import CaseKey


@pytest.mark.parametrize("key", [
    CaseKey("tabletop", "lift_cube", "camera", 3, 7),
    CaseKey("libero_plus", "libero_10/put_both/the_soup", "clean", 0, 123),  # slashes in a task
    CaseKey("robotwin_plus", "stack-bowls", "robot_init", 5, 0),
])
def test_parse_is_the_inverse_of_case_id(key):
    assert CaseKey.parse(key.case_id) == key


@pytest.mark.parametrize("text", ["", "tabletop/lift_cube/camera/3/s07",
                                  "tabletop/lift_cube/camera/L3", "test_episode[x]"])
def test_what_is_not_a_case_id_parses_to_none(text):
    assert CaseKey.parse(text) is None


def test_a_suite_reading_the_old_selection_name_keeps_working_with_a_warning():
    from pytest_wamrobust.core.model.protocols import CaseSelection

    with pytest.warns(DeprecationWarning, match="CaseSelection.axes is now"):
        assert CaseSelection(settings=("clean", "camera")).axes == ("clean", "camera")
