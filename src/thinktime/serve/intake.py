"""Reading a client's request before anything trusts it: key, size, nesting, JSON.

Every check answers in OpenAI's error shape, never 5xx: a body is read in chunks and refused
as soon as it passes the size limit (it is never buffered whole), JSON nested deeper than
`MAX_DEPTH` is refused before it reaches code that recurses, a string that is not Unicode text
(a lone surrogate, `"\\ud800"`) or a number JSON does not have (NaN, Infinity, `1e999`) is
refused naming its place, so everything that reaches JSON output can be written back, and the
bearer scheme is matched case-insensitively (RFC 7235) with a constant-time key comparison.

    >>> depth({"a": [{"b": [1, 2]}]})
    4
    >>> authorized("bearer s3cret", "s3cret"), authorized("Bearer nope", "s3cret")
    (True, False)
    >>> field_path({"stop": 123}, ("stop", "constrained-str"))  # a union member's tag dropped
    'stop'
    >>> unusable({"metadata": {"x": [1.5, float("nan")]}})[0]
    'metadata.x.1'
    >>> field_path({"messages": [{"role": "user"}]}, ("messages", 0, "content"), missing=True)
    'messages.0.content'
"""

from __future__ import annotations

import hmac
import json
import math
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from thinktime.serve.schemas import error_body

MAX_DEPTH = 32
KINDS = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "server_error",
    504: "timeout_error",
}


class BadRequest(Exception):
    """A request the server refuses, with its HTTP status and the field at fault."""

    def __init__(self, message: str, param: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.param, self.status = param, status


def error(status: int, message: str, param: str | None = None) -> JSONResponse:
    """An error response in OpenAI's shape."""
    kind = KINDS.get(status, "invalid_request_error")
    return JSONResponse(error_body(message, kind, param), status_code=status)


def errors_in_openai_shape(app: FastAPI, invalid: int = 400) -> None:
    """Answer every error of `app` — an unknown route or method, a parameter FastAPI refuses
    (status `invalid`, naming it), an uncaught exception (500) — in OpenAI's shape."""

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        response = error(exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})  # e.g. a 405's Allow
        return response

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0]
        param = ".".join(str(part) for part in first.get("loc", ())[1:]) or None
        return error(invalid, f"{param or 'request'}: {first.get('msg', 'invalid')}", param)

    async def crash(request: Request, exc: Exception) -> Response:
        return error(500, "internal server error; the server's log has the details")

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, crash)


def authorized(header: str | None, key: str | None) -> bool:
    """Does an Authorization header carry the server's key (any case of `Bearer`)?"""
    if not key:
        return True
    scheme, _, token = (header or "").strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), key.encode())


async def read_body(request: Request, limit: int) -> bytes:
    """The body, read in chunks; 413 as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"request body over {limit} bytes", status=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"request body over {limit} bytes", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    """The body as JSON, or a 400 that says what is wrong with it."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc.msg}") from None
    except UnicodeDecodeError:
        raise BadRequest("body is not UTF-8 text; send JSON encoded as UTF-8") from None
    except RecursionError:
        raise BadRequest(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # e.g. an integer past Python's digit limit
        raise BadRequest(f"body is not usable JSON: {exc}") from None
    if depth(data) > MAX_DEPTH:
        raise BadRequest(f"JSON nested deeper than {MAX_DEPTH} levels")
    found = unusable(data)
    if found is not None:
        place, what = found
        raise BadRequest(f"{place or 'body'}: {what}", place or None)
    return data


SURROGATE = "a lone surrogate is not Unicode text; send strings as UTF-8"
NOT_FINITE = "NaN and Infinity are not JSON numbers; send a finite number"


def unusable(value: Any) -> tuple[str, str] | None:
    """(the place `a.0.b`, what is wrong) of a string in `value` that is not Unicode
    text (a lone surrogate cannot be written back as UTF-8) or a number that is not finite; None
    if all are usable. A bad key is named by its parent's place (the key cannot be written)."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, place = stack.pop()
        if isinstance(item, str) and not _text(item):
            return place, SURROGATE
        if isinstance(item, float) and not math.isfinite(item):
            return place, NOT_FINITE
        if isinstance(item, dict):
            for key, child in item.items():
                if not _text(key):
                    return place, SURROGATE
                stack.append((child, f"{place}.{key}" if place else key))
        elif isinstance(item, list):
            stack.extend(
                (child, f"{place}.{i}" if place else str(i)) for i, child in enumerate(item)
            )
    return None


def _text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def field_path(data: Any, loc: Sequence[int | str], missing: bool = False) -> str:
    """Where in the body a validation error is, as `a.b.0.c`: the part of pydantic's `loc`
    that leads through the body (a union member's tag such as `str` is not a place in it),
    plus the field's own name when it is `missing`."""
    parts: list[str] = []
    for position, part in enumerate(loc):
        inside = (isinstance(data, dict) and part in data) or (
            isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        )
        if not inside:
            if missing and position == len(loc) - 1:
                parts.append(str(part))
            if isinstance(part, str) and isinstance(data, list):
                continue  # a union member's tag inside a list field (`content`): look past it
            break
        data = data[part]
        parts.append(str(part))
    return ".".join(parts)


def refusal(data: Any, errors: Sequence[Any]) -> BadRequest:
    """A pydantic validation failure of the body as one 400 naming the field; the messages of
    a union's members are joined (`stop`: a string, or a list of at most 4)."""
    first = errors[0]
    param = field_path(data, first["loc"], first["type"] == "missing")
    messages = [
        e["msg"] for e in errors if field_path(data, e["loc"], e["type"] == "missing") == param
    ]
    return BadRequest(f"{param or 'body'}: {' or '.join(dict.fromkeys(messages))}", param or None)


def depth(value: Any) -> int:
    """How deeply containers nest in `value` (iterative: no recursion on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


class RequireKey:
    """ASGI middleware: every HTTP route but `open_paths` needs the key (401 otherwise).

    Plain ASGI rather than FastAPI's `@middleware`, which wraps `receive` and hides a client's
    disconnect from the routes that watch for it.
    """

    def __init__(self, app: ASGIApp, key: str | None, open_paths: frozenset[str]) -> None:
        self.app, self.key, self.open_paths = app, key, open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.open_paths:
            headers = dict(scope.get("headers") or [])
            header = headers.get(b"authorization", b"").decode("latin-1")
            if not authorized(header, self.key):
                response = error(401, "missing or wrong API key; send Authorization: Bearer KEY")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
