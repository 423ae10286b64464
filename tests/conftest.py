"""Shared fixtures: a scripted backend for strategy logic, and the real embedded model.

The real model is loaded once per test session (`embedded`), so integration tests pay the
load once; they are marked `integration` and stay short (small max_tokens, short prompts).
"""

from __future__ import annotations

import pytest

from thinktime.backends.fake import FakeBackend

FARMER = (
    "A farmer has 3 baskets with 12 apples in each. He sells 10 apples at the market. "
    "How many apples does he have left?"
)


@pytest.fixture
def fake() -> type[FakeBackend]:
    return FakeBackend


@pytest.fixture(scope="session")
def embedded():
    """The embedded default model on the real llama.cpp engine, 4 parallel slots."""
    from thinktime.backends.llamacpp import LlamaCppBackend

    return LlamaCppBackend.from_reference("qwen2.5-coder-0.5b", n_parallel=4)


@pytest.fixture(scope="session")
def serve_url(embedded):
    """`thinktime serve` on loopback (uvicorn in a thread) over the real embedded model: its
    base URL (…/v1), for the official client and agent frameworks."""
    import socket
    import threading
    import time

    import uvicorn

    from thinktime.serve.app import ServerConfig, create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = ServerConfig(model="qwen2.5-coder-0.5b", default_max_tokens=256)
    app = create_app(embedded, config)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(timeout=10)
