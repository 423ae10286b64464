"""What the server's routes work with, in one explicit object: the backend, the config, the
admission, the metrics and the recent answers. `create_app` builds one and passes it to the
routes; nothing is global, so two apps in one process (as in the tests) never share state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from thinktime.backends.base import Backend
from thinktime.serve.admission import Admission
from thinktime.serve.config import ServerConfig
from thinktime.serve.metrics import Metrics
from thinktime.serve.recent import Recent
from thinktime.serve.schemas import Usage
from thinktime.types import Result


@dataclass(frozen=True)
class Service:
    """One app's dependencies; the routes read them, admission alone changes."""

    backend: Backend
    config: ServerConfig
    metrics: Metrics
    admission: Admission
    recent: Recent | None  # the answers `thinktime serve --view` shows (None: none kept)

    def count(self, usage: Usage) -> None:
        """Add a reply's tokens to the server's counters."""
        self.metrics.tokens.labels(kind="prompt").inc(usage.prompt_tokens)
        self.metrics.tokens.labels(kind="completion").inc(usage.completion_tokens)

    def recorder(self, model: str) -> Callable[[Result], None]:
        """Keep a request's answers in the ring buffer (a no-op without `--view`)."""

        def record(result: Result) -> None:
            if self.recent is not None:
                self.recent.add(model, result)

        return record
