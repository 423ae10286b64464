"""The OpenAI-compatible app: routes and admission. POST /v1/chat/completions, GET /v1/models,
/health, /metrics.

How hard to think, per request (first that is set wins): the `thinktime` body field
(`{"strategy": …, "n": …, "budget": {…}, "params": {…}}`), a model named `STRATEGY/MODEL`,
`reasoning_effort` (low | medium | high → the effort table). With none of them the request
runs strategy `none` (the conversation passed unchanged to the engine), so unchanged apps get a
plain chat model. Every choice is answered by `solve` (`answer.py`); streams are `stream.py`;
wire fields mean what OpenAI means (`schemas.py`).

The answer is `choices[].message.content`; the reasoning of the chosen sample is
`choices[].message.reasoning_content` and `.reasoning` (the names clients read: the server's
`reasoning_field` picks one or both; `thinking.py`); `usage` is the sum of the choices' bills
(every token generated for the request: all samples and verifier calls); `thinktime` carries
each bill and the votes. A thinking cap (`max_thinking_tokens`, `thinking_token_budget`) the
engine cannot carry is a 400 before anything runs.

Concurrency: at most `max_concurrent` requests run at once (the engine batches them); up to
`max_queue` are admitted, beyond that 429 with Retry-After. A request past its time gets 504
and a client that disconnects is noticed within half a second: either way the engine calls in
flight stop at their next token (`Cancellable` backends), and the request's slot is released
only once its work has stopped, so admission counts real load.

Trust: every route but `/health` needs the key when one is set (`/metrics` can be opened to a
scraper with `open_metrics`); without a key only a loopback `Host` (or one of `allowed_hosts`)
is answered, and bodies must be `application/json` (`origin.py`); what clients may run is the
operator's `ServerPolicy`; bodies are read by `intake.py` (size and nesting limits while
reading); every error is in OpenAI's shape.

    >>> from fastapi.testclient import TestClient
    >>> from thinktime.backends.fake import FakeBackend
    >>> app = create_app(FakeBackend(["Hi!"]), ServerConfig(model="qwen"))
    >>> client = TestClient(app, base_url="http://127.0.0.1:8000")
    >>> reply = client.post("/v1/chat/completions",
    ...                     json={"model": "qwen", "messages": [{"role": "user", "content": "Hi"}]})
    >>> reply.json()["choices"][0]["message"]["content"], reply.json()["usage"]["completion_tokens"]
    ('Hi!', 1)
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.background import BackgroundTask

from thinktime.backends.base import Backend, ConstrainsOutput, EngineMetrics
from thinktime.compute.budget import SampleCapError
from thinktime.errors import ThinktimeError
from thinktime.serve.answer import SolveArgs, completion, run_choice, solve_args, thinking_refusal
from thinktime.serve.config import ServerConfig
from thinktime.serve.intake import (
    BadRequest,
    RequireKey,
    errors_in_openai_shape,
    parse_json,
    read_body,
    refusal,
)
from thinktime.serve.intake import error as _error
from thinktime.serve.metrics import Metrics
from thinktime.serve.origin import LocalOrigin
from thinktime.serve.policy import PolicyViolation
from thinktime.serve.recent import Recent
from thinktime.serve.schemas import ChatCompletion, ChatRequest, Usage
from thinktime.serve.stream import Chunks, Job, events
from thinktime.serve.thinking import think_tags
from thinktime.strategies import STRATEGIES
from thinktime.types import Result

__all__ = ["ServerConfig", "create_app"]


# when the server stops, the work of the requests in flight gets this long to end once cancelled
STOPPING_WORK_WAIT = 1.0


def create_app(backend: Backend, config: ServerConfig) -> FastAPI:
    # the work in flight (worker threads' futures), each with the event that cancels it
    workers: dict[asyncio.Future[Any], threading.Event] = {}

    def in_flight(work: asyncio.Future[Any], cancel: threading.Event) -> None:
        workers[work] = cancel
        work.add_done_callback(lambda done: workers.pop(done, None))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # stopping (uvicorn has given the requests their grace): cancel the work still in
        # flight, so the engine calls stop at their next token, and let it end
        for cancel in set(workers.values()):
            cancel.set()
        if workers:
            await asyncio.wait(list(workers), timeout=STOPPING_WORK_WAIT)

    app = FastAPI(title="thinktime", version="0.1.0", lifespan=lifespan)
    metrics = Metrics()
    running = asyncio.Semaphore(config.max_concurrent)
    admitted = 0
    timeout = config.wall_seconds
    open_paths = {"/health", *(["/metrics"] if config.open_metrics else [])}
    background: set[asyncio.Task[None]] = set()
    recent = Recent(config.recent) if config.recent else None
    app.state.recent = recent  # what `thinktime serve --view` shows

    # the key is checked first (outermost), then the Host (keyless only) and a body's type
    app.add_middleware(LocalOrigin, check_host=not config.api_key,
                       allowed=config.allowed_hosts, open_paths=frozenset(open_paths))  # fmt: skip
    app.add_middleware(RequireKey, key=config.api_key, open_paths=frozenset(open_paths))
    errors_in_openai_shape(app)

    async def release_when_done(tasks: list[asyncio.Future[Any]], holding: bool) -> None:
        """Free the request's place (and slot) once its worker threads have really stopped."""
        nonlocal admitted
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            if holding:
                running.release()
            admitted -= 1
            metrics.queue_depth.set(admitted)

    def release_later(tasks: list[asyncio.Future[Any]], holding: bool = True) -> None:
        task = asyncio.get_running_loop().create_task(release_when_done(tasks, holding))
        background.add(task)  # keep a reference until it ends
        task.add_done_callback(background.discard)

    def count(usage: Usage) -> None:
        metrics.tokens.labels(kind="prompt").inc(usage.prompt_tokens)
        metrics.tokens.labels(kind="completion").inc(usage.completion_tokens)

    def recorder(model: str) -> Callable[[Result], None]:
        """Keep a request's answers in the ring buffer (a no-op without `--view`)."""

        def record(result: Result) -> None:
            if recent is not None:
                recent.add(model, result)

        return record

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": config.model}

    @app.get("/metrics")
    def prometheus() -> Response:
        """thinktime's counters, then the engine's own (`thinktime_engine_*`) where it has them."""
        text = generate_latest(metrics.registry).decode()
        stats = backend.engine_stats() if isinstance(backend, EngineMetrics) else {}
        for name, value in stats.items():
            text += f"thinktime_engine_{name} {value}\n"
        return Response(text, media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
    def models(request: Request) -> Any:
        names = [config.model, *(f"{s}/{config.model}" for s in sorted(STRATEGIES))]
        return {
            "object": "list",
            "data": [{"id": n, "object": "model", "owned_by": "thinktime"} for n in names],
        }

    # the body is parsed by hand (to answer 400/413 in OpenAI's shape), so its schema is
    # declared here; its sub-models go to components so the OpenAPI document stays valid
    body_schema = ChatRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = body_schema.pop("$defs", {})

    @app.post(
        "/v1/chat/completions",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": body_schema}},
            }
        },
        responses={200: {"model": ChatCompletion, "description": "The answer (or a stream)."}},
    )
    async def chat(request: Request) -> Response:
        started = time.perf_counter()
        response = await _chat(request)
        metrics.requests.labels(status=str(response.status_code)).inc()
        if response.status_code == 200 and not isinstance(response, StreamingResponse):
            metrics.latency.observe(time.perf_counter() - started)
        return response

    async def _chat(request: Request) -> Response:
        """Read the request into `SolveArgs`, admit it, then answer it (streamed or not)."""
        nonlocal admitted
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
            fmt = args.reply_format
            if fmt is not None and fmt.constrained() and not isinstance(backend, ConstrainsOutput):
                raise BadRequest(  # refused, never ignored
                    f"backend {backend.name!r} cannot hold a reply to a JSON schema "
                    "(response_format, or tool_choice required / a named function)",
                    "response_format" if fmt.response_format is not None else "tool_choice",
                )
            uncapped = thinking_refusal(args, backend)
            if uncapped is not None:
                raise uncapped
        except ValidationError as exc:
            refused = refusal(data, exc.errors())
            return _error(400, str(refused), refused.param)
        except BadRequest as exc:
            return _error(exc.status, str(exc), exc.param)
        except PolicyViolation as exc:
            return _error(403, str(exc), exc.param)
        if admitted >= config.max_queue:
            response = _error(429, "server busy: the request queue is full; retry shortly")
            response.headers["Retry-After"] = "1"
            return response
        admitted += 1  # released by release_when_done, once the work has stopped
        metrics.queue_depth.set(admitted)
        if body.stream:
            stream = _Stream(request, body, args)
            return StreamingResponse(
                stream.events(),
                media_type="text/event-stream",
                background=BackgroundTask(stream.abandoned),
            )
        try:
            await running.acquire()
        except asyncio.CancelledError:
            admitted -= 1
            raise
        return await _complete(request, body, args, threading.Event())

    async def _complete(
        request: Request, body: ChatRequest, args: SolveArgs, cancel: threading.Event
    ) -> Response:
        """Run the choices (the slot is held); the slot is freed when their threads end."""
        if await request.is_disconnected():  # left while queued: start nothing
            release_later([])
            return _error(400, "the client disconnected before the request started")
        tasks: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(asyncio.to_thread(run_choice, backend, args.choice(i), cancel))
            for i in range(body.n)
        ]
        for work in tasks:
            in_flight(work, cancel)
        watcher = asyncio.create_task(_watch_disconnect(request, cancel))
        try:
            gathered = asyncio.gather(*tasks)
            gathered.add_done_callback(_read_outcome)  # a late failure is not "never retrieved"
            results = await asyncio.wait_for(asyncio.shield(gathered), timeout)
        except TimeoutError:
            return _error(504, f"no answer within {timeout:g} s; ask for less compute")
        except SampleCapError as exc:
            return _error(403, f"{exc} (policy.max_samples = {config.policy.max_samples})", "n")
        except ThinktimeError as exc:
            return _error(400, str(exc))
        finally:
            cancel.set()  # stop whatever still runs (a 504, a failed sibling choice)
            watcher.cancel()
            release_later(tasks)
        reply = completion(f"chatcmpl-{uuid.uuid4().hex}", body.model, results, args.budget,
                           args.reply_format)  # fmt: skip
        count(reply.usage)
        for result in results:
            recorder(body.model)(result)
        return JSONResponse(reply.wire(config.reasoning_field))

    def _read_outcome(work: asyncio.Future[Any]) -> None:
        if not work.cancelled():
            work.exception()

    async def _watch_disconnect(request: Request, cancel: threading.Event) -> None:
        while not cancel.is_set():
            if await request.is_disconnected():
                cancel.set()
                return
            await asyncio.sleep(0.1)

    class _Stream:
        """One streamed answer: takes a slot when it starts and gives it back as soon as its
        work has stopped — even if the client is still (slowly) reading the last chunks."""

        def __init__(self, request: Request, body: ChatRequest, args: SolveArgs) -> None:
            self.request, self.body, self.args = request, body, args
            self.cancel = threading.Event()
            self.tasks: list[asyncio.Future[Any]] = []
            self.started = self.holding = self.released = False

        def track(self, work: asyncio.Future[Any]) -> None:
            """Count `work` as this stream's; when it ends, the slot is free again."""
            self.tasks.append(work)
            in_flight(work, self.cancel)
            work.add_done_callback(lambda _: self.release())

        def release(self) -> None:
            if not self.released:
                self.released = True
                self.cancel.set()  # stops the disconnect watcher (and any work left)
                release_later(self.tasks, self.holding)

        async def events(self) -> AsyncIterator[str]:
            self.started = True
            try:
                await running.acquire()
                self.holding = True
                if await self.request.is_disconnected():  # left while queued: start nothing
                    return
                watcher = _watch_disconnect(self.request, self.cancel)
                self.tasks.append(asyncio.create_task(watcher))
                chunks = Chunks(self.body.model, reasoning_field=config.reasoning_field)
                job = Job(backend, self.args, chunks, self.cancel, self.track,
                          timeout, self.body.include_usage(), count,
                          recorder(self.body.model))  # fmt: skip
                async for event in events(job):
                    if await self.request.is_disconnected():
                        return
                    yield event
            finally:
                self.release()

        async def abandoned(self) -> None:
            """The response's background task: a stream that never started frees its place."""
            nonlocal admitted
            if not self.started:
                admitted -= 1
                metrics.queue_depth.set(admitted)

    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        document = default_openapi()
        document.setdefault("components", {}).setdefault("schemas", {}).update(definitions)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
    return app
