"""Streamed answers (`"stream": true`), as OpenAI's server-sent chunks.

Two kinds, chosen by what the strategy can know early:
- **tokens** — `none`, `cot` and `direct` on a backend that can `stream`: the one sample's text
  as the engine makes it, then a chunk with the finish_reason and the extracted answer;
- **progress** — every other strategy cannot know its answer before the vote: it runs through
  `solve` while a chunk every half second reports the samples and tokens so far (content
  empty), then one chunk carries the answer.
Every stream starts with the assistant's role and ends with `data: [DONE]`.

Usage (`stream_options.include_usage`): just before `[DONE]` comes a chunk with no choices and
the request's `usage`. For a progress stream it is the `Result`'s bill. A token stream does not
go through the ledger (yet), so it counts for itself: completion tokens are the streamed text
split by the backend's tokenizer where it has one (`tokenize`), else one per streamed piece;
prompt tokens are the backend's chat template of the messages (`chat_prompt`) split by that
tokenizer, else 0; reasoning tokens are counted as the ledger counts them (before the answer).

    >>> last = Chunks(model="qwen", id="chatcmpl-1").usage(Usage.of(3, 4))
    >>> chunk = json.loads(last.removeprefix("data: "))
    >>> chunk["object"], chunk["choices"], chunk["usage"]["total_tokens"]
    ('chat.completion.chunk', [], 7)
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from thinktime.answers.extract import extract_answer, reasoning_tokens
from thinktime.backends.base import Backend, ChatTemplating, Streaming, Tokenizing
from thinktime.errors import ThinktimeError
from thinktime.prompts import cot_messages, direct_messages
from thinktime.serve.answer import FinishReason, Plan, reply, run_choice
from thinktime.serve.schemas import (
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    ThinktimeAnswer,
    ThinktimeProgress,
    Usage,
    error_body,
)
from thinktime.strategies import get_strategy
from thinktime.types import Bill, Completion, Message, Request

STREAMED = ("none", "cot", "direct")  # single-sample strategies whose tokens can stream


@dataclass(frozen=True)
class Chunks:
    """One stream's chunks, all with the stream's id and the model the client named."""

    model: str
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")

    def delta(
        self,
        delta: Delta,
        finish: FinishReason | None = None,
        thinktime: ThinktimeAnswer | ThinktimeProgress | None = None,
    ) -> str:
        choice = ChunkChoice(delta=delta, finish_reason=finish)
        chunk = ChatCompletionChunk(id=self.id, model=self.model, choices=[choice],
                                    thinktime=thinktime)  # fmt: skip
        return chunk.sse()

    def usage(self, usage: Usage) -> str:
        return ChatCompletionChunk(id=self.id, model=self.model, choices=[], usage=usage).sse()


@dataclass
class Job:
    """One streamed request: what it runs, and how its work is tracked and counted."""

    backend: Backend
    plan: Plan
    chunks: Chunks
    cancel: threading.Event  # set: stop the work at its next token
    track: Callable[[asyncio.Future[Any]], None]  # the request's slot is held until it ends
    timeout: float  # wall seconds; past them the work is cancelled
    include_usage: bool = False
    count: Callable[[Usage], None] = lambda usage: None  # the server's token counters


async def events(job: Job) -> AsyncIterator[str]:
    """Every server-sent event of the stream, `[DONE]` last."""
    yield job.chunks.delta(Delta(role="assistant", content=""))
    backend = job.backend
    if job.plan.strategy in STREAMED and isinstance(backend, Streaming):
        pieces = token_stream(job, backend)
    else:
        pieces = progress_stream(job)
    async for piece in pieces:
        yield piece
    yield "data: [DONE]\n\n"


def _prompt(plan: Plan) -> tuple[Message, ...]:
    """The messages a single-sample strategy sends (as the strategy itself would)."""
    if plan.strategy == "cot":
        return cot_messages(plan.question, plan.history)
    if plan.strategy == "direct":
        return (*plan.history, *direct_messages(plan.question))
    return (*plan.history, Message("user", plan.question))


def measure(backend: Backend, messages: tuple[Message, ...], pieces: Sequence[str]) -> Usage:
    """A token stream's usage, counted as the module docstring says."""
    text = "".join(pieces)
    tokens = tuple(backend.tokenize(text)) if isinstance(backend, Tokenizing) else tuple(pieces)
    prompt = 0
    if isinstance(backend, Tokenizing) and isinstance(backend, ChatTemplating):
        prompt = len(backend.tokenize(backend.chat_prompt(messages)))
    reasoning = reasoning_tokens(Completion(text, "stop", len(tokens), tokens=tokens))
    return Usage.of(prompt, len(tokens), reasoning)


