"""Any OpenAI-compatible server: vLLM, SGLang, llama.cpp server, Ollama, hosted APIs.

Uses the official `openai` client, whose built-in retries back off on 429, 5xx and timeouts.
A request for n samples is sent once with `n` (servers share the prefill); each choice's tokens
are counted from its own logprobs, because some servers report one choice's usage for all n.
Where a server ignores `n` (it answers one choice: kept, and the server remembered) or returns
no logprobs, the missing samples are drawn as single requests, each counted from its own
`usage`. All HTTP calls share one bounded pool that only the caller waits on, so any number of
requests in flight queue instead of deadlocking.

Reasoning models: a choice's thinking, in whichever dialect the server speaks (`reasoning`,
`reasoning_content`, or `think_tags` inside the content), becomes `Completion.reasoning` and the
answer is looked for after it. The server's `completion_tokens_details.reasoning_tokens` is
kept as the choice's thinking count where its usage is that choice's own (a one-choice call);
an n-choice call's usage is not split between its choices (servers differ on whether it is one
choice's or the sum), so there each choice's thinking is counted from its own logprobs.

Tools and `response_format` pass through as OpenAI's fields; the server's `tool_calls` come
back as `Completion.tool_calls`, counted in the choice's tokens like any text.

A thinking budget (`SamplingParams.max_thinking_tokens`) is sent where the server takes one,
named by the `thinking_budget_field` option: vLLM started with a reasoning config takes
`thinking_token_budget`, SGLang `chat_template_kwargs.thinking_budget`.

    >>> backend = OpenAIBackend("Qwen/Qwen2.5-7B", base_url="http://127.0.0.1:8000/v1")
    >>> vllm = OpenAIBackend("Qwen/Qwen3-8B", base_url="http://127.0.0.1:8000/v1",
    ...                      thinking_budget_field="thinking_token_budget")

The server is `base_url` (default `$OPENAI_BASE_URL`); with neither, OpenAI's own API where
`$OPENAI_API_KEY` is set, else a one-line error naming the variable, at once (see `server`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field

from thinktime.backends.base import Watch, register_backend
from thinktime.backends.options import BackendOptions
from thinktime.backends.thinking import THINK, ThinkTags, reasoning_usage
from thinktime.backends.wire import (
    STREAM_COUNTS,
    delta_reasoning,
    delta_text,
    parse_choice,
    prompt_usage,
    request_body,
    stream_prompt_usage,
    token_logprob,
    watched_generation,
)
from thinktime.errors import BackendError
from thinktime.models.card import ModelCard
from thinktime.sampling import SamplingParams
from thinktime.types import CUT, Completion, Generation, Request

ThinkingBudgetField = Literal["thinking_token_budget", "chat_template_kwargs.thinking_budget"]


class OpenAIOptions(BackendOptions):
    """What `openai:MODEL` takes (the defaults are the backend's)."""

    base_url: str | None = Field(None, description="Server URL …/v1 (default $OPENAI_BASE_URL).")
    api_key: str | None = Field(None, description="Key (default $OPENAI_API_KEY).")
    max_concurrency: int = Field(8, ge=1, le=1024, description="Requests in flight at once.")
    max_retries: int = Field(4, ge=0, le=32, description="Retries on 429, 5xx and timeouts.")
    timeout: float = Field(600.0, gt=0, description="Seconds per request.")
    use_n: bool = Field(True, description="Ask for n samples in one request where trusted.")
    card: ModelCard | None = Field(None, description="The model's shape, for FLOPs.")
    http_client: Any = Field(None, description="An httpx client (tests, proxies).")
    think_tags: ThinkTags | None = Field(
        THINK, description="What the model writes around its thinking in content (None: off)."
    )
    thinking_budget_field: ThinkingBudgetField | None = Field(
        None,
        description="The request field that caps thinking (max_thinking_tokens): "
        "thinking_token_budget (vLLM with a reasoning config), "
        "chat_template_kwargs.thinking_budget (SGLang); None: the server takes none.",
    )


class OpenAIBackend:
    """Talks to `base_url` with the official client; see the module docstring."""

    constrains_output = True  # tools and response_format pass through (ConstrainsOutput)

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        max_concurrency: int = 8,
        max_retries: int = 4,
        timeout: float = 600.0,
        use_n: bool = True,
        card: ModelCard | None = None,
        http_client: Any = None,
        think_tags: ThinkTags | None = THINK,
        thinking_budget_field: ThinkingBudgetField | None = None,
    ) -> None:
        from openai import OpenAI

        base_url, api_key = server(model, base_url, api_key)
        self.name = model
        self.thinking_budget_field = thinking_budget_field
        self.think_tags = think_tags
        self.card = card
        self.use_n = use_n
        self._client = OpenAI(
            base_url=base_url,
            api_key=api_key,
            max_retries=max_retries,
            timeout=timeout,
            http_client=http_client,
        )
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="openai")
        self._n_honoured: bool | None = None  # learnt from the first n > 1 reply
        self._asks_stream_counts = True  # until the server refuses STREAM_COUNTS' fields
        self._lengths: dict[str, int] = {}  # a prompt's length, as the server last reported it
        self._lengths_lock = threading.Lock()

    def _post(self, request: Request, params: SamplingParams, n: int) -> dict[str, Any]:
        import openai

        body = self._body(request, params, n)
        try:
            if request.prompt is not None:
                body.pop("top_logprobs", None)
                body["logprobs"] = 0  # the legacy completions API takes an int here
                response = self._client.completions.create(model=self.name, **body)
            else:
                response = self._client.chat.completions.create(model=self.name, **body)
        except openai.APIError as exc:
            raise BackendError(f"{self.name} at {self._client.base_url} failed: {exc}") from None
        return response.model_dump()

    def _body(self, request: Request, params: SamplingParams, n: int) -> dict[str, Any]:
        """The client's arguments for one call: OpenAI's fields, the rest in `extra_body`."""
        body = request_body(request, params, n, params.seed)
        body.pop("n") if n == 1 else None
        # n > 1: per-choice logprobs are how each choice's tokens get counted
        body["logprobs"] = body["logprobs"] or n > 1
        extra: dict[str, Any] = {}  # not OpenAI fields: servers that know them read extra_body
        if params.ignore_eos:
            body.pop("ignore_eos")
            extra["ignore_eos"] = True
        if params.max_thinking_tokens is not None:
            extra.update(self._thinking_budget(params.max_thinking_tokens))
        if extra:
            body["extra_body"] = extra
        return body

    def _thinking_budget(self, tokens: int) -> dict[str, Any]:
        """The request fields that cap thinking at `tokens`, in this server's dialect."""
        if self.thinking_budget_field is None:
            raise BackendError(
                f"{self.name} at {self._client.base_url} was given no thinking_budget_field, so "
                "it cannot cap thinking (max_thinking_tokens); set the option if the server "
                "takes one, or use strategy budget_forcing"
            )
        *outer, field = self.thinking_budget_field.split(".")
        fields: dict[str, Any] = {field: tokens}
        for name in reversed(outer):
            fields = {name: fields}
        return fields

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> list[Generation]:
        return self.generate_until(requests, params, None)

    def generate_until(
        self, requests: Sequence[Request], params: SamplingParams, cancel: threading.Event | None
    ) -> list[Generation]:
        """Every HTTP call of the batch goes to one flat pool, and only this (calling) thread
        waits on it: a pool thread never waits for another pool task, so any number of
        concurrent `generate` calls and samples cannot deadlock the pool (they queue)."""
        # 1) one call per request: `n` where it may be honoured, else the first single sample
        first = [
            self._pool.submit(self._call, r, params, r.n if self._try_n(r) else 1, cancel)
            for r in requests
        ]
        replies = [f.result() for f in first]
        # 2) requests the server did not answer with n countable choices: the missing samples
        #    as single requests, all in flight at once (bounded by the pool)
        rest: list[list[Future[Generation]]] = []
        for request, reply in zip(requests, replies, strict=True):
            kept = len(reply.completions) if self._trusted(request, reply) else 0
            rest.append(
                [
                    self._pool.submit(self._call, request, _nth(params, k), 1, cancel)
                    for k in range(max(kept, 1), request.n + max(kept, 1) - kept)
                ]
            )
        generations = []
        for request, reply, singles in zip(requests, replies, rest, strict=True):
            parts = [reply] if self._trusted(request, reply) else []
            parts += [f.result() for f in singles]
            generations.append(_merge(parts))
        return generations

    def generate_watched(
        self,
        request: Request,
        params: SamplingParams,
        watch: Watch,
        cancel: threading.Event | None = None,
    ) -> Generation:
        """n one-sample streamed calls, each token shown to `watch` (`StopsSequences`); a
        sample it stops is closed mid-stream, and the server (vLLM, SGLang, llama.cpp's
        server) aborts a request whose client went away, freeing that sequence.

        Every call is billed its prompt, a stopped one's too, though a closed stream never gets
        the final `usage`. Each call asks the server for its prompt counts before the end:
        llama.cpp's server streams them as the call starts (`wire.STREAM_COUNTS`), vLLM and
        SGLang put a `usage` in every chunk (`stream_options.continuous_usage_stats`); both
        are exact, cached tokens included. A server that refuses those fields (a 400) is asked
        again without them, and no more. On a server that reports nothing before a stream's
        end (OpenAI's API), a stopped call is charged the prompt length a finished sibling
        reported, else the length the server last reported for this prompt on this backend
        (DeepConf's warm-up draws it whole first), none of it cached; with neither it is
        charged nothing, as nothing reported it."""
        calls = [
            self._pool.submit(self._watched, request, _nth(params, k), k, watch, cancel)
            for k in range(request.n)
        ]
        parts = [call.result() for call in calls]
        for _, counts in parts:
            if counts is not None:
                self._remember(request, counts[0])
        return watched_generation(
            [counts for _, counts in parts],
            [completion for completion, _ in parts],
            self._known_length(request),
        )

    def _remember(self, request: Request, length: int) -> None:
        """Keep the prompt length the server reported for `request` (the latest 1024)."""
        if length <= 0:
            return
        with self._lengths_lock:
            self._lengths.pop(_prompt_key(request), None)
            self._lengths[_prompt_key(request)] = length
            if len(self._lengths) > 1024:
                del self._lengths[next(iter(self._lengths))]

    def _known_length(self, request: Request) -> int:
        with self._lengths_lock:
            return self._lengths.get(_prompt_key(request), 0)

    def _watched(
        self,
        request: Request,
        params: SamplingParams,
        index: int,
        watch: Watch,
        cancel: threading.Event | None,
    ) -> tuple[Completion, tuple[int, int] | None]:
        """One streamed sample (in a pool thread), closed as soon as `watch` says stop; with
        the (prompt tokens, cached) the server reported for it, None where it reported none."""
        import openai

        if request.prompt is not None:
            raise BackendError("a watched sample must be a chat request (its logprobs stream)")
        if cancel is not None and cancel.is_set():  # no longer wanted: start nothing
            return Completion("", "cancelled", 0), (0, 0)
        asks = self._asks_stream_counts
        try:
            try:
                return self._stream(request, params, index, watch, cancel, asks)
            except (openai.BadRequestError, openai.UnprocessableEntityError):
                if not asks:
                    raise
                self._asks_stream_counts = False  # it refuses the fields: ask without them
                return self._stream(request, params, index, watch, cancel, False)
        except openai.APIError as exc:
            raise BackendError(f"{self.name} at {self._client.base_url} failed: {exc}") from None

    def _stream(
        self,
        request: Request,
        params: SamplingParams,
        index: int,
        watch: Watch,
        cancel: threading.Event | None,
        asks: bool,
    ) -> tuple[Completion, tuple[int, int] | None]:
        """`_watched`'s stream; `asks`: ask for the prompt counts before the end."""
        body = self._body(request, params, 1)
        body.update(logprobs=True, stream=True, stream_options={"include_usage": True})
        if asks:
            body["stream_options"]["continuous_usage_stats"] = True  # vLLM, SGLang
            body["extra_body"] = {**body.get("extra_body", {}), **STREAM_COUNTS}  # llama.cpp
        text: list[str] = []
        thinking: list[str] = []
        items: list[dict[str, Any]] = []
        counts: tuple[int, int] | None = None
        finish: str | None = None
        with self._client.chat.completions.create(model=self.name, **body) as stream:
            for chunk in stream:
                data = chunk.model_dump()
                counts = stream_prompt_usage(data) or counts
                for choice in data.get("choices") or ():
                    text.append(delta_text(choice))
                    thinking.append(delta_reasoning(choice))
                    for item in (choice.get("logprobs") or {}).get("content") or ():
                        items.append(item)
                        if finish != CUT and watch(index, token_logprob(item)):
                            finish = CUT
                    if finish != CUT:
                        finish = choice.get("finish_reason") or finish
                if finish == CUT or (cancel is not None and cancel.is_set()):
                    break  # leaving the block closes the stream: the server stops it
        message = {"content": "".join(text), "reasoning_content": "".join(thinking) or None}
        choice = {"message": message, "finish_reason": finish or "cancelled",
                  "logprobs": {"content": items} if items else None}  # fmt: skip
        return parse_choice(choice, self.think_tags), counts

    def _try_n(self, request: Request) -> bool:
        return self.use_n and request.n > 1 and self._n_honoured is not False

    def _trusted(self, request: Request, reply: Generation) -> bool:
        """Keep a reply whose choices can each be counted: one choice (the server's usage
        counts it), or all n with per-choice logprobs. Remember a server that ignores n."""
        if len(reply.completions) == 1:
            if request.n > 1 and self._try_n(request):
                self._n_honoured = False  # asked n, got one: stop asking this server for n
            return True
        honoured = len(reply.completions) == request.n
        countable = all(c.completion_tokens >= 0 for c in reply.completions)
        if honoured and countable:
            self._n_honoured = True
        return honoured and countable

    def _call(
        self, request: Request, params: SamplingParams, n: int, cancel: threading.Event | None
    ) -> Generation:
        """One HTTP call (in a pool thread; never waits on the pool)."""
        if cancel is not None and cancel.is_set():  # no longer wanted: start nothing
            empty = Completion("", "cancelled", 0)
            return Generation((empty,) * n, 0, 0, 0)
        response = self._post(request, params, n)
        usage = response.get("usage") or {}
        choices = [parse_choice(c, self.think_tags) for c in response["choices"]]
        if len(choices) == 1:  # the server's usage counts this one choice, thinking included
            choices = [
                replace(
                    choices[0],
                    completion_tokens=int(usage.get("completion_tokens") or 0),
                    reasoning_tokens=reasoning_usage(usage),
                )
            ]
        length, cached = prompt_usage(usage)
        self._remember(request, length)
        return Generation(tuple(choices), length, length, cached)


