"""Backend factories for the Ray sweep tests; pickled by value, so workers need not import tests.

`scripted` answers each question with its own number; `dying` does the same, slowly, and the
first worker to find the marker file removes it and kills its own process after a few calls —
exactly one worker dies mid-run, with items in flight.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

from thinktime.backends.fake import FakeBackend
from thinktime.types import Request


def answer(request: Request, index: int) -> str:
    """`Question N` → `\\boxed{N}` (so every stored answer can be checked against its question)."""
    text = request.messages[-1].content if request.messages else request.prompt or ""
    number = re.search(r"Question (\d+)", text)
    return f"Let me think. \\boxed{{{number.group(1) if number else 0}}}"


def scripted(model: str) -> FakeBackend:
    return FakeBackend(answer, name=model)


class Dying(FakeBackend):
    """Slow scripted answers; the worker that takes the marker dies on its `after`-th call."""

    def __init__(self, model: str, marker: str, after: int, delay: float) -> None:
        super().__init__(answer, name=model)
        self.marker, self.after, self.delay = Path(marker), after, delay
        self.count = 0
        self.lock = threading.Lock()

    def generate(self, requests, params):  # type: ignore[no-untyped-def]
        time.sleep(self.delay)
        with self.lock:
            self.count += 1
            doomed = self.count == self.after
        if doomed:
            try:
                self.marker.unlink()  # only one worker wins the marker
            except FileNotFoundError:
                pass
            else:
                os._exit(1)  # the worker process dies with items in flight
        return super().generate(requests, params)


def dying(marker: str, after: int = 4, delay: float = 0.05):  # type: ignore[no-untyped-def]
    """A factory whose backends die as above."""

    def make(model: str) -> Dying:
        return Dying(model, marker, after, delay)

    return make


def broken(model: str) -> FakeBackend:
    """A backend whose every call fails the way a refusing server does."""

    def refuse(request: Request, index: int) -> str:
        raise ValueError("the server refused the request")

    return FakeBackend(refuse, name=model)


def pid_answers(model: str) -> FakeBackend:
    """Answers with the worker's pid, so a test sees which worker solved what."""
    return FakeBackend(lambda request, index: f"\\boxed{{{os.getpid()}}}", name=model)
