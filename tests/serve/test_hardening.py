"""The server against hostile and careless clients: limits while reading, auth on every route,
the operator's policy, and work that stops when nobody waits for it (scripted backend)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator, Sequence

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from thinktime.backends.fake import FakeBackend
from thinktime.sampling import SamplingParams
from thinktime.serve.answer import RESERVED
from thinktime.serve.app import ServerConfig, create_app
from thinktime.serve.policy import ServerPolicy
from thinktime.types import Generation, Request

USER = [{"role": "user", "content": "2+3?"}]
CHAT = "/v1/chat/completions"
KEY = {"Authorization": "Bearer k"}
JSON = {"Content-Type": "application/json"}


def client(backend=None, **config) -> TestClient:
    backend = backend or FakeBackend(["\\boxed{5}"])
    return TestClient(
        create_app(backend, ServerConfig(model="qwen", **config)), base_url="http://127.0.0.1"
    )


def assert_openai_error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"] and error["type"]
    return dict(error)


def test_deep_nesting_is_a_400_not_a_500():
    deep = b'{"model": "qwen", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert_openai_error(client().post(CHAT, content=deep, headers=JSON), 400)
    shallow_but_deep = {"model": "qwen", "messages": USER, "thinktime": {"params": {}}}
    node: dict = shallow_but_deep["thinktime"]["params"]
    for _ in range(40):
        node["x"] = {}
        node = node["x"]
    assert (
        "nested" in assert_openai_error(client().post(CHAT, json=shallow_but_deep), 400)["message"]
    )


def test_body_over_the_limit_is_refused_while_reading():
    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count as it reads
        yield b'{"model": "qwen", "messages": [{"role": "user", "content": "'
        for _ in range(64):
            yield b"x" * 65536

    response = client(max_body_bytes=1 << 20).post(CHAT, content=chunks(), headers=JSON)
    assert_openai_error(response, 413)
    big = {"model": "qwen", "messages": [{"role": "user", "content": "x" * (2 << 20)}]}
    assert_openai_error(client(max_body_bytes=1 << 20).post(CHAT, json=big), 413)


def test_every_route_but_health_needs_the_key():
    c = client(api_key="k")
    for path in ("/metrics", "/docs", "/openapi.json", "/v1/models"):
        assert_openai_error(c.get(path), 401)
        assert c.get(path, headers=KEY).status_code == 200
    assert c.get("/health").status_code == 200
    assert client(api_key="k", open_metrics=True).get("/metrics").status_code == 200


def test_bearer_scheme_is_case_insensitive_and_the_key_is_not():
    c = client(api_key="k")
    body = {"model": "qwen", "messages": USER}
    assert c.post(CHAT, json=body, headers={"authorization": "bearer k"}).status_code == 200
    assert_openai_error(c.post(CHAT, json=body, headers={"authorization": "Bearer K"}), 401)


def test_unknown_routes_and_methods_answer_in_openai_shape():
    c = client()
    assert assert_openai_error(c.get("/v1/nothing"), 404)["type"] == "not_found_error"
    assert_openai_error(c.get(CHAT), 405)


def test_empty_question_is_a_400_streamed_or_not():
    for stream in (False, True):
        body = {"model": "qwen", "messages": [{"role": "user", "content": "  "}], "stream": stream}
        assert "empty" in assert_openai_error(client().post(CHAT, json=body), 400)["message"]


@pytest.mark.parametrize("name", RESERVED)
def test_reserved_parameter_names_are_a_400(name):
    body = {
        "model": "qwen",
        "messages": USER,
        "thinktime": {"strategy": "cot", "params": {name: 5}},
    }
    for stream in (False, True):
        error = assert_openai_error(client().post(CHAT, json={**body, "stream": stream}), 400)
        assert name in error["message"]


@pytest.mark.parametrize("verifier", ["program", "prm"])
def test_default_policy_refuses_code_and_download_verifiers(verifier):
    options = {"strategy": "best_of_n", "params": {"verifier": verifier}}
    body = {"model": "qwen", "messages": USER, "thinktime": options}
    error = assert_openai_error(client().post(CHAT, json=body), 403)
    assert verifier in error["message"] and "policy.verifiers" in error["message"]


def test_policy_caps_samples_tokens_prompt_and_strategies():
    policy = ServerPolicy(strategies=["cot"], max_samples=4, max_prompt_chars=100,
                          max_completion_tokens=64)  # fmt: skip
    c = client(policy=policy)
    many = {"model": "qwen", "messages": USER, "n": 2, "thinktime": {"strategy": "cot"}}
    assert c.post(CHAT, json=many).status_code == 200
    sc = {"model": "qwen", "messages": USER, "thinktime": {"strategy": "self_consistency"}}
    assert "policy.strategies" in assert_openai_error(c.post(CHAT, json=sc), 403)["message"]
    long = {"model": "qwen", "messages": [{"role": "user", "content": "x" * 200}]}
    assert "max_prompt_chars" in assert_openai_error(c.post(CHAT, json=long), 403)["message"]
    tokens = {"model": "qwen", "messages": USER, "max_completion_tokens": 65}
    assert "max_completion_tokens" in assert_openai_error(c.post(CHAT, json=tokens), 403)["message"]
    wide = ServerPolicy(max_samples=4)
    body = {"model": "qwen", "messages": USER, "n": 2,
            "thinktime": {"strategy": "self_consistency", "n": 4}}  # fmt: skip
    assert (
        "max_samples"
        in assert_openai_error(client(policy=wide).post(CHAT, json=body), 403)["message"]
    )


def test_policy_token_cap_bounds_what_is_generated():
    long_answer = " ".join(["word"] * 200) + " \\boxed{5}"
    c = client(FakeBackend([long_answer]), policy=ServerPolicy(max_completion_tokens=50))
    body = {"model": "qwen", "messages": USER, "thinktime": {"strategy": "self_consistency",
                                                              "n": 4}}  # fmt: skip
    usage = c.post(CHAT, json=body).json()["usage"]
    assert usage["completion_tokens"] <= 50


class SlowBackend(FakeBackend):
    """Generates for `seconds` unless cancelled; records how many calls are still running.
    Both ways the server calls an engine are slow: plain (`generate_until`) and with its text
    streamed through `solve` (`generate_streamed`)."""

    def __init__(self, seconds: float = 30.0) -> None:
        super().__init__(["\\boxed{5}"])
        self.seconds = seconds
        self.running = 0
        self.stopped_at: list[float] = []
        self._count = threading.Lock()

    @contextlib.contextmanager
    def _busy(self) -> Iterator[None]:
        with self._count:
            self.running += 1
        try:
            yield
        finally:
            with self._count:
                self.running -= 1
                self.stopped_at.append(time.monotonic())

    def _ticks(self, cancel: threading.Event | None) -> Iterator[None]:
        """One tick every 10 ms until `seconds` pass or `cancel` is set."""
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline and not (cancel and cancel.is_set()):
            time.sleep(0.01)
            yield

    def generate_until(
        self,
        requests: Sequence[Request],
        params: SamplingParams,
        cancel: threading.Event | None,
    ) -> list[Generation]:
        with self._busy():
            for _ in self._ticks(cancel):
                pass
            return self.generate(requests, params)

    def generate_streamed(self, requests, params, cancel, on_delta):  # type: ignore[no-untyped-def]
        with self._busy():
            for _ in self._ticks(cancel):
                on_delta(0, " tick")
            return self.generate(requests, params)


def test_a_504_stops_the_engine_call_and_then_frees_the_slot():
    backend = SlowBackend()
    c = client(backend, timeout=0.5, max_concurrent=1)
    started = time.monotonic()
    response = c.post(CHAT, json={"model": "qwen", "messages": USER})
    assert_openai_error(response, 504)
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 2
    while backend.running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert backend.running == 0 and backend.stopped_at
    backend.seconds = 0.0  # the one slot is free again: the next request runs
    assert c.post(CHAT, json={"model": "qwen", "messages": USER}).status_code == 200


@pytest.fixture
def live() -> Iterator[tuple[str, SlowBackend]]:
    """A real uvicorn server on loopback, so clients can really disconnect."""
    backend = SlowBackend()
    app = create_app(backend, ServerConfig(model="qwen", max_concurrent=2, max_queue=64))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", backend
    server.should_exit = True
    thread.join(5)


def _wait_idle(backend: SlowBackend, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while backend.running and time.monotonic() < deadline:
        time.sleep(0.02)
    return backend.running == 0


@pytest.mark.parametrize("stream", [False, True])
def test_disconnected_clients_stop_their_work(live, stream):
    url, backend = live
    bodies = [
        {"model": "qwen", "messages": USER, "stream": stream, "thinktime": {"strategy": s}}
        for s in ("cot", "self_consistency", "plain", "cot")
    ]

    def leave_early(body: dict) -> None:
        try:
            with httpx.Client(timeout=0.8) as h, h.stream("POST", url + CHAT, json=body) as r:
                for _ in r.iter_lines():
                    pass
        except httpx.HTTPError:
            pass  # we hung up on purpose

    threads = [threading.Thread(target=leave_early, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    gone = time.monotonic()
    assert _wait_idle(backend, 3.0), backend.running
    assert max(backend.stopped_at) - gone < 3.0
    deadline = time.monotonic() + 3.0  # every place is given back once the work has stopped
    while "thinktime_queue_depth 0.0" not in httpx.get(url + "/metrics").text:
        assert time.monotonic() < deadline, "a disconnected request kept its place"
        time.sleep(0.05)


def _chat(c: TestClient, **fields) -> httpx.Response:
    return c.post(CHAT, json={"model": "qwen", "messages": USER, **fields})


def test_nested_samplers_are_held_to_the_sample_cap_at_run_time():
    options = {"strategy": "self_consistency",
               "params": {"n": 2, "sampler": "self_consistency",
                          "sampler_params": {"n": 1000}}}  # fmt: skip
    error = assert_openai_error(_chat(client(), thinktime=options), 403)
    assert "max_samples" in error["message"]


def test_strategies_named_inside_params_and_efforts_obey_the_policy():
    c = client(policy=ServerPolicy(strategies=["cot", "self_consistency"]))
    nested = {"strategy": "self_consistency", "params": {"sampler": "best_of_n"}}
    assert "best_of_n" in assert_openai_error(_chat(c, thinktime=nested), 403)["message"]
    effort = assert_openai_error(_chat(c, reasoning_effort="high"), 403)
    assert "policy.strategies" in effort["message"]


def test_hostile_numbers_are_400s():
    c = client()
    assert_openai_error(c.post(CHAT, content=b'{"model": "qwen", "seed": 1' + b"1" * 5000 + b"}",
                               headers=JSON), 400)  # fmt: skip
    assert_openai_error(_chat(c, seed=2**40), 400)
    for row in (["NaN", 1, "x"], [0.0, 100_000_000, "x"]):
        body = {"strategy": "route", "params": {"table": [row]}}
        raw = httpx.Request("POST", "http://x", json={"model": "qwen", "messages": USER,
                                                      "thinktime": body}).content  # fmt: skip
        assert_openai_error(c.post(CHAT, content=raw.replace(b'"NaN"', b"NaN"), headers=JSON), 400)


def test_streaming_several_choices_is_refused_with_a_reason():
    error = assert_openai_error(_chat(client(), stream=True, n=2), 400)
    assert "n=1" in error["message"]


def test_the_plain_model_named_inside_params_is_never_a_policy_violation():
    c = client(policy=ServerPolicy(strategies=["self_consistency"]))
    nested = {"strategy": "self_consistency", "params": {"n": 2, "sampler": "plain"}}
    assert _chat(c, thinktime=nested).status_code == 200