async def token_stream(job: Job, backend: Streaming) -> AsyncIterator[str]:
    """The sample's pieces as the engine makes them, then the finish and (maybe) usage."""
    plan = job.plan
    sampling = plan.sampling
    if "temperature" not in sampling.model_fields_set:  # unset: the strategy's own default
        sampling = sampling.with_(temperature=get_strategy(plan.strategy).default_temperature)
    request = Request(messages=_prompt(plan))
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    timer = loop.call_later(job.timeout, job.cancel.set)  # the policy's wall seconds hold here
    pieces: list[str] = []
    measured: list[Usage] = []

    def produce() -> None:
        # 1) stream in a worker thread, handing each piece to the event loop
        try:
            for piece in backend.stream(request, sampling, job.cancel):
                pieces.append(piece)
                loop.call_soon_threadsafe(queue.put_nowait, piece)
            # 2) count, in the same thread, so the slot stays held until counting is done
            if job.include_usage:
                measured.append(measure(job.backend, request.messages, pieces))
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    worker = asyncio.ensure_future(asyncio.to_thread(produce))
    job.track(worker)
    while (piece := await queue.get()) is not None:
        yield job.chunks.delta(Delta(content=piece))
    await worker
    timer.cancel()
    text, cap = "".join(pieces), sampling.max_tokens
    finish: FinishReason = "length" if len(pieces) >= cap else "stop"
    total = plan.budget.max_completion_tokens
    extension = ThinktimeAnswer(
        strategy=plan.strategy,
        answer=extract_answer(text) if plan.strategy != "none" else None,
        budget_limited=finish == "length" and total is not None and cap >= total,
        completion_tokens=len(pieces),
    )
    yield job.chunks.delta(Delta(), finish, extension)
    usage = measured[0] if measured else Usage.of(0, len(pieces))
    job.count(usage)
    if job.include_usage:
        yield job.chunks.usage(usage)


async def progress_stream(job: Job) -> AsyncIterator[str]:
    """Progress every half second while `solve` runs, then the answer and (maybe) usage."""
    latest: dict[str, Bill] = {}
    task = asyncio.ensure_future(
        asyncio.to_thread(run_choice, job.backend, job.plan, job.cancel,
                          lambda bill: latest.update(bill=bill))
    )  # fmt: skip
    job.track(task)
    started = time.perf_counter()
    while not (await asyncio.wait({task}, timeout=0.5))[0]:
        if time.perf_counter() - started > job.timeout:
            job.cancel.set()  # strategies stop and answer with what they have
        bill = latest.get("bill", Bill())
        progress = ThinktimeProgress(samples=bill.samples, completion_tokens=bill.completion_tokens)
        yield job.chunks.delta(Delta(), thinktime=progress)
    try:
        result = task.result()
    except ThinktimeError as exc:
        yield f"data: {json.dumps(error_body(str(exc)))}\n\n"
        return
    message, finish, extension = reply(result, job.plan.budget)
    delta = Delta(content=message.content, reasoning_content=message.reasoning_content)
    yield job.chunks.delta(delta, finish, extension)
    usage = Usage.billed([result.bill])
    job.count(usage)
    if job.include_usage:
        yield job.chunks.usage(usage)
