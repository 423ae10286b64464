"""A small store made by a scripted-backend sweep, for the viewer's tests.

Two models × {cot, self_consistency:n=4} over six toy questions; the script mixes verdicts:
for question i and sample k, (i + k) % 4 is 0 → a wrong number, 1 or 2 → right, 3 → no number
(unparseable).
"""

from __future__ import annotations

from pathlib import Path

from thinktime.backends.fake import FakeBackend
from thinktime.bench.runner import run_sweep
from thinktime.bench.store import Store
from thinktime.tasks import Problem, Task

QUESTIONS = 6
CONFIGS = ["cot", "self_consistency:n=4"]


def script(shift: int):
    def say(request, index):
        number = int(request.messages[-1].content.split()[0])
        kind = (number + index + shift) % 4
        if kind == 3:
            return "I am not sure how to add these."
        answer = number + 1 if kind else number + 7
        return f"We add one to {number}.\nSo the result is \\boxed{{{answer}}} and we stop."

    return say


def make_store(path: Path) -> Path:
    task = Task("toy", [Problem(f"toy/{i}", f"{i} + 1?", str(i + 1)) for i in range(QUESTIONS)])
    backends = {"fake-a": FakeBackend(script(0)), "fake-b": FakeBackend(script(1))}
    store = Store(path)
    run_sweep(task, backends, CONFIGS, store, max_tokens=64)
    store.close()
    return path
