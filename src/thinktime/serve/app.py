"""The OpenAI-compatible app: POST /v1/chat/completions, GET /v1/models, /health, /metrics.

How hard to think, per request (first that is set wins): the `thinktime` body field
(`{"strategy": …, "n": …, "budget": {…}, "params": {…}}`), a model named `STRATEGY/MODEL`,
`reasoning_effort` (low | medium | high → the effort table). With none of them the request
passes straight to the engine (`strategy=none`), so unchanged apps get a plain chat model.

The answer is `choices[].message.content`; the reasoning of the chosen sample is
`choices[].message.reasoning_content`; `usage.completion_tokens` counts every token generated
for the request (all samples and verifier calls); `thinktime` carries the bill and the votes.

Streaming: `none`, `cot` and `direct` stream tokens as the engine makes them. Multi-sample
strategies cannot know their answer before the vote, so they stream progress chunks (samples
and tokens so far, content empty) and then the answer in one chunk.

Concurrency: at most `max_concurrent` requests run at once (the engine batches them); up to
`max_queue` are admitted, beyond that 429 with Retry-After. A request past its time gets 504
and a client that disconnects is noticed within half a second: either way the engine calls in
flight stop at their next token (`Cancellable` backends), and the request's slot is released
only once its work has stopped, so admission counts real load.

Trust: every route but `/health` needs the key when one is set (`/metrics` can be opened to a
scraper with `open_metrics`); what clients may run is the operator's `ServerPolicy`; bodies are
read by `intake.py` (size and nesting limits while reading); every error is in OpenAI's shape.
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

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException

from thinktime.answers.extract import extract_answer
from thinktime.api import solve
from thinktime.backends.base import Backend, Cancellable, EngineMetrics, Streaming
from thinktime.compute.budget import SampleCapError
from thinktime.errors import ThinktimeError
from thinktime.prompts import cot_messages, direct_messages
from thinktime.sampling import SamplingParams
from thinktime.serve.intake import BadRequest, RequireKey, parse_json, read_body
from thinktime.serve.intake import error as _error
from thinktime.serve.metrics import Metrics
from thinktime.serve.policy import PolicyViolation, ServerPolicy
from thinktime.serve.schemas import ChatRequest, error_body
from thinktime.strategies import STRATEGIES
from thinktime.strategies.effort import effort_for
from thinktime.types import Bill, Message
from thinktime.types import Request as EngineRequest

STREAMED = ("none", "cot", "direct")  # single-sample strategies whose tokens can stream


# `solve`'s own arguments: a client's `thinktime.params` cannot set them (the server does)
RESERVED = ("max_tokens", "temperature", "seed", "backend", "model", "question", "budget",
            "history", "cancel", "price", "on_call", "reasoning_effort", "strategy")  # fmt: skip


@dataclass(frozen=True)
class ServerConfig:
    model: str
    api_key: str | None = None
    max_concurrent: int = 8
    max_queue: int = 64
    timeout: float = 300.0
    max_body_bytes: int = 1 << 20
    default_max_tokens: int = 1024
    policy: ServerPolicy = field(default_factory=ServerPolicy)
    open_metrics: bool = False  # let a scraper read /metrics without the key


@dataclass
class Plan:
    """What one request will run."""

    strategy: str
    params: dict[str, Any]
    budget: dict[str, float] | None
    effort: str | None

    def resolved(self, model: str) -> tuple[str, dict[str, Any]]:
        """(strategy, params) as they will run: a `reasoning_effort` looked up in its table."""
        if self.effort is None:
            return self.strategy or "none", self.params
        effort = effort_for(self.effort, model)
        return effort.strategy, {**effort.params, **self.params}


def plan_request(body: ChatRequest, served: str) -> Plan:
    prefix, slash, name = body.model.rpartition("/")
    strategy = prefix if slash and prefix in (*STRATEGIES, "none") else None
    model = name if strategy else body.model
    if model not in (served, "thinktime"):
        raise BadRequest(
            f"unknown model {body.model!r}; this server serves {served!r}, optionally as "
            f"STRATEGY/{served} with STRATEGY one of: none, {', '.join(STRATEGIES)}",
            "model",
        )
    options = body.thinktime
    if options and options.strategy:
        strategy = options.strategy
    if strategy is not None and strategy != "none" and strategy not in STRATEGIES:
        raise BadRequest(
            f"unknown strategy {strategy!r}; choose one of: none, {', '.join(STRATEGIES)}",
            "thinktime.strategy",
        )
    params = dict(options.params) if options else {}
    reserved = sorted(set(params) & set(RESERVED))
    if reserved:
        raise BadRequest(
            f"thinktime.params cannot set {', '.join(reserved)}: use the request's own fields "
            "(max_completion_tokens, temperature, seed, thinktime.budget, thinktime.strategy)",
            f"thinktime.params.{reserved[0]}",
        )
    if "verifier" in params and not isinstance(params["verifier"], str):
        raise BadRequest("thinktime.params.verifier must be a verifier's name (a string)")
    if options and options.n is not None:
        params["n"] = options.n
    effort = body.reasoning_effort if strategy is None else None
    if strategy is None and effort is None:
        strategy = "none"
    return Plan(strategy or "", params, options.budget if options else None, effort)


def split_conversation(body: ChatRequest) -> tuple[str, tuple[Message, ...]]:
    """(the last user message, every turn before it — system prompts as system turns)."""
    turns = tuple(
        Message("system" if m.role == "developer" else m.role, m.text()) for m in body.messages
    )
    return turns[-1].content, turns[:-1]


def create_app(backend: Backend, config: ServerConfig) -> FastAPI:
    app = FastAPI(title="thinktime", version="0.1.0")
    metrics = Metrics()
    running = asyncio.Semaphore(config.max_concurrent)
    admitted = 0
    timeout = min(config.timeout, config.policy.max_seconds)
    open_paths = {"/health", *(["/metrics"] if config.open_metrics else [])}
    background: set[asyncio.Task[None]] = set()

    app.add_middleware(RequireKey, key=config.api_key, open_paths=frozenset(open_paths))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return _error(400, str(exc.errors()[0].get("msg", "invalid request")))

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

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": config.model}

    @app.get("/metrics")
    def prometheus() -> Response:
        """thinktime's counters, then the engine's own (`thinktime_engine_*`) where it has them."""
        text = generate_latest(metrics.registry).decode()
        stats = backend.engine_stats if isinstance(backend, EngineMetrics) else None
        for name, value in (stats() if callable(stats) else {}).items():
            text += f"thinktime_engine_{name} {value}\n"
        return Response(text, media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
    def models(request: Request) -> Any:
        names = [config.model, *(f"{s}/{config.model}" for s in ("none", *STRATEGIES))]
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
    )
    async def chat(request: Request) -> Response:
        nonlocal admitted
        started = time.perf_counter()
        response = await _chat(request)
        metrics.requests.labels(status=str(response.status_code)).inc()
        if response.status_code == 200 and not isinstance(response, StreamingResponse):
            metrics.latency.observe(time.perf_counter() - started)
        return response

    async def _chat(request: Request) -> Response:
        nonlocal admitted
        try:
            data = parse_json(await read_body(request, config.max_body_bytes))
            body = ChatRequest.model_validate(data)
            plan = plan_request(body, config.model)
            if body.stream and body.n > 1:
                raise BadRequest(
                    "streaming returns one choice; send n=1 with stream, or stream=false for n>1",
                    "n",
                )
            strategy, params = plan.resolved(backend.name)
            config.policy.check(
                strategy,
                params,
                body.n,
                sum(len(m.text()) for m in body.messages),
                body.max_completion_tokens or body.max_tokens or 0,
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            param = ".".join(map(str, first["loc"]))
            return _error(400, f"{param or 'body'}: {first['msg']}", param)
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
            stream = _Stream(request, body, plan)
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
        return await _complete(request, body, plan, threading.Event())

    def _sampling(body: ChatRequest) -> dict[str, Any]:
        return {
            "max_tokens": body.max_completion_tokens
            or body.max_tokens
            or config.default_max_tokens,
            "temperature": body.temperature,
            "seed": body.seed,
        }

    def _capped(budget: dict[str, float] | None, choices: int) -> dict[str, float]:
        """The client's budget within the policy: tokens shared by the choices, wall seconds."""
        budget = dict(budget or {})
        share = max(config.policy.max_completion_tokens // choices, 1)
        asked = budget.pop("max_tokens", None) or budget.get("max_completion_tokens") or share
        budget["max_completion_tokens"] = min(asked, share)
        budget["max_seconds"] = min(budget.get("max_seconds", timeout), timeout)
        samples = max(config.policy.max_samples // choices, 1)
        budget["max_samples"] = min(budget.get("max_samples", samples), samples)
        return budget

    def _run(
        body: ChatRequest, plan: Plan, cancel: threading.Event, on_call: Any = None
    ) -> dict[str, Any]:
        """One choice, in a worker thread."""
        question, history = split_conversation(body)
        sampling = _sampling(body)
        if plan.strategy == "none":
            share = max(config.policy.max_completion_tokens // body.n, 1)
            params = SamplingParams(
                temperature=0.7 if sampling["temperature"] is None else sampling["temperature"],
                max_tokens=min(sampling["max_tokens"], share),
                seed=sampling["seed"],
            )
            requests = [EngineRequest(messages=(*history, Message("user", question)))]
            if isinstance(backend, Cancellable):
                [generation] = backend.generate_until(requests, params, cancel)
            else:
                [generation] = backend.generate(requests, params)
            completion = generation.completions[0]
            return {
                "content": completion.text,
                "reasoning": None,
                "finish_reason": completion.finish_reason,
                "prompt_tokens": generation.prompt_tokens,
                "completion_tokens": completion.completion_tokens,
                "reasoning_tokens": 0,
                "thinktime": {"strategy": "none"},
            }
        strategy_params = dict(plan.params)
        verifier = strategy_params.pop("verifier", "judge")  # the policy has allowed it
        result = solve(
            question,
            backend=backend,
            strategy=plan.strategy or None,
            params=strategy_params,
            sampling=SamplingParams(**{k: v for k, v in sampling.items() if v is not None}),
            reasoning_effort=plan.effort,
            budget=_capped(plan.budget, body.n),
            verifier=verifier,
            history=history,
            cancel=cancel,
            on_call=on_call,
        )
        bill = result.bill
        chosen = result.samples[result.chosen] if result.chosen is not None else None
        truncated = result.budget_limited or (
            chosen is not None and chosen.finish_reason == "length"
        )
        return {
            "content": result.answer if result.answer is not None else result.reasoning,
            "reasoning": result.reasoning,
            "finish_reason": "length" if truncated else "stop",
            "prompt_tokens": bill.prompt_tokens,
            "completion_tokens": bill.completion_tokens,
            "reasoning_tokens": bill.reasoning_tokens,
            "thinktime": {
                "strategy": result.strategy,
                "answer": result.answer,
                "votes": result.votes,
                "budget_limited": result.budget_limited,
                "bill": bill.to_dict(),
            },
        }

    async def _complete(
        request: Request, body: ChatRequest, plan: Plan, cancel: threading.Event
    ) -> Response:
        """Run the choices (the slot is held); the slot is freed when their threads end."""
        if await request.is_disconnected():  # left while queued: start nothing
            release_later([])
            return _error(400, "the client disconnected before the request started")
        tasks: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(asyncio.to_thread(_run, body, plan, cancel))
            for _ in range(body.n)
        ]
        watcher = asyncio.create_task(_watch_disconnect(request, cancel))
        try:
            choices = await asyncio.wait_for(asyncio.shield(asyncio.gather(*tasks)), timeout)
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
        prompt = sum(c["prompt_tokens"] for c in choices)
        completion = sum(c["completion_tokens"] for c in choices)
        metrics.tokens.labels(kind="prompt").inc(prompt)
        metrics.tokens.labels(kind="completion").inc(completion)
        return JSONResponse(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.model,
                "choices": [
                    {
                        "index": i,
                        "finish_reason": c["finish_reason"],
                        "message": {
                            "role": "assistant",
                            "content": c["content"],
                            "reasoning_content": c["reasoning"],
                        },
                    }
                    for i, c in enumerate(choices)
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                    "completion_tokens_details": {
                        "reasoning_tokens": sum(c["reasoning_tokens"] for c in choices)
                    },
                },
                "thinktime": choices[0]["thinktime"]
                if len(choices) == 1
                else [c["thinktime"] for c in choices],
            }
        )

    async def _watch_disconnect(request: Request, cancel: threading.Event) -> None:
        while not cancel.is_set():
            if await request.is_disconnected():
                cancel.set()
                return
            await asyncio.sleep(0.1)

    def _chunk(
        body: ChatRequest,
        cid: str,
        delta: dict[str, Any],
        finish: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        chunk = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **(extra or {}),
        }
        return f"data: {json.dumps(chunk)}\n\n"

    class _Stream:
        """One streamed answer: takes a slot when it starts and gives it back as soon as its
        work has stopped — even if the client is still (slowly) reading the last chunks."""

        def __init__(self, request: Request, body: ChatRequest, plan: Plan) -> None:
            self.request, self.body, self.plan = request, body, plan
            self.cancel = threading.Event()
            self.tasks: list[asyncio.Future[Any]] = []
            self.started = self.holding = self.released = False

        def track(self, work: asyncio.Future[Any]) -> None:
            """Count `work` as this stream's; when it ends, the slot is free again."""
            self.tasks.append(work)
            work.add_done_callback(lambda _: self.release())

        def release(self) -> None:
            if not self.released:
                self.released = True
                self.cancel.set()  # stops the disconnect watcher (and any work left)
                release_later(self.tasks, self.holding)

        async def events(self) -> AsyncIterator[str]:
            self.started = True
            body, plan, cancel = self.body, self.plan, self.cancel
            cid = f"chatcmpl-{uuid.uuid4().hex}"
            try:
                await running.acquire()
                self.holding = True
                if await self.request.is_disconnected():  # left while queued: start nothing
                    return
                self.tasks.append(asyncio.create_task(_watch_disconnect(self.request, cancel)))
                yield _chunk(body, cid, {"role": "assistant", "content": ""})
                streamed = plan.strategy in STREAMED and isinstance(backend, Streaming)
                pieces = (
                    _token_stream(body, plan, cancel, cid, self.track)
                    if streamed
                    else _progress_stream(body, plan, cancel, cid, self.track)
                )
                async for piece in pieces:
                    if await self.request.is_disconnected():
                        return
                    yield piece
                yield "data: [DONE]\n\n"
            finally:
                self.release()

        async def abandoned(self) -> None:
            """The response's background task: a stream that never started frees its place."""
            nonlocal admitted
            if not self.started:
                admitted -= 1
                metrics.queue_depth.set(admitted)

    async def _token_stream(
        body: ChatRequest,
        plan: Plan,
        cancel: threading.Event,
        cid: str,
        track: Callable[[asyncio.Future[Any]], None],
    ) -> AsyncIterator[str]:
        question, history = split_conversation(body)
        sampling = _sampling(body)
        make = {
            "none": lambda q: (*history, Message("user", q)),
            "direct": lambda q: (*history, *direct_messages(q)),
            "cot": lambda q: cot_messages(q, history),
        }[plan.strategy]
        temperature = (
            sampling["temperature"]
            if sampling["temperature"] is not None
            else (0.7 if plan.strategy == "none" else 0.0)
        )
        cap = min(sampling["max_tokens"], config.policy.max_completion_tokens)
        params = SamplingParams(temperature=temperature, max_tokens=cap, seed=sampling["seed"])
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        timer = loop.call_later(timeout, cancel.set)  # the policy's wall seconds hold here too

        def produce() -> None:
            try:
                for delta in backend.stream(EngineRequest(messages=make(question)), params, cancel):  # type: ignore[attr-defined]
                    loop.call_soon_threadsafe(queue.put_nowait, delta)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        worker = asyncio.ensure_future(asyncio.to_thread(produce))
        track(worker)
        text, tokens = "", 0
        while (delta := await queue.get()) is not None:
            text += delta
            tokens += 1
            yield _chunk(body, cid, {"content": delta})
        await worker
        timer.cancel()
        answer = extract_answer(text) if plan.strategy != "none" else None
        metrics.tokens.labels(kind="completion").inc(tokens)
        yield _chunk(
            body,
            cid,
            {},
            "length" if tokens >= params.max_tokens else "stop",
            {
                "thinktime": {
                    "strategy": plan.strategy,
                    "answer": answer,
                    "completion_tokens": tokens,
                }
            },
        )

    async def _progress_stream(
        body: ChatRequest,
        plan: Plan,
        cancel: threading.Event,
        cid: str,
        track: Callable[[asyncio.Future[Any]], None],
    ) -> AsyncIterator[str]:
        latest: dict[str, Bill] = {}
        task = asyncio.ensure_future(
            asyncio.to_thread(_run, body, plan, cancel, lambda bill: latest.update(bill=bill))
        )
        track(task)
        started = time.perf_counter()
        while not task.done():
            await asyncio.sleep(0.5)
            if time.perf_counter() - started > timeout:
                cancel.set()
            bill = latest.get("bill")
            progress = {
                "event": "progress",
                "samples": bill.samples if bill else 0,
                "completion_tokens": bill.completion_tokens if bill else 0,
            }
            yield _chunk(body, cid, {}, None, {"thinktime": progress})
        try:
            choice = task.result()
        except ThinktimeError as exc:
            yield f"data: {json.dumps(error_body(str(exc)))}\n\n"
            return
        yield _chunk(
            body,
            cid,
            {"content": choice["content"], "reasoning_content": choice["reasoning"]},
            choice["finish_reason"],
            {"thinktime": choice["thinktime"]},
        )

    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        document = default_openapi()
        document.setdefault("components", {}).setdefault("schemas", {}).update(definitions)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
    return app
