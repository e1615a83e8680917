"""core.running.batcher: many callers (threads or coroutines), one batched call at a time."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pytest_wamrobust.core.running.batcher import Batcher


class Doubler:
    """run_batch: doubles every item, records each batch; "bad" fails whatever batch has it."""

    def __init__(self) -> None:
        self.batches: list[list[object]] = []

    def __call__(self, items: list[object]) -> list[object]:
        self.batches.append(list(items))
        if "bad" in items:
            raise ValueError("bad item")
        return [2 * item for item in items]  # type: ignore[operator]


def call_together(batcher: Batcher, items: list[object]) -> list[object]:
    """Each item from its own thread, all released at once; results (or errors) in order."""
    results: list[object] = [None] * len(items)
    start = threading.Barrier(len(items))

    def one(i: int) -> None:
        start.wait()
        try:
            results[i] = batcher.call(items[i])
        except ValueError as exc:
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(items))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def test_concurrent_calls_are_gathered_up_to_max_batch():
    run = Doubler()
    batcher = Batcher(run, max_batch=4, wait_ms=500)
    assert call_together(batcher, list(range(8))) == [2 * i for i in range(8)]
    batcher.close()
    assert sorted(len(b) for b in run.batches) == [4, 4] and batcher.batch_sizes == {4: 2}


def test_max_batch_one_is_one_call_at_a_time():
    run = Doubler()
    batcher = Batcher(run, max_batch=1, wait_ms=500)
    assert call_together(batcher, [1, 2, 3]) == [2, 4, 6]
    batcher.close()
    assert [len(b) for b in run.batches] == [1, 1, 1]


def test_a_batch_runs_once_every_registered_caller_waits():
    """Two callers registered: their two requests run together without waiting out 60 s."""
    run = Doubler()
    batcher = Batcher(run, max_batch=8, wait_ms=60_000)
    with batcher.caller(), batcher.caller():
        assert call_together(batcher, [5, 6]) == [10, 12]
    batcher.close()
    assert run.batches in ([[5, 6]], [[6, 5]])


def test_only_the_request_at_fault_gets_the_error():
    run = Doubler()
    batcher = Batcher(run, max_batch=3, wait_ms=500)
    results = call_together(batcher, [1, "bad", 3])
    batcher.close()
    assert results[0] == 2 and results[2] == 6
    assert isinstance(results[1], ValueError) and str(results[1]) == "bad item"
    assert len(run.batches[0]) == 3 and sorted(map(str, run.batches[1:])) == ["['bad']", "[1]",
                                                                              "[3]"]


def test_coroutines_share_batches_too():
    run = Doubler()
    batcher = Batcher(run, max_batch=4, wait_ms=500)

    async def main() -> list[object]:
        return list(await asyncio.gather(*(batcher.acall(i) for i in range(4))))

    assert asyncio.run(main()) == [0, 2, 4, 6]
    batcher.close()
    assert batcher.batch_sizes == {4: 1}


def test_a_wrong_number_of_results_is_an_error_not_a_hang():
    batcher = Batcher(lambda items: [], max_batch=1)
    with pytest.raises(RuntimeError, match="returned 0 results for a batch of 1"):
        batcher.call(1)
    batcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit(1)


@pytest.mark.parametrize(("max_batch", "wait_ms"), [(0, 0.0), (2, -1.0), (2, float("nan"))])
def test_bad_settings_are_refused(max_batch, wait_ms):
    with pytest.raises(ValueError, match="max_batch must be >= 1 and wait_ms >= 0"):
        Batcher(lambda items: items, max_batch=max_batch, wait_ms=wait_ms)
