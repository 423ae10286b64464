"""Defects a review found in the redesigned entry point and server, each pinned by a test."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from thinktime import solve
from thinktime.backends.fake import FakeBackend
from thinktime.backends.llamacpp_stream import streamed
from thinktime.cli import app as cli
from thinktime.compute.ledger import Ledger
from thinktime.errors import ThinktimeError
from thinktime.sampling import SamplingParams
from thinktime.serve.app import ServerConfig, create_app
from thinktime.strategies.self_consistency import SelfConsistencyParams
from thinktime.types import Message, Request

USER = [{"role": "user", "content": "2+3?"}]


def test_seeded_choices_are_different_samples():
    backend = FakeBackend(["\\boxed{5}"])
    client = TestClient(
        create_app(backend, ServerConfig(model="qwen")), base_url="http://127.0.0.1"
    )
    body = {"model": "qwen", "messages": USER, "n": 3, "seed": 7, "temperature": 1.0}
    assert client.post("/v1/chat/completions", json=body).status_code == 200
    seeds = sorted(params.seed for _, params in backend.calls)
    assert len(set(seeds)) == 3 and seeds[0] == 7


def test_a_served_name_with_a_slash_takes_a_strategy_prefix():
    client = TestClient(
        create_app(FakeBackend(["\\boxed{5}"]), ServerConfig(model="org/m")),
        base_url="http://127.0.0.1",
    )
    reply = client.post("/v1/chat/completions", json={"model": "cot/org/m", "messages": USER})
    assert reply.status_code == 200 and reply.json()["thinktime"]["strategy"] == "cot"


def test_params_of_another_strategy_are_refused():
    with pytest.raises(ThinktimeError, match="takes BestOfNParams"):
        solve("2+2?", backend=FakeBackend(), strategy="best_of_n",
              params=SelfConsistencyParams(n=2))  # fmt: skip


def test_a_cancelled_call_marks_the_answer_cut():
    cancel = threading.Event()
    cancel.set()
    ledger = Ledger(FakeBackend(["\\boxed{5}"]), cancel=cancel)
    ledger.generate([Request(messages=(Message("user", "?"),))], SamplingParams())
    assert ledger.limited


def test_a_failing_listener_stops_the_engine_call_and_is_raised():
    asked: list[bool] = []

    def engine(body, callback):
        for piece in ("a", "b", "c"):
            asked.append(callback({"choices": [{"index": 0, "delta": {"content": piece}}]}))
            if asked[-1]:
                return

    def listener(index: int, piece: str) -> None:
        raise RuntimeError("the client's queue is gone")

    with pytest.raises(RuntimeError, match="queue is gone"):
        streamed(engine, {"n": 1}, threading.Event(), listener)
    assert asked == [True]  # the engine was told to stop at the first piece


def test_solve_arguments_are_not_cli_params():
    result = CliRunner().invoke(cli, ["solve", "2+2?", "--model", "fake", "-p", "sampling=x"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "sampling is not a strategy parameter" in result.stderr
