"""The OpenAI-compatible backend against real server processes on loopback, under load.

Fixtures start llama.cpp's own HTTP server running the embedded GGUF in a process of its own
(`helpers/llama_server.py`), and a proxy in front of it that ignores `n` and logprobs as Ollama
and many proxies do (`helpers/ignoring_proxy.py`). 64 requests are in flight at once, with n
from 1 to 8, through a client with 8 workers — more requests than workers, the load that used
to deadlock — and the bill must equal the engine's own counters (`/metrics`) within 2%.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from thinktime.backends.openai_compat import OpenAIBackend
from thinktime.compute.ledger import Ledger
from thinktime.sampling import SamplingParams
from thinktime.types import Bill, Message, Request

pytestmark = pytest.mark.integration
HELPERS = Path(__file__).parents[1] / "helpers"
IN_FLIGHT = 64
QUESTIONS = [f"What is {a} + {b}? Answer with the number." for a in range(8) for b in range(8)]


def _start(*argv: str) -> tuple[subprocess.Popen[str], str]:
    """A helper server process and the address it prints once it listens."""
    process = subprocess.Popen(
        [sys.executable, *argv], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    address = process.stdout.readline().strip()
    assert address.startswith("http"), "the server process did not start"
    return process, address


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    from thinktime.models.resolve import resolve_model

    process, address = _start(
        str(HELPERS / "llama_server.py"), str(resolve_model("qwen2.5-coder-0.5b")), "8"
    )
    yield address
    process.kill()
    process.wait()


@pytest.fixture(scope="module")
def ignoring_proxy(llama_server: str) -> Iterator[str]:
    process, address = _start(str(HELPERS / "ignoring_proxy.py"), llama_server + "/v1")
    yield address
    process.kill()
    process.wait()


def engine_counters(address: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{address}/metrics", timeout=30) as response:
        text = response.read().decode()
    counters = {}
    for line in text.splitlines():
        if line.startswith("llamacpp:") and " " in line:
            name, _, value = line.partition(" ")
            counters[name.removeprefix("llamacpp:")] = float(value)
    return counters


def in_flight(backend: OpenAIBackend) -> list[Bill]:
    """64 requests at once, n = 1 … 8, each metered by its own ledger; fails on a deadlock."""

    def one(i: int) -> Bill:
        ledger = Ledger(backend)
        request = Request(messages=(Message("user", QUESTIONS[i]),), n=1 + i % 8)
        ledger.generate([request], SamplingParams(max_tokens=8, temperature=0.8, seed=i))
        return ledger.bill()

    bills: list[Bill] = []

    def run() -> None:
        with ThreadPoolExecutor(max_workers=IN_FLIGHT) as callers:
            bills.extend(callers.map(one, range(IN_FLIGHT)))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(600)
    assert not worker.is_alive(), "deadlocked: the requests never finished"
    return bills


def assert_bill_matches_engine(bills: list[Bill], before: dict, after: dict) -> None:
    samples = sum(b.samples for b in bills)
    assert samples == sum(1 + i % 8 for i in range(IN_FLIGHT))
    predicted = after["tokens_predicted_total"] - before["tokens_predicted_total"]
    billed = sum(b.completion_tokens for b in bills)
    print(f"billed/engine: completion {billed}/{predicted:.0f}", end=" ")
    assert abs(billed - predicted) <= 0.02 * predicted, (billed, predicted)
    processed = after["prompt_tokens_total"] - before["prompt_tokens_total"]
    prefilled = sum(b.prompt_tokens - b.cached_prompt_tokens for b in bills)
    print(f"prefill {prefilled}/{processed:.0f}")
    assert abs(prefilled - processed) <= 0.02 * processed, (prefilled, processed)


def test_llama_server_honouring_n(llama_server: str) -> None:
    backend = OpenAIBackend("qwen", base_url=llama_server + "/v1", max_concurrency=8)
    before = engine_counters(llama_server)
    bills = in_flight(backend)
    assert_bill_matches_engine(bills, before, engine_counters(llama_server))


def test_a_server_that_ignores_n_and_logprobs(llama_server: str, ignoring_proxy: str) -> None:
    backend = OpenAIBackend("qwen", base_url=ignoring_proxy, max_concurrency=8)
    before = engine_counters(llama_server)
    bills = in_flight(backend)
    assert_bill_matches_engine(bills, before, engine_counters(llama_server))


def test_one_streamed_sample_is_stopped_on_a_real_server(llama_server: str) -> None:
    """DeepConf's online stop through any OpenAI-compatible server: sample 1 is closed at its
    5th token, the others run on, and the server stops generating it (its counters say so)."""
    backend = OpenAIBackend("qwen", base_url=llama_server + "/v1", max_concurrency=8)

    def watch(index: int, token: object) -> bool:
        seen[index] = seen.get(index, 0) + 1
        return index == 1 and seen[index] == 5

    seen: dict[int, int] = {}
    request = Request(messages=(Message("user", QUESTIONS[9] + " Explain step by step."),), n=3)
    params = SamplingParams(max_tokens=96, top_logprobs=20, seed=1, ignore_eos=True)
    before = engine_counters(llama_server)
    generation = backend.generate_watched(request, params, watch)
    after = engine_counters(llama_server)
    first, cut, third = generation.completions
    assert cut.finish_reason == "cut" and cut.completion_tokens == 5
    assert generation.prompt_tokens == 3 * generation.prompt_length > 0  # the cut one's too
    assert first.completion_tokens == third.completion_tokens == 96  # ignore_eos: all of them
    assert all(len(t.top) == 20 for t in first.logprobs or ())
    predicted = after["tokens_predicted_total"] - before["tokens_predicted_total"]
    # the server noticed the closed stream within a few tokens, not after all 96
    assert 2 * 96 + 5 <= predicted <= 2 * 96 + 5 + 16, predicted


def test_a_watched_batch_stopped_whole_is_billed_what_the_server_prefilled(
    llama_server: str,
) -> None:
    """Every streamed sample closed at its first token: llama.cpp's server never sends their
    final usage, but it streamed each call's prompt counts as it started (the backend asks),
    so the bill has every call's prompt, computed and cached, as the server's counters do."""
    backend = OpenAIBackend("qwen", base_url=llama_server + "/v1", max_concurrency=8)
    request = Request(messages=(Message("user", QUESTIONS[21] + " Explain step by step."),), n=3)
    params = SamplingParams(max_tokens=32, top_logprobs=20, seed=2)
    before = engine_counters(llama_server)
    generation = backend.generate_watched(request, params, lambda index, token: True)
    after = engine_counters(llama_server)
    assert [c.finish_reason for c in generation.completions] == ["cut"] * 3
    assert generation.prompt_tokens == 3 * generation.prompt_length > 0
    prefilled = after["prompt_tokens_total"] - before["prompt_tokens_total"]
    cached = after["prompt_tokens_cached_total"] - before["prompt_tokens_cached_total"]
    assert generation.prompt_tokens - generation.cached_prompt_tokens == prefilled
    assert generation.cached_prompt_tokens == cached
