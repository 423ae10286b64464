"""Who may drive a server: a web page in the same machine's browser must not.

A keyless server listens on loopback only, but a browser on that machine reaches loopback too:
a page can POST to it (CSRF: a form or a `no-cors` fetch sends `text/plain`, a form encoding,
or no Content-Type at all) or rebind its own name to 127.0.0.1 and read the replies (DNS
rebinding: the request's `Host` is then the page's name). So, as ASGI middleware:

- without a key, a request whose `Host` is not loopback (`localhost`, a loopback address, any
  port) nor a name the operator allowed (`serve --allow-host NAME`) is 403;
- a body-carrying request (POST, PUT, PATCH) whose Content-Type is not `application/json` is
  415, key or not (no browser sends that cross-origin without a CORS preflight, which fails).

`open_paths` (`/health`) answer any Host, so a local probe by any name works.

    >>> host_name("[::1]:8000"), host_name("LocalHost:80"), host_name("example.com")
    ('::1', 'localhost', 'example.com')
    >>> local_host("127.0.0.2:8000", frozenset()), local_host("evil.example", frozenset())
    (True, False)
    >>> json_body("application/json; charset=utf-8"), json_body("text/plain")
    (True, False)
"""

from __future__ import annotations

import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

from thinktime.serve.intake import error

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def host_name(header: str) -> str:
    """The name in a `Host` header: its port and brackets dropped, lower case."""
    host = header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    name, colon, port = host.rpartition(":")
    return name if colon and port.isdigit() and ":" not in name else host


def local_host(header: str, allowed: frozenset[str]) -> bool:
    """Is `header` this machine's loopback (by name or address) or a host the operator allowed?"""
    name = host_name(header).removesuffix(".")
    if name == "localhost" or name in allowed:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def json_body(content_type: str) -> bool:
    """Is a Content-Type header `application/json` (with or without parameters)?"""
    return content_type.partition(";")[0].strip().lower() == "application/json"


class LocalOrigin:
    """ASGI middleware: refuse foreign `Host`s (when `check_host`) and non-JSON bodies."""

    def __init__(
        self, app: ASGIApp, check_host: bool, allowed: frozenset[str], open_paths: frozenset[str]
    ) -> None:
        self.app, self.check_host, self.open_paths = app, check_host, open_paths
        self.allowed = frozenset(name.lower().removesuffix(".") for name in allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.open_paths:
            headers = dict(scope.get("headers") or [])
            host = headers.get(b"host", b"").decode("latin-1")
            content_type = headers.get(b"content-type", b"").decode("latin-1")
            response = None
            if self.check_host and not local_host(host, self.allowed):
                response = error(
                    403,
                    f"Host {host!r} is not this server's: without an API key it answers only "
                    "localhost, 127.0.0.1 and [::1]; the operator can add a name with "
                    "--allow-host NAME",
                )
            elif scope["method"] in BODY_METHODS and not json_body(content_type):
                response = error(
                    415, "send the body as JSON with the header Content-Type: application/json"
                )
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
