"""Parse at the edge, once (issue 23): a served request and a bench item each validate their
strategy's parameters once, and everything below receives the typed params unchanged.

The spy counts every validation of the params model, however it is reached (`model_validate`,
the constructor, `model_validate_json`): all of them go through the class's
`__pydantic_validator__`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel
from typer.testing import CliRunner

from thinktime.backends.fake import FakeBackend
from thinktime.bench.runner import run_sweep
from thinktime.bench.store import Store
from thinktime.serve.app import ServerConfig, create_app
from thinktime.strategies.best_of_n import BestOfNParams
from thinktime.strategies.self_consistency import SelfConsistencyParams
from thinktime.tasks import Problem, Task

ANSWER = "Two and three make five. \\boxed{5}"
LOCAL = "http://127.0.0.1"  # the server answers loopback hosts without an API key


class CountingValidator:
    """Stands in for a model's `__pydantic_validator__`, counting each validation."""

    def __init__(self, real: Any) -> None:
        self.real, self.calls = real, 0

    def validate_python(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.real.validate_python(*args, **kwargs)

    def validate_json(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.real.validate_json(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def spy(monkeypatch: pytest.MonkeyPatch, model: type[BaseModel]) -> CountingValidator:
    counter = CountingValidator(model.__pydantic_validator__)
    monkeypatch.setattr(model, "__pydantic_validator__", counter)
    return counter


@pytest.mark.parametrize(
    ("strategy", "model", "params"),
    [
        ("self_consistency", SelfConsistencyParams, {"n": 3}),
        ("best_of_n", BestOfNParams, {"n": 2, "verifier": "judge"}),
    ],
)
def test_a_served_request_validates_its_params_once(monkeypatch, strategy, model, params):
    backend = FakeBackend([ANSWER, "\\boxed{0.9}"])
    client = TestClient(create_app(backend, ServerConfig(model="qwen")), base_url=LOCAL)
    counter = spy(monkeypatch, model)
    body = {"model": "qwen", "messages": [{"role": "user", "content": "2+3?"}],
            "thinktime": {"strategy": strategy, "params": params}}  # fmt: skip
    reply = client.post("/v1/chat/completions", json=body)
    assert reply.status_code == 200, reply.text
    assert reply.json()["choices"][0]["message"]["content"] == "5"
    assert counter.calls == 1


def test_a_streamed_request_validates_its_params_once(monkeypatch):
    client = TestClient(
        create_app(FakeBackend([ANSWER]), ServerConfig(model="qwen")), base_url=LOCAL
    )
    counter = spy(monkeypatch, SelfConsistencyParams)
    body = {"model": "self_consistency/qwen", "stream": True, "thinktime": {"n": 2},
            "messages": [{"role": "user", "content": "2+3?"}]}  # fmt: skip
    with client.stream("POST", "/v1/chat/completions", json=body) as reply:
        events = [line for line in reply.iter_lines() if line.startswith("data: {")]
    assert reply.status_code == 200
    assert any('"5"' in event for event in events)
    assert counter.calls == 1


def test_a_bench_item_validates_its_params_once(monkeypatch, tmp_path):
    task = Task("toy", [Problem("toy/0", "2+3?", "5"), Problem("toy/1", "1+4?", "5")])
    store = Store(tmp_path / "toy.db")
    counter = spy(monkeypatch, SelfConsistencyParams)
    added = run_sweep(task, {"fake": FakeBackend([ANSWER])}, ["self_consistency:n=3"], store)
    assert added == 2
    assert counter.calls == 1  # the config, parsed once for the whole sweep


def test_a_ray_worker_gets_the_drivers_parsed_config(monkeypatch):
    from thinktime.bench.configs import parse_config
    from thinktime.bench.ray_sweep import Item, SweepWorker

    task = Task("toy", [Problem("toy/0", "2+3?", "5")])
    counter = spy(monkeypatch, SelfConsistencyParams)
    config = parse_config("self_consistency:n=2")  # the driver's one parse
    worker = SweepWorker(
        task, 64, 0, lambda spec: FakeBackend([ANSWER]), configs={config.text: config}
    )
    row, samples, *_ = worker.run(Item("fake", config.text, "toy/0"))
    assert (row["verdict"], len(samples)) == ("correct", 2)
    assert counter.calls == 1


def test_thinktime_bench_validates_each_config_once(monkeypatch, tmp_path):
    from thinktime.bench import results
    from thinktime.cli import app

    questions = tmp_path / "qa.jsonl"
    lines = [{"question": f"{i}+5?", "answer": str(i + 5)} for i in range(3)]
    questions.write_text("".join(json.dumps(line) + "\n" for line in lines))
    counter = spy(monkeypatch, SelfConsistencyParams)
    swept = []  # the count when the sweep is over and the report starts reading the store
    real = results.curve_points
    monkeypatch.setattr(
        results, "curve_points", lambda *a, **k: swept.append(counter.calls) or real(*a, **k)
    )
    args = ["bench", "--task", f"jsonl:{questions}", "-m", "fake", "-s", "self_consistency:n=2",
            "--store", str(tmp_path / "qa.db"), "--json"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["results"]) == 1
    assert swept == [1]  # parsed at the command line, then passed down typed to all 3 items
    # the report reads each config's validated call back from the store: nothing is parsed
    assert counter.calls == 1


def test_a_composed_samplers_params_are_validated_once(monkeypatch, tmp_path):
    """`sampler_params` are parsed with the outer params (`SamplerParams.inner_params`):
    counting the samples (`Config.samples`, the concurrency, a server's cap) and drawing them
    in every item use that typed model as it is."""
    from thinktime.strategies.direct import DirectParams

    task = Task("toy", [Problem("toy/0", "2+3?", "5"), Problem("toy/1", "1+4?", "5")])
    counter = spy(monkeypatch, DirectParams)
    config = 'self_consistency:n=2,sampler=direct,sampler_params={"answer_tokens": 16}'
    added = run_sweep(task, {"fake": FakeBackend([ANSWER])}, [config], Store(tmp_path / "t.db"))
    assert added == 2
    assert counter.calls == 1  # once, with the config: not per count, per item or per draw
