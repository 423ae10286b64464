"""How `thinktime serve` runs the app: uvicorn, with a stop signal that always stops it.

uvicorn alone waits for every request in flight to finish before it exits, and Python then
waits for every worker thread: a long answer (or one stuck in an engine) kept a SIGTERM'd
server alive indefinitely. Here, on SIGTERM or Ctrl-C:

1) no new connection is accepted; requests in flight get `GRACE` seconds to finish;
2) then their tasks are cancelled and their cancel events set, so the engine calls of
   `Cancellable` backends stop at their next token; the app waits up to a second for them
   (`app.STOPPING_WORK_WAIT`), then the process ends by the signal, as uvicorn ends it. A
   cancelled request answers 503 (a stream already begun just ends), not a traceback;
3) if anything still holds the process `HARD_STOP` seconds after the signal (a worker thread
   that cannot be interrupted, which Python waits for after Ctrl-C), it exits anyway with
   status 128 + the signal's number, saying so on stderr.

    $ thinktime serve -m fake & sleep 2; kill -TERM $!; wait $!   # gone within HARD_STOP s
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import threading
from types import FrameType

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thinktime.serve.intake import error

GRACE = 2  # seconds requests in flight may take to finish after the stop signal
HARD_STOP = 4.0  # seconds after the signal by which the process is gone, whatever still runs


class _Server(uvicorn.Server):
    """uvicorn's server, plus a deadline started by the first stop signal, and a line on stderr
    once its socket is bound."""

    deadline: threading.Timer | None = None
    announce: str | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.announce:  # bound and listening (else uvicorn exits)
            sys.stderr.write(self.announce + "\n")
            sys.stderr.flush()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self.deadline is None:
            self.deadline = threading.Timer(HARD_STOP, _exit_now, (sig,))
            self.deadline.daemon = True
            self.deadline.start()


def _exit_now(sig: int) -> None:
    sys.stderr.write(
        f"thinktime serve: work still running {HARD_STOP:g} s after the stop signal "
        "(a backend that cannot be cancelled); exiting without it\n"
    )
    sys.stderr.flush()
    os._exit(128 + sig)  # as a shell reports a process the signal ended


class _Stopping:
    """ASGI wrapper: a request cancelled because the server stops gets a 503, or, if its answer
    has begun (a stream), the answer's end, instead of a traceback in the log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.server: uvicorn.Server | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = finished = False

        async def sending(message: Message) -> None:
            nonlocal started, finished
            started = started or message["type"] == "http.response.start"
            finished = finished or not message.get("more_body", True)
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except asyncio.CancelledError:
            if scope["type"] != "http" or self.server is None or not self.server.should_exit:
                raise
            with contextlib.suppress(Exception):  # the client may be gone already
                if not started:
                    stopping = error(503, "the server is stopping; send the request again")
                    await stopping(scope, receive, send)
                elif not finished:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})


def run(app: ASGIApp, host: str, port: int, *, announce: str | None = None) -> None:
    """Serve `app` on host:port until SIGTERM or Ctrl-C (see module docstring); once the socket
    is bound, write `announce` (where it listens) as a line on stderr."""
    wrapped = _Stopping(app)
    config = uvicorn.Config(
        wrapped, host=host, port=port, log_level="warning", timeout_graceful_shutdown=GRACE
    )
    wrapped.server = _Server(config)
    wrapped.server.announce = announce
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how it is stopped, as uvicorn's
        wrapped.server.run()
