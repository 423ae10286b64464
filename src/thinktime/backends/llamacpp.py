"""The embedded engine: llama.cpp's server running inside this process (xllamacpp).

llama.cpp keeps `n_parallel` sequence slots and batches every active slot into each decode step
(continuous batching). We use it two ways:
1. the n samples of one request go to the engine as one request with `"n": k`: the engine
   prefills the prompt once and forks it into k child sequences;
2. requests for different prompts are submitted from a thread pool at the same time, so their
   sequences share decode steps too.

The engine's `usage` counts one choice only when n > 1, so each choice's tokens are counted on
its own: from its logprobs when they were asked for, else by the model's tokenizer (the engine's
/tokenize endpoint, plus the end-of-turn token when generation stopped on it). A reasoning
model's thinking (`think_tags` in the content, or llama.cpp's own `reasoning_content`) is split
off each chat choice by the wire codec, and counted with the rest.

    >>> backend = LlamaCppBackend.from_reference("qwen2.5-coder-0.5b")  # doctest: +SKIP
    >>> backend.generate([Request(prompt="2+3=", n=4)], SamplingParams())  # doctest: +SKIP
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from thinktime.backends.base import DEFAULT_SEED_STRIDE, OnDelta, Watch, register_backend
from thinktime.backends.llamacpp_options import LlamaCppOptions, engine_params
from thinktime.backends.llamacpp_stream import streamed
from thinktime.backends.llamacpp_thinking import budget_fields, budget_tags, force_end, forcing
from thinktime.backends.thinking import THINK, ThinkTags, reasoning_usage
from thinktime.backends.toolcalls import constrained_body, parse_tool_calls
from thinktime.backends.wire import (
    generated_text,
    parse_choice,
    piece_text,
    prompt_usage,
    request_body,
    watched_generation,
)
from thinktime.errors import BackendError, ModelError
from thinktime.models.card import ModelCard, read_card
from thinktime.models.lora import check_adapter
from thinktime.models.resolve import resolve_adapters, resolve_model
from thinktime.models.resolve import thinks as model_thinks
from thinktime.sampling import SamplingParams
from thinktime.types import Completion, Generation, Message, Request, TokenLogprob


def _numbered(watch: Watch, k: int, _: int, token: TokenLogprob) -> bool:
    return watch(k, token)  # a one-sample call numbers its only choice 0: it is sample k


class LlamaCppBackend:
    """llama.cpp in process, with parallel slots shared by all requests (see module docs)."""

    seed_stride = DEFAULT_SEED_STRIDE  # chunk k of a call samples with seed + k (DerivesSeeds)
    constrains_output = True  # response_format and forced calls by its grammar (ConstrainsOutput)

    def __init__(
        self,
        model_path: Path,
        name: str,
        card: ModelCard | None = None,
        n_parallel: int = 8,
        context_per_sequence: int = 4096,
        n_threads: int | None = None,
        think_tags: ThinkTags | None = THINK,
        kv_unified: bool = False,
        flash_attention: bool = True,
        lora: Sequence[Path] = (),
        lora_scale: float = 1.0,
        thinks: bool | None = None,
        draft: str | None = None,
        draft_max: int | None = None,
        draft_min: int | None = None,
    ) -> None:
        import xllamacpp

        for adapter in lora:  # one line, before loading, for an adapter of another base
            check_adapter(Path(adapter), Path(model_path))

        self.name = name
        self.think_tags = think_tags
        # llama.cpp's reasoning budget caps thinking per request, for a model that thinks in
        # known tags (a model that does not would have nothing capped: `max_thinking_tokens` is
        # then refused, and budget_forcing forces the cap itself)
        capped = think_tags is not None and thinks is not False
        self.thinking_budget_field = "reasoning_budget_tokens" if capped else None
        self.card = card
        self.n_parallel = n_parallel
        params = engine_params(
            model_path, n_parallel, context_per_sequence, n_threads, kv_unified,
            flash_attention, lora, lora_scale, draft, draft_max, draft_min,
        )  # fmt: skip
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:
            raise ModelError(f"llama.cpp could not load {model_path}: {exc}") from None
        self._budget_tags = budget_tags(think_tags, self.tokenize)  # as the model's tokens show
        self._pool = ThreadPoolExecutor(max_workers=n_parallel, thread_name_prefix="llamacpp")

    @classmethod
    def from_reference(cls, reference: str, **options: Any) -> LlamaCppBackend:
        """Resolve a model reference (short name, path, hf:…) and load it, with the LoRA
        adapter a known base + adapter model brings applied before any in `options`."""
        path = resolve_model(reference)
        name = reference if "/" not in reference else path.stem
        options["lora"] = (*resolve_adapters(reference), *options.get("lora", ()))
        if options.get("thinks") is None:
            tags = options.get("think_tags", THINK)
            options["thinks"] = tags is not None and model_thinks(reference, path, tags.open)
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
        on_delta: OnDelta | None = None,
        watch: Watch | None = None,
    ) -> tuple[dict, list[Completion]]:
        """One engine request; returns its usage and each choice, counted on its own.

        With `cancel` (or `on_delta`), the request runs streamed so that the engine asks, after
        every token, whether to go on: setting `cancel` frees its slots at the next decode
        step; `on_delta` sees each choice's text as it is made.
        """
        if forcing(request, params, self.think_tags):  # s1's way (llamacpp_thinking.py)
            again = partial(self._call, cancel=cancel, watch=watch)
            return force_end(again, request, params, n, seed, self.think_tags, on_delta)
        # a call that must be made is held to its schema by the engine's grammar
        body = constrained_body(request_body(request, params, n, seed), request.reply_format)
        if params.max_thinking_tokens is not None:  # the engine's reasoning budget: the cap
            body.update(budget_fields(params.max_thinking_tokens, self._budget_tags, self.name))
        handler = self._handler(request)
        was_streamed = not (cancel is None and on_delta is None and watch is None)
        try:
            if not was_streamed:
                response = handler(body)
            else:
                response = streamed(handler, body, cancel or threading.Event(), on_delta, watch)
        except (ValueError, RuntimeError) as exc:  # e.g. a schema its grammar cannot take
            raise BackendError(f"llama.cpp refused the request: {exc}") from None
        if "error" in response:
            error = response["error"]
            raise BackendError(f"llama.cpp refused the request: {error.get('message', error)}")
        usage = response.get("usage") or {}
        completions = []
        for choice in response["choices"]:
            completion = parse_choice(choice, self.think_tags)
            if was_streamed and completion.logprobs and completion.finish_reason == "stop":
                # a stream carries no logprob for the end-of-turn token the engine generated
                # (a non-streamed reply does): count it, as the engine's own counter does
                completion = replace(completion, completion_tokens=completion.completion_tokens + 1)
            if completion.completion_tokens < 0:  # no logprobs: count with the tokenizer
                pieces = self.tokenize(generated_text(choice))  # the thinking too
                count = len(pieces) + (completion.finish_reason == "stop")  # + end-of-turn
                completion = replace(completion, completion_tokens=count, tokens=pieces)
            if n == 1:  # usage is this choice's own: keep the engine's thinking count, if any
                completion = replace(completion, reasoning_tokens=reasoning_usage(usage))
            fmt = request.reply_format
            if fmt is not None and not completion.tool_calls:  # calls the engine left as text
                text, calls = parse_tool_calls(completion.text, fmt)
                completion = replace(completion, text=text, tool_calls=calls)
            completions.append(completion)
        return usage, completions

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> list[Generation]:
        return self.generate_until(requests, params, None)

    def generate_streamed(
        self,
        requests: Sequence[Request],
        params: SamplingParams,
        cancel: threading.Event | None,
        on_delta: OnDelta,
    ) -> list[Generation]:
        """`generate_until`, telling `on_delta(choice, text)` each piece as the engine makes it."""
        return self.generate_until(requests, params, cancel, on_delta)

    def generate_until(
        self,
        requests: Sequence[Request],
        params: SamplingParams,
        cancel: threading.Event | None,
        on_delta: OnDelta | None = None,
    ) -> list[Generation]:
        """`generate`, stopping every engine sequence of the call once `cancel` is set."""
        # 1) split each request's n samples into engine calls of at most n_parallel children
        jobs = []
        for index, request in enumerate(requests):
            for chunk, start in enumerate(range(0, request.n, self.n_parallel)):
                n = min(self.n_parallel, request.n - start)
                seed = None if params.seed is None else params.seed + chunk
                call = self._pool.submit(self._call, request, params, n, seed, cancel, on_delta)
                jobs.append((index, call))
        # 2) every call is in flight at once, so the engine batches all their sequences
        completions: list[list[Completion]] = [[] for _ in requests]
        prompt_length = [0] * len(requests)
        prompt_tokens = [0] * len(requests)
        cached = [0] * len(requests)
        for index, future in jobs:
            usage, choices = future.result()
            length, reused = prompt_usage(usage)
            prompt_length[index] = length
            prompt_tokens[index] += length
            cached[index] += reused
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
        return tuple(piece_text(t["piece"]) for t in tokens)

    def chat_prompt(self, messages: Sequence[Message]) -> str:
        """The model's chat template applied to `messages`, ending where the assistant speaks."""
        body = {"messages": [{"role": m.role, "content": m.content} for m in messages]}
        return str(self._post("apply-template", body)["prompt"])

    def _handler(self, request: Request) -> Any:
        """The engine's entry point for a raw-text or a chat request."""
        if request.prompt is not None:
            return self._server.handle_completions
        return self._server.handle_chat_completions

    def generate_watched(
        self,
        request: Request,
        params: SamplingParams,
        watch: Watch,
        cancel: threading.Event | None = None,
    ) -> Generation:
        """n one-sample calls, each streamed to `watch`: stopping one ends only its call, and
        its slot takes the next queued sample (`StopsSequences`). Sample k has seed + k. Each
        call is billed the prompt it prefilled or took from the cache, a stopped one's too."""
        one = replace(request, n=1)
        calls = [
            self._pool.submit(
                self._call, one, params, 1, None if params.seed is None else params.seed + k,
                cancel, None, partial(_numbered, watch, k),
            )
            for k in range(request.n)
        ]  # fmt: skip
        results = [call.result() for call in calls]
        return watched_generation(
            [prompt_usage(usage) for usage, _ in results], [c for _, cs in results for c in cs]
        )

    def engine_stats(self) -> dict[str, float]:
        """llama.cpp's own counters (Prometheus names without the `llamacpp:` prefix)."""
        stats = {}
        for line in str(self._server.handle_metrics()).splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.partition(" ")
                stats[key.removeprefix("llamacpp:")] = float(value)
        return stats


@register_backend("llamacpp", LlamaCppOptions)
def _factory(model: str, options: LlamaCppOptions) -> LlamaCppBackend:
    return LlamaCppBackend.from_reference(model, **options.as_kwargs())
