"""The OpenAI-compatible backend against a mock transport: retries, n, per-choice counting."""

import json

import httpx2
import pytest

from thinktime.backends.openai_compat import OpenAIBackend
from thinktime.errors import BackendError
from thinktime.sampling import SamplingParams
from thinktime.types import Message, Request

REQ = Request(messages=(Message("user", "2+2?"),), n=3)


def chat_response(n: int, with_logprobs: bool, usage_tokens: int = 2) -> dict:
    choices = []
    for i in range(n):
        tokens = ["The", " answer", " is", f" {i}"][: 2 + i]
        logprobs = {"content": [{"token": t, "logprob": -0.1, "top_logprobs": []} for t in tokens]}
        choices.append(
            {
                "index": i,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "".join(tokens)},
                "logprobs": logprobs if with_logprobs else None,
            }
        )
    return {
        "id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": choices,
        "usage": {"prompt_tokens": 7, "completion_tokens": usage_tokens, "total_tokens": 9},
    }  # fmt: skip


def backend_with(handler, **options) -> OpenAIBackend:
    client = httpx2.Client(transport=httpx2.MockTransport(handler))
    return OpenAIBackend("m", base_url="http://test/v1", http_client=client, **options)


def test_uses_n_and_counts_each_choice_from_logprobs():
    seen = []

    def handler(request):
        body = json.loads(request.content)
        seen.append(body)
        return httpx2.Response(200, json=chat_response(body.get("n", 1), True, usage_tokens=2))

    [g] = backend_with(handler).generate([REQ], SamplingParams())
    assert len(seen) == 1 and seen[0]["n"] == 3
    # the server claimed 2 completion tokens for all three; we count 2, 3 and 4
    assert [c.completion_tokens for c in g.completions] == [2, 3, 4]
    assert (g.prompt_length, g.prompt_tokens) == (7, 7)


def test_falls_back_to_single_requests_without_logprobs():
    seen = []

    def handler(request):
        body = json.loads(request.content)
        seen.append(body.get("n", 1))
        return httpx2.Response(200, json=chat_response(body.get("n", 1), False, usage_tokens=5))

    [g] = backend_with(handler).generate([REQ], SamplingParams())
    assert seen == [3, 1, 1, 1]
    assert [c.completion_tokens for c in g.completions] == [5, 5, 5]
    assert g.prompt_tokens == 21  # the prompt was processed three times


def test_retries_429_and_5xx_then_succeeds():
    statuses = iter([429, 503, 200])

    def handler(request):
        status = next(statuses)
        if status != 200:
            return httpx2.Response(
                status, headers={"retry-after": "0"}, json={"error": {"message": "busy"}}
            )
        return httpx2.Response(200, json=chat_response(1, True))

    [g] = backend_with(handler).generate([Request(messages=REQ.messages)], SamplingParams())
    assert g.completions[0].text == "The answer"


def test_gives_up_with_a_clear_error():
    def handler(request):
        return httpx2.Response(400, json={"error": {"message": "bad model"}})

    with pytest.raises(BackendError, match="m at http://test/v1/ failed"):
        backend_with(handler, max_retries=0).generate([REQ], SamplingParams())


def _ignores_n(request):
    """A server like Ollama or many proxies: `n` and logprobs are ignored, one choice back."""
    return httpx2.Response(200, json=chat_response(1, False, usage_tokens=3))


def _in_thread(fn, seconds: float = 30.0):
    import threading

    out: list = []
    worker = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "deadlocked: generate never returned"
    return out[0]


def test_more_requests_in_flight_than_workers_do_not_deadlock():
    import threading
    from concurrent.futures import ThreadPoolExecutor

    # 2 requests of n=4 on 2 workers, and 17 concurrent callers of n=1 on the default 8:
    # both used to hang forever (pool threads waiting on tasks queued behind themselves)
    narrow = backend_with(_ignores_n, max_concurrency=2)
    both = _in_thread(lambda: narrow.generate([REQ, REQ], SamplingParams()))
    assert [len(g.completions) for g in both] == [3, 3]
    wide = backend_with(_ignores_n)
    one = Request(messages=REQ.messages)
    callers = ThreadPoolExecutor(max_workers=17)
    results = _in_thread(
        lambda: list(callers.map(lambda _: wide.generate([one], SamplingParams()), range(17)))
    )
    assert all(len(g.completions) == 1 for [g] in results)
    assert threading.active_count() < 200


