"""Load test: 32 concurrent clients against `thinktime serve` on loopback, vs the raw engine.

In one run, on the embedded model:
1) the raw engine's batched throughput: `--slots` requests at once through the backend,
   repeated for `--engine-seconds`;
2) the server (uvicorn, in this process) under `--clients` concurrent clients, each sending
   chat requests (strategy `none`, `--max-tokens` tokens) back to back for `--seconds`.
Reports requests/s, tokens/s, p50/p99 latency, dropped requests (anything but 200), and the
server's tokens/s as a ratio of the raw engine's (target ≥ 0.8). Traffic stays on 127.0.0.1
and stops by itself.

    python benchmarks/serve_load.py --clients 32 --seconds 60
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--engine-seconds", type=float, default=30)
    parser.add_argument("--slots", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()
    backend = LlamaCppBackend.from_reference("qwen2.5-coder-0.5b", n_parallel=args.slots)
    engine = engine_throughput(backend, args.slots, args.max_tokens, args.engine_seconds)

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

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    tokens = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + args.seconds

    def client(index: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as http:
            j = index
            while time.perf_counter() < deadline:
                message = {"role": "user", "content": PROMPTS[j % len(PROMPTS)]}
                body = {"model": config.model, "max_tokens": args.max_tokens, "messages": [message]}
                j += args.clients
                started = time.perf_counter()
                try:
                    response = http.post("/v1/chat/completions", json=body)
                    status = response.status_code
                    used = response.json()["usage"]["completion_tokens"] if status == 200 else 0
                except httpx.HTTPError:
                    status, used = -1, 0
                with lock:
                    latencies.append(time.perf_counter() - started)
                    statuses[status] = statuses.get(status, 0) + 1
                    tokens[0] += used

    started = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(client, range(args.clients)))
    wall = time.perf_counter() - started
    server.should_exit = True

    ok = statuses.get(200, 0)
    quantiles = statistics.quantiles(latencies, n=100)
    table = Table(
        title=f"serve load · {args.clients} clients · {wall:.0f} s · max_tokens {args.max_tokens}"
    )
    for column in ("metric", "value"):
        table.add_column(column)
    rows = [
        ("requests answered (200)", f"{ok}"),
        ("dropped (non-200 or error)", f"{sum(statuses.values()) - ok}  {statuses}"),
        ("requests/s", f"{ok / wall:.2f}"),
        ("tokens/s (server)", f"{tokens[0] / wall:.1f}"),
        ("tokens/s (raw engine, batch of slots)", f"{engine:.1f}"),
        ("server / engine", f"{tokens[0] / wall / engine:.2f} (target ≥ 0.8)"),
        ("latency p50 / p99", f"{quantiles[49]:.2f} s / {quantiles[98]:.2f} s"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    Console(width=110).print(table)


if __name__ == "__main__":
    main()
