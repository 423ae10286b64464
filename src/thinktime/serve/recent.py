"""The server's recent answers, kept in memory for `thinktime serve --view` (off by default).

A ring buffer of the last `size` answered choices — each `Result` whole: strategy, samples with
their reasoning, votes, bill, the strategy's details — so the viewer can show what the server
has been thinking. Nothing is written to disk; the oldest answer drops out when the buffer is full.

    >>> from thinktime.types import Result
    >>> recent = Recent(size=2)
    >>> for question in ("a", "b", "c"):
    ...     _ = recent.add("qwen", Result(question, "1", "cot", "qwen", ()))
    >>> [(e.id, e.result.question) for e in recent.items()]
    [(3, 'c'), (2, 'b')]
    >>> recent.get(1) is None
    True
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass

from thinktime.types import Result


@dataclass(frozen=True)
class Exchange:
    """One answered choice: when, under which served name, and its whole `Result`."""

    id: int  # 1, 2, 3, … in the order answers finished
    at: float  # unix seconds
    model: str  # the name the client sent (`qwen`, `self_consistency/qwen`)
    result: Result


class Recent:
    """Thread-safe ring buffer of the last `size` exchanges."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: deque[Exchange] = deque(maxlen=size)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, model: str, result: Result) -> Exchange:
        with self._lock:
            exchange = Exchange(next(self._ids), time.time(), model, result)
            self._items.append(exchange)
        return exchange

    def items(self) -> list[Exchange]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._items))

    def get(self, exchange_id: int) -> Exchange | None:
        return next((e for e in self.items() if e.id == exchange_id), None)
