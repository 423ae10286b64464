"""A bench sweep slow enough to interrupt or to overlap with another: the scripted backend sleeps
before every call. Used by tests that kill a sweep mid-run or run two on one store.

    python tests/helpers/slow_sweep.py STORE QUESTIONS SECONDS_PER_CALL [SLOTS]
"""

import sys
import time

from thinktime.backends.fake import FakeBackend
from thinktime.bench.runner import run_sweep
from thinktime.bench.store import Store
from thinktime.tasks import Problem, Task


class Slow(FakeBackend):
    def __init__(self, pause: float) -> None:
        super().__init__(["\\boxed{1}"])
        self.pause = pause

    def generate(self, requests, params):  # type: ignore[no-untyped-def]
        time.sleep(self.pause)
        return super().generate(requests, params)


def main() -> None:
    store, questions, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    slots = {"slots": int(sys.argv[4])} if len(sys.argv) > 4 else {}
    task = Task("toy", [Problem(f"toy/{i}", f"{i} + 1?", str(i + 1)) for i in range(questions)])
    run_sweep(task, {"fake": Slow(pause)}, ["self_consistency:n=4"], Store(store), **slots)


if __name__ == "__main__":
    main()
