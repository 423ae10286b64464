"""A sweep spread over Ray actors: each worker holds its own backend, only the driver writes.

`thinktime bench --ray --workers N` turns the sweep into work items — one (model, config,
question) each — and hands them to N Ray actors. A worker builds its backend on its own node
the first time it needs a model (the embedded engine there, or an OpenAI client to that node's
vLLM/SGLang server), then solves and grades each item it is given and returns the rows. The
driver writes every row to the SQLite store itself, so resume, grading and reports are the same
as a one-process sweep, and a store on one disk never sees two writers.

The algorithm, on the driver:
1. What is already stored is skipped (resume), as in `run_sweep`.
2. Each live worker is kept `concurrency(samples, slots)` items deep — enough to keep its
   engine's slots full — from one queue of items in (model, config) order, each next item
   going to the least loaded worker (so a sweep shorter than every worker's depth is shared).
3. `ray.wait` returns the first finished item; its rows are stored at once (a killed driver
   loses only the work in flight) and the worker gets the next item.
4. A worker that dies (its node lost, its process killed) fails every item it held with
   `RayActorError`: those items go back to the front of the queue for the other workers and a
   replacement worker is started, up to `restarts` times. Since only the driver stores, and it
   stores an item once, no item is lost or stored twice. A Python error in an item (a bug, a
   server refusing) stops the sweep as it does in one process.

    >>> from thinktime.bench.store import Store
    >>> from thinktime.tasks import Problem, Task
    >>> task = Task("toy", [Problem("toy/0", "2+2?", "4")])
    >>> store = Store(":memory:")
    >>> run_ray_sweep(task, ["fake"], ["cot"], store, workers=1)  # doctest: +SKIP
    1
"""

from __future__ import annotations

import os
import socket
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from thinktime.backends.base import Backend, make_backend
from thinktime.bench.configs import Config, parse_config
from thinktime.bench.runner import (
    Graded,
    Progress,
    check_sweep,
    concurrency,
    forget_changed,
    label,
    parsed_configs,
    solve_and_grade,
)
from thinktime.bench.store import Store
from thinktime.errors import ThinktimeError
from thinktime.tasks import Task

BackendFactory = Callable[[str], Backend]  # model spec → a backend, called on the worker


@dataclass(frozen=True)
class Item:
    """One unit of work: a question under one (model, config)."""

    model: str
    config: str
    question_id: str


@dataclass
class RaySweepStats:
    """What the driver saw: items stored, items retried after a worker died, workers lost."""

    stored: int = 0
    retried: int = 0
    workers_lost: int = 0


class SweepWorker:
    """The body of a Ray actor: solves and grades items with a backend built on its node.

    Made a Ray actor by `run_ray_sweep` (threaded: several items at once share the engine's
    slots), it is given the driver's parsed configs, so each item runs its config's typed
    `Call` as it is. Usable without Ray, which is how it is tested:

        >>> from thinktime.tasks import Problem, Task
        >>> worker = SweepWorker(Task("toy", [Problem("toy/0", "2+2?", "4")]), 64, 0)
        >>> row, samples, steps, tree = worker.run(Item("fake", "cot", "toy/0"))
        >>> row["question_id"], len(samples)
        ('toy/0', 1)
    """

    def __init__(
        self,
        task: Task,
        max_tokens: int,
        seed: int | None,
        factory: BackendFactory | None = None,
        hints: Mapping[str, object] | None = None,
        configs: Mapping[str, Config] | None = None,
    ) -> None:
        self.task = task
        self.problems = {p.id: p for p in task.problems}
        self.max_tokens, self.seed = max_tokens, seed
        self.hints = dict(hints or {})
        self.factory = factory
        # the driver's parsed configs (text → Config); one not given is parsed on first use
        self.configs: dict[str, Config] = dict(configs or {})
        self.built: dict[str, Backend] = {}

    def backend(self, model: str) -> Backend:
        """The worker's backend for `model`, built once (the embedded engine loads once)."""
        if model not in self.built:
            make = self.factory or (lambda spec: make_backend(spec, hints=self.hints))
            self.built[model] = make(model)
        return self.built[model]

    def run(self, item: Item) -> Graded:
        config = self.configs.get(item.config) or parse_config(item.config)
        self.configs[item.config] = config
        problem = self.problems[item.question_id]
        backend = self.backend(item.model)
        return solve_and_grade(
            self.task, problem, backend, item.model, config, self.max_tokens, self.seed
        )

    def where(self) -> str:
        """host:pid of this worker (for logs and for the tests that kill one)."""
        return f"{socket.gethostname()}:{os.getpid()}"


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ThinktimeError(
            "--ray needs Ray: pip install 'thinktime[ray]' (or pip install ray)"
        ) from None
    return ray


