"""Careless operators (issue 22, item 8): every number `serve`, `view`, `bench` and `solve` take is
range-checked before anything starts (one line on stderr, exit 2), and a stop signal always stops
`serve` within seconds, the work in flight cancelled (scripted backends, real processes)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from thinktime.cli import app
from thinktime.serve.process import GRACE, HARD_STOP

runner = CliRunner()
SERVE = ["serve", "--model", "fake"]
SOLVE = ["solve", "2+2?", "--model", "fake"]


@pytest.fixture
def never_serve(monkeypatch):
    """A server that starts fails the test at once (rather than serving forever)."""
    import uvicorn

    def started(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the server started with a bad option")

    monkeypatch.setattr(uvicorn, "run", started)
    monkeypatch.setattr(uvicorn.Server, "run", started)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([*SERVE, "--port", "70000"], "--port must be 1 to 65535, got 70000"),
        ([*SERVE, "--port", "-1"], "--port must be 1 to 65535, got -1"),
        ([*SERVE, "--max-concurrent", "0"], "--max-concurrent must be at least 1, got 0"),
        ([*SERVE, "--max-queue", "0"], "--max-queue must be at least 1, got 0"),
        ([*SERVE, "--max-queue", "-1"], "--max-queue must be at least 1, got -1"),
        ([*SERVE, "--timeout", "0"], "--timeout must be a finite number above 0, got 0.0"),
        ([*SERVE, "--timeout", "nan"], "--timeout must be a finite number above 0, got nan"),
        ([*SERVE, "--timeout", "-5"], "--timeout must be a finite number above 0, got -5.0"),
        ([*SERVE, "--view", "--view-size", "0"], "--view-size must be 1 to 100000, got 0"),
        (["view", "--store", "x.db", "--port", "70000"], "--port must be 1 to 65535, got 70000"),
        ([*SOLVE, "--seed", "-1"], "--seed must be 0 to 4294967295, got -1"),
        ([*SOLVE, "--seed", str(2**32)], "--seed must be 0 to 4294967295, got 4294967296"),
        ([*SOLVE, "--budget-tokens", "0"], "--budget-tokens must be at least 1, got 0"),
        ([*SOLVE, "--budget-seconds", "inf"], "--budget-seconds must be a finite number above 0"),
        ([*SOLVE, "--budget-dollars", "0"], "--budget-dollars must be a finite number above 0"),
        ([*SOLVE, "--budget-flops", "nan"], "--budget-flops must be a finite number above 0"),
    ],
)
def test_bad_numbers_are_one_line_and_exit_2(never_serve, args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.exception.__class__ is SystemExit and "Traceback" not in result.output
    assert message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_port_out_of_range_is_refused_by_the_real_command():
    """The issue's case as an operator meets it: no traceback, one line, exit 2."""
    command = [sys.executable, "-c", "from thinktime.cli import main; main()", *SERVE]
    done = subprocess.run([*command, "--port", "70000"], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == "error: --port must be 1 to 65535, got 70000"


@pytest.mark.parametrize(
    ("mode", "sig", "stream"),
    [
        ("cancellable", signal.SIGTERM, False),
        ("cancellable", signal.SIGTERM, True),
        ("stuck", signal.SIGTERM, False),
        ("stuck", signal.SIGINT, False),
    ],
)
def test_a_stop_signal_stops_serve_within_seconds_with_a_request_in_flight(
    tmp_path, mode, sig, stream
):
    """A request whose engine call would take a minute is in flight when the server is told to
    stop: a cancellable call is cancelled after the grace and the client gets a 503 (a stream
    just ends); a stuck one is left behind, and the process is gone within HARD_STOP seconds
    whatever runs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    marks = tmp_path / "marks"
    helper = Path(__file__).parents[1] / "helpers" / "slow_serve.py"
    paths = [str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    server = subprocess.Popen([sys.executable, str(helper), mode, str(marks), str(port)],
                              stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    replies: list[int] = []
    try:
        url = f"http://127.0.0.1:{port}"
        _wait(lambda: _answers(url + "/health"), 60, "the server to start")
        question = [{"role": "user", "content": "2+3?"}]
        body = {"model": f"slow:{mode}", "messages": question, "stream": stream}
        client = threading.Thread(target=_post, args=(url + "/v1/chat/completions", body, replies),
                                  daemon=True)  # fmt: skip
        client.start()
        _wait(lambda: marks.exists() and "started" in marks.read_text(), 30, "the engine call")
        stopped = time.monotonic()
        server.send_signal(sig)
        server.wait(timeout=HARD_STOP + 5)
        took = time.monotonic() - stopped
        client.join(timeout=5)
    finally:
        server.kill()
        server.wait()
    stderr = server.stderr.read()  # type: ignore[union-attr]
    assert "Traceback" not in stderr, stderr
    if sig == signal.SIGTERM:  # the grace, then the work cancelled: ended by the signal
        assert GRACE <= took < HARD_STOP, took
        assert server.returncode == -signal.SIGTERM and replies == [200 if stream else 503]
        expected = ["started", "cancelled"] if mode == "cancellable" else ["started"]
        assert marks.read_text().split() == expected
    else:  # Ctrl-C: Python waits for the stuck worker thread; the deadline ends the wait
        assert HARD_STOP <= took < HARD_STOP + 2, took
        assert server.returncode == 128 + signal.SIGINT and "exiting without it" in stderr


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _post(url: str, body: dict, replies: list[int]) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server went away: what the test wants
        replies.append(httpx.post(url, json=body, timeout=120).status_code)


def _wait(ready, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("command", ["serve", "view"])
def test_serve_and_view_say_where_they_listen_once_bound(tmp_path, command):
    """One line on stderr once the socket is bound: the URL answers as soon as it is printed."""
    import select

    from tests.helpers.view_store import make_store

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    if command == "serve":
        args = [*SERVE, "--port", str(port)]
        expected = f"thinktime serve: listening on {url}/v1 (model fake; Ctrl-C stops)"
        probe = f"{url}/health"
    else:
        store = make_store(tmp_path / "toy.db")
        args = ["view", "--store", str(store), "--port", str(port)]
        expected = f"thinktime view: listening on {url} (1 store; Ctrl-C stops)"
        probe = f"{url}/api/stores"
    main = [sys.executable, "-c", "from thinktime.cli import main; main()"]
    server = subprocess.Popen([*main, *args], stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([server.stderr], [], [], 60)
        assert ready, "nothing on stderr within 60 s"
        line = server.stderr.readline()  # type: ignore[union-attr]
        assert line.strip() == expected, line
        assert httpx.get(probe, timeout=5).status_code == 200  # bound when it said so
    finally:
        server.terminate()
        server.wait(timeout=HARD_STOP + 5)