def test_a_server_that_ignores_n_is_remembered_and_seeds_differ():
    seen: list = []

    def handler(request):
        body = json.loads(request.content)
        seen.append((body.get("n", 1), body.get("seed")))
        return httpx2.Response(200, json=chat_response(1, False, usage_tokens=3))

    backend = backend_with(handler)
    [g] = backend.generate([REQ], SamplingParams(seed=7))
    assert len(g.completions) == 3 and sorted(s for _, s in seen) == [7, 8, 9]
    seen.clear()
    backend.generate([REQ], SamplingParams(seed=7))
    assert [n for n, _ in seen] == [1, 1, 1]  # n is not asked again of a server that ignored it


def test_a_cancelled_request_gets_its_samples_marked_cancelled_without_a_call():
    import threading

    calls: list = []

    def handler(request):
        calls.append(request)
        return httpx2.Response(200, json=chat_response(1, False))

    cancel = threading.Event()
    cancel.set()
    [g] = backend_with(handler).generate_until([REQ], SamplingParams(), cancel)
    assert calls == [] and [c.finish_reason for c in g.completions] == ["cancelled"] * 3


# --- watched samples: a stream stopped mid-way is billed its prompt ------------------------


def _sse(chunks: list[dict]) -> httpx2.Response:
    text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return httpx2.Response(
        200, content=text.encode(), headers={"content-type": "text/event-stream"}
    )


def _streaming_server(seen: list, refuses_fields: bool = False):
    """A llama.cpp-like server: a streamed sample of three tokens whose usage (38 prompt
    tokens, 27 of them cached) comes last; asked, it also streams the prompt's counts as the
    call starts (`prompt_progress`, `timings`). `refuses_fields`: a 400 for those fields."""

    def handler(request):
        body = json.loads(request.content)
        seen.append(body)
        asked = "timings_per_token" in body
        if not body.get("stream"):
            return httpx2.Response(200, json=chat_response(body.get("n", 1), True))
        if asked and refuses_fields:
            return httpx2.Response(400, json={"error": {"message": "Unrecognized argument"}})
        head = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m"}
        token = {"token": "4", "logprob": -0.1, "top_logprobs": [{"token": "4", "logprob": -0.1}]}
        start = {"prompt_progress": {"total": 38, "cache": 27, "processed": 38}} if asked else {}
        chunks = [{**head, **start, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
        chunks += [{**head, "choices": [{"index": 0, "delta": {"content": "4"},
                                         "logprobs": {"content": [token]}}]}] * 3  # fmt: skip
        chunks.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        usage = {"prompt_tokens": 38, "completion_tokens": 3,
                 "prompt_tokens_details": {"cached_tokens": 27}}  # fmt: skip
        chunks.append({**head, "choices": [], "usage": usage})
        return _sse(chunks)

    return handler


WATCHED = Request(messages=(Message("user", "2+2?"),), n=4)
TOP = SamplingParams(top_logprobs=1)


def test_a_watched_batch_stopped_whole_is_billed_each_calls_prompt():
    seen: list = []
    backend = backend_with(_streaming_server(seen))
    g = backend.generate_watched(WATCHED, TOP, lambda i, t: True)  # every call stopped at once
    assert [c.finish_reason for c in g.completions] == ["cut"] * 4
    assert (g.prompt_length, g.prompt_tokens, g.cached_prompt_tokens) == (38, 4 * 38, 4 * 27)
    assert all(b["stream_options"]["continuous_usage_stats"] for b in seen)  # vLLM's ask too
    whole = backend.generate_watched(WATCHED, TOP, lambda i, t: False)
    assert (whole.prompt_tokens, whole.cached_prompt_tokens) == (4 * 38, 4 * 27)


def test_a_server_refusing_the_count_fields_is_asked_without_them_and_billed_a_known_length():
    seen: list = []
    backend = backend_with(_streaming_server(seen, refuses_fields=True), max_concurrency=1)
    g = backend.generate_watched(WATCHED, TOP, lambda i, t: i % 2 == 0)  # two stopped
    assert [c.finish_reason for c in g.completions] == ["cut", "stop", "cut", "stop"]
    assert g.prompt_tokens == 4 * 38  # the stopped two at the length their siblings reported
    assert sum("timings_per_token" in b for b in seen) == 1  # refused once, not asked again
    [warm] = backend.generate([WATCHED], TOP)  # a whole draw reports the prompt (7 tokens)
    assert warm.prompt_length == 7
    cut = backend.generate_watched(WATCHED, TOP, lambda i, t: True)  # every call stopped
    assert cut.prompt_tokens == 4 * 7  # the length the server last reported for this prompt