def connect(address: str | None, workers: int, cpus_per_worker: float) -> Any:
    """Join the cluster at `address`, or start a local one sized for the workers."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            cpus = max(workers * cpus_per_worker, 1)
            ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        raise ThinktimeError(f"cannot start or reach {where}: {exc}") from None
    return ray


def run_ray_sweep(
    task: Task,
    models: Sequence[str],
    configs: Sequence[str | Config],
    store: Store,
    *,
    workers: int,
    address: str | None = None,
    max_tokens: int = 512,
    seed: int | None = 0,
    slots: int = 16,
    cpus_per_worker: float = 1.0,
    hints: Mapping[str, object] | None = None,
    factory: BackendFactory | None = None,
    restarts: int | None = None,
    progress: Progress | None = None,
    stats: RaySweepStats | None = None,
) -> int:
    """Run what is missing on `workers` Ray actors; returns how many results were added.

    `hints` size each worker's backend (slots, threads); `factory` replaces `make_backend` on
    the workers (tests pass scripted backends); `restarts` bounds replacement workers (default:
    as many as there are workers).
    """
    if workers < 1:
        raise ThinktimeError(f"--workers must be at least 1, got {workers}")
    # all checked before any compute; each worker is given them parsed, never parses again
    parsed = {config.text: config for config in parsed_configs(configs)}
    check_sweep(max_tokens, seed)
    ray = connect(address, workers, cpus_per_worker)
    stats = stats if stats is not None else RaySweepStats()
    queue: deque[Item] = deque()
    totals: dict[str, list[int]] = {}  # label → [done, total, tokens]
    forget_changed(store, task)
    for model in models:
        for text in parsed:
            done = store.done(task.name, model, text)
            totals[label(model, text)] = [len(done), len(task.problems), 0]
            queue.extend(Item(model, text, p.id) for p in task.problems if p.id not in done)
    if progress:
        for name, counts in totals.items():
            progress(name, *counts)

    # SPREAD: one worker per node where the cluster has the nodes (each next to its engine)
    actor_class = ray.remote(SweepWorker).options(
        num_cpus=cpus_per_worker,
        max_concurrency=slots + 1,
        max_restarts=0,
        scheduling_strategy="SPREAD",
    )

    def start() -> Any:
        return actor_class.remote(task, max_tokens, seed, factory, hints, parsed)

    actors = {i: start() for i in range(workers)}
    spare = workers if restarts is None else restarts
    pending: dict[Any, tuple[int, Item]] = {}  # object ref → (worker, item)
    load = dict.fromkeys(actors, 0)
    added = 0
    try:
        while queue or pending:
            # keep each live worker as deep as the next item's config needs, the least
            # loaded first, so a short sweep is shared by every worker
            while queue:
                depth = concurrency(parsed[queue[0].config].samples, slots)
                room = [worker for worker in actors if load[worker] < depth]
                if not room:
                    break
                worker = min(room, key=load.__getitem__)
                item = queue.popleft()
                pending[actors[worker].run.remote(item)] = (worker, item)
                load[worker] += 1
            if not pending:
                raise ThinktimeError("every Ray worker died; run again to resume")
            ready, _ = ray.wait(list(pending), num_returns=1)
            worker, item = pending.pop(ready[0])
            load[worker] -= 1
            try:
                row, samples, steps, tree = ray.get(ready[0])
            except ray.exceptions.RayActorError:
                queue.appendleft(item)  # retried on another worker, stored only once
                stats.retried += 1
                if worker in actors:  # the first of its items to fail: replace the worker
                    del actors[worker]
                    stats.workers_lost += 1
                    if spare > 0:
                        spare -= 1
                        fresh = max(load) + 1
                        actors[fresh], load[fresh] = start(), 0
                continue
            except ray.exceptions.RayTaskError as exc:
                raise ThinktimeError(
                    f"{item.model} · {item.config} · {item.question_id} failed on a worker: "
                    f"{exc.cause if exc.cause is not None else exc}"
                ) from None
            store.add(row, samples, steps, tree)
            added += 1
            stats.stored += 1
            counts = totals[label(item.model, item.config)]
            counts[0] += 1
            counts[2] += int(row["completion_tokens"] or 0)
            if progress:
                progress(label(item.model, item.config), *counts)
    finally:
        for actor in actors.values():
            ray.kill(actor)
    return added
