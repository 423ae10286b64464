"""Load test: concurrent clients against `thinktime serve` on loopback, vs the raw engine.

In one run, on the embedded model:
1) the raw engine's batched throughput: `--slots` requests at once through the backend,
   repeated for `--engine-seconds` (0 skips it);
2) the server (uvicorn, in this process) under `--clients` concurrent clients, each sending
   chat requests (`--strategy`, default `plain`, with `--params` JSON; `--max-tokens` tokens per
   sample) back to back for `--seconds`;
3) with `--hangups`: that many streaming and non-streamed clients send the same request and
   hang up after `--leave-after` s, mid-answer; the engine's own counters are then polled every
   0.1 s until decoding stops.
Reports requests/s, tokens/s, p50/p99 latency, the status codes (5xx must be 0), the sum of
every answer's bill beside the engine's own count of the tokens it generated (llama.cpp's
`tokens_predicted_total`, read before and after: target within 2%), the server's tokens/s as
a ratio of the raw engine's, and how long after the last hang-up the engine stopped (target
< 1 s). Traffic stays on 127.0.0.1 and stops by itself.

    python benchmarks/serve_load.py --clients 32 --seconds 60
    python benchmarks/serve_load.py --clients 16 --seconds 120 --engine-seconds 0 \\
        --strategy self_consistency --params '{"n": 4}' --hangups 16
    python benchmarks/serve_load.py --clients 16 --seconds 120 --engine-seconds 0 \\
        --strategy deepconf --params '{"n": 8, "warmup": 4, "batch": 4}' --hangups 16
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import uvicorn
from rich.console import Console
from rich.table import Table

from thinktime.backends.llamacpp import LlamaCppBackend
from thinktime.sampling import SamplingParams
from thinktime.serve.app import ServerConfig, create_app
from thinktime.strategies import PLAIN
from thinktime.types import Message, Request

PROMPTS = [f"Write one sentence about the number {i}." for i in range(64)]


def engine_throughput(
    backend: LlamaCppBackend, slots: int, max_tokens: int, seconds: float
) -> float:
    params = SamplingParams(max_tokens=max_tokens, temperature=0.7)
    tokens, started, i = 0, time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        batch = [
            Request(messages=(Message("user", PROMPTS[(i + k) % len(PROMPTS)]),))
            for k in range(slots)
        ]
        i += slots
        for generation in backend.generate(batch, params):
            tokens += sum(c.completion_tokens for c in generation.completions)
    return tokens / (time.perf_counter() - started)


def hang_up(url: str, body: dict, stream: bool, leave_after: float) -> None:
    """Send `body` and go away after `leave_after` s: stop reading a stream, or time out."""
    deadline = time.monotonic() + leave_after
    try:
        with (
            httpx.Client(timeout=leave_after) as session,
            session.stream(
                "POST", f"{url}/v1/chat/completions", json={**body, "stream": stream}
            ) as response,
        ):
            for _ in response.iter_lines():
                if time.monotonic() > deadline:
                    break
    except httpx.HTTPError:
        pass  # the hang-up we asked for


def until_idle(backend: LlamaCppBackend, seconds: float = 30) -> tuple[float | None, float]:
    """Seconds from now until the engine's decode counter stops moving (three equal readings
    0.1 s apart; the first of them is when it stopped), and the tokens it generated meanwhile."""
    started = time.monotonic()
    first = last = backend.engine_stats()
    still, since = 0, started
    while time.monotonic() - started < seconds:
        time.sleep(0.1)
        now = backend.engine_stats()
        if now["n_decode_total"] == last["n_decode_total"]:
            still += 1
            if still == 3:
                return since - started, last["tokens_predicted_total"] - first[
                    "tokens_predicted_total"
                ]
        else:
            still, since = 0, time.monotonic()
        last = now
    return None, last["tokens_predicted_total"] - first["tokens_predicted_total"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--engine-seconds", type=float, default=30)
    parser.add_argument("--slots", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--strategy", default=PLAIN)
    parser.add_argument("--params", type=json.loads, default={})
    parser.add_argument("--hangups", type=int, default=0)
    parser.add_argument("--leave-after", type=float, default=3.0)
    args = parser.parse_args()
    backend = LlamaCppBackend.from_reference("qwen2.5-coder-0.5b", n_parallel=args.slots)
    engine = (
        engine_throughput(backend, args.slots, args.max_tokens, args.engine_seconds)
        if args.engine_seconds
        else None
    )

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = ServerConfig(
        model="qwen2.5-coder-0.5b", max_concurrent=args.slots, max_queue=4 * args.clients
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(backend, config), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    extra = {} if args.strategy == PLAIN else {"strategy": args.strategy, "params": args.params}

    def body(content: str) -> dict:
        message = {"role": "user", "content": content}
        return {"model": config.model, "max_tokens": args.max_tokens, "messages": [message],
                **({"thinktime": extra} if extra else {})}  # fmt: skip

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    tokens = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + args.seconds

    def client(index: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as http:
            j = index
            while time.perf_counter() < deadline:
                request = body(PROMPTS[j % len(PROMPTS)])
                j += args.clients
                started = time.perf_counter()
                try:
                    response = http.post("/v1/chat/completions", json=request)
                    status = response.status_code
                    used = response.json()["usage"]["completion_tokens"] if status == 200 else 0
                except httpx.HTTPError:
                    status, used = -1, 0
                with lock:
                    latencies.append(time.perf_counter() - started)
                    statuses[status] = statuses.get(status, 0) + 1
                    tokens[0] += used

    before = backend.engine_stats()
    started = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(client, range(args.clients)))
    wall = time.perf_counter() - started
    predicted = backend.engine_stats()["tokens_predicted_total"] - before["tokens_predicted_total"]

    stopped: tuple[float | None, float] | None = None
    if args.hangups:
        url = f"http://127.0.0.1:{port}"
        question = "Write out, step by step, the multiplication table of 7 from 7x1 to 7x40."
        request = {**body(question), "max_tokens": 768}
        threads = [
            threading.Thread(target=hang_up, args=(url, request, stream, args.leave_after))
            for stream in (True, False)
            for _ in range(args.hangups // 2 + (args.hangups % 2 if stream else 0))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stopped = until_idle(backend)
    server.should_exit = True

    ok = statuses.get(200, 0)
    errors = sum(count for status, count in statuses.items() if status >= 500 or status < 0)
    quantiles = statistics.quantiles(latencies, n=100)
    table = Table(
        title=f"serve load · {args.strategy} {json.dumps(args.params) if extra else ''} · "
        f"{args.clients} clients · {wall:.0f} s · max_tokens {args.max_tokens}"
    )
    for column in ("metric", "value"):
        table.add_column(column)
    rows = [
        ("requests answered (200)", f"{ok}"),
        ("status codes", f"{statuses}"),
        ("5xx or no answer", f"{errors} (target 0)"),
        ("requests/s", f"{ok / wall:.2f}"),
        ("tokens/s (server)", f"{tokens[0] / wall:.1f}"),
        ("completion tokens: sum of the bills", f"{tokens[0]}"),
        ("completion tokens: engine's tokens_predicted_total", f"{predicted:.0f}"),
        ("bills / engine", f"{tokens[0] / max(predicted, 1):.4f} (target 1 ± 0.02)"),
        ("latency p50 / p99", f"{quantiles[49]:.2f} s / {quantiles[98]:.2f} s"),
    ]
    if engine is not None:
        rows += [
            ("tokens/s (raw engine, batch of slots)", f"{engine:.1f}"),
            ("server / engine", f"{tokens[0] / wall / engine:.2f} (target ≥ 0.8)"),
        ]
    if stopped is not None:
        seconds, after = stopped
        when = "did not stop within 30 s" if seconds is None else f"{seconds:.2f} s"
        rows += [
            (f"engine stopped after {args.hangups} clients hung up", f"{when} (target < 1 s)"),
            ("tokens generated after the last hang-up", f"{after:.0f}"),
        ]
    for key, value in rows:
        table.add_row(key, value)
    Console(width=110).print(table)


if __name__ == "__main__":
    main()
