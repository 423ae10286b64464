"""Admission: how many requests the server has taken on, the slots they run in, and the work in
flight — one object, made by `create_app` and passed to whatever needs it.

1) a request is admitted while fewer than `max_queue` are (`Admission.admit`); past that it
   gets 429. `thinktime_queue_depth` is the number admitted, set at every change;
2) an admitted request waits for one of `max_concurrent` slots (`Place.take_slot`) — the engine
   batches what runs at once;
3) each worker it starts is tracked with the event that cancels it (`Place.track`), so a server
   that stops can cancel every one (`Admission.stop`);
4) its place (and slot) is given back only once that work has really stopped
   (`Place.release`), so admission counts real load, not requests the client gave up on.

    >>> from prometheus_client import CollectorRegistry, Gauge
    >>> admission = Admission(1, 2, Gauge("depth", "", registry=CollectorRegistry()))
    >>> admission.admit(), admission.admit(), admission.admit()  # the third is over max_queue
    (True, True, False)
    >>> admission.leave(holding=False); admission.admitted
    1
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from prometheus_client import Gauge


class Admission:
    """The server's load: requests admitted, slots taken, the workers in flight."""

    def __init__(self, max_concurrent: int, max_queue: int, queue_depth: Gauge) -> None:
        self.max_queue = max_queue
        self.admitted = 0  # running or waiting for a slot; at most max_queue
        self.running = asyncio.Semaphore(max_concurrent)  # the slots
        self.queue_depth = queue_depth  # the gauge that shows `admitted`
        # the work in flight (worker threads' futures), each with the event that cancels it
        self.workers: dict[asyncio.Future[Any], threading.Event] = {}
        self._background: set[asyncio.Task[None]] = set()  # releases waiting on their work

    def admit(self) -> bool:
        """Take a request on, unless `max_queue` already are (then False: answer 429)."""
        if self.admitted >= self.max_queue:
            return False
        self.admitted += 1  # given back by `leave`, once the request's work has stopped
        self.queue_depth.set(self.admitted)
        return True

    def leave(self, holding: bool) -> None:
        """A request is done: free its slot (if `holding` one) and its place."""
        if holding:
            self.running.release()
        self.admitted -= 1
        self.queue_depth.set(self.admitted)

    def leave_when_done(self, tasks: list[asyncio.Future[Any]], holding: bool) -> None:
        """`leave` once `tasks` (a request's worker threads) have really stopped."""

        async def when_done() -> None:
            try:
                await asyncio.gather(*tasks, return_exceptions=True)
            finally:
                self.leave(holding)

        task = asyncio.get_running_loop().create_task(when_done())
        self._background.add(task)  # keep a reference until it ends
        task.add_done_callback(self._background.discard)

    def in_flight(self, work: asyncio.Future[Any], cancel: threading.Event) -> None:
        """Track `work` until it ends; setting `cancel` stops it at its next token."""
        self.workers[work] = cancel
        work.add_done_callback(lambda done: self.workers.pop(done, None))

    async def stop(self, wait: float) -> None:
        """The server stops: cancel the work in flight and give it `wait` seconds to end."""
        for cancel in set(self.workers.values()):
            cancel.set()
        if self.workers:
            await asyncio.wait(list(self.workers), timeout=wait)


class Place:
    """One admitted request's place: the slot it runs in once it has one, the work it started
    and the event that cancels that work. Released once, when that work has stopped."""

    def __init__(self, admission: Admission) -> None:
        self.admission = admission
        self.cancel = threading.Event()  # set: the request's work stops at its next token
        self.tasks: list[asyncio.Future[Any]] = []  # awaited before the place is given back
        self.holding = self.released = False

    async def take_slot(self) -> None:
        """Wait for one of the `max_concurrent` slots."""
        await self.admission.running.acquire()
        self.holding = True

    def track(self, work: asyncio.Future[Any]) -> None:
        """`work` is this request's: in flight (the server's stop cancels it) and awaited."""
        self.tasks.append(work)
        self.admission.in_flight(work, self.cancel)

    def release(self) -> None:
        """Stop whatever still runs and give the place (and slot) back once it has stopped."""
        if not self.released:
            self.released = True
            self.cancel.set()
            self.admission.leave_when_done(self.tasks, self.holding)
