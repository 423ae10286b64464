"""A scripted, deterministic backend for unit tests of strategy logic.

Hand it a list of texts (given out in order, cycling) or a function of (request, sample index).
Tokens are whitespace-delimited words, so counts are easy to check by hand; every call is kept
in `calls` so tests can assert on batching. A request that offers tools gets its scripted text
read for calls as the embedded engine's is (`{"name": …, "arguments": …}` or `<tool_call>`
blocks), so agent logic is scripted as text. It cannot hold a reply to a schema, so a request
that needs one (`response_format`, a required call) is refused by the ledger.

    >>> backend = FakeBackend(["The answer is \\\\boxed{4}", "\\\\boxed{5}"])
    >>> from thinktime.types import Message, Request
    >>> from thinktime.sampling import SamplingParams
    >>> request = Request(messages=(Message("user", "2+2?"),), n=3)
    >>> [g] = backend.generate([request], SamplingParams())
    >>> [c.text for c in g.completions]
    ['The answer is \\\\boxed{4}', '\\\\boxed{5}', 'The answer is \\\\boxed{4}']
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

from thinktime.backends.base import OnDelta, Watch, register_backend
from thinktime.backends.options import NoOptions
from thinktime.backends.toolcalls import parse_tool_calls
from thinktime.models.card import ModelCard
from thinktime.sampling import SamplingParams
from thinktime.types import CUT, Completion, Generation, Message, Request, TokenLogprob

Script = Sequence[str] | Callable[[Request, int], str]
_TOKEN = re.compile(r"\s*\S+|\s+")
# a made-up 1M-parameter shape so FLOPs arithmetic is exercised and checkable by hand
FAKE_CARD = ModelCard("fake", "fake", 1_000_000, 1_000_000, 2, 64, 64, 1, 4096)


def tokenize(text: str) -> list[str]:
    """Split text into the fake backend's tokens (words with their leading space)."""
    return _TOKEN.findall(text)


def render(request: Request) -> str:
    """The text a request's prompt amounts to (for counting prompt tokens)."""
    if request.prompt is not None:
        return request.prompt
    return "\n".join(f"{m.role}: {m.content}" for m in request.messages)


class FakeBackend:
    """Replays a script; counts tokens as words; records every call."""

    def __init__(
        self,
        script: Script = ("\\boxed{42}",),
        name: str = "fake",
        card: ModelCard | None = FAKE_CARD,
        confidence: Callable[[str], float] | None = None,
    ) -> None:
        self.name = name
        # a token's scripted confidence C (its top-k logprobs are all −C): scripts traces that
        # a confidence rule keeps or cuts; default 0.1 for every token
        self.confidence = confidence or (lambda token: 0.1)
        self.card = card
        self._script = script
        self._counter = itertools.count()
        self._lock = threading.Lock()
        self.calls: list[tuple[list[Request], SamplingParams]] = []

    def _text(self, request: Request, index: int) -> str:
        if callable(self._script):
            return self._script(request, index)
        with self._lock:
            position = next(self._counter)
        return self._script[position % len(self._script)]

    def _complete(self, text: str, params: SamplingParams) -> Completion:
        tokens = tokenize(text)
        finish = "stop"
        for stop in params.stop:
            if stop in text:
                text = text[: text.index(stop)]
                tokens = tokenize(text)
        if len(tokens) > params.max_tokens:
            tokens, finish = tokens[: params.max_tokens], "length"
            text = "".join(tokens)
        logprobs = None
        if params.logprobs or params.top_logprobs:
            logprobs = tuple(self._logprob(token, params.top_logprobs) for token in tokens)
        return Completion(text, finish, len(tokens), logprobs, tuple(tokens))

    def _logprob(self, token: str, k: int) -> TokenLogprob:
        """The token at logprob −0.05, and k − 1 alternatives low enough that the top-k mean
        is −C: a high C is a peaked distribution (self-certainty high), a low C a flat one."""
        confidence = self.confidence(token)
        if k <= 1:
            return TokenLogprob(token, -confidence, ((token, -confidence),) * k)
        rest = (0.05 - k * confidence) / (k - 1)
        return TokenLogprob(token, -0.05, ((token, -0.05), *((f"~{token}", rest),) * (k - 1)))

    def generate_watched(
        self,
        request: Request,
        params: SamplingParams,
        watch: Watch,
        cancel: threading.Event | None = None,
    ) -> Generation:
        """`generate`, each sample shown to `watch` token by token and cut where it says:
        the cut sample keeps (and counts) only the tokens made up to there. As on the real
        engines, each sample is a call of its own that prefills the prompt, so the prompt is
        billed n times, a cut sample's included (`calls` still records the one request)."""
        [generation] = self.generate([request], params)
        completions = []
        for index, completion in enumerate(generation.completions):
            for position, token in enumerate(completion.logprobs or ()):
                if watch(index, token):
                    kept = (completion.logprobs or ())[: position + 1]
                    pieces = tuple(t.token for t in kept)
                    completion = replace(
                        completion, text="".join(pieces), finish_reason=CUT,
                        completion_tokens=len(kept), logprobs=kept, tokens=pieces,
                    )  # fmt: skip
                    break
            completions.append(completion)
        return replace(
            generation,
            completions=tuple(completions),
            prompt_tokens=generation.prompt_length * request.n,  # one prefill per sample's call
        )

    def _reply(self, request: Request, completion: Completion) -> Completion:
        """The completion with the tool calls its text makes, where the request offers tools."""
        if request.reply_format is None:
            return completion
        text, calls = parse_tool_calls(completion.text, request.reply_format)
        return replace(completion, text=text, tool_calls=calls)

    def chat_prompt(self, messages: Sequence[Message]) -> str:
        """A plain-text stand-in for a chat template."""
        return render(Request(messages=tuple(messages))) + "\nassistant: "

    def generate_streamed(
        self,
        requests: Sequence[Request],
        params: SamplingParams,
        cancel: threading.Event | None,
        on_delta: OnDelta,
    ) -> list[Generation]:
        """`generate`, then each completion's tokens told to `on_delta` in order (a fake stream)."""
        generations = self.generate(requests, params)
        for generation in generations:
            for index, completion in enumerate(generation.completions):
                for token in completion.tokens or ():
                    if cancel is not None and cancel.is_set():
                        return generations
                    on_delta(index, token)
        return generations

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> list[Generation]:
        self.calls.append((list(requests), params))
        generations = []
        for request in requests:
            prompt_length = len(tokenize(render(request)))
            completions = tuple(
                self._reply(request, self._complete(self._text(request, i), params))
                for i in range(request.n)
            )
            generations.append(Generation(completions, prompt_length, prompt_length))
        return generations


@register_backend("fake", NoOptions)
def _factory(model: str, options: NoOptions) -> FakeBackend:
    # the spec `fake` replays the default script; tests build `FakeBackend(script)` directly
    return FakeBackend()
