"""Any OpenAI-compatible server: vLLM, SGLang, llama.cpp server, Ollama, hosted APIs.

Uses the official `openai` client, whose built-in retries back off on 429, 5xx and timeouts.
A request for n samples is sent once with `n` (servers share the prefill); each choice's tokens
are counted from its own logprobs, because some servers report one choice's usage for all n.
Where a server ignores `n` or returns no logprobs, the samples are drawn as n single requests
with bounded concurrency, each counted from its own `usage`.

    >>> backend = OpenAIBackend("Qwen/Qwen2.5-7B", base_url="http://127.0.0.1:8000/v1")
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from pydantic import Field

from thinktime.backends.base import register_backend
from thinktime.backends.options import BackendOptions
from thinktime.backends.wire import parse_choice, prompt_usage, request_body
from thinktime.errors import BackendError
from thinktime.models.card import ModelCard
from thinktime.sampling import SamplingParams
from thinktime.types import Generation, Request


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


class OpenAIBackend:
    """Talks to `base_url` with the official client; see the module docstring."""

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
    ) -> None:
        from openai import OpenAI

        self.name = model
        self.card = card
        self.use_n = use_n
        self._client = OpenAI(
            base_url=base_url or os.environ.get("OPENAI_BASE_URL"),
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
            max_retries=max_retries,
            timeout=timeout,
            http_client=http_client,
        )
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="openai")

    def _post(self, request: Request, params: SamplingParams, n: int) -> dict[str, Any]:
        import openai

        body = request_body(request, params, n, params.seed)
        body.pop("n") if n == 1 else None
        # n > 1: per-choice logprobs are how each choice's tokens get counted
        body["logprobs"] = body["logprobs"] or n > 1
        if params.ignore_eos:  # not an OpenAI field: servers that know it read it from extra_body
            body.pop("ignore_eos")
            body["extra_body"] = {"ignore_eos": True}
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

    def _single(self, request: Request, params: SamplingParams) -> Generation:
        response = self._post(request, params, 1)
        usage = response.get("usage") or {}
        choice = parse_choice(response["choices"][0])
        completion = replace(choice, completion_tokens=int(usage.get("completion_tokens") or 0))
        length, cached = prompt_usage(usage)
        return Generation((completion,), length, length, cached)

    def _one_request(self, request: Request, params: SamplingParams) -> Generation:
        if self.use_n and request.n > 1:
            response = self._post(request, params, request.n)
            choices = [parse_choice(c) for c in response["choices"]]
            # 1) trusted only if the server honoured n and gave per-choice logprobs to count
            if len(choices) == request.n and all(c.completion_tokens >= 0 for c in choices):
                length, cached = prompt_usage(response.get("usage"))
                return Generation(tuple(choices), length, length, cached)
        # 2) otherwise n single requests, in parallel up to max_concurrency
        singles = list(self._pool.map(lambda _: self._single(request, params), range(request.n)))
        return Generation(
            tuple(g.completions[0] for g in singles),
            singles[0].prompt_length,
            sum(g.prompt_tokens for g in singles),
            sum(g.cached_prompt_tokens for g in singles),
        )

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> list[Generation]:
        futures = [self._pool.submit(self._one_request, r, params) for r in requests]
        return [f.result() for f in futures]


@register_backend("openai", OpenAIOptions)
def _factory(model: str, options: OpenAIOptions) -> OpenAIBackend:
    if not model:
        raise BackendError(
            "openai backend needs a model name: openai:MODEL (e.g. openai:gpt-4o-mini)"
        )
    return OpenAIBackend(model, **options.as_kwargs())
