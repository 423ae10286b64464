"""POST /v1/chat/completions: read the request, admit it, answer it (streamed or not).

1) read: the body (size and nesting limits while reading, `intake.py`) into `ChatRequest`,
   then `SolveArgs` (`answer.py`), then every check before anything runs — the operator's
   policy (403), a reply format or thinking cap the backend cannot hold (400). Each refusal
   is one error in OpenAI's shape, naming the field;
2) admit: 429 with Retry-After past `max_queue` (`admission.py`);
3) answer: wait for a slot, run the `n` choices in worker threads and reply in one body — or
   as a stream (`StreamedAnswer`, `stream.py`) that takes its slot when the client starts
   reading. A request past its time gets 504; a client that disconnects is noticed within
   half a second; either way the work stops at its next token, and the place is given back
   only once it has.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.background import BackgroundTask

from thinktime.backends.base import EngineCannot, check_engine
from thinktime.compute.budget import SampleCapError
from thinktime.errors import ThinktimeError
from thinktime.serve.admission import Place
from thinktime.serve.answer import SolveArgs, completion, run_choice, solve_args
from thinktime.serve.intake import BadRequest, error, parse_json, read_body, refusal
from thinktime.serve.policy import PolicyViolation
from thinktime.serve.schemas import ChatRequest
from thinktime.serve.service import Service
from thinktime.serve.stream import Chunks, Job, events
from thinktime.serve.thinking import think_tags


async def chat_completions(service: Service, request: Request) -> Response:
    """The route: the answer, counted by status (and timed, when whole and successful)."""
    started = time.perf_counter()
    response = await respond(service, request)
    service.metrics.requests.labels(status=str(response.status_code)).inc()
    if response.status_code == 200 and not isinstance(response, StreamingResponse):
        service.metrics.latency.observe(time.perf_counter() - started)
    return response


async def respond(service: Service, request: Request) -> Response:
    """Read the request into `SolveArgs`, admit it, then answer it (streamed or not)."""
    try:
        body, args = await read_request(service, request)
    except BadRequest as exc:
        return error(exc.status, str(exc), exc.param)
    admission = service.admission
    if not admission.admit():
        response = error(429, "server busy: the request queue is full; retry shortly")
        response.headers["Retry-After"] = "1"
        return response
    place = Place(admission)
    if body.stream:
        stream = StreamedAnswer(service, request, body, args, place)
        return StreamingResponse(
            stream.events(),
            media_type="text/event-stream",
            background=BackgroundTask(stream.abandoned),
        )
    try:
        await place.take_slot()
    except asyncio.CancelledError:
        admission.leave(holding=False)
        raise
    return await complete(service, request, body, args, place)


async def read_request(service: Service, request: Request) -> tuple[ChatRequest, SolveArgs]:
    """The request, parsed and checked; `BadRequest` (with its status) for any refusal."""
    config, backend = service.config, service.backend
    data: Any = None
    try:
        data = parse_json(await read_body(request, config.max_body_bytes))
        body = ChatRequest.model_validate(data)
        args = solve_args(body, config, backend.name, think_tags(backend))
        config.policy.check(
            args.strategy,
            args.params,
            body.n,
            sum(len(m.text()) for m in body.messages),
            body.completion_cap() or 0,
            args.samples,
            args.verifier,
        )
        config.policy.check_tools(len(body.tools or ()), body.response_format is not None)
    except ValidationError as exc:
        raise refusal(data, exc.errors()) from None
    except PolicyViolation as exc:
        raise BadRequest(str(exc), exc.param, status=403) from None
    # what the engine cannot do, refused before admission (the ledger would refuse it mid-answer,
    # after a stream had started): the library's one check, answered as a 400 naming the field
    fmt = args.reply_format
    try:
        check_engine(backend, constrained=fmt is not None and fmt.constrained(),
                     thinking_cap=args.call.engine_caps_thinking,
                     asked="max_thinking_tokens / thinking_token_budget")  # fmt: skip
    except EngineCannot as exc:
        field = exc.field
        if field == "response_format" and fmt is not None and fmt.response_format is None:
            field = "tool_choice"  # the schema came from a required or named tool call
        raise BadRequest(str(exc), field) from None
    return body, args


async def complete(
    service: Service, request: Request, body: ChatRequest, args: SolveArgs, place: Place
) -> Response:
    """Run the choices (the slot is held); the place is given back when their threads end."""
    config, timeout = service.config, service.config.wall_seconds
    if await request.is_disconnected():  # left while queued: start nothing
        place.release()
        return error(400, "the client disconnected before the request started")
    for i in range(body.n):
        work = asyncio.to_thread(run_choice, service.backend, args.choice(i), place.cancel)
        place.track(asyncio.ensure_future(work))
    tasks = list(place.tasks)
    watcher = asyncio.create_task(watch_disconnect(request, place.cancel))
    try:
        gathered = asyncio.gather(*tasks)
        gathered.add_done_callback(_read_outcome)  # a late failure is not "never retrieved"
        results = await asyncio.wait_for(asyncio.shield(gathered), timeout)
    except TimeoutError:
        return error(504, f"no answer within {timeout:g} s; ask for less compute")
    except SampleCapError as exc:
        return error(403, f"{exc} (policy.max_samples = {config.policy.max_samples})", "n")
    except ThinktimeError as exc:
        return error(400, str(exc))
    finally:
        watcher.cancel()
        place.release()  # stop whatever still runs (a 504, a failed sibling choice)
    reply = completion(f"chatcmpl-{uuid.uuid4().hex}", body.model, results, args.budget,
                       args.reply_format)  # fmt: skip
    service.count(reply.usage)
    for result in results:
        service.recorder(body.model)(result)
    return JSONResponse(reply.wire(config.reasoning_field))


class StreamedAnswer:
    """One streamed answer: takes a slot when it starts and gives it back as soon as its
    work has stopped — even if the client is still (slowly) reading the last chunks."""

    def __init__(
        self, service: Service, request: Request, body: ChatRequest, args: SolveArgs, place: Place
    ) -> None:
        self.service, self.request, self.body, self.args = service, request, body, args
        self.place = place
        self.started = False

    def track(self, work: asyncio.Future[Any]) -> None:
        """Count `work` as this stream's; when it ends, the slot is free again."""
        self.place.track(work)
        work.add_done_callback(lambda _: self.place.release())

    async def events(self) -> AsyncIterator[str]:
        self.started = True
        service, place = self.service, self.place
        try:
            await place.take_slot()
            if await self.request.is_disconnected():  # left while queued: start nothing
                return
            # the watcher is awaited with the work (it ends once the place is released)
            place.tasks.append(asyncio.create_task(watch_disconnect(self.request, place.cancel)))
            chunks = Chunks(self.body.model, reasoning_field=service.config.reasoning_field)
            job = Job(service.backend, self.args, chunks, place.cancel, self.track,
                      service.config.wall_seconds, self.body.include_usage(), service.count,
                      service.recorder(self.body.model))  # fmt: skip
            async for event in events(job):
                if await self.request.is_disconnected():
                    return
                yield event
        finally:
            place.release()

    async def abandoned(self) -> None:
        """The response's background task: a stream that never started frees its place."""
        if not self.started:
            self.service.admission.leave(holding=False)


def _read_outcome(work: asyncio.Future[Any]) -> None:
    if not work.cancelled():
        work.exception()


async def watch_disconnect(request: Request, cancel: threading.Event) -> None:
    """Set `cancel` when the client goes away (checked every 0.1 s) or return once it is set."""
    while not cancel.is_set():
        if await request.is_disconnected():
            cancel.set()
            return
        await asyncio.sleep(0.1)
