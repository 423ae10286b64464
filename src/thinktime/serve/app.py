"""The OpenAI-compatible app: POST /v1/chat/completions, GET /v1/models, /health, /metrics.
`create_app` wires the parts: admission (`admission.py`), the routes (`routes.py`, `chat.py`)
given one `Service` (`service.py`), and the trust checks as middleware.

How hard to think, per request (first that is set wins): the `thinktime` body field
(`{"strategy": …, "n": …, "budget": {…}, "params": {…}}`), a model named `STRATEGY/MODEL`,
`reasoning_effort` (low | medium | high → the effort table). With none of them the request
runs strategy `plain` (the conversation passed unchanged to the engine), so unchanged apps get a
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

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from thinktime.backends.base import Backend
from thinktime.serve.admission import Admission
from thinktime.serve.config import ServerConfig
from thinktime.serve.intake import RequireKey, errors_in_openai_shape
from thinktime.serve.metrics import Metrics
from thinktime.serve.origin import LocalOrigin
from thinktime.serve.recent import Recent
from thinktime.serve.routes import add_routes
from thinktime.serve.service import Service

__all__ = ["ServerConfig", "create_app"]


# when the server stops, the work of the requests in flight gets this long to end once cancelled
STOPPING_WORK_WAIT = 1.0


def create_app(backend: Backend, config: ServerConfig) -> FastAPI:
    """The app that serves `backend` as `config` says; each app has its own state."""
    # 1) the state: counters, admission (places, slots, work in flight), the recent answers
    metrics = Metrics()
    admission = Admission(config.max_concurrent, config.max_queue, metrics.queue_depth)
    recent = Recent(config.recent) if config.recent else None
    service = Service(backend, config, metrics, admission, recent)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # stopping (uvicorn has given the requests their grace): cancel the work still in
        # flight, so the engine calls stop at their next token, and let it end
        await admission.stop(STOPPING_WORK_WAIT)

    app = FastAPI(title="thinktime", version="0.1.0", lifespan=lifespan)
    app.state.recent = recent  # what `thinktime serve --view` shows

    # 2) trust: the key is checked first (outermost), then the Host (keyless only) and a
    #    body's type; every error, the framework's own included, in OpenAI's shape
    open_paths = frozenset({"/health", *(["/metrics"] if config.open_metrics else [])})
    app.add_middleware(LocalOrigin, check_host=not config.api_key,
                       allowed=config.allowed_hosts, open_paths=open_paths)  # fmt: skip
    app.add_middleware(RequireKey, key=config.api_key, open_paths=open_paths)
    errors_in_openai_shape(app)

    # 3) the routes, each given the service
    add_routes(app, service)
    return app
