"""The server's routes, mounted on an app with the `Service` they use passed in.

GET /health (open to all), GET /metrics (thinktime's counters, then the engine's own),
GET /v1/models (the served model and a `STRATEGY/MODEL` name per strategy),
POST /v1/chat/completions (`chat.py`). The chat body is parsed by hand (to answer 400/413 in
OpenAI's shape), so its schema is declared here for the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from thinktime.backends.base import EngineMetrics
from thinktime.serve.chat import chat_completions
from thinktime.serve.schemas import ChatCompletion, ChatRequest
from thinktime.serve.service import Service
from thinktime.strategies import STRATEGIES


def add_routes(app: FastAPI, service: Service) -> None:
    """Mount the four routes on `app`; each hands `service` to the function that answers."""

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": service.config.model}

    @app.get("/metrics")
    def prometheus() -> Response:
        """thinktime's counters, then the engine's own (`thinktime_engine_*`) where it has them."""
        return metrics_text(service)

    @app.get("/v1/models")
    def models(request: Request) -> Any:
        return model_list(service.config.model)

    # the body's sub-models go to components (below), so the OpenAPI document stays valid
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
        return await chat_completions(service, request)

    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        document = default_openapi()
        document.setdefault("components", {}).setdefault("schemas", {}).update(definitions)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def metrics_text(service: Service) -> Response:
    """The Prometheus text: the app's registry, then the engine's stats where it keeps them."""
    text = generate_latest(service.metrics.registry).decode()
    backend = service.backend
    stats = backend.engine_stats() if isinstance(backend, EngineMetrics) else {}
    for name, value in stats.items():
        text += f"thinktime_engine_{name} {value}\n"
    return Response(text, media_type=CONTENT_TYPE_LATEST)


def model_list(served: str) -> dict[str, Any]:
    """GET /v1/models: the served name, and `STRATEGY/NAME` for every registered strategy."""
    names = [served, *(f"{s}/{served}" for s in sorted(STRATEGIES))]
    return {
        "object": "list",
        "data": [{"id": n, "object": "model", "owned_by": "thinktime"} for n in names],
    }
