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
