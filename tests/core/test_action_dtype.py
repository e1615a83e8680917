"""Actions are real numbers: a chunk of bools, strings, objects or complex numbers is an
`invalid_action`, never cast to float without a word (True -> 1.0, "0.5" -> 0.5)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from pytest_wamrobust.core.model.errors import EpisodeError
from pytest_wamrobust.core.running.episode import validate_chunk


@pytest.mark.parametrize("chunk, dtype", [
    (np.ones((4, 7), dtype=bool), "bool"),
    ([["0.5"] * 7] * 4, "<U3"),
    (np.full((4, 7), 0.5 + 1j), "complex128"),
    (np.full((4, 7), 0.5, dtype=object), "object"),
    ([[0.5] * 6 + [None]] * 4, "object"),
])
def test_a_chunk_that_is_not_real_numbers_is_an_invalid_action(chunk, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # complex: no ComplexWarning on the way either
        with pytest.raises(EpisodeError) as info:
            validate_chunk(chunk, 7, "p")
    assert info.value.kind == "invalid_action"
    assert str(info.value) == (f"policy 'p' returned an action chunk of dtype {dtype}; actions "
                               f"are real numbers (an integer or float array)")


@pytest.mark.parametrize("chunk", [
    np.zeros((4, 7), dtype=np.float32),
    np.zeros((4, 7), dtype=np.int64),
    np.zeros((4, 7), dtype=np.uint8),
    [[0.0] * 7] * 4,
])
def test_integer_and_float_chunks_are_actions(chunk):
    array = validate_chunk(chunk, 7, "p")
    assert array.dtype == np.float64 and array.shape == (4, 7)
