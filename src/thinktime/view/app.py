"""The viewer's web app: documented JSON routes over the named stores, and the static page.

Routes (all GET; OpenAPI at `/docs`, schema at `/openapi.json`):

- `/api/stores` — the stores served, by name, with their counts;
- `/api/stores/{store}/runs` — every (task, model, config): n, accuracy [95% CI], tokens, FLOPs
  and seconds per question, verdict counts;
- `/api/stores/{store}/curves` — accuracy vs tokens and FLOPs (pools at every k), Pareto flags;
- `/api/stores/{store}/questions?run=…` — one run's questions, filtered (`verdict`, `solved_by`,
  `missed_by`), sorted (`sort`, `order`) and paged (`page`, `size`) on the server;
- `/api/stores/{store}/questions/{question_id}` — every run's answer to one question;
- `/api/stores/{store}/compare?a=…&b=…` — two runs paired on the same questions;
- `/api/stores/{store}/runs/{run}/export` — one run in lm-evaluation-harness's layout;
- `/api/live`, `/api/live/{id}` — a server's recent answers (`thinktime serve --view`).

Errors are in OpenAI's shape, as the server's (`{"error": {"message", "type", "param",
"code"}}`): an unknown store, run or question is 404, a bad parameter 422 naming it. Stores are
named, never given by path, so only the files named at start are readable.

    >>> from fastapi.testclient import TestClient
    >>> TestClient(create_view_app([])).get("/api/stores/nope/runs").json()["error"]["message"]
    "unknown store 'nope'; the viewer serves: (none)"
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Collection, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from thinktime.bench.store import StoreError
from thinktime.exports import lm_eval
from thinktime.serve.intake import error, errors_in_openai_shape
from thinktime.serve.origin import LocalOrigin
from thinktime.serve.recent import Recent
from thinktime.view import live, runs
from thinktime.view.catalog import Catalog, UnknownStore
from thinktime.view.detail import QuestionDetail, question
from thinktime.view.questions import Filters, Page, Paired, Question, paired, select, solved, table

STATIC = files("thinktime.view") / "static"
PAGES = ("/", "/questions", "/compare", "/live", "/live/{exchange_id}", "/q/{question_id:path}")


class StoreInfo(BaseModel):
    name: str
    path: str
    results: int
    samples: int
    runs: int


class RunsReply(BaseModel):
    store: str
    runs: list[runs.Run]


class CurvesReply(BaseModel):
    store: str
    points: list[runs.CurvePoint]


class LiveReply(BaseModel):
    enabled: bool  # false: the viewer was not started by `thinktime serve --view`
    size: int
    answers: list[live.LiveRow]


def create_view_app(
    paths: Sequence[str | Path],
    recent: Recent | None = None,
    warm: bool = True,
    allowed_hosts: Collection[str] | None = None,
) -> FastAPI:
    """The viewer over `paths` (each opened read-only now: a bad file raises `StoreError`);
    `warm` derives the runs and curves in a background thread at once. With `allowed_hosts`
    (`thinktime view` on loopback) a request's Host must be loopback or one of them, so a
    page in the browser cannot read the stores by DNS rebinding; None: no check (a viewer
    mounted in `thinktime serve`, whose own check covers it)."""
    catalog = Catalog(paths)
    app = FastAPI(title="thinktime view", version="0.1.0")
    if allowed_hosts is not None:
        app.add_middleware(LocalOrigin, check_host=True, allowed=frozenset(allowed_hosts),
                           open_paths=frozenset())  # fmt: skip

    errors_in_openai_shape(app, invalid=422)

    @app.exception_handler(UnknownStore)
    async def unknown_store(request: Request, exc: UnknownStore) -> JSONResponse:
        return error(404, str(exc))

    @app.exception_handler(StoreError)
    async def store_gone(request: Request, exc: StoreError) -> JSONResponse:
        return error(404, str(exc))

    def keys(store: str) -> list[tuple[str, str, str]]:
        return catalog.cached(store, "keys", runs.run_keys)

    def run_key(store: str, run: int) -> tuple[str, str, str]:
        found = keys(store)
        if not 0 <= run < len(found):
            raise HTTPException(404, f"unknown run {run} in store {store!r}; it has {len(found)}")
        return found[run]

    def run_table(store: str, run: int) -> list[Question]:
        key = run_key(store, run)
        return catalog.cached(store, ("table", key), lambda s: table(s, *key))

    def run_solved(store: str, run: int | None) -> frozenset[str] | None:
        if run is None:
            return None
        key = run_key(store, run)
        return catalog.cached(store, ("solved", key), lambda s: solved(s, *key))

    @app.get("/api/stores")
    def stores() -> list[StoreInfo]:
        found = []
        for name in catalog.names():
            opened = catalog.get(name)
            counts = opened.store.query(
                "SELECT (SELECT count(*) FROM results) AS results, "
                "(SELECT count(*) FROM samples) AS samples"
            )[0]
            found.append(
                StoreInfo(name=name, path=str(opened.path), runs=len(keys(name)), **counts)
            )
        return found

    @app.get("/api/stores/{store}/runs")
    def list_runs(store: str) -> RunsReply:
        return RunsReply(store=store, runs=catalog.cached(store, "runs", runs.runs))

    @app.get("/api/stores/{store}/curves")
    def curves(store: str) -> CurvesReply:
        """Slow the first time on big pools (maj@k by resampling); cached after."""
        return CurvesReply(store=store, points=catalog.cached(store, "curves", runs.curves))

    @app.get("/api/stores/{store}/questions")
    def questions(
        store: str, run: Annotated[int, Query(ge=0)], filters: Annotated[Filters, Query()]
    ) -> Page:
        rows = run_table(store, run)
        return select(rows, filters, run_solved(store, filters.solved_by),
                      run_solved(store, filters.missed_by))  # fmt: skip

    @app.get("/api/stores/{store}/questions/{question_id:path}")
    def one_question(store: str, question_id: str) -> QuestionDetail:
        run_ids = {key: i for i, key in enumerate(keys(store))}
        answers = question(catalog.get(store).store, question_id, run_ids)
        if not answers:
            raise HTTPException(404, f"no question {question_id!r} in store {store!r}")
        return QuestionDetail(question_id=question_id, answers=answers)

    @app.get("/api/stores/{store}/compare")
    def compare(
        store: str, a: Annotated[int, Query(ge=0)], b: Annotated[int, Query(ge=0)]
    ) -> Paired:
        return paired(a, b, run_table(store, a), run_table(store, b))

    @app.get("/api/stores/{store}/runs/{run}/export")
    def export_run(store: str, run: int) -> dict[str, Any]:
        """`results` is the `results_*.json` document, `samples` the `samples_*.jsonl` lines."""
        key = run_key(store, run)
        opened = catalog.get(store).store
        return {
            "results": lm_eval.results_document(opened, *key),
            "samples": lm_eval.samples_lines(opened, *key),
        }

    @app.get("/api/live")
    def live_answers() -> LiveReply:
        items = recent.items() if recent is not None else []
        return LiveReply(enabled=recent is not None, size=recent.size if recent else 0,
                         answers=[live.row(e) for e in items])  # fmt: skip

    @app.get("/api/live/{exchange_id}")
    def live_answer(exchange_id: int) -> QuestionDetail:
        exchange = recent.get(exchange_id) if recent is not None else None
        if exchange is None:
            raise HTTPException(404, f"no recent answer {exchange_id} (the buffer keeps the last)")
        return QuestionDetail(question_id=f"live/{exchange_id}", answers=[live.answer(exchange)])

    # the page: one HTML shell for every page path; it reads the routes above
    shell = (STATIC / "index.html").read_text()

    def page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return HTMLResponse(shell.replace("__ROOT__", root))

    for path in PAGES:
        app.add_api_route(path, page, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    def derive() -> None:
        """Derive each store's runs, question tables and curves (slowest last) in the
        background, so the first pages are ready."""
        for name in catalog.names():
            with contextlib.suppress(StoreError, OSError):  # the route will say what is wrong
                catalog.cached(name, "runs", runs.runs)
                for run in range(len(keys(name))):
                    run_table(name, run)
                catalog.cached(name, "curves", runs.curves)

    if warm:
        threading.Thread(target=derive, name="view-warm", daemon=True).start()
    return app
