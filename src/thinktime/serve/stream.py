"""Streamed answers (`"stream": true`), as OpenAI's server-sent chunks.

Two kinds, chosen by what the strategy can know early:
- **tokens** — strategies that declare `streams` (`plain`, `cot`, `direct`) on a backend that
  streams its calls (`DeltaStreaming`): `solve` runs as for any answer, and the one sample's
  text is passed on as the engine makes it — a reasoning model's thinking (`<think>…</think>`
  in the text) as `delta.reasoning_content` / `delta.reasoning` pieces (the server's
  `reasoning_field`), its answer as `delta.content` pieces after them
  (`thinking.ThinkingSplitter`) — then a chunk with the finish_reason and the extracted
  answer. An engine that kept the thinking apart
  without streaming it gives it in one piece before the finish;
- **progress** — every other strategy cannot know its answer before the vote: it runs through
  `solve` while a chunk every half second reports the samples and tokens so far (content
  empty), then the thinking in one chunk and the answer in the next. A request offering tools
  streams this way too, whatever its strategy: a call is known to be one only once it is
  whole, so the answer's chunk carries each call whole (`delta.tool_calls[i]` with its id,
  name and arguments) and `finish_reason: "tool_calls"`, which OpenAI's clients assemble as
  they do pieces.
Every stream starts with the assistant's role and ends with `data: [DONE]`.

Usage (`stream_options.include_usage`): just before `[DONE]` comes a chunk with no choices and
the request's `usage`: the `Result`'s bill, for both kinds (every path goes through `solve`).

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
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from thinktime.backends.base import Backend, DeltaStreaming
from thinktime.errors import ThinktimeError
from thinktime.serve.answer import FinishReason, SolveArgs, reply, run_choice
from thinktime.serve.schemas import (
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    ThinktimeAnswer,
    ThinktimeProgress,
    Usage,
    error_body,
)
from thinktime.serve.thinking import ReasoningField, ThinkingSplitter, think_tags
from thinktime.serve.tools import DeltaToolCall
from thinktime.strategies import get_strategy
from thinktime.types import Bill, Result


@dataclass(frozen=True)
class Chunks:
    """One stream's chunks, all with the stream's id and the model the client named."""

    model: str
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    reasoning_field: ReasoningField = "both"  # the delta fields thinking is sent in

    def thinking(self, text: str) -> str:
        """A chunk with a piece of thinking."""
        return self.delta(Delta.thinking(text, self.reasoning_field))

    def piece(self, kind: str, text: str) -> str:
        """A chunk with a piece of thinking or of the answer."""
        return self.thinking(text) if kind == "thinking" else self.delta(Delta(content=text))

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
    args: SolveArgs
    chunks: Chunks
    cancel: threading.Event  # set: stop the work at its next token
    track: Callable[[asyncio.Future[Any]], None]  # the request's slot is held until it ends
    timeout: float  # wall seconds; past them the work is cancelled
    include_usage: bool = False
    count: Callable[[Usage], None] = lambda usage: None  # the server's token counters
    record: Callable[[Result], None] = lambda result: None  # the recent answers (`--view`)


async def events(job: Job) -> AsyncIterator[str]:
    """Every server-sent event of the stream, `[DONE]` last."""
    yield job.chunks.delta(Delta(role="assistant", content=""))
    backend, fmt = job.backend, job.args.reply_format
    calls = fmt is not None and fmt.calls_tools()
    streams = get_strategy(job.args.strategy).streams  # one sample's text: its tokens can flow
    if streams and isinstance(backend, DeltaStreaming) and not calls:
        pieces = token_stream(job)
    else:
        pieces = progress_stream(job)
    async for piece in pieces:
        yield piece
    yield "data: [DONE]\n\n"


async def token_stream(job: Job) -> AsyncIterator[str]:
    """The strategy's one sample as the engine makes it — through `solve`, so the prompts,
    caps and bill are the strategy's own — then the finish and (maybe) the usage."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    timer = loop.call_later(job.timeout, job.cancel.set)  # the policy's wall seconds hold here

    def on_delta(choice: int, piece: str) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, piece)

    def work() -> Result:
        # 1) solve in a worker thread; the engine hands each piece to the event loop
        try:
            return run_choice(job.backend, job.args, job.cancel, on_delta=on_delta)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    task = asyncio.ensure_future(asyncio.to_thread(work))
    job.track(task)
    # 2) pass the pieces on as they come, the thinking apart from the answer
    splitter = ThinkingSplitter(think_tags(job.backend))
    thought = False
    while (piece := await queue.get()) is not None:
        for kind, text in splitter.feed(piece):
            thought = thought or kind == "thinking"
            yield job.chunks.piece(kind, text)
    for kind, text in splitter.finish():
        thought = thought or kind == "thinking"
        yield job.chunks.piece(kind, text)
    timer.cancel()
    try:
        result = await task
    except ThinktimeError as exc:
        yield f"data: {json.dumps(error_body(str(exc)))}\n\n"
        return
    # 3) the finish (the answer and bill in the extension), then the usage: the bill's own;
    #    thinking the engine kept apart without streaming it is not lost
    _, finish, extension = reply(result, job.args.budget, job.args.reply_format)
    chosen = result.samples[result.chosen] if result.chosen is not None else None
    if chosen is not None and chosen.reasoning and not thought:
        yield job.chunks.thinking(chosen.reasoning)
    yield job.chunks.delta(Delta(), finish, extension)
    usage = Usage.billed([result.bill])
    job.count(usage)
    job.record(result)
    if job.include_usage:
        yield job.chunks.usage(usage)


async def progress_stream(job: Job) -> AsyncIterator[str]:
    """Progress every half second while `solve` runs, then the answer and (maybe) usage."""
    latest: dict[str, Bill] = {}
    task = asyncio.ensure_future(
        asyncio.to_thread(run_choice, job.backend, job.args, job.cancel,
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
    message, finish, extension = reply(result, job.args.budget, job.args.reply_format)
    calls = [
        DeltaToolCall.whole(i, call.value()) for i, call in enumerate(message.tool_calls or ())
    ]
    if message.reasoning:  # the thinking first, in a chunk of its own
        yield job.chunks.thinking(message.reasoning)
    delta = Delta(content=message.content, tool_calls=calls or None)
    yield job.chunks.delta(delta, finish, extension)
    usage = Usage.billed([result.bill])
    job.count(usage)
    job.record(result)
    if job.include_usage:
        yield job.chunks.usage(usage)
