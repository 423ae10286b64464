"""Prometheus metrics of the server, on their own registry (one per app, so tests stay apart)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "thinktime_requests",
            "Chat requests by status code.",
            ["status"],
            registry=self.registry,
        )
        self.tokens = Counter(
            "thinktime_tokens",
            "Tokens by kind (prompt, completion).",
            ["kind"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "thinktime_queue_depth",
            "Requests admitted and not yet answered.",
            registry=self.registry,
        )
        self.latency = Histogram(
            "thinktime_request_seconds", "Wall time per answered request.", registry=self.registry,
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160),
        )  # fmt: skip
