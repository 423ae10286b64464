"""Property-based fuzzing from the server's own OpenAPI schema: no input may produce a 5xx."""

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402

from thinktime.backends.fake import FakeBackend  # noqa: E402
from thinktime.serve.app import ServerConfig, create_app  # noqa: E402

# schemathesis's ASGI client sends `Host: testserver`; the keyless server answers only the
# names it is told to besides loopback
config = ServerConfig(model="qwen", default_max_tokens=16, allowed_hosts=frozenset({"testserver"}))
app = create_app(FakeBackend(["\\boxed{5}"]), config)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    response = case.call()
    assert response.status_code < 500, response.text
