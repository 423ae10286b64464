"""How much of a run's compute is orchestration (Python) rather than the engine.

On a CPU-bound machine every CPU-second the harness spends — strategy logic, answer extraction,
grading with math-verify, SQLite writes, progress bars — is taken from the engine. So the
overhead is measured in CPU time: the process's CPU over the run, split by thread. Threads the
engine started natively (llama.cpp's server and compute threads) are not Python threads; every
other CPU-second (Python threads, including ones that finished during the run) is orchestration.
Work a Python thread does inside the engine's C API counts as orchestration too, so the share
is an upper bound.

    >>> with CpuMeter() as meter:
    ...     _ = sum(range(10_000))
    >>> 0.0 <= meter.orchestration_share <= 1.0
    True
"""

from __future__ import annotations

import threading
from typing import Any


def _native_cpu(process: Any) -> dict[int, float]:
    """CPU seconds of each thread that is not a Python thread, by thread id."""
    python = {t.native_id for t in threading.enumerate()}
    return {t.id: t.user_time + t.system_time for t in process.threads() if t.id not in python}


class CpuMeter:
    """Context manager: process CPU over the block, and the share outside engine threads."""

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()
        self.total = 0.0  # process CPU seconds over the block
        self.engine = 0.0  # of which in native (engine) threads

    def __enter__(self) -> CpuMeter:
        times = self._process.cpu_times()
        self._start_total = times.user + times.system
        self._start_native = _native_cpu(self._process)
        return self

    def __exit__(self, *_: object) -> None:
        times = self._process.cpu_times()
        self.total = times.user + times.system - self._start_total
        native = _native_cpu(self._process)
        self.engine = sum(cpu - self._start_native.get(tid, 0.0) for tid, cpu in native.items())

    @property
    def orchestration_share(self) -> float:
        return max(0.0, 1 - self.engine / self.total) if self.total > 0 else 0.0
