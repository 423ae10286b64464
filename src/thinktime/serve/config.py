"""How one `thinktime serve` runs: the served name, the key, admission limits and the policy.

>>> ServerConfig(model="qwen", timeout=600).wall_seconds  # the policy's 300 s win
300.0
"""

from __future__ import annotations

from dataclasses import dataclass, field

from thinktime.serve.policy import ServerPolicy
from thinktime.serve.thinking import ReasoningField


@dataclass(frozen=True)
class ServerConfig:
    model: str  # the name clients send (`qwen`, or `STRATEGY/qwen`)
    api_key: str | None = None  # every route but /health needs it when set
    # without a key: the names, besides loopback, that a request's Host may carry (origin.py)
    allowed_hosts: frozenset[str] = frozenset()
    max_concurrent: int = 8  # requests running at once (the engine batches them)
    max_queue: int = 64  # requests admitted (running or waiting); beyond: 429
    timeout: float = 300.0  # wall seconds per request (504 after); the policy may lower it
    max_body_bytes: int = 1 << 20
    default_max_tokens: int = 1024  # one sample's cap when the client sets no smaller budget
    # the most a reasoning model thinks per sample (a request may ask for less); None: no cap.
    # Only for a backend that can cap thinking (`serve --max-thinking-tokens` checks it)
    max_thinking_tokens: int | None = None
    # the message and delta fields the thinking is sent in (`serve --reasoning-field`)
    reasoning_field: ReasoningField = "both"
    policy: ServerPolicy = field(default_factory=ServerPolicy)
    open_metrics: bool = False  # let a scraper read /metrics without the key
    recent: int = 0  # answers kept in memory for `serve --view` (0: none kept)
    # a verifier the policy allows that runs model code (program) may run it with process
    # limits alone where kernel isolation is missing (`serve --unsafe-exec`)
    unsafe_exec: bool = False

    @property
    def wall_seconds(self) -> float:
        """A request's time limit: the smaller of `timeout` and the policy's `max_seconds`."""
        return min(self.timeout, self.policy.max_seconds)
