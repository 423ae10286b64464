"""The embedded engine: llama.cpp's server running inside this process (xllamacpp).

llama.cpp keeps `n_parallel` sequence slots and batches every active slot into each decode step
(continuous batching). We use it two ways:
1. the n samples of one request go to the engine as one request with `"n": k`: the engine
   prefills the prompt once and forks it into k child sequences;
2. requests for different prompts are submitted from a thread pool at the same time, so their
   sequences share decode steps too.

The engine's `usage` counts one choice only when n > 1, so each choice's tokens are counted on
its own: from its logprobs when they were asked for, else by the model's tokenizer (the engine's
/tokenize endpoint, plus the end-of-turn token when generation stopped on it).

    >>> backend = LlamaCppBackend.from_reference("qwen2.5-coder-0.5b")  # doctest: +SKIP
    >>> backend.generate([Request(prompt="2+3=", n=4)], SamplingParams())  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import queue
import threading
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from thinktime.backends.base import register_backend
from thinktime.errors import BackendError, ModelError
from thinktime.models.card import ModelCard, read_card
from thinktime.models.resolve import resolve_model
from thinktime.sampling import SamplingParams
from thinktime.types import Completion, Generation, Message, Request, TokenLogprob


def parse_choice(choice: dict[str, Any]) -> Completion:
    """One OpenAI-shaped choice (chat or text) → `Completion`, counting its own tokens."""
    text = choice["message"]["content"] if "message" in choice else choice.get("text", "")
    content = (choice.get("logprobs") or {}).get("content")
    logprobs = None
    if content is not None:
        logprobs = tuple(
            TokenLogprob(
                token=item.get("token", ""),
                logprob=float(item.get("logprob", 0.0)),
                top=tuple(
                    (alt.get("token", ""), float(alt.get("logprob", 0.0)))
                    for alt in item.get("top_logprobs") or ()
                ),
            )
            for item in content
        )
    legacy = (choice.get("logprobs") or {}).get("tokens")  # /v1/completions' logprobs shape
    if logprobs is None and legacy is not None:
        logprobs = tuple(TokenLogprob(token=str(t), logprob=0.0) for t in legacy)
    count = len(logprobs) if logprobs is not None else -1
    pieces = tuple(t.token for t in logprobs) if logprobs is not None else None
    return Completion(text or "", choice.get("finish_reason") or "stop", count, logprobs, pieces)


def _piece_text(piece: str | list[int]) -> str:
    """A token's text; llama.cpp gives the raw bytes of a token that is not valid UTF-8 alone
    (part of a multi-byte character) as a list of ints — keep what decodes."""
    if isinstance(piece, str):
        return piece
    return bytes(piece).decode("utf-8", errors="ignore")


def request_body(request: Request, params: SamplingParams, n: int, seed: int | None) -> dict:
    """The OpenAI-style JSON body for one engine call."""
    body: dict[str, Any] = {
        "n": n,
        "max_tokens": params.max_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        # logprobs cost a softmax over the whole vocabulary per token (~14% of decode at n=8
        # on CPU), so ask only when wanted; llama.cpp reads top_logprobs=0 as "no logprobs"
        "logprobs": params.logprobs or params.top_logprobs > 0,
    }
    if params.top_logprobs:
        body["top_logprobs"] = params.top_logprobs
    if params.ignore_eos:
        body["ignore_eos"] = True
    if params.stop:
        body["stop"] = list(params.stop)
    if seed is not None:
        body["seed"] = seed
    if request.prompt is not None:
        body["prompt"] = request.prompt
    else:
        body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
    return body


class LlamaCppBackend:
    """llama.cpp in process, with parallel slots shared by all requests (see module docs)."""

    def __init__(
        self,
        model_path: Path,
        name: str,
        card: ModelCard | None = None,
        n_parallel: int = 8,
        context_per_sequence: int = 4096,
        n_threads: int | None = None,
    ) -> None:
        import xllamacpp

        self.name = name
        self.card = card
        self.n_parallel = n_parallel
        params = xllamacpp.CommonParams()
        params.model.path = str(model_path)
        # one KV cache shared by all slots, sized for every slot to hold a full sequence
        params.n_parallel = n_parallel
        params.kv_unified = True
        params.n_ctx = n_parallel * context_per_sequence
        threads = n_threads or os.cpu_count() or 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.cont_batching = True
        params.warmup = False
        params.endpoint_metrics = True
        params.verbosity = -1  # the engine logs every step to stderr otherwise
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:
            raise ModelError(f"llama.cpp could not load {model_path}: {exc}") from None
        self._pool = ThreadPoolExecutor(max_workers=n_parallel, thread_name_prefix="llamacpp")

    @classmethod
    def from_reference(cls, reference: str, **options: Any) -> LlamaCppBackend:
        """Resolve a model reference (short name, path, hf:…) and load it."""
        path = resolve_model(reference)
        name = reference if "/" not in reference else path.stem
        return cls(path, name=name, card=read_card(path), **options)

    @property
    def base_url(self) -> str:
        """The engine's own OpenAI-compatible HTTP endpoint on loopback (…/v1)."""
        return f"{self._server.listening_address}/v1"

    def _call(
        self,
        request: Request,
        params: SamplingParams,
        n: int,
        seed: int | None,
        cancel: threading.Event | None = None,
    ) -> tuple[dict, list[Completion]]:
        """One engine request; returns its usage and each choice, counted on its own.

        With `cancel`, the request runs streamed so that the engine asks, after every token,
        whether to go on: setting `cancel` frees its slots at the next decode step.
        """
        body = request_body(request, params, n, seed)
        handler = (
            self._server.handle_completions
            if request.prompt is not None
            else self._server.handle_chat_completions
        )
        response = handler(body) if cancel is None else _streamed(handler, body, cancel)
        if "error" in response:
            error = response["error"]
            raise BackendError(f"llama.cpp refused the request: {error.get('message', error)}")
        completions = []
        for choice in response["choices"]:
            completion = parse_choice(choice)
            if completion.completion_tokens < 0:  # no logprobs: count with the tokenizer
                pieces = self.tokenize(completion.text)
                count = len(pieces) + (completion.finish_reason == "stop")  # + end-of-turn
                completion = replace(completion, completion_tokens=count, tokens=pieces)
            completions.append(completion)
        return response.get("usage") or {}, completions

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> list[Generation]:
        return self.generate_until(requests, params, None)

    def generate_until(
        self, requests: Sequence[Request], params: SamplingParams, cancel: threading.Event | None
    ) -> list[Generation]:
        """`generate`, stopping every engine sequence of the call once `cancel` is set."""
        # 1) split each request's n samples into engine calls of at most n_parallel children
        jobs = []
        for index, request in enumerate(requests):
            for chunk, start in enumerate(range(0, request.n, self.n_parallel)):
                n = min(self.n_parallel, request.n - start)
                seed = None if params.seed is None else params.seed + chunk
                call = self._pool.submit(self._call, request, params, n, seed, cancel)
                jobs.append((index, call))
        # 2) every call is in flight at once, so the engine batches all their sequences
        completions: list[list[Completion]] = [[] for _ in requests]
        prompt_length = [0] * len(requests)
        prompt_tokens = [0] * len(requests)
        cached = [0] * len(requests)
        for index, future in jobs:
            usage, choices = future.result()
            length = int(usage.get("prompt_tokens", 0))
            prompt_length[index] = length
            prompt_tokens[index] += length
            cached[index] += int((usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0))
            completions[index].extend(choices)
        return [
            Generation(tuple(c), prompt_length[i], prompt_tokens[i], cached[i])
            for i, c in enumerate(completions)
        ]

    def _post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to one of the engine's own loopback endpoints (tokenize, apply-template)."""
        request = urllib.request.Request(
            f"{self._server.listening_address}/{endpoint}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return dict(json.loads(response.read()))

    def tokenize(self, text: str) -> tuple[str, ...]:
        """`text` split into the model's tokens (the engine's /tokenize endpoint), as strings."""
        if not text:
            return ()
        tokens = self._post("tokenize", {"content": text, "with_pieces": True})["tokens"]
        return tuple(_piece_text(t["piece"]) for t in tokens)

    def chat_prompt(self, messages: Sequence[Message]) -> str:
        """The model's chat template applied to `messages`, ending where the assistant speaks."""
        body = {"messages": [{"role": m.role, "content": m.content} for m in messages]}
        return str(self._post("apply-template", body)["prompt"])

    def stream(
        self, request: Request, params: SamplingParams, cancel: threading.Event | None = None
    ) -> Iterator[str]:
        """Yield one sample's text as the engine generates it; setting `cancel` stops it."""
        chunks: queue.Queue[dict[str, Any] | None] = queue.Queue()
        body = request_body(request, params, 1, params.seed)
        body.pop("n")
        body["stream"] = True

        def on_chunk(chunk: dict[str, Any]) -> bool:
            chunks.put(chunk)
            return bool(cancel is not None and cancel.is_set())  # True asks the engine to stop

        def run() -> None:
            try:
                if cancel is not None and cancel.is_set():
                    return  # cancelled while queued for a worker: start nothing
                handler = (
                    self._server.handle_completions
                    if request.prompt is not None
                    else self._server.handle_chat_completions
                )
                handler(body, on_chunk)
            finally:
                chunks.put(None)

        self._pool.submit(run)
        while (chunk := chunks.get()) is not None:
            if "error" in chunk:
                raise BackendError(f"llama.cpp refused the request: {chunk['error']}")
            for choice in chunk.get("choices", []):
                delta = (choice.get("delta") or {}).get("content") or choice.get("text")
                if delta:
                    yield delta

    def engine_stats(self) -> dict[str, float]:
        """llama.cpp's own counters (Prometheus names without the `llamacpp:` prefix)."""
        stats = {}
        for line in str(self._server.handle_metrics()).splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.partition(" ")
                stats[key.removeprefix("llamacpp:")] = float(value)
        return stats


def _streamed(handler: Any, body: dict[str, Any], cancel: threading.Event) -> dict[str, Any]:
    """Run `body` streamed, stopping when `cancel` is set; reassemble the non-streamed reply."""
    body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    texts: dict[int, list[str]] = {}
    logprobs: dict[int, list[dict[str, Any]]] = {}
    finish: dict[int, str] = {}
    reply: dict[str, Any] = {}

    def on_chunk(chunk: dict[str, Any]) -> bool:
        if "error" in chunk:
            reply["error"] = chunk["error"]
        reply["usage"] = chunk.get("usage") or reply.get("usage")
        for choice in chunk.get("choices", []):
            index = int(choice.get("index", 0))
            delta = (choice.get("delta") or {}).get("content") or choice.get("text") or ""
            texts.setdefault(index, []).append(delta)
            logprobs.setdefault(index, []).extend(
                (choice.get("logprobs") or {}).get("content") or []
            )
            if choice.get("finish_reason"):
                finish[index] = choice["finish_reason"]
        return cancel.is_set()  # True asks the engine to stop this request's sequences

    if not cancel.is_set():  # cancelled while queued for a worker: start nothing
        result = handler(body, on_chunk)
        if isinstance(result, dict) and "error" in result:  # refused before streaming
            reply["error"] = result["error"]
    if "error" in reply:
        return {"error": reply["error"]}
    asked = bool(body.get("logprobs"))
    choices = [
        {
            "message": {"content": "".join(texts.get(i, []))},
            "finish_reason": finish.get(i, "cancelled"),
            "logprobs": {"content": logprobs.get(i)} if asked and logprobs.get(i) else None,
        }
        for i in range(max(int(body.get("n", 1)), len(texts)))
    ]
    return {"choices": choices, "usage": reply.get("usage") or {}}


@register_backend("llamacpp")
def _factory(model: str, **options: Any) -> LlamaCppBackend:
    return LlamaCppBackend.from_reference(model, **options)
