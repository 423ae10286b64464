"""The server against hostile clients, second round (issue 22, items 5–7; scripted backend):
text that cannot be written back, numbers JSON does not have, content parts it cannot read,
one error shape on every route, and a keyless server that only its own machine's clients reach.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from thinktime.backends.fake import FakeBackend
from thinktime.serve.app import ServerConfig, create_app
from thinktime.view.app import create_view_app

CHAT = "/v1/chat/completions"
USER = [{"role": "user", "content": "2+3?"}]


def served(**config) -> TestClient:
    """`thinktime serve --view` on the scripted backend, reached the way a local client does."""
    app = create_app(FakeBackend(["\\boxed{5}"]), ServerConfig(model="qwen", recent=8, **config))
    app.mount("/view", create_view_app([], recent=app.state.recent, warm=False))
    return TestClient(app, base_url="http://127.0.0.1:8000")


def post_raw(client: TestClient, text: str) -> dict:
    """POST JSON text as is (escapes such as `\\ud800` reach the server unchanged)."""
    reply = client.post(CHAT, content=text.encode(), headers={"Content-Type": "application/json"})
    assert reply.status_code == 400, reply.text
    return dict(reply.json()["error"])


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ('{"model": "qwen", "messages": [{"role": "user", "content": "hi \\ud800"}]}',
         "messages.0.content"),
        ('{"model": "qwen", "messages": [{"role": "user", "content": [{"type": "text", '
         '"text": "\\udfff?"}]}]}', "messages.0.content.0.text"),
        ('{"model": "qwen", "messages": [{"role": "user", "content": "2+3?"}], '
         '"metadata": {"\\ud83d": "x"}}', "metadata"),
        ('{"model": "qwen\\ud800", "messages": [{"role": "user", "content": "2+3?"}]}', "model"),
    ],
)  # fmt: skip
def test_a_lone_surrogate_is_a_400_and_the_viewer_stays_up(body, param):
    client = served()
    error = post_raw(client, body)
    assert error["param"] == param and "surrogate" in error["message"]
    streamed = json.loads(body) | {"stream": True}
    assert post_raw(client, json.dumps(streamed))["param"] == param
    assert client.post(CHAT, json={"model": "qwen", "messages": USER}).status_code == 200
    live = client.get("/view/api/live")
    assert live.status_code == 200 and len(live.json()["answers"]) == 1


TOOL = {"type": "function", "function": {"name": "f", "parameters": {
    "type": "object", "properties": {"x": {"type": "number", "maximum": 1}}}}}  # fmt: skip


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
@pytest.mark.parametrize(
    ("where", "param"),
    [
        ('"metadata": {"x": %s}', "metadata.x"),
        ('"thinktime": {"budget": {"max_completion_tokens": %s}}',
         "thinktime.budget.max_completion_tokens"),
        ('"temperature": %s', "temperature"),
        ('"tools": [%s]', "tools.0.function.parameters.properties.x.maximum"),
    ],
)  # fmt: skip
def test_nan_and_infinity_are_refused_everywhere(where, param, number):
    if where.startswith('"tools"'):
        tool = json.dumps(TOOL).replace('"maximum": 1', f'"maximum": {number}')
        field = where % tool
    else:
        field = where % number
    body = '{"model": "qwen", "messages": [{"role": "user", "content": "2+3?"}], ' + field + "}"
    error = post_raw(served(), body)
    assert error["param"] == param and "finite" in error["message"], error


@pytest.mark.parametrize(
    ("content", "param", "said"),
    [
        ([{"type": "text", "text": "2+3?"}, {"type": "image_url", "image_url": {"url": "x"}}],
         "messages.0.content.1.type", "'image_url' are not supported"),
        ([{"type": "input_audio", "input_audio": {}}], "messages.0.content.0.type", "input_audio"),
        ([{"type": "text"}], "messages.0.content.0.text", "Field required"),
        (["2+3?"], "messages.0.content.0", "valid dictionary"),
        (5, "messages.0.content", "a string or a list of text parts"),
    ],
)  # fmt: skip
def test_content_parts_other_than_text_are_refused_not_dropped(content, param, said):
    body = {"model": "qwen", "messages": [{"role": "user", "content": content}]}
    reply = served().post(CHAT, json=body)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["param"] == param and said in error["message"], error
    parts = [{"type": "text", "text": "2+"}, {"type": "text", "text": "3?"}]
    body = {"model": "cot/qwen", "messages": [{"role": "user", "content": parts}]}
    assert served().post(CHAT, json=body).json()["choices"][0]["message"]["content"] == "5"


@pytest.mark.parametrize(
    ("method", "path", "status", "param"),
    [
        ("GET", "/view/api/stores/nope/runs", 404, None),
        ("GET", "/view/api/live/99", 404, None),
        ("GET", "/view/api/live/abc", 422, "exchange_id"),
        ("GET", "/view/static/nope.js", 404, None),
        ("GET", "/view/api/nowhere", 404, None),
        ("POST", "/view/api/live", 405, None),
        ("GET", "/v1/nowhere", 404, None),
        ("GET", CHAT, 405, None),
    ],
)
def test_every_route_answers_errors_in_one_shape(method, path, status, param):
    reply = served().request(method, path)
    assert reply.status_code == status, reply.text
    assert set(reply.json()) == {"error"}, reply.text
    error = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    assert error["param"] == param
