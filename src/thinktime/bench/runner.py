"""Run a sweep: every model × strategy config over a task's problems, stored as it completes.

For each (model, config) the problems not yet in the store run concurrently — as many at once as
keep the engine's parallel slots full — through `thinktime.api.run_call`, with the config's
typed `Call` (parsed once, at the sweep's edge) as it is. Each result is graded with the
task's grader, every sample gets its own verdict, and all of it — with a step search's tree of
steps (`strategies/tree.py`) — is written in one transaction.
Re-running the same sweep skips what is stored, so an interrupted run resumes.

    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime.bench.store import Store
    >>> from thinktime.tasks import Problem, Task
    >>> task = Task("toy", [Problem("toy/0", "2+2?", "4")])
    >>> store = Store(":memory:")
    >>> run_sweep(task, {"fake": FakeBackend(["\\\\boxed{4}"])}, ["cot"], store)
    1
    >>> store.results()[0]["verdict"]
    'correct'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

from thinktime.agents.loop import run_agent
from thinktime.api import run_call
from thinktime.backends.base import Backend
from thinktime.bench.configs import Config, parse_config
from thinktime.bench.grading import diagnose
from thinktime.bench.store import SampleRow, StepRow, Store
from thinktime.call import Call
from thinktime.errors import ThinktimeError
from thinktime.sampling import sampling_params
from thinktime.strategies import get_strategy, strategies_that
from thinktime.strategies.tree import TreeNode, nodes_of
from thinktime.tasks import Problem, Task
from thinktime.types import Bill

Progress = Callable[[str, int, int, int], None]  # (label, done, total, tokens generated)
# one graded answer, ready for `Store.add`: the result's row, its samples, an agent's steps and
# a step search's tree
Graded = tuple[dict[str, Any], list[SampleRow], list[StepRow], list[TreeNode]]
# the bill's fields that become columns of a stored result
BILL_COLUMNS = (
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "verifier_tokens",
    "flops",
    "seconds",
    "engine_seconds",
)


def concurrency(samples: int, slots: int) -> int:
    """Questions in flight: enough to fill the slots, plus one queued, for a config whose
    strategy declares it holds `samples` samples at once per question (`Config.samples`).

    The extra question's samples wait in the engine's queue and take each slot a finished sample
    frees, so the slots stay busy while a question waits for its slowest sample.

        >>> concurrency(16, 16), concurrency(4, 16), concurrency(1, 16), concurrency(64, 16)
        (2, 5, 17, 2)
    """
    return -(-slots // max(samples, 1)) + 1


def solve_and_grade(
    task: Task,
    problem: Problem,
    backend: Backend,
    model: str,
    config: Config,
    max_tokens: int,
    seed: int | None,
) -> Graded:
    """Solve and grade one problem under one config: the result's row, its samples' rows,
    (for an agent) its steps' rows and (for a step search) its tree's nodes, ready for
    `Store.add` (a Ray worker returns them to the driver, which alone writes). The config's
    `Call` runs as it is, with the sweep's `max_tokens` and `seed` (checked at its edge)."""
    call = config.sweep_call(max_tokens, seed)
    if task.tools:  # a tool-using task: the problem is answered by an agent, step by step
        return run_agent_one(task, problem, backend, model, config, call)
    result = run_call(call, problem.question, backend)
    samples = []
    for sample in result.samples:
        score = task.grade(problem, sample.answer)
        verdict = diagnose(sample.text, sample.answer, sample.finish_reason, score)
        samples.append(
            SampleRow(
                sample.text,
                sample.answer,
                verdict,
                sample.finish_reason,
                sample.completion_tokens,
                sample.score,
                sample.confidence,
            )
        )
    chosen = result.samples[result.chosen] if result.chosen is not None else None
    verdict = diagnose(
        chosen.text if chosen else "",
        result.answer,
        chosen.finish_reason if chosen else "stop",
        task.grade(problem, result.answer),
    )
    return (
        result_row(task, problem, model, config, call, result.answer, verdict, result.bill),
        samples,
        [],
        nodes_of(result.details),
    )


def result_row(
    task: Task,
    problem: Problem,
    model: str,
    config: Config,
    call: Call,
    answer: str | None,
    verdict: str,
    bill: Bill,
) -> dict[str, Any]:
    """The stored row of one graded answer: the config as written, its items, and the
    validated call it ran (typed params, sampling, verifier), which reports read back."""
    spent = asdict(bill)
    return {
        "task": task.name,
        "question_id": problem.id,
        "model": model,
        "config": config.text,
        "strategy": config.strategy,
        "params": config.assignments,
        "call": call.record(),
        "gold": problem.gold,
        "question": problem.question,
        "question_hash": problem.fingerprint,
        "answer": answer,
        "verdict": verdict,
        **{column: spent[column] for column in BILL_COLUMNS},
    }


