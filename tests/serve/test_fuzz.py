"""Property-based fuzzing: no input may produce a 5xx, on any route, `/view` included.

The server's own OpenAPI schema drives schemathesis (the chat route, then the viewer's routes);
a Hypothesis strategy adds what a schema-driven fuzzer rarely writes: lone surrogates, NaN and
Infinity anywhere, and content parts of every type, after which the viewer must still answer.
"""

import json

import pytest

schemathesis = pytest.importorskip("schemathesis")

from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from thinktime.backends.fake import FakeBackend  # noqa: E402
from thinktime.serve.app import ServerConfig, create_app  # noqa: E402
from thinktime.serve.recent import Recent  # noqa: E402
from thinktime.types import Result, Sample  # noqa: E402
from thinktime.view.app import create_view_app  # noqa: E402

# schemathesis's ASGI client sends `Host: testserver`; the keyless server answers only the
# names it is told to besides loopback
config = ServerConfig(model="qwen", default_max_tokens=16, allowed_hosts=frozenset({"testserver"}),
                      recent=8)  # fmt: skip
app = create_app(FakeBackend(["\\boxed{5}"]), config)
app.mount("/view", create_view_app([], recent=app.state.recent, warm=False))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
# the viewer's routes (mounted apps are not in the server's schema), over a live buffer
recent = Recent(4)
recent.add("qwen", Result("2+3?", "5", "cot", "qwen", (Sample("\\boxed{5}", "5", "stop", 1, 0),)))
viewer = schemathesis.openapi.from_asgi("/openapi.json", create_view_app([], recent=recent))


@schema.parametrize()
@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    response = case.call()
    assert response.status_code < 500, response.text


@viewer.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_viewer_errors(case):
    response = case.call()
    assert response.status_code < 500, response.text


NAN_SCHEMA = {"type": "object", "properties": {"x": {"type": "number", "maximum": float("nan")}}}
NAN_TOOL = {"type": "function", "function": {"name": "f", "parameters": NAN_SCHEMA}}
odd_text = st.one_of(st.text(max_size=8), st.sampled_from(["\ud800", "hi \udfff", "\ud83d?"]))
odd_number = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(), st.sampled_from([float("nan"), float("inf")])
)
odd_value = st.recursive(
    st.one_of(st.none(), st.booleans(), odd_number, odd_text),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(odd_text, inner, max_size=3),
    max_leaves=6,
)
part = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "image_url", "input_audio", "file", "refusal", ""])},
    optional={"text": odd_text, "image_url": odd_value},
)
content = st.one_of(odd_text, st.lists(part, max_size=3), odd_value)
extras = st.fixed_dictionaries(
    {},
    optional={
        "metadata": odd_value,
        "temperature": odd_number,
        "stream": st.booleans(),
        "thinktime": st.fixed_dictionaries({}, optional={"budget": odd_value, "n": odd_number}),
        "tools": st.just([NAN_TOOL]),
    },
)
local = TestClient(app, base_url="http://127.0.0.1")


@given(content=content, role=st.sampled_from(["user", "system", "tool"]), extras=extras)
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_hostile_text_numbers_and_parts_are_4xx_and_the_viewer_stays_up(content, role, extras):
    body = {"model": "qwen", "messages": [{"role": role, "content": content}], **extras}
    raw = json.dumps(body, allow_nan=True).encode()  # surrogates as \\ud800 escapes, NaN bare
    reply = local.post("/v1/chat/completions", content=raw,
                       headers={"Content-Type": "application/json"})  # fmt: skip
    assert reply.status_code < 500, reply.text
    for path in ("/view/api/live", "/view/api/live/1", "/v1/models", "/metrics"):
        assert local.get(path).status_code < 500, path
