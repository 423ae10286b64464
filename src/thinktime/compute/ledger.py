"""The ledger: every backend call of a strategy goes through it and is recorded into a `Bill`.

Strategies never count tokens themselves. They call `ledger.generate(...)` instead of the
backend, tagging each call with its purpose, `answer` (solving) or `verify` (checking); the
ledger keeps the engine's own figures and `ledger.bill()` turns them into a `Bill`.

Token fields follow OpenAI's usage names. `prompt_tokens` and `completion_tokens` total every
call, verifier calls included; `verifier_tokens` is the part (prompt + completion) spent on
verifier calls; `reasoning_tokens` is the part of answering completions written before the final
answer (a reasoning model's thinking included, as the server counts it where it reports
`completion_tokens_details.reasoning_tokens` for one choice) — for a call whose text is a plain
reply with no final answer (`answered=False`, plain chat) only the thinking; `cached_prompt_tokens`
is the part of `prompt_tokens` the engine reused from its cache.

    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime.types import Message, Request
    >>> from thinktime.sampling import SamplingParams
    >>> ledger = Ledger(FakeBackend(["Two plus three is 5. \\\\boxed{5}"]))
    >>> _ = ledger.generate([Request(messages=(Message("user", "2+3?"),), n=2)], SamplingParams())
    >>> bill = ledger.bill()
    >>> bill.completion_tokens, bill.samples
    (12, 2)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Literal

from thinktime.answers.extract import reasoning_tokens
from thinktime.backends.base import (
    Backend,
    Cancellable,
    DeltaStreaming,
    OnDelta,
    StopsSequences,
    Watch,
    check_engine,
    needs_constraint,
    seed_stride,
)
from thinktime.compute.budget import Budget, SampleCapError
from thinktime.compute.flops import generation_flops
from thinktime.compute.prices import Price
from thinktime.errors import ThinktimeError
from thinktime.models.card import ModelCard
from thinktime.sampling import SamplingParams
from thinktime.types import CUT, Bill, Completion, Generation, Request

Purpose = Literal["answer", "verify"]


class Ledger:
    """Wraps a backend, forwards every call, and records what each call spent.

    Thread-safe: strategies may call `generate` from several threads at once.
    """

    def __init__(
        self,
        backend: Backend,
        price: Price | None = None,
        budget: Budget | None = None,
        cancel: threading.Event | None = None,
        on_call: Callable[[Bill], None] | None = None,
        on_delta: OnDelta | None = None,
    ) -> None:
        self.backend = backend
        self.on_delta = on_delta  # told the answer's text as it streams (DeltaStreaming engines)
        self.price = price or Price()
        self.budget = budget
        self.cancel = cancel  # set it to stop the strategy at its next step (client gone)
        self.on_call = on_call  # told the running bill after every call (progress reports)
        self.limited = False  # set once the budget shortened or stopped any work
        self._lock = threading.Lock()
        self._started = time.perf_counter()
        self._counts = {
            "prompt": 0, "completion": 0, "reasoning": 0, "verifier": 0,
            "cached": 0, "calls": 0, "samples": 0, "cut": 0,
        }  # fmt: skip
        self._flops: int | None = 0
        self._engine_seconds = 0.0
        self._issued = 0  # backend calls started, numbering their sampling seeds
        self._drawn = 0  # the strategy's samples asked for so far

    def generate(
        self,
        requests: Sequence[Request],
        params: SamplingParams,
        purpose: Purpose = "answer",
        backend: Backend | None = None,
        answered: bool = True,
        watch: Watch | None = None,
    ) -> list[Generation]:
        """Run `requests` as one batched call (on `backend`, default the ledger's) and record it.

        `answered` False: the texts are plain replies with no final answer (plain chat), so only
        a reasoning model's thinking is billed as reasoning, not the whole reply. `watch` sees
        every sample's tokens and may stop one (`StopsSequences`); an engine that cannot stop a
        single sample generates it whole and it is cut afterwards — same decision, no saving,
        every token billed."""
        backend = backend or self.backend
        if watch is not None and (len(requests) != 1 or not params.top_logprobs):
            raise ThinktimeError(  # the watch numbers one request's samples by top-k means
                "a watched call takes one request drawn with top_logprobs > 0"
            )
        # what the engine cannot do is refused, never ignored (a dropped cap thinks on, an
        # ignored schema replies unconstrained): the one check every edge also makes first
        check_engine(backend, constrained=needs_constraint(requests),
                     thinking_cap=params.max_thinking_tokens is not None)  # fmt: skip
        if purpose == "answer":  # the strategy's own samples (verifier calls are billed as tokens)
            self._reserve(sum(r.n for r in requests))
        asked = params.max_tokens
        params, affordable = self._fit(requests, params, backend)
        wanted, requests = requests, _afford(requests, affordable)
        if affordable is not None:
            self.limited = True  # the budget left fewer tokens than samples: some not drawn
        # a seeded strategy that calls the engine again (another round of votes, concurrent
        # sub-strategy runs on one prompt) must get new samples, not replays of its first call:
        # call k samples with seed + k·stride (call 0 keeps the caller's seed), the stride being
        # what the backend says keeps its calls' seeds apart (llama.cpp offsets its chunks')
        with self._lock:
            index, self._issued = self._issued, self._issued + 1
        if params.seed is not None and index:
            params = params.with_(seed=params.seed + seed_stride(backend) * index)
        started = time.perf_counter()
        if not requests:
            generations: list[Generation] = []
        elif watch is not None and isinstance(backend, StopsSequences):
            generations = [
                backend.generate_watched(r, params, watch, self.cancel) for r in requests
            ]
        elif watch is not None:
            generations = [cut_after(g, watch) for g in backend.generate(requests, params)]
        elif (
            self.on_delta is not None
            and purpose == "answer"
            and isinstance(backend, DeltaStreaming)
        ):
            generations = backend.generate_streamed(requests, params, self.cancel, self.on_delta)
        elif self.cancel is not None and isinstance(backend, Cancellable):
            generations = backend.generate_until(requests, params, self.cancel)
        else:
            generations = backend.generate(requests, params)
        elapsed = time.perf_counter() - started
        if self.cancel is not None and self.cancel.is_set():
            self.limited = True  # the call may have been stopped mid-way: the answer is cut
        if params.max_tokens < asked and any(
            c.finish_reason == "length" for g in generations for c in g.completions
        ):
            self.limited = True  # a sample was cut at the cap the budget set, not its own
        with self._lock:
            self._engine_seconds += elapsed
            for generation in generations:
                self._record(generation, purpose, backend.card, answered)
        if self.on_call is not None:
            self.on_call(self.bill())
        return _undrawn(wanted, generations) if affordable is not None else generations

    def _reserve(self, samples: int) -> None:
        """Count a call's samples before it runs; refuse it past `Budget.max_samples`."""
        cap = self.budget.max_samples if self.budget is not None else None
        with self._lock:
            drawn = self._drawn + samples
            if cap is not None and drawn > cap:
                raise SampleCapError(
                    f"this answer would draw {drawn} samples, over its cap of {cap} "
                    "(budget max_samples); ask for fewer samples"
                )
            self._drawn = drawn

    def charge(self, purpose: Purpose, prompt_tokens: int, flops: int | None) -> None:
        """Record compute spent outside a backend call (e.g. a PRM scoring in transformers)."""
        with self._lock:
            self._counts["prompt"] += prompt_tokens
            if purpose == "verify":
                self._counts["verifier"] += prompt_tokens
            if self._flops is not None:
                self._flops = None if flops is None else self._flops + flops

    def exhausted(self) -> bool:
        """True when the budget is spent; strategies stop and return their best answer so far."""
        if self.cancel is not None and self.cancel.is_set():
            self.limited = True
            return True
        if self.budget is not None and self.budget.exceeded(self.bill()):
            self.limited = True
            return True
        return False

    def _fit(
        self, requests: Sequence[Request], params: SamplingParams, backend: Backend
    ) -> tuple[SamplingParams, int | None]:
        """Shrink max_tokens so that this call's samples fit in what the budget has left, and
        say how many samples it can afford at all (None: every one): a sample needs a token,
        so with fewer tokens left than samples only that many are drawn, one token each."""
        if self.budget is None:
            return params, None
        card = backend.card
        per_token = 2 * card.n_matmul_params if card else None
        left = self.budget.tokens_left(self.bill(), per_token)
        if left is None:
            return params, None
        samples = sum(r.n for r in requests)
        if left < samples:
            return params.with_(max_tokens=1), left
        share = left // samples
        if share < params.max_tokens:  # the answer is limited only if a sample hits this cap
            return params.with_(max_tokens=share), None
        return params, None

    def _record(
        self,
        generation: Generation,
        purpose: Purpose,
        card: ModelCard | None,
        answered: bool = True,
    ) -> None:
        completion = sum(c.completion_tokens for c in generation.completions)
        counts = self._counts
        counts["prompt"] += generation.prompt_tokens
        counts["completion"] += completion
        counts["cached"] += generation.cached_prompt_tokens
        counts["calls"] += 1
        if purpose == "verify":
            counts["verifier"] += generation.prompt_tokens + completion
        else:
            counts["samples"] += len(generation.completions)
            counts["cut"] += sum(c.finish_reason == CUT for c in generation.completions)
            counts["reasoning"] += sum(
                reasoning_tokens(c, answered) for c in generation.completions
            )
        if card is None or self._flops is None:
            self._flops = None
            return
        self._flops += generation_flops(
            card,
            prompt_length=generation.prompt_length,
            prefilled=generation.prompt_tokens - generation.cached_prompt_tokens,
            completion_tokens=[c.completion_tokens for c in generation.completions],
        )

    def bill(self) -> Bill:
        """The bill so far; seconds are wall time since the ledger was made."""
        seconds = time.perf_counter() - self._started
        with self._lock:
            c = self._counts
            return Bill(
                prompt_tokens=c["prompt"],
                completion_tokens=c["completion"],
                reasoning_tokens=c["reasoning"],
                verifier_tokens=c["verifier"],
                cached_prompt_tokens=c["cached"],
                flops=self._flops,
                seconds=seconds,
                engine_seconds=self._engine_seconds,
                dollars=self.price.dollars(c["prompt"], c["completion"], seconds),
                calls=c["calls"],
                samples=c["samples"],
                samples_cut=c["cut"],
            )


def _afford(requests: Sequence[Request], samples: int | None) -> list[Request]:
    """The first `samples` samples of `requests` in order (all where None): a request keeps
    what is left of its n, and one left with none is not sent."""
    if samples is None:
        return list(requests)
    kept = []
    for request in requests:
        n = min(request.n, samples)
        samples -= n
        if n:
            kept.append(replace(request, n=n))
    return kept


def _undrawn(wanted: Sequence[Request], drawn: Sequence[Generation]) -> list[Generation]:
    """`drawn` padded back to the shape of `wanted`: each sample the budget could not pay for
    is an empty completion that stopped at its length (0 tokens, no answer); the bill counts
    only the samples drawn."""
    empty = Completion(text="", finish_reason="length", completion_tokens=0)
    padded = []
    for index, request in enumerate(wanted):
        if index < len(drawn):
            have = drawn[index]
            missing = request.n - len(have.completions)
            padded.append(replace(have, completions=(*have.completions, *[empty] * missing)))
        else:
            padded.append(Generation(completions=(empty,) * request.n, prompt_length=0,
                                     prompt_tokens=0))  # fmt: skip
    return padded


def cut_after(generation: Generation, watch: Watch) -> Generation:
    """Apply `watch` to samples already made whole: a sample it would have stopped is marked
    `CUT` (it no longer votes), but keeps its text and its full token count (all were spent)."""
    completions = []
    for index, completion in enumerate(generation.completions):
        if any(watch(index, token) for token in completion.logprobs or ()):
            completion = replace(completion, finish_reason=CUT)
        completions.append(completion)
    return replace(generation, completions=tuple(completions))
