"""Gather calls from many callers into one batch: how one model serves many episodes.

`wamrobust serve` (a thread per connection) and a Ray policy actor (coroutines) both
hand each request to a `Batcher`; its one worker thread takes the first waiting request,
waits up to `wait_ms` for more (up to `max_batch`, or until every registered caller has
one waiting), runs `run_batch(items)` once and gives each caller its own result. The
model is only ever called from that thread, so it needs no lock and calls are serialised
as on one GPU; with `max_batch=1` it is exactly a lock around single calls.

A failed batch is re-run one item at a time, so only the request at fault gets the error
and the other callers' episodes go on (a peer's bad observation must not fail them all);
`run_batch` must therefore leave its items unchanged when it raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batcher(Generic[Item, Result]):
    """`run_batch(items) -> results` (one per item, in order), called from one thread.

    `callers` (see `caller()`) is how many parties can have a request in flight: once
    that many wait, the batch runs without waiting out `wait_ms` (nobody else can come).
    """

    def __init__(self, run_batch: Callable[[list[Item]], Sequence[Result]], *,
                 max_batch: int = 1, wait_ms: float = 0.0, name: str = "batcher") -> None:
        if max_batch < 1 or not wait_ms >= 0:
            raise ValueError(f"max_batch must be >= 1 and wait_ms >= 0, got {max_batch}, "
                             f"{wait_ms}")
        self.max_batch = max_batch
        self.wait_ms = wait_ms
        #: How many batches of each size ran (for benchmarks and tests).
        self.batch_sizes: Counter[int] = Counter()
        self._run_batch = run_batch
        self._queue: queue.SimpleQueue[tuple[Item, Future[Result]] | None] = queue.SimpleQueue()
        self._callers = 0
        self._callers_lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Item) -> Future[Result]:
        """Queue `item`; the future holds its result or the exception its batch raised."""
        if self._closed:
            raise RuntimeError("the batcher is closed")
        future: Future[Result] = Future()
        self._queue.put((item, future))
        return future

    def call(self, item: Item) -> Result:
        """`item`'s result, blocking this thread until its batch has run."""
        return self.submit(item).result()

    async def acall(self, item: Item) -> Result:
        """`item`'s result, for a coroutine (the event loop keeps running meanwhile)."""
        return await asyncio.wrap_future(self.submit(item))

    @contextlib.contextmanager
    def caller(self) -> Iterator[None]:
        """Count one more party that may call (a connection, a simulator actor)."""
        with self._callers_lock:
            self._callers += 1
        try:
            yield
        finally:
            with self._callers_lock:
                self._callers -= 1

    def close(self) -> None:
        """Run what is queued, then stop the worker thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.wait_ms / 1000.0
            limit = min(self.max_batch, self._callers) if self._callers else self.max_batch
            while len(batch) < limit:
                timeout = deadline - time.monotonic()
                try:
                    nxt = self._queue.get(timeout=timeout) if timeout > 0 else \
                        self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:  # close: finish this batch, then stop
                    self._queue.put(None)
                    break
                batch.append(nxt)
            self._run([(item, future) for item, future in batch
                       if future.set_running_or_notify_cancel()])

    def _run(self, batch: list[tuple[Item, Future[Result]]]) -> None:
        if not batch:
            return
        try:
            results = self._run_batch([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"the policy returned {len(results)} results for a batch "
                                   f"of {len(batch)}")
        except Exception as exc:  # noqa: BLE001 - handed to the callers, never lost
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
                return
            for one in batch:  # find the request at fault; the others still get results
                self._run([one])
            return
        self.batch_sizes[len(batch)] += 1
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)
