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
KEY = {"Authorization": "Bearer k"}


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
    reply = served().request(method, path, json={} if method == "POST" else None)
    assert reply.status_code == status, reply.text
    assert set(reply.json()) == {"error"}, reply.text
    error = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    assert error["param"] == param


@pytest.mark.parametrize(
    ("host", "allowed", "status"),
    [
        ("127.0.0.1:8000", (), 200),
        ("localhost", (), 200),
        ("LOCALHOST:1234", (), 200),
        ("[::1]:8000", (), 200),
        ("127.0.0.2", (), 200),
        ("attacker.example", (), 403),  # DNS rebinding: the page's own name
        ("attacker.example:8000", (), 403),
        ("localhost.attacker.example", (), 403),
        ("10.0.0.5:8000", (), 403),
        ("", (), 403),
        ("proxy.internal:443", ("proxy.internal",), 200),
        ("Proxy.Internal", ("proxy.internal",), 200),
    ],
)
def test_a_keyless_server_answers_only_loopback_or_allowed_hosts(host, allowed, status):
    client = served(allowed_hosts=frozenset(allowed))
    body = {"model": "qwen", "messages": USER}
    for method, path in (("POST", CHAT), ("GET", "/v1/models"), ("GET", "/view/api/live")):
        reply = client.request(method, path, json=body if method == "POST" else None,
                               headers={"Host": host})  # fmt: skip
        assert reply.status_code == status, (method, path, reply.text)
        if status == 403:
            assert "--allow-host" in reply.json()["error"]["message"]
    assert client.get("/health", headers={"Host": host}).status_code == 200  # a probe by any name
    keyed = served(api_key="k")  # the key protects: any Host that sends it
    assert keyed.get("/v1/models", headers={"Host": host, **KEY}).status_code == 200


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
     "multipart/form-data; boundary=x", "application/jsonp"],
)  # fmt: skip
@pytest.mark.parametrize("key", [None, "k"])
def test_a_body_that_is_not_json_by_its_type_is_a_415(content_type, key):
    """What a page's form or `no-cors` fetch can send without a preflight (CSRF) is refused."""
    client = served(api_key=key)
    raw = json.dumps({"model": "qwen", "messages": USER}).encode()
    headers = {**({"Content-Type": content_type} if content_type else {}), **KEY}
    reply = client.post(CHAT, content=raw, headers=headers)
    assert reply.status_code == 415, reply.text
    assert "Content-Type: application/json" in reply.json()["error"]["message"]
    for good in ("application/json", "Application/JSON; charset=utf-8"):
        reply = client.post(CHAT, content=raw, headers={**headers, "Content-Type": good})
        assert reply.status_code == 200, reply.text


def test_thinktime_view_on_loopback_checks_the_host_too(tmp_path):
    viewer = TestClient(create_view_app([], warm=False, allowed_hosts=("box.lan",)))
    assert viewer.get("/api/stores", headers={"Host": "127.0.0.1:8765"}).status_code == 200
    assert viewer.get("/api/stores", headers={"Host": "box.lan:8765"}).status_code == 200
    refused = viewer.get("/api/stores", headers={"Host": "attacker.example:8765"})
    assert refused.status_code == 403 and refused.json()["error"]["type"] == "permission_error"
