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
`max_queue` are admitted, beyond that 429 with Retry-After. A request past `timeout` gets 504
and its strategy stops at its next step; so does one whose client disconnects.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from thinktime.api import solve
from thinktime.backends.base import Backend
from thinktime.compute.bill import Bill
from thinktime.errors import ThinktimeError
from thinktime.prompts import cot_messages, direct_messages
from thinktime.sampling import SamplingParams
from thinktime.serve.metrics import Metrics
from thinktime.serve.schemas import ChatRequest, error_body
from thinktime.strategies import STRATEGIES
from thinktime.types import Message
from thinktime.types import Request as EngineRequest
from thinktime.verifiers.extract import extract_answer

STREAMED = ("none", "cot", "direct")  # single-sample strategies whose tokens can stream


@dataclass(frozen=True)
class ServerConfig:
    model: str
    api_key: str | None = None
    max_concurrent: int = 8
    max_queue: int = 64
    timeout: float = 300.0
    max_body_bytes: int = 1 << 20
    default_max_tokens: int = 1024


class BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.param, self.status = param, status


def _error(
    status: int, message: str, param: str | None = None, kind: str | None = None
) -> JSONResponse:
    kinds = {
        401: "authentication_error",
        413: "invalid_request_error",
        429: "rate_limit_error",
        504: "timeout_error",
    }
    return JSONResponse(
        error_body(message, kind or kinds.get(status, "invalid_request_error"), param),
        status_code=status,
    )


@dataclass
class Plan:
    """What one request will run."""

    strategy: str
    params: dict[str, Any]
    budget: dict[str, float] | None
    effort: str | None


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

    def authorized(request: Request) -> bool:
        if not config.api_key:
            return True
        return request.headers.get("authorization", "") == f"Bearer {config.api_key}"

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": config.model}

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
    def models(request: Request) -> Any:
        if not authorized(request):
            return _error(401, "missing or wrong API key; send Authorization: Bearer KEY")
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
        if not authorized(request):
            return _error(401, "missing or wrong API key; send Authorization: Bearer KEY")
        raw = await request.body()
        if len(raw) > config.max_body_bytes:
            return _error(413, f"request body over {config.max_body_bytes} bytes")
        try:
            data = json.loads(raw)
            body = ChatRequest.model_validate(data)
            plan = plan_request(body, config.model)
        except json.JSONDecodeError as exc:
            return _error(400, f"body is not valid JSON: {exc.msg}")
        except UnicodeDecodeError:
            return _error(400, "body is not UTF-8 text; send JSON encoded as UTF-8")
        except ValidationError as exc:
            first = exc.errors()[0]
            param = ".".join(map(str, first["loc"]))
            return _error(400, f"{param or 'body'}: {first['msg']}", param)
        except BadRequest as exc:
            return _error(exc.status, str(exc), exc.param)
        if admitted >= config.max_queue:
            response = _error(429, "server busy: the request queue is full; retry shortly")
            response.headers["Retry-After"] = "1"
            return response
        admitted += 1
        metrics.queue_depth.set(admitted)
        release = True
        try:
            if body.stream:
                release = False  # the stream releases its slot when it ends
                return StreamingResponse(
                    _stream(request, body, plan), media_type="text/event-stream"
                )
            return await _complete(request, body, plan)
        finally:
            if release:
                admitted -= 1
                metrics.queue_depth.set(admitted)

    def _sampling(body: ChatRequest) -> dict[str, Any]:
        return {
            "max_tokens": body.max_completion_tokens
            or body.max_tokens
            or config.default_max_tokens,
            "temperature": body.temperature,
            "seed": body.seed,
        }

    def _run(
        body: ChatRequest, plan: Plan, cancel: threading.Event, on_call: Any = None
    ) -> dict[str, Any]:
        """One choice, in a worker thread."""
        question, history = split_conversation(body)
        sampling = _sampling(body)
        if plan.strategy == "none":
            params = SamplingParams(
                temperature=0.7 if sampling["temperature"] is None else sampling["temperature"],
                max_tokens=sampling["max_tokens"],
                seed=sampling["seed"],
            )
            [generation] = backend.generate(
                [EngineRequest(messages=(*history, Message("user", question)))], params
            )
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
        result = solve(
            question,
            backend=backend,
            strategy=plan.strategy or None,
            reasoning_effort=plan.effort,
            budget=plan.budget,
            history=history,
            cancel=cancel,
            on_call=on_call,
            **sampling,
            **plan.params,
        )
        bill = result.bill
        assert isinstance(bill, Bill)
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

    async def _complete(request: Request, body: ChatRequest, plan: Plan) -> Response:
        cancel = threading.Event()
        async with running:
            tasks = [
                asyncio.create_task(asyncio.to_thread(_run, body, plan, cancel))
                for _ in range(body.n)
            ]
            watcher = asyncio.create_task(_watch_disconnect(request, cancel))
            try:
                choices = await asyncio.wait_for(asyncio.gather(*tasks), timeout=config.timeout)
            except TimeoutError:
                cancel.set()
                return _error(504, f"no answer within {config.timeout:g} s; ask for less compute")
            except ThinktimeError as exc:
                return _error(400, str(exc))
            finally:
                watcher.cancel()
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
            await asyncio.sleep(0.5)

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

    async def _stream(request: Request, body: ChatRequest, plan: Plan) -> AsyncIterator[str]:
        nonlocal admitted
        cid = f"chatcmpl-{uuid.uuid4().hex}"
        cancel = threading.Event()
        try:
            async with running:
                yield _chunk(body, cid, {"role": "assistant", "content": ""})
                if plan.strategy in STREAMED and getattr(backend, "stream", None) and body.n == 1:
                    async for piece in _token_stream(body, plan, cancel, cid):
                        if await request.is_disconnected():
                            cancel.set()
                            return
                        yield piece
                else:
                    async for piece in _progress_stream(body, plan, cancel, cid):
                        yield piece
                yield "data: [DONE]\n\n"
        finally:
            cancel.set()
            admitted -= 1
            metrics.queue_depth.set(admitted)

    async def _token_stream(
        body: ChatRequest, plan: Plan, cancel: threading.Event, cid: str
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
        params = SamplingParams(
            temperature=temperature, max_tokens=sampling["max_tokens"], seed=sampling["seed"]
        )
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def produce() -> None:
            try:
                for delta in backend.stream(EngineRequest(messages=make(question)), params, cancel):  # type: ignore[attr-defined]
                    loop.call_soon_threadsafe(queue.put_nowait, delta)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        worker = asyncio.create_task(asyncio.to_thread(produce))
        text, tokens = "", 0
        while (delta := await queue.get()) is not None:
            text += delta
            tokens += 1
            yield _chunk(body, cid, {"content": delta})
        await worker
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
        body: ChatRequest, plan: Plan, cancel: threading.Event, cid: str
    ) -> AsyncIterator[str]:
        latest: dict[str, Bill] = {}
        task = asyncio.create_task(
            asyncio.to_thread(_run, body, plan, cancel, lambda bill: latest.update(bill=bill))
        )
        started = time.perf_counter()
        while not task.done():
            await asyncio.sleep(0.5)
            if time.perf_counter() - started > config.timeout:
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
