"""`thinktime serve` as its own process over a scripted backend whose every call takes a minute:
for tests that stop the server while a request is in flight.

    python tests/helpers/slow_serve.py MODE MARKS PORT

MODE `cancellable`: the call waits on its cancel event (as the embedded engine's tokens do);
MODE `stuck`: it ignores it (a backend that cannot be interrupted). The backend appends
`started` to the file MARKS when a call begins and `cancelled` when its cancel event stops it.
"""

import sys
import threading
import time
from pathlib import Path

from thinktime.backends.base import register_backend
from thinktime.backends.fake import FakeBackend
from thinktime.backends.options import NoOptions
from thinktime.cli import main

MARKS = Path(sys.argv[2])


def mark(word: str) -> None:
    with MARKS.open("a") as marks:
        marks.write(word + "\n")


class Slow(FakeBackend):
    def generate(self, requests, params):  # type: ignore[no-untyped-def]
        mark("started")
        time.sleep(60)
        return super().generate(requests, params)


class SlowCancellable(FakeBackend):
    def generate_until(self, requests, params, cancel):  # type: ignore[no-untyped-def]
        mark("started")
        if (cancel or threading.Event()).wait(60):
            mark("cancelled")
        return super().generate(requests, params)

    def generate_streamed(self, requests, params, cancel, on_delta):  # type: ignore[no-untyped-def]
        return self.generate_until(requests, params, cancel)  # a stream's first token never comes


@register_backend("slow", NoOptions)
def _factory(model: str, options: NoOptions) -> FakeBackend:
    return SlowCancellable() if model == "cancellable" else Slow()


if __name__ == "__main__":
    mode, port = sys.argv[1], sys.argv[3]
    sys.argv = ["thinktime", "serve", "-m", f"slow:{mode}", "--port", port]
    main()
