"""Clients that hang up: does the server stop the work nobody waits for?

Starts `thinktime serve` on the embedded model as a separate process on loopback, sends
`--clients` streaming and `--clients` non-streamed cot requests (long answers, `--max-tokens`)
at once, and has every client disconnect after `--leave-after` seconds, mid-answer. Then it
samples the server process's CPU every 0.1 s and reports how long after the last disconnect it
went back to idle (below `--idle` % of one core, three samples in a row), beside the engine's
own counters (tokens predicted, decode calls) before and after, so the tokens spent after the
hang-up are visible. Target: idle within 1 s of the last disconnect.

    python benchmarks/disconnect_load.py --clients 30
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time

import httpx
import psutil

QUESTION = "Write out, step by step, the multiplication table of 7 from 7x1 to 7x40."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def engine(url: str) -> dict[str, float]:
    """The engine's own counters (llama.cpp's, as the server exposes them on /metrics)."""
    stats = {}
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("thinktime_engine_"):
            name, _, value = line.removeprefix("thinktime_engine_").partition(" ")
            stats[name] = float(value)
    return stats


def client(url: str, stream: bool, leave_after: float, max_tokens: int) -> None:
    body = {
        "model": "cot/qwen2.5-coder-0.5b",
        "messages": [{"role": "user", "content": QUESTION}],
        "max_completion_tokens": max_tokens,
        "stream": stream,
    }
    deadline = time.monotonic() + leave_after
    try:  # non-streamed: the read timeout hangs up; streamed: stop reading at the deadline
        with (
            httpx.Client(timeout=leave_after) as session,
            session.stream("POST", f"{url}/v1/chat/completions", json=body) as response,
        ):
            for _ in response.iter_lines():
                if time.monotonic() > deadline:
                    break
    except httpx.HTTPError:
        pass  # the hang-up we asked for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--leave-after", type=float, default=3.0)
    parser.add_argument("--max-tokens", type=int, default=768)
    parser.add_argument("--idle", type=float, default=5.0)
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    thinktime = os.path.join(os.path.dirname(sys.executable), "thinktime")
    server = subprocess.Popen([thinktime, "serve", "--port", str(port), "--open-metrics"])
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        process = psutil.Process(server.pid)
        threads = [
            threading.Thread(target=client, args=(url, stream, args.leave_after, args.max_tokens))
            for stream in (True, False)
            for _ in range(args.clients)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        last_hangup = time.monotonic()
        process.cpu_percent()
        quiet, idle_at, trace = 0, None, []
        while time.monotonic() - last_hangup < 30:
            time.sleep(0.1)
            load = process.cpu_percent()
            trace.append(round(load))
            quiet = quiet + 1 if load < args.idle else 0
            if quiet == 3:
                idle_at = time.monotonic() - 0.2  # the first of the three quiet samples
                break
        at_idle = engine(url)  # read once idle: polling the engine during the run perturbs it
        time.sleep(2)
        later = engine(url)
        print(
            f"clients: {args.clients} streaming + {args.clients} non-streamed, cot, "
            f"max_completion_tokens {args.max_tokens}, hang up after {args.leave_after:g} s"
        )
        print(f"all clients gone {last_hangup - started:.1f} s after the first request")
        if idle_at is None:
            print("server CPU did not return to idle within 30 s")
        else:
            print(
                f"server CPU idle (< {args.idle:g}% of a core) {idle_at - last_hangup:.2f} s "
                "after the last disconnect"
            )
        print(f"CPU % samples after the last disconnect (0.1 s apart): {trace[:40]}")
        steps = later.get("n_decode_total", 0) - at_idle.get("n_decode_total", 0)
        print(
            f"engine decode steps in the 2 s after idle: {steps:.0f}; requests processing: "
            f"{later.get('requests_processing', float('nan')):.0f}"
        )
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