def forget_changed(store: Store, task: Task) -> list[str]:
    """Drop the stored verdicts of questions edited since they were run (they run again)."""
    return store.forget_changed(task.name, {p.id: (p.fingerprint, p.gold) for p in task.problems})


def run_one(
    task: Task,
    problem: Problem,
    backend: Backend,
    model: str,
    config: Config,
    store: Store,
    max_tokens: int,
    seed: int | None,
) -> int:
    """Solve, grade and store one problem under one config; returns the tokens it generated."""
    row, samples, steps, tree = solve_and_grade(
        task, problem, backend, model, config, max_tokens, seed
    )
    store.add(row, samples, steps, tree)
    return int(row["completion_tokens"])


def run_agent_one(
    task: Task,
    problem: Problem,
    backend: Backend,
    model: str,
    config: Config,
    call: Call,
) -> Graded:
    """Run one problem as a tool-using agent and grade its final answer: its row, no samples,
    every step (its candidate actions, vote, calls, results and bill) and no tree."""
    run = run_agent(problem.question, backend, tools=task.tools, strategy=call.strategy,
                    params=call.params, sampling=call.sampling,
                    first_tool_choice=task.first_tool_choice)  # fmt: skip
    last = run.steps[-1] if run.steps else None
    finish = "stop" if run.finished else "length"  # no final answer within the steps allowed
    verdict = diagnose(last.text if last else "", run.answer, finish,
                       task.grade(problem, run.answer))  # fmt: skip
    steps = [
        StepRow(json.dumps(step.actions), json.dumps(step.votes), step.action, step.changed,
                json.dumps([asdict(call) for call in step.calls]), json.dumps(step.outputs),
                step.text, step.bill.prompt_tokens, step.bill.completion_tokens,
                step.bill.samples)
        for step in run.steps
    ]  # fmt: skip
    return (
        result_row(task, problem, model, config, call, run.answer, verdict, run.bill),
        [],
        steps,
        [],
    )


def label(model: str, config: str) -> str:
    """The progress bar's name for a (model, config) sweep, one process or many."""
    return f"{model} · {config}"


def parsed_configs(configs: Sequence[str | Config]) -> list[Config]:
    """Each config as a validated `Config`: text is parsed here, at the sweep's edge, and a
    `Config` an edge above already parsed is used as it is (parsed once, passed down)."""
    return [c if isinstance(c, Config) else parse_config(c) for c in configs]


def check_sweep(max_tokens: int, seed: int | None) -> None:
    """Refuse a sweep's `max_tokens` or `seed` that no sample could take, before any compute
    (each item then sets them on its call as they are)."""
    sampling_params(max_tokens=max_tokens, seed=seed)


def run_sweep(
    task: Task,
    backends: Mapping[str, Backend],
    configs: Sequence[str | Config],
    store: Store,
    max_tokens: int = 512,
    seed: int | None = 0,
    slots: int = 16,
    progress: Progress | None = None,
) -> int:
    """Run what is missing; returns how many results were added. `configs` are config texts
    or `Config`s already parsed; every item of a config gets its typed params unchanged."""
    parsed = parsed_configs(configs)  # all checked before any compute
    check_sweep(max_tokens, seed)
    for config in parsed if task.tools else ():
        if not get_strategy(config.strategy).replies:
            raise ThinktimeError(
                f"task {task.name} is answered by a tool-using agent, and strategy "
                f"{config.strategy!r} cannot take tools; use one of: "
                f"{strategies_that(lambda s: s.replies)}"
            )
    forget_changed(store, task)
    added = 0
    for model, backend in backends.items():
        for config in parsed:
            done = store.done(task.name, model, config.text)
            todo = [p for p in task.problems if p.id not in done]
            name = label(model, config.text)
            finished = len(task.problems) - len(todo)
            tokens = 0
            if progress:
                progress(name, finished, len(task.problems), tokens)

            def work(
                problem: Problem,
                config: Config = config,
                model: str = model,
                backend: Backend = backend,
            ) -> int:
                return run_one(task, problem, backend, model, config, store, max_tokens, seed)

            with ThreadPoolExecutor(concurrency(config.samples, slots)) as pool:
                for spent in pool.map(work, todo):
                    finished += 1
                    added += 1
                    tokens += spent
                    if progress:
                        progress(name, finished, len(task.problems), tokens)
    return added