OPENAI_API = "https://api.openai.com/v1"


def server(model: str, base_url: str | None, api_key: str | None) -> tuple[str, str]:
    """(the server's URL, the key to send): the arguments, else `$OPENAI_BASE_URL` and
    `$OPENAI_API_KEY`. No URL at all is OpenAI's own API when a key is set, else an error naming
    the variable; OpenAI's API without a key is an error too. A server of one's own (vLLM,
    llama.cpp's server) may need no key: it is sent a placeholder.

        >>> server("m", "http://127.0.0.1:8000/v1", "sk-1")
        ('http://127.0.0.1:8000/v1', 'sk-1')
    """
    url = base_url or os.environ.get("OPENAI_BASE_URL")
    key = api_key or os.environ.get("OPENAI_API_KEY")
    if not url:
        if not key:
            raise BackendError(
                f"openai:{model} has no server: set OPENAI_BASE_URL to its …/v1 URL (e.g. "
                "http://127.0.0.1:8000/v1 for vLLM or llama.cpp's server) or pass base_url=; "
                "for OpenAI's own API set OPENAI_API_KEY instead"
            )
        url = OPENAI_API
    if not key and "api.openai.com" in (urlsplit(url).hostname or ""):
        raise BackendError(
            f"openai:{model} at {url} needs a key: set OPENAI_API_KEY (or pass api_key=)"
        )
    return url, key or "not-needed"


def _nth(params: SamplingParams, k: int) -> SamplingParams:
    """The k-th single sample's params: a seeded request's singles get seeds seed + k, as the
    n samples of one call would, so they are not n copies of one sample."""
    return params if params.seed is None else params.with_(seed=params.seed + k)


def _prompt_key(request: Request) -> str:
    """What a prompt's length depends on: the request but for its number of samples."""
    return repr(replace(request, n=1))


def _merge(parts: list[Generation]) -> Generation:
    """One request's generations (an n call and/or singles) as one: prompts counted per call."""
    return Generation(
        tuple(c for g in parts for c in g.completions),
        max((g.prompt_length for g in parts), default=0),
        sum(g.prompt_tokens for g in parts),
        sum(g.cached_prompt_tokens for g in parts),
    )


@register_backend("openai", OpenAIOptions)
def _factory(model: str, options: OpenAIOptions) -> OpenAIBackend:
    if not model:
        raise BackendError(
            "openai backend needs a model name: openai:MODEL (e.g. openai:gpt-4o-mini)"
        )
    return OpenAIBackend(model, **options.as_kwargs())
